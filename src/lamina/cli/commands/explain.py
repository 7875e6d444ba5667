"""``lamina explain RUN INPUTS --method ...``: why the run's classifier said what it said (lamina.explain)."""
from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError

HELP = "explain a classifier's predictions: attributions as PNG pictures and .npy arrays"
DESCRIPTION = """\
Explain what a trained classifier looked at for each input (lamina.explain). INPUTS are what
lamina predict takes (a .csv/.npy of raw rows, image files, --text "..." or text files), read
through the run's input pipeline. Writes into --out (default RUN/explain):

  METHOD.npy          the raw attributions of every input, for the target class
  METHOD_<i>.png      input i: a heat map over the image (image runs), coloured tokens (text
                      runs: red for the class, blue against) or a bar chart of the features
                      (tabular runs)

methods:
  saliency     |d score / d input|                          images, features, text (per token)
  ig           Integrated Gradients from a zero baseline (--steps; text: from padding tokens);
               the convergence delta (completeness error) is printed
  smoothgrad   saliency averaged over --samples noisy copies of the input
  occlusion    the score's drop when a patch (a feature, a token) is set to the baseline
  gradcam      Grad-CAM of a conv layer (--layer PATH, default: the last conv layer)   CNNs
  attention    every head's attention weights (--layer PATH: which layer to draw, default
               the last; the .npy holds every layer: (layers, N, heads, L, L))       BERT, GPT
  shap         SHAP values (the shap package's KernelExplainer, background: 20 training
               rows; --samples coalitions per input)                                  tabular runs

--target C explains class C (default: each input's predicted class). Scores are the model's
logits (an ensemble run: the log of its averaged probabilities). A method that does not apply
to the run, an unknown --layer path (the closest module paths are named) or a class out of range
is refused with one line (exit 2) before anything is written.

examples:
  lamina explain runs/cnn_digits digit0.png --method gradcam
  lamina explain runs/cnn_digits digits.npy --method ig --target 3 --out /tmp/ig
  lamina explain runs/bert_text --text "The striker scored twice." --method attention
  lamina explain runs/mlp_digits samples.npy --method shap --samples 500
"""

METHODS = ("saliency", "ig", "smoothgrad", "occlusion", "gradcam", "attention", "shap")


def configure(p) -> None:
    p.add_argument("run", metavar="RUN", help="a run directory or a checkpoint file in one")
    p.add_argument("inputs", metavar="INPUTS", nargs="*",
                   help="a .csv, .npy/.npz file, or image files / folders (a text run: .txt or .csv files)")
    p.add_argument("--text", dest="texts", action="append", default=[], metavar="TEXT",
                   help="a text to explain (text classification runs; repeatable)")
    p.add_argument("--method", required=True, choices=METHODS, help="the attribution method")
    p.add_argument("--target", type=int, metavar="C", help="the class to explain (default: the predicted class)")
    p.add_argument("--layer", metavar="PATH", help="gradcam: the conv layer; attention: the attention layer to draw")
    p.add_argument("--out", metavar="DIR", help="where to write the pictures and arrays (default RUN/explain)")
    p.add_argument("--steps", type=int, metavar="N", help="ig: integration steps (default 50)")
    p.add_argument("--samples", type=int, metavar="N",
                   help="smoothgrad: noisy samples (default 25); shap: coalitions per input (default: shap's auto)")
    p.add_argument("--header", dest="header", action="store_true", default=None,
                   help="the CSV's first row is a header (default: detected)")
    p.add_argument("--no-header", dest="header", action="store_false", help="the CSV has no header row")


# ---------------------------------------------------------------- what applies to a run
def _kind(info: dict) -> str:
    if info.get("input_kind") == "tokens":
        return "text"
    return "image" if len(info["input_shape"]) == 3 else "features"


def _applicable(model, kind: str) -> dict:
    """{method: None if it applies, else why not} for the run's model and kind of input."""
    from ...explain import attention_layers, conv_layers
    name = type(model).__name__
    out = {m: None for m in METHODS}
    if not conv_layers(model) or kind != "image":
        out["gradcam"] = (f"Grad-CAM needs a convolutional layer over an image, and the run's {name} has none"
                          if not conv_layers(model) else "Grad-CAM explains image runs")
    if not attention_layers(model):
        out["attention"] = f"the run's {name} has no attention layers (BERT, GPT, nn.MultiheadAttention)"
    if kind != "features":
        what = "texts" if kind == "text" else "images"
        out["shap"] = f"SHAP values explain tabular (feature) runs; this run reads {what}"
    return out


