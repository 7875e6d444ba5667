"""``lamina generate RUN --prompt TEXT``: sample text from a trained language-model run."""
from __future__ import annotations

import math

from ..errors import ConfigError

HELP = "generate text with a trained language model (a char_lm run)"
DESCRIPTION = """\
Sample a continuation of --prompt from a language-model run (data.name = "char_lm", model
gpt): the prompt is encoded with the run's tokenizer.json, then GPT.generate draws
--max-new-tokens tokens one at a time with a key/value cache (each new token costs one
position). Each step samples from softmax(logits / temperature), keeping the --top-k most
likely tokens and/or the smallest set whose probability reaches --top-p; --temperature 0 is
greedy (always the most likely). --seed makes a sample repeat exactly. When the text grows
past the model's block_size, the context is the last block_size tokens.

Prints the prompt and its continuation; --json prints {"prompt", "completion", "text", ...}.

examples:
  lamina generate runs/gpt_char --prompt "Return the" --max-new-tokens 200
  lamina generate runs/gpt_char --prompt "def " --temperature 0.8 --top-k 20 --seed 1 --json
"""


def configure(p) -> None:
    p.add_argument("run", metavar="RUN", help="a language-model run directory (or a checkpoint file in one)")
    p.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    p.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=200, metavar="N",
                   help="tokens (characters) to generate (default 200)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="softmax temperature; 0 = greedy (default 1.0)")
    p.add_argument("--top-k", dest="top_k", type=int, metavar="K", help="sample among the K most likely tokens")
    p.add_argument("--top-p", dest="top_p", type=float, metavar="P",
                   help="sample among the most likely tokens whose probabilities add up to P (nucleus)")
    p.add_argument("--seed", type=int, metavar="S", help="seed of the sampling (default: a fresh random seed)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _check(args) -> None:
    if args.max_new_tokens < 0:
        raise ConfigError(f"--max-new-tokens must be a non-negative integer, got {args.max_new_tokens}")
    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise ConfigError(f"--temperature must be a finite number >= 0 (0 = greedy), got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be a positive integer, got {args.top_k}")
    if args.top_p is not None and not (0.0 < args.top_p <= 1.0):
        raise ConfigError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.seed is not None and not -(2 ** 63) <= args.seed < 2 ** 64:
        raise ConfigError(f"--seed must be in [-2**63, 2**64), got {args.seed}")
    if not args.prompt:
        raise ConfigError("--prompt must hold at least one character (the model continues a text)")


def run(args) -> int:
    import numpy as np

    from ... import backend
    from .. import rundir
    _check(args)
    loaded = rundir.load_run(args.run)
    info = loaded.preprocess.info
    if info.get("task") != "language_model" or not hasattr(loaded.model, "generate"):
        what = f"a {info.get('task')} run on {info.get('dataset')}"
        raise ConfigError(f"{loaded.run_dir} is {what}, not a language model: lamina generate needs a run of "
                          "data.name = \"char_lm\" (e.g. configs/gpt_char.toml); classify inputs with lamina predict")
    tokenizer = loaded.preprocess.tokenizer
    prompt = args.prompt
    if prompt == "\n" and "\n" not in getattr(tokenizer, "stoi", {"\n": 0}):  # the default, a text without lines
        prompt = tokenizer.itos[0]
    ids = loaded.preprocess.prepare([prompt], kind="texts", where="--prompt")[0]
    generator = backend.Generator()
    if args.seed is not None:
        generator.manual_seed(args.seed)
    try:
        out = loaded.model.generate(np.asarray(ids, dtype=np.int64)[None], args.max_new_tokens,
                                    temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                                    generator=generator, use_cache=True)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"generate: {' '.join(str(e).split())}") from None
    seq = np.asarray(out.numpy() if hasattr(out, "numpy") else out)[0]
    completion = tokenizer.decode(seq[len(ids):])
    if args.json:
        print(rundir.dumps_json({"run": loaded.run_dir, "checkpoint": loaded.checkpoint,
                                 "prompt": prompt, "completion": completion, "text": prompt + completion,
                                 "max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
                                 "top_k": args.top_k, "top_p": args.top_p, "seed": args.seed}))
    else:
        print(prompt + completion)
    return 0
