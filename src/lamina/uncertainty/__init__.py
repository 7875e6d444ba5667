"""lamina.uncertainty: how sure is the model? Plain functions over a model and arrays/loaders,
returning named tuples and dicts of NumPy arrays.

    from lamina.uncertainty import mc_dropout_predict, DeepEnsemble, TemperatureScaling, ood_evaluation
    r = mc_dropout_predict(model, x_test, samples=30)       # mean, predictive/expected entropy, MI
    ens = DeepEnsemble(models); e = ens.predict(x_test)      # members' average + disagreement
    ts = TemperatureScaling().fit(val_logits, val_labels)   # calibration, ECE/MCE/NLL/Brier
    ood_evaluation(ood_scores(r), ood_scores(r_ood))        # AUROC / AUPR per score

* ``mc_dropout``: MC dropout (dropout on at prediction, BatchNorm in eval).
* ``ensemble``: ``DeepEnsemble`` (from models or checkpoints), ``train_ensemble``.
* ``bayesian``: Bayes by Backprop — ``BayesianLinear``, ``BayesianConv2d``, ``kl_divergence``, ``ELBOLoss``.
* ``heteroscedastic``: mean + log-variance heads and the Gaussian NLL.
* ``calibration``: temperature scaling, ECE/MCE/NLL/Brier, reliability diagrams.
* ``ood``: OOD scores (MSP, entropy, mutual information), AUROC / AUPR / FPR@95.
"""
from ._common import (ClassificationUncertainty, RegressionUncertainty, entropy, summarize_classification,
                      summarize_regression)
from .bayesian import (BayesianConv2d, BayesianLinear, ELBOLoss, GaussianPrior, ScaleMixturePrior, bayesian_conv2d,
                       bayesian_layers, bayesian_linear, bayesian_predict, gaussian_kl, kl_divergence, sample_weights)
from .calibration import (TemperatureScaledModel, TemperatureScaling, brier_score, calibrate_temperature,
                          calibration_metrics, expected_calibration_error, fit_temperature,
                          maximum_calibration_error, negative_log_likelihood, plot_reliability_diagram,
                          predict_logits, reliability_diagram)
from .ensemble import DeepEnsemble, load_weights, train_ensemble
from .heteroscedastic import (GaussianNLLLoss, HeteroscedasticHead, HeteroscedasticRegressor, gaussian_nll,
                              heteroscedastic_predict)
from .mc_dropout import dropout_layers, mc_dropout, mc_dropout_predict
from .ood import aupr, auroc, fpr_at_tpr, max_softmax_probability, ood_evaluation, ood_scores

__all__ = [
    "ClassificationUncertainty", "RegressionUncertainty", "entropy", "summarize_classification",
    "summarize_regression",
    "mc_dropout", "mc_dropout_predict", "dropout_layers",
    "DeepEnsemble", "train_ensemble", "load_weights",
    "BayesianLinear", "BayesianConv2d", "GaussianPrior", "ScaleMixturePrior", "bayesian_linear", "bayesian_conv2d",
    "gaussian_kl", "kl_divergence", "bayesian_layers", "sample_weights", "bayesian_predict", "ELBOLoss",
    "gaussian_nll", "GaussianNLLLoss", "HeteroscedasticHead", "HeteroscedasticRegressor", "heteroscedastic_predict",
    "TemperatureScaling", "TemperatureScaledModel", "fit_temperature", "calibrate_temperature", "predict_logits",
    "expected_calibration_error", "maximum_calibration_error", "negative_log_likelihood", "brier_score",
    "reliability_diagram", "calibration_metrics", "plot_reliability_diagram",
    "ood_scores", "ood_evaluation", "auroc", "aupr", "fpr_at_tpr", "max_softmax_probability",
]