def _check(args, loaded, kind: str) -> object:
    """Everything about the arguments that can be refused before any work: returns the layer (or None)."""
    from ...explain import ModuleNotFoundInModel, attention_layers, conv_layers
    from ...explain._common import find_module
    model, info = loaded.model, loaded.preprocess.info
    if info["task"] != "classification":
        raise ConfigError(f"lamina explain explains classifiers; {loaded.run_dir} is a {info['task']} run")
    why = _applicable(model, kind)
    if why[args.method] is not None:
        ok = [m for m in METHODS if why[m] is None]
        raise ConfigError(f"--method {args.method}: {why[args.method]} (methods for this run: {', '.join(ok)})")
    C = info.get("num_classes")
    if args.target is not None and not 0 <= args.target < C:
        raise ConfigError(f"--target {args.target} is out of range: the model has {C} classes (0..{C - 1})")
    for flag, value, methods in (("--steps", args.steps, ("ig",)), ("--samples", args.samples, ("smoothgrad", "shap"))):
        if value is not None and args.method not in methods:
            raise ConfigError(f"{flag} is an option of --method {' / '.join(methods)}")
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be a positive integer, got {value}")
    if args.method == "gradcam":
        path = args.layer or conv_layers(model)[0]
        try:
            find_module(model, path, "layer")
        except ModuleNotFoundInModel as e:
            raise ConfigError(f"--layer: {e}") from None
        return path
    if args.method == "attention":
        layers = attention_layers(model)
        if args.layer is None:
            return layers[-1]
        if args.layer not in layers:
            try:
                find_module(model, args.layer, "layer")
            except ModuleNotFoundInModel as e:
                raise ConfigError(f"--layer: {e} (attention layers: {', '.join(layers)})") from None
            raise ConfigError(f"--layer {args.layer} is not an attention layer (attention layers: {', '.join(layers)})")
        return args.layer
    if args.layer is not None:
        raise ConfigError("--layer is an option of --method gradcam / attention")
    return None


# ---------------------------------------------------------------- text: the embeddings as the input
def _embedding_model(model, ids: np.ndarray):
    """``(wrapper, e0, layer)``: a Module whose input is the token embeddings of ``ids`` (its rows may
    repeat ``ids`` several times, as SmoothGrad's noisy copies do), and the embeddings e0 themselves."""
    from ...autograd import no_grad
    from ...explain import embedding_layer
    from ...explain._common import find_module
    from ...nn.module import Module
    layer = find_module(model, embedding_layer(model), "embedding layer")
    seen = {}
    h = layer.register_forward_hook(lambda m, a, o: seen.setdefault("e", o))
    try:
        with no_grad():
            model(ids)
    finally:
        h.remove()

    class EmbeddingInput(Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, e):
            reps = e.shape[0] // len(ids)
            hook = layer.register_forward_hook(lambda m, a, o: e)
            try:
                return self.model(np.tile(ids, (reps, 1)))
            finally:
                hook.remove()

    return EmbeddingInput(), seen["e"].numpy(), layer


def _pad_to(a: np.ndarray, length: int) -> np.ndarray:
    """(N, L') per-token scores padded with zeros to (N, length) (the columns the model dropped)."""
    if a.shape[1] >= length:
        return a[:, :length]
    return np.concatenate([a, np.zeros((a.shape[0], length - a.shape[1]), a.dtype)], 1)


def _text_attributions(args, model, ids, target, generator):
    from ... import explain
    from ...autograd import no_grad
    if args.method == "ig":
        a, delta = explain.token_attributions(model, ids, target, n_steps=args.steps or 50,
                                              return_convergence_delta=True)
        return a, delta
    wrapper, e0, layer = _embedding_model(model, ids)
    if args.method == "saliency":
        a = explain.saliency(wrapper, e0, target).sum(-1)
    elif args.method == "smoothgrad":
        a = explain.smoothgrad(wrapper, e0, target, n_samples=args.samples or 25, generator=generator).sum(-1)
    else:  # occlusion: each token's embedding replaced by the padding token's
        pad = getattr(model, "pad_token_id", None) or 0
        with no_grad():
            base = layer(np.full((1, 1), pad, dtype=np.int64)).numpy()[0, 0]
        D = e0.shape[-1]
        a = explain.occlusion(wrapper, e0, (1, D), strides=(1, D), baselines=base, target=target)[..., 0]
    return _pad_to(a, ids.shape[1]), None


