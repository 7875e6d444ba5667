"""Generative and representation-learning runs: how a config's model family trains, evaluates,
samples and is pictured.

A classifier's run is ``model(x) -> logits``, ``[loss]`` cross-entropy, ``[metrics]`` accuracy.
Other families need other pieces, and a :class:`Family` says which:

    family      models                                   loss ([loss] name)          data
    autoencoder autoencoder, denoising_autoencoder,      "reconstruction" (MSE or    (x, x) pairs
                conv_autoencoder                         BCE: the model's own kind)   (noisy x for a DAE)
    vae         vae                                      "elbo" (beta, KL warm-up)   (x, x)
    cvae        conditional_vae                          "elbo"                      ((x, label), x)
    gan         dcgan, gan, mlp_gan, wgan_gp, cgan       "non_saturating", "hinge",  (images in [-1, 1], label)
                (GANTrainer: two optimizers)             "wasserstein", "wgan_gp"    resized to image_shape
    simclr      simclr                                   "nt_xent" (temperature,     ((view1, view2),)
                                                         view strengths)             unlabeled

Spiking networks (snn_mlp) are classifiers and have no family; ``is_spiking`` tells ``lamina
report`` to add their spike rasters and membrane traces.

    fam = family_of(cfg["model"])        # None for a classifier / regressor / language model
    fam.loss(cfg)                        # ELBOLoss(beta) ...
    fam.callbacks(cfg, run_dir)          # KLWarmup, SampleGrid (samples/epoch_NNN.png)
    fam.sample(model, n, ...)            # (n, C, H, W) pictures for lamina sample

``build`` asks :func:`family_of` at each step it builds (data wrapper, loss, metrics, callbacks,
trainer), so a new family plugs in by subclassing :class:`Family` and adding it to ``FAMILIES``:
override ``trainer`` for a loop of its own (a GAN's two optimizers), ``wrap_train``/``wrap_eval``
for its data (SimCLR's two views), ``sample``/``report_images`` for its pictures.
"""
from __future__ import annotations

import math

import numpy as np

from . import registry
from .errors import ConfigError, closest, one_line

__all__ = ["CALLBACKS", "FAMILIES", "Family", "GANFamily", "SPIKING_MODELS", "SimCLRFamily", "family_of", "family_of_name",
           "gan_pixels", "is_spiking", "sample_mmd"]


def _metric_base():
    from ..metrics.base import Metric
    return Metric


def _make_term_metric(name: str, higher: bool | None, fn, doc: str):
    """A Metric class averaging ``fn(outputs, targets) -> (N,) Tensor`` over the samples of an epoch."""
    Metric = _metric_base()

    class TermMetric(Metric):
        __doc__ = doc
        default_name = name
        higher_is_better = higher
        _state_names = ("total", "count")

        def _init_state(self):
            self.total, self.count = 0.0, 0

        def update(self, preds, targets) -> None:
            from ..autograd import no_grad
            from ..metrics.base import to_numpy
            with no_grad():
                v = to_numpy(fn(preds, targets)).astype(np.float64)
            self.total += float(v.sum())
            self.count += int(v.size)

        def compute(self):
            return self.total / self.count if self.count else math.nan

    TermMetric.__name__ = TermMetric.__qualname__ = "".join(p.title() for p in name.split("_")) + "Metric"
    return TermMetric


def _target(out, targets):
    return out.x if targets is None else targets


_VAE_METRICS = {
    "elbo": (True, lambda out, t: out.log_px(_target(out, t)) - out.kl(),
             "ELBO per sample in nats (one z per input; beta = 1, whatever the loss's beta): log p(x|z) - KL."),
    "kl": (None, lambda out, t: out.kl(), "KL(q(z|x) || N(0, I)) per sample, nats."),
    "reconstruction": (False, lambda out, t: -out.log_px(_target(out, t)),
                       "Reconstruction term -log p(x|z) per sample, nats."),
}


