"""lamina's command line: ``lamina train | evaluate | predict | generate ...`` driven by TOML configs.

    lamina train configs/mlp_digits.toml --set train.epochs=5
    lamina evaluate runs/mlp_digits --json
    lamina predict runs/mlp_digits digits.csv
    lamina generate runs/gpt_char --prompt "Return the"

``main(argv)`` is the entry point (``python -m lamina`` works too). Every error is one line,
``lamina: error: ...``, with one exit-code table for every command (``errors.EXIT_CODES``:
2 bad input, 1 internal failure, 130 interrupted), and a command checks everything before it
writes anything into a run directory.

Layers: a module imports only modules listed before it (``LAYERS``; tests/cli checks this):

    errors      ConfigError / CLIError, the exit-code table, closest-name hints
    tomlio      reading and writing TOML
    registry    the names a config may use (models, optimizers, layers, datasets' raw input)
    generative  model families other than classifiers (autoencoders, VAEs, ...): their loss,
                data pairs, metrics, callbacks, trainer and samples
    config      the schema, --set overrides, validation
    rl_config   the schema and validation of a reinforcement-learning config ([env], [algorithm], [rl])
    readers     the one reader of the user's data files (CSV with header detection, .npy/.npz,
                images), NaN/Inf refused with line and column
    tokenizers  the tokenizers of text runs (build, save in the run, load)
    pipeline    Preprocess: a run's input pipeline, raw input -> model input (``prepare``)
    data        datasets -> arrays -> splits, labels
    text_data   char_lm and text_classification -> token-id arrays
    lm          language-model adapters (loss and metrics over every position)
    build       a config -> loaders, model, optimizer, scheduler, callbacks, Trainer
    rundir      the run directory: config.toml, checkpoints, load_run
    resume      --resume: the checkpoint checked before any write, schedules fitted to new epochs
    commands    one module per subcommand (train, evaluate, predict, generate, tune, report)
    main        argparse, the error format and exit codes
"""
from .errors import CLIError, ConfigError
from .main import COMMANDS, main

__all__ = ["CLIError", "COMMANDS", "ConfigError", "LAYERS", "main"]

LAYERS = ("errors", "tomlio", "registry", "generative", "config", "rl_config", "readers", "tokenizers", "pipeline", "data", "text_data", "lm",
          "build", "rundir", "resume", "commands", "main")
