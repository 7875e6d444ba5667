"""Pictures of generative runs: image grids (PNG), samples saved during training, reconstructions,
the latent space and the two losses of a GAN.

    grid = image_grid(images, nrow=8, scale=4)          # (N, C, H, W) in [0, 1] -> (H', W', 3) uint8
    write_png("samples.png", grid)                      # stdlib only (zlib): no Pillow needed
    SampleGrid("runs/vae/samples", every_n_epochs=5)    # a callback: samples/epoch_005.png, ...
    plot_latent_map(codes, labels, "latent_map.png")    # 2-D map coloured by label (PCA if wider)

The plots use matplotlib (``lamina report``); the grids and the callback need only NumPy.
"""
from __future__ import annotations

import glob
import os
import re
import struct
import zlib

import numpy as np

from ..train.callbacks.base import Callback

__all__ = ["SampleGrid", "image_grid", "pca_2d", "plot_gan_losses", "plot_latent_map", "plot_membrane_traces",
           "plot_pairs", "plot_sample_history", "plot_spike_raster", "sample_grid_files", "simulate_examples",
           "spiking_jobs", "to_images", "write_png"]

SAMPLES = "samples"  # the run's folder of sample grids saved during training


def to_images(x, image) -> np.ndarray:
    """Flat or image-shaped samples -> (N, C, H, W) float in [0, 1].

    ``image`` is the run's ``[mode, [h, w]]`` ('L': one channel, 'RGB': three); values are clipped."""
    arr = np.asarray(getattr(x, "array", x), dtype=np.float32)
    if hasattr(arr, "get"):  # pragma: no cover - CuPy
        arr = arr.get()
    mode, (h, w) = image
    c = 1 if mode == "L" else 3
    if arr.size != len(arr) * c * h * w:
        raise ValueError(f"samples of shape {tuple(arr.shape)} are not {c}x{h}x{w} images")
    return np.clip(arr.reshape(len(arr), c, h, w), 0.0, 1.0)


def image_grid(images, nrow: int = 8, scale: int = 1, pad: int = 2, pad_value: float = 0.5) -> np.ndarray:
    """Tile ``images`` (N, C, H, W) in [0, 1] into one RGB picture, ``nrow`` images per row.

    Each image is enlarged ``scale`` times (nearest neighbour: an 8x8 digit stays crisp) and
    framed by ``pad`` grey pixels. Returns (rows*(H*scale+pad)+pad, nrow*(W*scale+pad)+pad, 3) uint8.
    >>> image_grid(np.random.rand(16, 1, 8, 8), nrow=4, scale=4).shape     # (133, 133, 3)
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] not in (1, 3) or not len(x):
        raise ValueError(f"image_grid: expected images (N, 1 or 3, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    if c == 1:
        x = np.repeat(x, 3, axis=1)
    if scale > 1:
        x = x.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    ncol = max(1, min(int(nrow), n))
    rows = -(-n // ncol)
    out = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad, 3), pad_value, dtype=np.float32)
    cells = np.full((rows * ncol, h, w, 3), pad_value, dtype=np.float32)
    cells[:n] = np.clip(x, 0, 1).transpose(0, 2, 3, 1)
    cells = cells.reshape(rows, ncol, h, w, 3)
    for r in range(rows):  # rows of the grid: a handful
        for k in range(ncol):
            y0, x0 = pad + r * (h + pad), pad + k * (w + pad)
            out[y0:y0 + h, x0:x0 + w] = cells[r, k]
    return (out * 255.0 + 0.5).astype(np.uint8)


def write_png(path: str, rgb: np.ndarray) -> str:
    """Write an (H, W, 3) uint8 picture as a PNG (8-bit RGB, zlib; atomically: temp file + rename)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"write_png: expected an (H, W, 3) uint8 picture, got shape {rgb.shape}")
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp")
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)
    return path