# ---------------------------------------------------------------- the families
class Family:
    """How one family of models trains and shows itself. Subclasses fill in the class attributes
    and override what differs from the defaults (which suit any model trained on ``(x, target)``
    batches with the plain Trainer)."""

    name = "family"
    models = ()                 # registered model names
    loss_names = ()             # the [loss] names it takes; the first is the default
    metric_names = {}           # [metrics] name -> (higher_is_better, fn(outputs, targets), doc)
    default_metrics = ()
    conditional = False         # needs labels to sample (--label)
    sample_what = "samples"
    has_samples = True          # draws pictures (lamina sample, SampleGrid); SimCLR does not
    code_name = "posterior means"   # what encode() gives, for the latent map's title

    # -- config ------------------------------------------------------------------------------
    def defaults(self, model_cfg: dict) -> dict:
        """The model's options with the constructor's defaults filled in."""
        zoo = registry.models()
        name = model_cfg["name"].strip().lower().replace("-", "_")
        return {**(zoo.get(name) or {}), **{k: v for k, v in model_cfg.items() if k != "name"}}

    def model_options(self, model_cfg: dict, opts: dict) -> dict:
        """The model's constructor options once ``build`` has filled in what the data says (num_classes,
        in_features, ...) for those the ``[model]`` table left out; a family may drop or add some."""
        return opts

    def image_spec(self, model_cfg: dict, info: dict):
        """``[mode, [h, w]]`` of the pictures ``sample`` draws (default: the data's images)."""
        return info.get("image")

    def default_loss(self, model_cfg: dict) -> str:
        return self.loss_names[0]

    def validate_loss(self, table: dict, model_cfg: dict) -> dict:
        table = dict(table)
        name = str(table.get("name", self.default_loss(model_cfg))).strip().lower().replace("-", "_")
        if name not in self.loss_names:
            near = closest(name, self.loss_names)
            raise ConfigError(f"loss.name: a {self.name} model ({model_cfg['name']}) trains with "
                              f"{' or '.join(map(repr, self.loss_names))}, got {table.get('name')!r}"
                              + (f" (did you mean {near!r}?)" if near else ""))
        table["name"] = name
        allowed = self.loss_keys(name)
        for key, value in table.items():
            if key == "name":
                continue
            if key not in allowed:
                near = closest(key, list(allowed))
                hint = f"; did you mean {near!r}?" if near else ""
                raise ConfigError(f"loss ({name}): unknown key {key!r}{hint} (valid: {', '.join(sorted(allowed)) or 'none'})")
            table[key] = allowed[key](value, f"loss.{key}")
        return table

    def loss_keys(self, name: str) -> dict:
        """[loss] keys (besides name) -> a checker ``(value, where) -> value``."""
        return {}

    def validate_metrics(self, value) -> dict:
        names = list(self.default_metrics) if value is None else value
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"metrics.names must be a list of metric names, got {names!r}")
        for i, n in enumerate(names):
            if n not in self.metric_names:
                near = closest(n, list(self.metric_names))
                valid = ", ".join(self.metric_names) or "none: the loss is what it reports"
                raise ConfigError(f"metrics.names[{i}]: {n!r} is not a metric of a {self.name} run"
                                  + (f" (did you mean {near!r}?)" if near else "") + f" (valid: {valid})")
        return {"names": names}

    def check_config(self, cfg: dict) -> None:
        """Cross-table checks once the config is validated."""

    # -- building ----------------------------------------------------------------------------
    def wrap_train(self, dataset, cfg: dict, generators: dict):
        from ..models.ae_data import ReconstructionDataset
        return ReconstructionDataset(dataset, conditional=self.conditional)

    def wrap_eval(self, dataset, cfg: dict, train_arrays=None):
        from ..models.ae_data import ReconstructionDataset
        return ReconstructionDataset(dataset, conditional=self.conditional)

    def loss(self, cfg: dict):
        raise NotImplementedError

    def metrics(self, cfg: dict) -> list:
        out = []
        for n in cfg["metrics"]["names"]:
            higher, fn, doc = self.metric_names[n]
            out.append(_make_term_metric(n, higher, fn, doc)())
        return out

    def callbacks(self, cfg: dict, run_dir: str, data) -> list:
        """Training-only callbacks: a SampleGrid saving ``sample`` pictures into run_dir/samples every
        few epochs (``[callbacks] sample_grid = {every_n_epochs = 5, n = 64}``; ``false`` turns it
        off; runs whose data are not images have none)."""
        import os

        from ..report.generative import SAMPLES, SampleGrid
        opts = dict(cfg.get("callbacks", {}).get("sample_grid", {"enabled": True}))
        image = self.image_spec(cfg["model"], data.info)
        if not opts.pop("enabled", True) or not image or not self.has_samples:
            return []
        cb = SampleGrid(os.path.join(run_dir, SAMPLES), **opts)
        cb.image = image
        shown = next((p for p in data.arrays[1:] + data.arrays[:1] if p is not None and len(p[0])), None)

        def draw(model, n, generator):
            return self.sample(model, n, generator, data=shown)[0]
        cb.draw = draw
        return [cb]

    def trainer(self, cfg: dict, model, loss, optimizer, make_optimizer=None, **kw):
        """The training loop: lamina's Trainer (a GAN family returns its GANTrainer here, building one
        optimizer per net with ``make_optimizer(cfg, module)``, which build.py passes in)."""
        from ..train import Trainer
        return Trainer(model, loss, optimizer, **kw)

    def check_forward(self, model, xb: np.ndarray, info: dict) -> None:
        """Run the model once on a few training inputs (ConfigError when they don't fit)."""
        from ..autograd import no_grad
        from ..tensor import Tensor
        x = Tensor._wrap(np.ascontiguousarray(xb))
        args = (x,) + ((Tensor._wrap(np.zeros(len(xb), np.int64)),) if self.conditional else ())
        was = model.training
        model.eval()
        try:
            with no_grad():
                model(*args)
        except (ValueError, RuntimeError, TypeError, IndexError) as e:
            raise ConfigError(f"model does not fit the data (inputs of shape {tuple(info['input_shape'])} per "
                              f"sample): {one_line(e)}") from None
        finally:
            model.train(was)

    # -- evaluation and pictures ----------------------------------------------------------------
    def evaluate_extra(self, model, x: np.ndarray, y: np.ndarray, iwae_k: int | None, seed: int) -> dict:
        if iwae_k:
            raise ConfigError(f"--iwae: the importance-weighted log-likelihood is for VAE runs; this run's model "
                              f"family is {self.name}")
        return {}

    def sample(self, model, n: int, generator, label=None, z=None, data=None, interpolate=False, steps=10):
        """Pictures for ``lamina sample`` and the SampleGrid: ``(values (N, D) in [0, 1], pictures per row)``.

        ``label``: a class to draw (conditional models); ``z``: latent codes (M, latent_dim) to decode;
        ``data``: ``(x, y)`` arrays of the run's held-out inputs (reconstructions, latent walks);
        ``interpolate``: rows of ``steps`` pictures walking between two inputs' codes."""
        raise ConfigError(f"a {self.name} run has no samples to draw")

    def encode(self, model, x: np.ndarray, y: np.ndarray):
        """Latent codes (N, L) of inputs (for the latent map), or None."""
        return None

    def reconstruct(self, model, x: np.ndarray, y: np.ndarray):
        """Reconstructions of inputs in [0, 1], or None."""
        return None

    def latent_dim(self, model) -> int:
        return int(model.latent_dim)


