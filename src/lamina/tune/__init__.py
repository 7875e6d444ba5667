"""Hyperparameter search with Optuna (``lamina tune``): the ``[tune]`` search space and the study runner."""
from .search_space import Param, TuneSpec, parse_tune, split_tune
from .study import PruningCallback, as_overrides, best_config, run_study, train_trial

__all__ = ["Param", "TuneSpec", "parse_tune", "split_tune", "PruningCallback", "as_overrides", "best_config",
           "run_study", "train_trial"]