# ---------------------------------------------------------------- run
def run(args) -> int:
    from ... import backend, explain
    from ...autograd import no_grad
    from ...tensor import Tensor
    from .. import rundir
    from .predict import _inputs
    args.allow_nonfinite = False
    loaded = rundir.load_run(args.run)
    info, model = loaded.preprocess.info, loaded.model
    kind = _kind(info)
    layer = _check(args, loaded, kind)
    names, x = _inputs(args, loaded)
    if len(names) == 0:
        raise ConfigError("no inputs to explain")
    x = np.ascontiguousarray(x)
    model.eval()
    with no_grad():
        out = model(x if kind == "text" else Tensor._wrap(x))
        out = out[0] if isinstance(out, (tuple, list)) else out
        scores = np.asarray(out.numpy(), dtype=np.float64)
    probs = np.exp(scores - scores.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    pred = probs.argmax(1)
    target = np.full(len(x), args.target, dtype=np.int64) if args.target is not None else pred.astype(np.int64)
    gen = backend.Generator().manual_seed(0)
    delta, extra = None, ""
    m = args.method
    if kind == "text":
        if m == "attention":
            maps = explain.attention_maps(model, x)
            attr = explain.stack_attention(maps) if len({a.shape for a in maps.values()}) == 1 else maps[layer]
            drawn = maps[layer]
            extra = f" (layers: {', '.join(maps)}; drawn: {layer})"
        else:
            attr, delta = _text_attributions(args, model, x, target, gen)
    elif m == "saliency":
        attr = explain.saliency(model, x, target)
    elif m == "ig":
        attr, delta = explain.integrated_gradients(model, x, target, n_steps=args.steps or 50,
                                                   return_convergence_delta=True)
    elif m == "smoothgrad":
        attr = explain.smoothgrad(model, x, target, n_samples=args.samples or 25, generator=gen)
    elif m == "occlusion":
        if kind == "image":
            C, H, W = x.shape[1:]
            s = max(1, min(H, W) // 8)
            attr = explain.occlusion(model, x, (C, s, s), strides=(C, max(1, s // 2), max(1, s // 2)), target=target)
        else:
            attr = explain.occlusion(model, x, 1, strides=1, target=target)
    elif m == "gradcam":
        try:
            attr = explain.grad_cam(model, x, layer, target)
        except ValueError as e:  # a layer without (N, channels, *spatial) feature maps
            raise ConfigError(f"--layer: {e}") from None
        extra = f" (layer {layer})"
    else:  # shap
        attr = _shap(args, loaded, x, target)
    pictures = _pictures(args, loaded, kind, names, x, attr if m != "attention" else drawn, target, probs)
    # everything is computed: now write
    out_dir = args.out or os.path.join(loaded.run_dir, "explain")
    os.makedirs(out_dir, exist_ok=True)
    npy = os.path.join(out_dir, f"{m}.npy")
    np.save(npy, np.asarray(attr))
    written = [fn(os.path.join(out_dir, f"{m}_{i}.png")) for i, fn in enumerate(pictures)]
    print(f"{m}{extra}: {len(written)} picture(s) and {npy}")
    for i, (name, path) in enumerate(zip(names, written)):
        t = int(target[i])
        print(f"  {name}: class {t}{_label(info, t)} (p={probs[i, t]:.4f}) -> {path}")
    if delta is not None:
        print(f"  convergence delta (sum of attributions - (f(x) - f(baseline))): max |delta| = "
              f"{float(np.max(np.abs(delta))):.3g}")
    return 0


def _label(info, t) -> str:
    classes = info.get("classes")
    return f" ({classes[t]})" if classes and t < len(classes) and str(classes[t]) != str(t) else ""


def _shap(args, loaded, x, target) -> np.ndarray:
    """SHAP values of the target class (N, F), background: 20 rows of the run's training split."""
    import importlib.util
    if importlib.util.find_spec("shap") is None:
        raise ConfigError("--method shap needs the shap package: pip install 'lamina[explain]' (or pip install "
                          "shap)")
    from ...explain import shap_values
    from .. import build, config
    data = build.build_data(config.validate(loaded.cfg, check_files=False), preprocess=loaded.preprocess)
    train = data.arrays[0][0]
    rng = np.random.default_rng(0)
    background = train[rng.choice(len(train), size=min(20, len(train)), replace=False)]
    values, _ = shap_values(loaded.model, x, background, nsamples=args.samples or "auto")
    if values.ndim == 3:
        values = values[np.arange(len(x)), :, target]
    return values


def _pictures(args, loaded, kind, names, x, attr, target, probs) -> list:
    """One function per input that draws its picture at a given path."""
    from ... import explain
    info = loaded.preprocess.info
    m = args.method
    out = []
    for i, name in enumerate(names):
        t = int(target[i])
        title = f"{m}: class {t}{_label(info, t)}, p={probs[i, t]:.2f}"
        if kind == "image":
            scaler = loaded.preprocess.scaler
            img = scaler.inverse(x[i:i + 1])[0] if scaler is not None else x[i]
            out.append(lambda p, a=attr[i], img=img, title=title:
                       explain.plot_image_attribution(a, img, p, title=title))
        elif kind == "features":
            feats = [f"x{j}" for j in range(attr.shape[1])]
            out.append(lambda p, a=attr[i], title=title: explain.plot_feature_importance(feats, a, p, title=title))
        else:
            tok = loaded.preprocess.tokenizer
            pad = getattr(loaded.model, "pad_token_id", None)
            ids = [int(v) for v in x[i] if pad is None or int(v) != pad]
            tokens = [tok.id_to_token(v) if hasattr(tok, "id_to_token") else str(v) for v in ids]
            n = len(tokens)
            if m == "attention":
                w = attr[i][..., :n, :n]
                out.append(lambda p, w=w, tokens=tokens, title=f"attention: {name}":
                           explain.plot_attention(w, tokens, p, title=title))
            else:
                out.append(lambda p, s=attr[i][:n], tokens=tokens, title=title:
                           explain.plot_token_attribution(tokens, s, p, title=title))
    return out