def _nonneg_float(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 or math.isinf(v):
        raise ConfigError(f"{where} must be a non-negative number, got {v!r}")
    return float(v)


def _nonneg_int(v, where):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ConfigError(f"{where} must be a non-negative integer, got {v!r}")
    return v


def _tensor(a):
    from ..tensor import Tensor
    return Tensor._wrap(np.ascontiguousarray(a))


def _walk_pairs(x: np.ndarray, n: int) -> tuple:
    """``n // steps`` pairs of inputs to walk between: rows i and i + rows (different digits, usually)."""
    rows = max(1, min(len(x) // 2, n))
    return x[:rows], x[rows:2 * rows]


class AutoencoderFamily(Family):
    name = "autoencoder"
    models = ("autoencoder", "denoising_autoencoder", "conv_autoencoder")
    loss_names = ("reconstruction",)
    metric_names = {}           # the loss is the reconstruction error; nothing else to report
    default_metrics = ()
    sample_what = "reconstructions"
    code_name = "codes"

    def check_config(self, cfg: dict) -> None:
        if self.defaults(cfg["model"]).get("reconstruction") == "bce" and cfg["data"].get("standardize"):
            raise ConfigError("data.standardize = true, but model.reconstruction = \"bce\" reconstructs values in "
                              "[0, 1]: set data.standardize = false (or reconstruction = \"mse\")")

    def wrap_train(self, dataset, cfg: dict, generators: dict):
        from .. import backend
        from ..models.ae_data import GaussianNoise, MaskingNoise, ReconstructionDataset
        d = self.defaults(cfg["model"])
        noise = None
        if cfg["model"]["name"].lower() == "denoising_autoencoder":
            g = backend.Generator().manual_seed(cfg["train"]["seed"] + 2)
            generators["noise"] = g
            kind, level = d.get("noise", "masking"), float(d.get("noise_level", 0.25))
            noise = MaskingNoise(level, generator=g) if kind == "masking" else GaussianNoise(level, generator=g)
        return ReconstructionDataset(dataset, noise=noise)

    def loss(self, cfg: dict):
        from ..models.autoencoder import ReconstructionLoss
        return ReconstructionLoss(self.defaults(cfg["model"]).get("reconstruction", "mse"))

    def _out(self, model, v):
        return v.sigmoid() if model.reconstruction == "bce" else v

    def reconstruct(self, model, x, y):
        from ..autograd import no_grad
        with no_grad():
            return np.asarray(model.reconstruct(_tensor(x)).array).reshape(len(x), -1)

    def encode(self, model, x, y):
        from ..autograd import no_grad
        with no_grad():
            return np.asarray(model.encode(_tensor(x)).array)

    def sample(self, model, n, generator, label=None, z=None, data=None, interpolate=False, steps=10):
        from ..autograd import no_grad
        if label is not None:
            raise ConfigError(f"--label: an autoencoder is not conditional (model {type(model).__name__}); "
                              "--label is for a conditional_vae run")
        with no_grad():
            if z is not None:
                return np.asarray(self._out(model, model.decode(_tensor(z))).array), 8
            if data is None or len(data[0]) < 2:
                raise ConfigError("an autoencoder run draws reconstructions of its held-out inputs, and its test "
                                  "split has fewer than 2")
            data = data[0]
            if interpolate:
                a, b = _walk_pairs(data, max(1, n // steps))
                za, zb = (model.encode(_tensor(v)).array for v in (a, b))
                t = np.linspace(0.0, 1.0, steps, dtype=za.dtype)[None, :, None]
                walk = (za[:, None] * (1 - t) + zb[:, None] * t).reshape(-1, za.shape[1])
                return np.asarray(self._out(model, model.decode(_tensor(walk))).array), steps
            x = data[:max(1, n // 2)]
            rec = np.asarray(model.reconstruct(_tensor(x)).array).reshape(len(x), -1)
            per = min(8, len(x))
            rows = []
            for s in range(0, len(x), per):  # rows of inputs above rows of their reconstructions
                rows += [x[s:s + per].reshape(-1, rec.shape[1]), rec[s:s + per]]
            return np.concatenate(rows), per


class VAEFamily(Family):
    name = "vae"
    models = ("vae",)
    loss_names = ("elbo",)
    metric_names = _VAE_METRICS
    default_metrics = ("elbo", "kl", "reconstruction")

    def loss_keys(self, name):
        return {"beta": _nonneg_float, "kl_warmup_epochs": _nonneg_int, "kl_warmup_steps": _nonneg_int,
                "kl_start": _nonneg_float}

    def validate_loss(self, table, model_cfg):
        out = super().validate_loss(table, model_cfg)
        if "kl_warmup_epochs" in out and "kl_warmup_steps" in out:
            raise ConfigError("loss: give kl_warmup_epochs or kl_warmup_steps, not both")
        return out

    def check_config(self, cfg: dict) -> None:
        if self.defaults(cfg["model"]).get("likelihood", "bernoulli") == "bernoulli" and cfg["data"].get("standardize"):
            raise ConfigError("data.standardize = true, but a Bernoulli VAE models pixel values in [0, 1]: set "
                              "data.standardize = false (or model.likelihood = \"gaussian\")")

    def loss(self, cfg: dict):
        from ..models.vae_loss import ELBOLoss
        return ELBOLoss(cfg["loss"].get("beta", 1.0))

    def callbacks(self, cfg: dict, run_dir: str, data) -> list:
        from ..models.vae_loss import KLWarmup
        t = cfg["loss"]
        out = []
        if t.get("kl_warmup_epochs") or t.get("kl_warmup_steps"):
            which = {"warmup_epochs": t["kl_warmup_epochs"]} if t.get("kl_warmup_epochs") else \
                {"warmup_steps": t["kl_warmup_steps"]}
            out.append(KLWarmup(**which, beta=t.get("beta", 1.0), start=t.get("kl_start", 0.0)))
        return out + super().callbacks(cfg, run_dir, data)

    def _labels(self, model, label, n, given=None):
        if label is not None:
            raise ConfigError(f"--label: model {type(model).__name__} is not conditional (it has no labels); train a "
                              "conditional_vae to sample a chosen class")
        return None

    def sample(self, model, n, generator, label=None, z=None, data=None, interpolate=False, steps=10):
        from ..autograd import no_grad
        with no_grad():
            if z is not None:
                out = model.decode(_tensor(z), labels=self._labels(model, label, len(z)))
                return np.asarray((out.sigmoid() if model.likelihood == "bernoulli" else out).array), 8
            if interpolate:
                if data is None or len(data[0]) < 2:
                    raise ConfigError("--interpolate walks between held-out inputs, and the run's test split has "
                                      "fewer than 2")
                rows = max(1, n // steps)
                a, b = _walk_pairs(data[0], rows)
                lab = self._labels(model, label, len(a), given=data[1][:len(a)])   # a CVAE walks within a's class
                walk = model.interpolate(_tensor(a), _tensor(b), steps=steps, labels=lab)   # (steps, rows, D)
                return np.asarray(walk.array).transpose(1, 0, 2).reshape(-1, walk.shape[-1]), steps
            lab = self._labels(model, label, n)
            return np.asarray(model.sample(n, labels=lab, generator=generator).array), 8

    def reconstruct(self, model, x, y):
        return np.asarray(model.reconstruct(_tensor(x), **self._cond(y)).array)

    def encode(self, model, x, y):
        from ..autograd import no_grad
        with no_grad():
            return np.asarray(model.encode(_tensor(x), **self._cond(y))[0].array)

    def _cond(self, y):
        return {}

    def evaluate_extra(self, model, x, y, iwae_k, seed):
        """``iwae_<k>``: the importance-weighted log-likelihood estimate (nats per sample, mean)."""
        if not iwae_k:
            return {}
        from .. import backend
        from ..autograd import no_grad
        g = backend.Generator().manual_seed(seed)
        model.eval()
        total, n = 0.0, 0
        bs = 256
        with no_grad():
            for s in range(0, len(x), bs):  # batches of inputs: memory stays bounded for large k
                ll = model.iwae_log_likelihood(_tensor(x[s:s + bs]), k=iwae_k, generator=g,
                                               **({"labels": y[s:s + bs]} if self.conditional else {}))
                total += float(np.asarray(ll.array, np.float64).sum())
                n += len(ll)
        return {f"iwae_{iwae_k}": total / n}


class ConditionalVAEFamily(VAEFamily):
    name = "cvae"
    models = ("conditional_vae",)
    conditional = True

    def _labels(self, model, label, n, given=None):
        """--label for every sample, else the inputs' own labels (a walk), else 0, 1, ..., k-1 in turn."""
        k = model.num_classes
        if label is None:
            return np.asarray(given, dtype=np.int64) if given is not None else np.arange(n, dtype=np.int64) % k
        if not 0 <= label < k:
            raise ConfigError(f"--label {label} is outside the run's classes (0..{k - 1})")
        return np.full(n, label, dtype=np.int64)

    def _cond(self, y):
        return {"labels": y}


# ---------------------------------------------------------------- GANs and SimCLR: their data
def _pos_float(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or math.isinf(v):
        raise ConfigError(f"{where} must be a positive number, got {v!r}")
    return float(v)


def _pos_int(v, where):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"{where} must be a positive integer, got {v!r}")
    return v


def _unit_fraction(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
        raise ConfigError(f"{where} must be a number in [0, 1), got {v!r}")
    return float(v)


def _scale_pair(v, where):
    if (not isinstance(v, list) or len(v) != 2 or any(isinstance(a, bool) or not isinstance(a, (int, float)) for a in v)
            or not 0 < v[0] <= v[1] <= 1):
        raise ConfigError(f"{where} must be [low, high] with 0 < low <= high <= 1 (fractions of the image's area), "
                          f"got {v!r}")
    return [float(a) for a in v]


def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of linear interpolation at half-pixel centres (edges clamped): resizing an
    image bilinearly is ``R_h @ img @ R_w^T``."""
    if n_in == n_out:
        return np.eye(n_in, dtype=np.float32)
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    w = pos - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - w)
    np.add.at(m, (np.arange(n_out), hi), w)
    return m.astype(np.float32)


def _as_images(arr: np.ndarray, channels: int, what: str) -> np.ndarray:
    """(N, D) flat square images or (N, C, H, W) -> (N, C, H, W) (ConfigError when they aren't)."""
    if arr.ndim == 2:
        side = math.isqrt(arr.shape[1] // channels) if arr.shape[1] >= channels else 0
        if channels * side * side != arr.shape[1]:
            raise ConfigError(f"{what} takes images: {arr.shape[1]} values per sample are not {channels} square "
                              "channel(s); use image data (digits, mnist, an image folder) or data.as_images = true")
        arr = arr.reshape(len(arr), channels, side, side)
    if arr.ndim != 4 or arr.shape[1] != channels:
        raise ConfigError(f"{what} takes images of {channels} channel(s), the data's are of shape "
                          f"{tuple(arr.shape[1:])}")
    return arr


def gan_pixels(arr, image_shape) -> np.ndarray:
    """Data images in [0, 1] (flat or (N, C, h, w)) -> the GAN's (N, C, H, W) in [-1, 1]: resized
    bilinearly to (H, W) (digits' 8x8 -> 16x16 or 28x28) and mapped by 2x - 1 (the tanh's range)."""
    c, h, w = image_shape
    x = _as_images(np.asarray(arr, dtype=np.float32), c, "a GAN")
    rh, rw = _resize_matrix(x.shape[2], h), _resize_matrix(x.shape[3], w)
    return np.einsum("hi,ncij,wj->nchw", rh, x, rw, optimize=True) * 2.0 - 1.0


def MappedInputs(dataset, fn):
    """A dataset whose inputs (a sample's first element) go through ``fn`` (raw (N, ...) arrays ->
    arrays), batch by batch on the DataLoader's fast path; labels pass through."""
    from ..data.dataset import Dataset, batch_fetcher
    from ..tensor import Tensor

    class _MappedInputs(Dataset):
        def __init__(self):
            self.dataset, self.fn = dataset, fn
            fetch = batch_fetcher(dataset)
            if fetch is not None:
                self.get_batch = lambda idx: self._map(fetch(idx), False)

        def _x(self, x, single):
            arr = np.asarray(getattr(x, "array", x))
            out = self.fn(arr[None] if single else arr)
            return Tensor._wrap(np.ascontiguousarray(out[0] if single else out))

        def _map(self, sample, single):
            if isinstance(sample, (tuple, list)):
                out = [self._x(sample[0], single), *sample[1:]]
                return tuple(out) if single else out
            return self._x(sample, single)

        def __getitem__(self, index):
            return self._map(self.dataset[index], True)

        def __len__(self):
            return len(self.dataset)

    return _MappedInputs()


def _all_of(dataset) -> list:
    """Every sample of an array-backed dataset as one batch ``[x, y, ...]``."""
    from ..data.dataset import batch_fetcher
    fetch = batch_fetcher(dataset)
    if fetch is None:
        raise ConfigError("evaluation data must be array-backed")
    out = fetch(np.arange(len(dataset), dtype=np.int64))
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _fixed_batches(inputs: list, target=None, conditional_inputs: bool = True):
    """A dataset of precomputed tensors: a batch is ``(inputs, target)`` (inputs a list of tensors, or
    one tensor), or ``(inputs,)`` without a target; sliced per batch."""
    from ..data.dataset import Dataset

    class _Fixed(Dataset):
        def get_batch(self, idx):
            xs = [t[idx] for t in inputs]
            x = xs if len(xs) > 1 or conditional_inputs else xs[0]
            return [x] if target is None else [x, target[idx]]

        def __getitem__(self, i):
            b = self.get_batch(np.asarray([i]))
            x = [t[0] for t in b[0]] if isinstance(b[0], list) else b[0][0]
            x = tuple(x) if isinstance(x, list) else x
            return (x,) if target is None else (x, b[1][0])

        def __len__(self):
            return int(inputs[0].shape[0])

    return _Fixed()


def sample_mmd(fake, real, scales=(0.25, 0.5, 1.0)) -> float:
    """Squared maximum mean discrepancy between two sets of images (biased estimate):
    MMD² = mean k(f, f') + mean k(r, r') - 2 mean k(f, r), k(a, b) = mean_s exp(-d(a, b) / (2 s²)),
    d = mean squared pixel difference (pixels in [-1, 1]). 0 for identical sets; grows as they differ."""
    f = np.asarray(getattr(fake, "array", fake), dtype=np.float64).reshape(len(fake), -1)
    r = np.asarray(getattr(real, "array", real), dtype=np.float64).reshape(len(real), -1)
    d = f.shape[1]

    def k(a, b):
        sq = np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T, 0.0) / d
        return np.mean([np.exp(-sq / (2 * s * s)) for s in scales], axis=0).mean()
    return float(k(f, f) + k(r, r) - 2 * k(f, r))


def _module_base():
    from ..nn.module import Module
    return Module


def SampleMMDLoss():
    """The held-out score of a GAN run (``lamina evaluate``, test_metrics.json): ``loss(fake, real)`` =
    :func:`sample_mmd` of a batch of generated images and the real images they are set against."""
    from ..tensor import Tensor

    class _SampleMMD(_module_base()):
        def forward(self, fake, real):
            return Tensor._wrap(np.asarray(sample_mmd(fake, real), dtype=np.float32))

        def extra_repr(self):
            return "squared MMD between generated and real images"

    return _SampleMMD()


_GAN_TRAINER = None


def _gan_trainer_class():
    """GANTrainer as ``lamina train`` runs it: ``fit`` ignores the validation split (a GAN has no
    held-out loss to train against) and ``evaluate`` scores the generator by ``SampleMMDLoss`` on the
    family's evaluation batches (fixed noise against real held-out images)."""
    global _GAN_TRAINER
    if _GAN_TRAINER is None:
        from ..train.gan_trainer import GANTrainer

        class RunGANTrainer(GANTrainer):
            def __init__(self, *args, eval_loss=None, **kw):
                super().__init__(*args, **kw)
                self.eval_loss = eval_loss

            def fit(self, train_loader, epochs=1, initial_epoch=0, resume_from=None, callbacks=None,
                    verbose="auto", validation=None):
                return super().fit(train_loader, epochs=epochs, initial_epoch=initial_epoch, resume_from=resume_from,
                                   callbacks=callbacks, verbose=verbose)

            def evaluate(self, loader, batch_size=128, callbacks=None):
                from ..optim import SGD
                from ..train import Trainer
                return Trainer(self.model, self.eval_loss, SGD(self.model.parameters(), lr=0.0)).evaluate(loader)

        _GAN_TRAINER = RunGANTrainer
    return _GAN_TRAINER


class GANFamily(Family):
    """DCGAN, conditional GAN and WGAN-GP runs: GANTrainer's alternating steps on real images scaled to
    [-1, 1] (and resized to the nets' image_shape); samples are the generator's pictures."""

    name = "gan"
    models = ("gan", "dcgan", "mlp_gan", "wgan_gp", "cgan")
    loss_names = ("non_saturating", "hinge", "wasserstein", "wgan_gp")
    metric_names = {}           # test_metrics / evaluate: the loss is the sample MMD
    default_metrics = ()

    def default_loss(self, model_cfg):
        return "wgan_gp" if model_cfg["name"].strip().lower().replace("-", "_") == "wgan_gp" else "non_saturating"

    def loss_keys(self, name):
        return {"n_critic": _pos_int, "gp_weight": _nonneg_float}

    def model_options(self, model_cfg, opts):
        # the data's num_classes makes a GAN conditional only when asked for (cgan, or num_classes given)
        if model_cfg["name"].strip().lower() != "cgan" and "num_classes" not in model_cfg:
            opts = {k: v for k, v in opts.items() if k != "num_classes"}
        return opts

    def _shape(self, model_cfg) -> tuple:
        return tuple(self.defaults(model_cfg)["image_shape"])

    def image_spec(self, model_cfg, info):
        c, h, w = self._shape(model_cfg)
        return ["L" if c == 1 else "RGB", [h, w]]

    def check_config(self, cfg):
        if cfg["data"].get("standardize"):
            raise ConfigError("data.standardize = true, but a GAN's generator draws pixels in [-1, 1] (a tanh), "
                              "to which the data's [0, 1] pixels are mapped: set data.standardize = false")
        if cfg.get("scheduler"):
            raise ConfigError("[scheduler]: a GAN run trains its two nets with their own optimizers (GANTrainer) "
                              "and no learning-rate schedule; remove [scheduler]")
        if cfg["train"]["grad_accum_steps"] != 1:
            raise ConfigError("train.grad_accum_steps: a GAN run steps both nets every batch; it must be 1")
        if cfg["transforms"]:
            raise ConfigError("transforms: a GAN learns the data's own distribution; augmenting it would teach the "
                              "generator the augmentations: remove [[transforms]]")

    def wrap_train(self, dataset, cfg, generators):
        shape = self._shape(cfg["model"])
        return MappedInputs(dataset, lambda a: gan_pixels(a, shape))

    def wrap_eval(self, dataset, cfg, train_arrays=None):
        """``((z, labels) or z, real images)``: one fixed code per held-out image (seed 0), so every
        evaluation sets the same generated images against the same real ones."""
        from ..tensor import Tensor
        d = self.defaults(cfg["model"])
        x, y = _all_of(dataset)[:2]
        real = Tensor._wrap(np.ascontiguousarray(gan_pixels(x.array, tuple(d["image_shape"]))))
        z = Tensor._wrap(np.random.default_rng(0).standard_normal((len(real), int(d["latent_dim"])))
                         .astype(real.array.dtype))
        conditional = self.model_options(cfg["model"], {"num_classes": 1}).get("num_classes") is not None
        return _fixed_batches([z, y] if conditional else [z], real, conditional_inputs=conditional)

    def loss(self, cfg):
        return SampleMMDLoss()

    def trainer(self, cfg, model, loss, optimizer, make_optimizer=None, **kw):
        """GANTrainer with one optimizer per net (both from [optimizer]); the checkpoints keep the last
        state only (there is no held-out loss to pick a best epoch by), the progress bar shows both losses."""
        from ..train.callbacks import ModelCheckpoint, ProgressBar
        from ..train.gan_trainer import GANProgressBar
        build_optimizer = make_optimizer
        callbacks = []
        for cb in kw.get("callbacks") or ():
            if isinstance(cb, ModelCheckpoint):
                cb.save_best = False
            if type(cb) is ProgressBar:
                bar = GANProgressBar.__new__(GANProgressBar)
                bar.__dict__.update(cb.__dict__)
                cb = bar
            callbacks.append(cb)
        t = cfg["loss"]
        return _gan_trainer_class()(
            model, build_optimizer(cfg, model.generator), build_optimizer(cfg, model.discriminator), loss=t["name"],
            n_critic=t.get("n_critic"), gp_weight=t.get("gp_weight"), seed=cfg["train"]["seed"] + 3,
            callbacks=callbacks, clip_grad_norm=kw.get("clip_grad_norm"), nonfinite=kw.get("nonfinite", "raise"),
            device=kw.get("device"), log_every=kw.get("log_every", 10), generators=kw.get("generators"),
            eval_loss=loss)

    def check_forward(self, model, xb, info):
        from ..autograd import no_grad
        x = gan_pixels(xb, model.image_shape)
        labels = None if model.num_classes is None else _tensor(np.zeros(len(x), np.int64))
        was = model.training
        model.eval()
        try:
            with no_grad():
                model.discriminate(_tensor(x), labels)
                model.sample(len(x), labels=labels)
        except (ValueError, RuntimeError, TypeError, IndexError) as e:
            raise ConfigError(f"model does not fit the data (images {tuple(x.shape[1:])} after resizing to "
                              f"image_shape): {one_line(e)}") from None
        finally:
            model.train(was)

    def _labels(self, model, label, n):
        k = model.num_classes
        if label is not None:
            if k is None:
                raise ConfigError(f"--label: this {type(model).__name__} is not conditional (no num_classes); train "
                                  "a cgan (configs/cgan_digits.toml) to draw a chosen class")
            if not 0 <= label < k:
                raise ConfigError(f"--label {label} is outside the run's classes (0..{k - 1})")
            return np.full(n, label, dtype=np.int64)
        return None if k is None else np.arange(n, dtype=np.int64) % k

    def sample(self, model, n, generator, label=None, z=None, data=None, interpolate=False, steps=10):
        """Generated pictures in [0, 1]: z ~ N(0, I) from ``generator`` (or the given codes); a conditional
        GAN draws --label, else classes 0, 1, ... in turn (one class per column); ``interpolate``: rows of
        ``steps`` pictures walking between two random codes."""
        k = model.num_classes
        per_row = k if (k and label is None and not interpolate) else 8
        if z is not None:
            codes = np.asarray(z, dtype=np.float32)
            lab = self._labels(model, label, len(codes))
        elif interpolate:
            rows = max(1, n // steps)
            ends = np.asarray(model.sample_noise(2 * rows, generator).array)
            t = np.linspace(0.0, 1.0, steps, dtype=ends.dtype)[None, :, None]
            codes = (ends[:rows, None] * (1 - t) + ends[rows:, None] * t).reshape(rows * steps, -1)
            lab = self._labels(model, label, rows)
            lab = None if lab is None else np.repeat(lab, steps)
            per_row = steps
        else:
            codes = np.asarray(model.sample_noise(n, generator).array)
            lab = self._labels(model, label, n)
        p = next(model.generator.parameters())
        out = model.sample(len(codes), labels=None if lab is None else _tensor(lab),
                           z=_tensor(codes.astype(p.array.dtype)))
        return (np.asarray(out.array).reshape(len(codes), -1) + 1.0) / 2.0, per_row


class SimCLRFamily(Family):
    """SimCLR runs: the plain Trainer on two augmented views of unlabeled images, NT-Xent; the encoder's
    features are what it makes (linear probe in ``lamina evaluate``, latent map in ``lamina report``)."""

    name = "simclr"
    models = ("simclr",)
    loss_names = ("nt_xent",)
    metric_names = {}
    default_metrics = ()
    has_samples = False
    sample_what = "features"
    code_name = "encoder features"
    probe_fraction = 0.1

    def loss_keys(self, name):
        return {"temperature": _pos_float, "crop_scale": _scale_pair, "degrees": _nonneg_float,
                "translate": _unit_fraction, "noise": _nonneg_float}

    def check_config(self, cfg):
        if cfg["data"].get("standardize"):
            raise ConfigError("data.standardize = true, but SimCLR's views (crops, noise clipped to [0, 1]) take "
                              "pixels in [0, 1]: set data.standardize = false")
        if "sample_grid" in cfg.get("callbacks", {}):
            raise ConfigError("callbacks.sample_grid: a simclr run learns features and draws no pictures; remove it")

    def _shape(self, cfg) -> tuple:
        d = self.defaults(cfg["model"])
        size = d.get("input_size", 8)
        hw = (size, size) if isinstance(size, int) else tuple(size)
        return int(d.get("in_channels", 1)), hw

    def _views(self, cfg, generator):
        from ..data.ssl_views import simclr_augment
        _, hw = self._shape(cfg)
        t = cfg["loss"]
        return simclr_augment(hw, crop_scale=tuple(t.get("crop_scale", (0.6, 1.0))), degrees=t.get("degrees", 12.0),
                              translate=t.get("translate", 0.1), noise=t.get("noise", 0.05), generator=generator)

    def _images(self, cfg):
        c, _ = self._shape(cfg)
        return lambda a: _as_images(np.asarray(a, dtype=np.float32), c, "SimCLR")

    def wrap_train(self, dataset, cfg, generators):
        """``((view1, view2),)`` batches of the images (labels dropped), the views drawn from the
        checkpointed generator ``views`` (seed train.seed + 2)."""
        from .. import backend
        from ..data.ssl_views import TwoViewDataset
        g = backend.Generator().manual_seed(cfg["train"]["seed"] + 2)
        generators["views"] = g
        return TwoViewDataset(MappedInputs(dataset, self._images(cfg)), self._views(cfg, g))

    def wrap_eval(self, dataset, cfg, train_arrays=None):
        """The held-out NT-Xent: both views drawn once (seed 0), so every evaluation compares the same pairs."""
        from .. import backend
        from ..tensor import Tensor
        self._cfg = cfg  # evaluate_extra's probe trains on this config's training split
        self._train_arrays = train_arrays  # () -> (x, y) of that split (build.py passes it in)
        x = Tensor._wrap(np.ascontiguousarray(self._images(cfg)(_all_of(dataset)[0].array)))
        views = self._views(cfg, backend.Generator().manual_seed(0))
        v1, v2 = views(x), views(x)
        return _fixed_batches([v1, v2])

    def loss(self, cfg):
        from ..nn.contrastive import NTXentLoss
        return NTXentLoss(cfg["loss"].get("temperature", 0.5))

    def callbacks(self, cfg, run_dir, data):
        return []

    def check_forward(self, model, xb, info):
        super().check_forward(model, _as_images(np.asarray(xb, np.float32), model.in_channels, "SimCLR"), info)

    def sample(self, model, n, generator, label=None, z=None, data=None, interpolate=False, steps=10):
        raise ConfigError("a simclr run learns features and draws no pictures: lamina evaluate RUN reports its "
                          "linear-probe accuracy, lamina report RUN maps its features")

    def encode(self, model, x, y):
        from ..models.simclr import encoder_features
        return np.asarray(encoder_features(model, _tensor(np.asarray(x, np.float32))).array)

    def latent_dim(self, model):
        return int(model.feature_dim)

    def _probe_data(self, x, y, seed):
        """(labelled inputs, labels, test inputs, test labels): 10 % of the run's training split (stratified)
        against ``x, y``; without the run's config, 10 % of ``x, y`` against the rest."""
        fetch = getattr(self, "_train_arrays", None)
        tx, ty, rest = x, y, None
        if fetch is not None:
            train = fetch()
            if train is not None and len(train[0]):
                tx, ty = train
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(ty))
        pick = []
        for c in np.unique(ty):  # classes: a handful
            idx = order[ty[order] == c]
            pick.append(idx[:max(1, int(math.ceil(self.probe_fraction * len(idx))))])
        pick = np.sort(np.concatenate(pick))
        if tx is x:
            rest = np.setdiff1d(np.arange(len(y)), pick)
            return x[pick], y[pick], x[rest], y[rest]
        return tx[pick], ty[pick], x, y

    def evaluate_extra(self, model, x, y, iwae_k, seed):
        """``probe_accuracy``: a linear classifier on the frozen features, trained on 10 % of the training
        labels; ``random_encoder_probe_accuracy``: the same probe on an untrained encoder (seed + 1)."""
        super().evaluate_extra(model, x, y, iwae_k, seed)
        from .. import backend
        from ..models import create_model
        from ..models.simclr import linear_probe
        xl, yl, xt, yt = self._probe_data(np.asarray(x), np.asarray(y).astype(np.int64), seed)
        xl, xt = (_tensor(_as_images(v.astype(np.float32), model.in_channels, "SimCLR")) for v in (xl, xt))
        trained = linear_probe(model, xl, yl, xt, yt, seed=seed).test_accuracy
        backend.manual_seed(seed + 1)
        fresh = create_model("simclr", **model.get_config())
        fresh.eval()
        random = linear_probe(fresh, xl, yl, xt, yt, seed=seed).test_accuracy
        return {"probe_accuracy": trained, "random_encoder_probe_accuracy": random, "probe_labels": int(len(yl))}


SPIKING_MODELS = ("snn_mlp", "spiking_mlp")  # classifiers (no family); lamina report adds spike rasters


def is_spiking(model_cfg) -> bool:
    """Whether a ``[model]`` table is a spiking network (``lamina.models.SpikingMLP``)."""
    name = model_cfg.get("name") if isinstance(model_cfg, dict) else None
    return isinstance(name, str) and name.strip().lower().replace("-", "_") in SPIKING_MODELS


FAMILIES = {f.name: f for f in (AutoencoderFamily(), VAEFamily(), ConditionalVAEFamily(), GANFamily(),
                                       SimCLRFamily())}
_BY_MODEL = {m: f for f in FAMILIES.values() for m in f.models}
CALLBACKS = ("sample_grid",)  # [callbacks] entries that only generative runs have


def family_of_name(model_name) -> Family | None:
    """The family of a registered model name, None for the classifiers and language models."""
    if not isinstance(model_name, str):
        return None
    return _BY_MODEL.get(model_name.strip().lower().replace("-", "_"))


def family_of(model_cfg: dict | None) -> Family | None:
    """The family of a ``[model]`` table (None: not a generative model)."""
    if not isinstance(model_cfg, dict):
        return None
    return family_of_name(model_cfg.get("name"))


def sample_grid_options(value, where: str = "callbacks.sample_grid") -> dict:
    """``[callbacks] sample_grid = true | false | {every_n_epochs = 5, n = 64, seed = 0, nrow = 8}``."""
    from ..report.generative import SampleGrid
    if isinstance(value, bool):
        return {"enabled": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be true/false or a table of its options, got {value!r}")
    registry.check_kwargs(SampleGrid, {k: v for k, v in value.items() if k != "enabled"}, where, skip=("dirpath",))
    try:
        SampleGrid(**{k: v for k, v in value.items() if k != "enabled"})
    except ValueError as e:
        raise ConfigError(f"{where}: {one_line(e)}") from None
    return {"enabled": value.get("enabled", True), **{k: v for k, v in value.items() if k != "enabled"}}