class SampleGrid(Callback):
    """Save a grid of the model's samples every ``every_n_epochs`` epochs (and after the last one)
    as ``dirpath/epoch_NNN.png``, and as a TensorBoard image (``samples``) when the run has a
    TensorBoard callback.

    The pictures come from ``draw(model, n, generator) -> (n, C, H, W)`` in [0, 1] (or flat, with
    ``image = [mode, [h, w]]`` to reshape them), which the run's family sets (VAE: prior samples; autoencoder: reconstructions; GAN: the generator).
    ``generator`` is seeded with ``seed`` afresh each time, so every grid shows the same latent
    codes (you watch the same samples improve) and training's own random streams are untouched
    (a resumed run stays bitwise identical).
    """

    order = 70  # after TensorBoard (60) has opened its writer

    def __init__(self, dirpath: str = SAMPLES, every_n_epochs: int = 5, n: int = 64, seed: int = 0, nrow: int = 8):
        for key, v in (("every_n_epochs", every_n_epochs), ("n", n), ("nrow", nrow)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"SampleGrid: {key} must be a positive int, got {v!r}")
        self.dirpath, self.every_n_epochs, self.n, self.seed, self.nrow = str(dirpath), every_n_epochs, n, int(seed), nrow
        self.draw = None    # set by the run's family
        self.image = None   # the run's [mode, [h, w]]: flat samples are reshaped to it
        self.scale = 4

    def grid(self) -> np.ndarray:
        """The current samples as a picture (eval mode, no graph; the model's mode is put back)."""
        from .. import backend
        from ..autograd import no_grad
        model = self.model
        was = model.training
        model.eval()
        try:
            with no_grad():
                images = self.draw(model, self.n, backend.Generator().manual_seed(self.seed))
        finally:
            model.train(was)
        if self.image is not None:
            images = to_images(images, self.image)
        return image_grid(images, nrow=self.nrow, scale=self.scale)

    def on_epoch_end(self, epoch, logs=None):
        t = self.trainer
        last = epoch + 1 >= getattr(t, "epochs", 0)
        if self.draw is None or not ((epoch + 1) % self.every_n_epochs == 0 or last or epoch == 0):
            return
        pic = self.grid()
        write_png(os.path.join(self.dirpath, f"epoch_{epoch + 1:03d}.png"), pic)
        for cb in (t._callbacks or ()):
            writer = getattr(cb, "writer", None)
            if writer is not None and hasattr(writer, "add_image"):
                writer.add_image("samples", pic, t.global_step, dataformats="HWC")

    def __repr__(self):
        return f"SampleGrid({self.dirpath!r}, every_n_epochs={self.every_n_epochs}, n={self.n})"


# ---------------------------------------------------------------- plots for lamina report
def sample_grid_files(run_dir: str) -> list:
    """``[(epoch, path)]`` of the grids a SampleGrid saved in ``run_dir/samples``, by epoch."""
    out = []
    for p in glob.glob(os.path.join(run_dir, SAMPLES, "epoch_*.png")):
        m = re.fullmatch(r"epoch_(\d+)\.png", os.path.basename(p))
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def _plt():
    from .plots import _plt as plt
    return plt()


def _save(fig, path):
    from .plots import _save as save
    return save(fig, path)


def plot_sample_history(files: list, path: str, max_panels: int = 6) -> str | None:
    """The sample grids saved during training side by side (at most ``max_panels``, first and last kept)."""
    if not files:
        return None
    if len(files) > max_panels:
        idx = np.unique(np.linspace(0, len(files) - 1, max_panels).round().astype(int))
        files = [files[i] for i in idx]
    plt = _plt()
    import matplotlib.image as mpimg
    fig, axes = plt.subplots(1, len(files), figsize=(3.2 * len(files), 3.6), squeeze=False)
    for ax, (epoch, p) in zip(axes[0], files):
        ax.imshow(mpimg.imread(p), interpolation="nearest")
        ax.set_title(f"epoch {epoch}")
        ax.axis("off")
    fig.suptitle("samples during training (same latent codes each time)")
    return _save(fig, path)


def plot_pairs(inputs: np.ndarray, outputs: np.ndarray, path: str, title: str = "inputs (top) and reconstructions",
               per_row: int = 16) -> str:
    """Inputs and their reconstructions (N, C, H, W) in [0, 1]: each row of inputs above its reconstructions."""
    n = min(len(inputs), len(outputs))
    per_row = min(per_row, n)
    rows = []
    for s in range(0, n - n % per_row or n, per_row):
        rows += [inputs[s:s + per_row], outputs[s:s + per_row]]
    grid = image_grid(np.concatenate(rows), nrow=per_row, scale=4)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(min(2 + 0.6 * per_row, 14), 1.0 + 0.6 * len(rows)))
    ax.imshow(grid, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")
    return _save(fig, path)


def pca_2d(codes: np.ndarray) -> tuple:
    """``(points (N, 2), explained variance fractions)``: the codes themselves when 2-D, else their
    projection on the two leading principal components (SVD of the centred codes)."""
    z = np.asarray(codes, dtype=np.float64)
    if z.shape[1] == 1:
        return np.concatenate([z, np.zeros_like(z)], 1), (1.0, 0.0)
    if z.shape[1] == 2:
        return z, None
    zc = z - z.mean(0)
    _, s, vt = np.linalg.svd(zc, full_matrices=False)
    var = s ** 2 / max((s ** 2).sum(), 1e-300)
    return zc @ vt[:2].T, (float(var[0]), float(var[1]))


def plot_latent_map(codes: np.ndarray, labels, path: str, classes=None, title: str = "latent space") -> str:
    """A scatter of the codes in 2-D (PCA when the latent space is wider), coloured by label."""
    pts, var = pca_2d(codes)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    labels = None if labels is None else np.asarray(labels)
    if labels is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=8, alpha=0.7)
    else:
        cmap = plt.get_cmap("tab10" if labels.max(initial=0) < 10 else "tab20")
        for c in np.unique(labels):
            m = labels == c
            name = str(classes[c]) if classes is not None and c < len(classes) else str(c)
            ax.scatter(pts[m, 0], pts[m, 1], s=8, alpha=0.75, color=cmap(int(c) % cmap.N), label=name)
        ax.legend(markerscale=2, fontsize=8, loc="best", ncol=2)
    if var is None:
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
    else:
        ax.set_xlabel(f"PC 1 ({100 * var[0]:.0f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * var[1]:.0f}% of variance)")
        title += f" (PCA of {codes.shape[1]} dimensions)"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


GAN_LOSSES = (("d_loss", "discriminator"), ("g_loss", "generator"))


def plot_gan_losses(history: dict, path: str) -> str | None:
    """The discriminator's and the generator's losses per epoch (columns ``d_loss`` and ``g_loss``)."""
    have = [(k, what) for k, what in GAN_LOSSES if k in history and np.isfinite(np.asarray(history[k], float)).any()]
    if not have:
        return None
    from .plots import _epochs
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = _epochs(history)
    for k, what in have:
        ax.plot(x, history[k], "-o", markersize=3, label=f"{what} ({k})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("GAN losses")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


# ---------------------------------------------------------------- the report's generative section
GENERATIVE_PLOTS = ("samples_over_training.png", "reconstructions.png", "latent_map.png", "samples.png",
                    "gan_losses.png", "spike_raster.png", "membrane_traces.png")


def generative_jobs(run_dir: str, history: dict) -> tuple:
    """``(jobs, notes)`` for ``build_report`` when the run's model is generative (else ``([], [])``):
    each job is ``(caption, file name, fn(path) -> path or None)``. Everything is computed here, so
    the jobs only draw."""
    from ..cli import build, config, generative, rundir
    from ..cli.errors import ConfigError
    try:
        cfg = rundir.load_run_config(run_dir)
    except ConfigError:
        return [], []
    family = generative.family_of(cfg["model"])
    if family is None:
        return spiking_jobs(run_dir) if generative.is_spiking(cfg["model"]) else ([], [])
    jobs, notes = [], []
    files = sample_grid_files(run_dir)
    if files:
        jobs.append((f"samples during training (epochs {files[0][0]}-{files[-1][0]})", "samples_over_training.png",
                     lambda p: plot_sample_history(files, p)))
    elif family.has_samples:
        notes.append("no sample grids were saved during training ([callbacks] sample_grid)")
    if "d_loss" in history or "g_loss" in history:
        jobs.append(("discriminator and generator losses", "gan_losses.png", lambda p: plot_gan_losses(history, p)))
    try:
        loaded = rundir.load_run(run_dir)
        data = build.build_data(config.validate(loaded.cfg, check_files=False), preprocess=loaded.preprocess)
    except ConfigError as e:
        notes.append(f"no reconstructions or latent map: {e}")
        return jobs, notes
    info = loaded.preprocess.info
    pair = next((p for p in data.arrays[::-1] if p is not None and len(p[0])), None)  # test, else val
    if pair is None:
        return jobs, notes
    which = os.path.basename(loaded.checkpoint).split(".")[0]
    x, y = pair[0][:2000], pair[1][:2000]
    model = loaded.model
    image = info.get("image")
    drawn = family.image_spec(cfg["model"], info) if family.has_samples else None
    if drawn:
        from .. import backend
        values, per_row = family.sample(model, 100 if getattr(model, "num_classes", None) == 10 else 64,
                                        backend.Generator().manual_seed(0), data=(x, y))
        pics = to_images(values, drawn)
        jobs.append((f"{family.sample_what} ({which} weights)", "samples.png",
                     lambda p: _picture(image_grid(pics, nrow=per_row, scale=4), p, family.sample_what)))
    if image:
        rec = family.reconstruct(model, x[:32], y[:32])
        if rec is not None:
            inputs, outputs = to_images(x[:32], image), to_images(rec, image)
            jobs.append((f"test inputs and their reconstructions ({which} weights)", "reconstructions.png",
                         lambda p: plot_pairs(inputs, outputs, p)))
    codes = family.encode(model, x, y)
    if codes is not None:
        classes = info.get("classes")
        jobs.append((f"latent space of {len(x)} test inputs, coloured by label", "latent_map.png",
                     lambda p: plot_latent_map(codes, y, p, classes=classes, title=f"latent space ({family.code_name})")))
    return jobs, notes


def _picture(grid: np.ndarray, path: str, title: str) -> str:
    plt = _plt()
    h, w, _ = grid.shape
    fig, ax = plt.subplots(figsize=(max(3.0, w / 80), max(3.0, h / 80) + 0.4))
    ax.imshow(grid, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")
    return _save(fig, path)


# ---------------------------------------------------------------- spiking networks
def simulate_examples(model, x: np.ndarray, seed: int = 0) -> dict:
    """Run a ``SpikingMLP`` on a few inputs (eval mode, no graph, the encoder seeded with ``seed``):
    ``{'input': (T, B, in), 'spikes': [(T, B, width) per layer], 'membranes': [...], 'logits': (B, classes),
    'threshold': float}`` as NumPy arrays."""
    from .. import backend
    from ..autograd import no_grad
    from ..tensor import Tensor
    was, gen = model.training, model.generator
    model.eval()
    model.generator = backend.Generator().manual_seed(seed)  # the same spike trains every report
    try:
        with no_grad():
            rec = model.simulate(Tensor._wrap(np.ascontiguousarray(x, dtype=np.float32)))
    finally:
        model.generator = gen
        model.train(was)
    arr = lambda t: np.asarray(t.array)  # noqa: E731
    return {"input": arr(rec.input_spikes), "spikes": [arr(s) for s in rec.spikes],
            "membranes": [arr(u) for u in rec.membranes], "logits": arr(rec.logits), "threshold": model.threshold}


def plot_spike_raster(sim: dict, labels, path: str, classes=None) -> str:
    """Spike rasters: one row of panels per input (input spikes, each layer's spikes), a dot per spike
    at (time step, neuron); the output panel marks the true class and the prediction."""
    plt = _plt()
    layers = [sim["input"]] + list(sim["spikes"])
    names = ["input (rate-coded)"] + [f"hidden {i + 1}" for i in range(len(layers) - 2)] + ["output"]
    n = layers[0].shape[1]
    widths = [max(1.0, np.log2(max(a.shape[2], 2))) for a in layers]
    fig, axes = plt.subplots(n, len(layers), figsize=(3.2 * len(layers), 2.4 * n), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    pred = sim["logits"].argmax(1)
    for i in range(n):  # a few inputs
        for j, (a, name) in enumerate(zip(layers, names)):
            ax = axes[i, j]
            t, neuron = np.nonzero(a[:, i, :])
            ax.scatter(t, neuron, s=3 if a.shape[2] > 20 else 12, marker="|", color="k", linewidths=0.8)
            ax.set_xlim(-0.5, a.shape[0] - 0.5)
            ax.set_ylim(-0.5, a.shape[2] - 0.5)
            ax.set_title(f"{name}: {int(a[:, i, :].sum())} spikes", fontsize=8)
            if j == len(layers) - 1:
                y = int(labels[i])
                ax.axhspan(y - 0.5, y + 0.5, color="tab:green", alpha=0.2)
                ax.set_yticks(range(a.shape[2]))
                name_of = (lambda c: str(classes[c]) if classes is not None and c < len(classes) else str(c))
                ax.set_ylabel(f"class (true {name_of(y)}, predicted {name_of(int(pred[i]))})", fontsize=8)
            elif j == 0:
                ax.set_ylabel(f"example {i + 1}: neuron", fontsize=8)
            if i == n - 1:
                ax.set_xlabel("time step")
            ax.tick_params(labelsize=7)
    fig.suptitle("spike rasters of test inputs (a mark per spike; green band: the true class)")
    return _save(fig, path)


def plot_membrane_traces(sim: dict, labels, path: str, classes=None) -> str:
    """The output neurons' membrane potentials over time for each input (the true class drawn thick),
    with the firing threshold dashed."""
    plt = _plt()
    mem = sim["membranes"][-1]          # (T, B, classes)
    n = mem.shape[1]
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for i in range(n):  # a few inputs
        ax = axes[0, i]
        y = int(labels[i])
        for c in range(mem.shape[2]):  # output neurons: the classes
            ax.plot(mem[:, i, c], color=cmap(c % 10), lw=2.4 if c == y else 0.9, alpha=1.0 if c == y else 0.6,
                    label=str(classes[c]) if classes is not None and c < len(classes) else str(c))
        ax.axhline(sim["threshold"], color="k", ls="--", lw=0.8)
        ax.set_title(f"example {i + 1}: true class {y}, predicted {int(sim['logits'][i].argmax())}", fontsize=9)
        ax.set_xlabel("time step")
        if i == 0:
            ax.set_ylabel("output membrane potential")
        ax.grid(True, alpha=0.3)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="neuron", title_fontsize=7)
    fig.suptitle("output membrane traces (dashed: threshold; thick: the true class)")
    return _save(fig, path)


def spiking_jobs(run_dir: str, examples: int = 3) -> tuple:
    """``(jobs, notes)`` of a spiking classifier's run: spike rasters and membrane traces of a few test
    inputs, and (since ``build_report`` leaves it to the run's section) its confusion matrix."""
    from ..cli import build, config, rundir
    from ..cli.errors import ConfigError
    from .index import confusion_matrix
    from .plots import plot_confusion
    jobs, notes = [], []
    cm, classes, note = confusion_matrix(run_dir)
    if cm is not None:
        jobs.append((f"confusion matrix ({note})", "confusion_matrix.png",
                     lambda p: plot_confusion(cm, p, classes, title=f"confusion matrix ({note})")))
    else:
        notes.append(note)
    try:
        loaded = rundir.load_run(run_dir)
        data = build.build_data(config.validate(loaded.cfg, check_files=False), preprocess=loaded.preprocess)
    except ConfigError as e:
        notes.append(f"no spike rasters: {e}")
        return jobs, notes
    pair = next((p for p in data.arrays[::-1] if p is not None and len(p[0])), None)  # test, else val, train
    if pair is None or not hasattr(loaded.model, "simulate"):
        return jobs, notes
    _, first = np.unique(pair[1], return_index=True)  # inputs of different classes, in test-split order
    pick = np.sort(first)[:examples] if len(first) >= examples else np.arange(min(examples, len(pair[1])))
    x, y = pair[0][pick], pair[1][pick]
    sim = simulate_examples(loaded.model, x)
    classes = loaded.preprocess.info.get("classes")
    which = os.path.basename(loaded.checkpoint).split(".")[0]
    jobs.append((f"spike rasters of {len(x)} test inputs ({which} weights)", "spike_raster.png",
                 lambda p: plot_spike_raster(sim, y, p, classes)))
    jobs.append((f"output membrane traces of the same inputs ({which} weights)", "membrane_traces.png",
                 lambda p: plot_membrane_traces(sim, y, p, classes)))
    return jobs, notes
