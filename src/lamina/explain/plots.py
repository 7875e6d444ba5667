"""Pictures of attributions, written as PNG files (matplotlib, imported only when a plot is drawn).

    plot_image_attribution(attr, image, "ig.png")        heat map over the image (diverging for signed maps)
    plot_token_attribution(tokens, scores, "tok.png")    tokens coloured red (for) / blue (against)
    plot_feature_importance(names, values, "fi.png")     horizontal bar chart, largest on top
    plot_attention(weights, tokens, "attn.png")          one (L, S) map per head

Each returns the path it wrote. Figures are drawn on an Agg canvas (no display, no pyplot state).
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["plot_image_attribution", "plot_token_attribution", "plot_feature_importance", "plot_attention"]


def _figure(w, h):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:          # pragma: no cover - matplotlib is an optional dependency
        raise ImportError("lamina.explain plots need matplotlib: pip install 'lamina[explain]' (or: pip install "
                          "matplotlib)") from e
    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> str:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, format="png", bbox_inches="tight")
    os.replace(tmp, path)
    return path


def _np(a):
    return np.asarray(a.numpy() if hasattr(a, "numpy") else a, dtype=np.float64)


def _hw(a, what):
    """(H, W) or (H, W, 3) for display from (H, W), (1, H, W), (C, H, W) or (H, W, C) arrays."""
    a = _np(a)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3):
        raise ValueError(f"plot_image_attribution: {what} must be an image (H, W), (C, H, W) or (H, W, C), "
                         f"got shape {a.shape}")
    return a


def plot_image_attribution(attribution, image=None, path="attribution.png", title: str | None = None,
                           alpha: float = 0.6, signed: bool | None = None) -> str:
    """Heat map of ``attribution`` over ``image`` (side by side with the image alone).

    Channels of a (C, H, W) attribution are summed. ``signed``: a diverging map centred on 0 (blue
    negative, red positive); default: signed when the map has both signs.
    """
    a = _hw(attribution, "attribution")
    if a.ndim == 3:
        a = a.sum(-1)
    if signed is None:
        signed = a.min() < 0 < a.max()
    m = float(np.abs(a).max()) or 1.0
    cmap, lim = ("bwr", (-m, m)) if signed else ("inferno", (float(a.min()), float(a.max()) or 1.0))
    fig = _figure(7 if image is not None else 3.6, 3.4)
    axes = fig.subplots(1, 2 if image is not None else 1)
    axes = np.atleast_1d(axes)
    if image is not None:
        img = _hw(image, "image")
        gray = img.ndim == 2
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if hi > lo else img * 0
        axes[0].imshow(img, cmap="gray" if gray else None)
        axes[0].set_title("input")
        axes[1].imshow(img, cmap="gray" if gray else None)
        im = axes[1].imshow(a, cmap=cmap, vmin=lim[0], vmax=lim[1], alpha=alpha)
    else:
        im = axes[0].imshow(a, cmap=cmap, vmin=lim[0], vmax=lim[1])
    axes[-1].set_title(title or "attribution")
    for ax in axes:
        ax.axis("off")
    fig.colorbar(im, ax=axes[-1], fraction=0.046, pad=0.04)
    return _save(fig, path)


def plot_token_attribution(tokens, scores, path="tokens.png", title: str | None = None,
                           per_line: int = 12) -> str:
    """The tokens as coloured boxes: red for evidence for the class, blue against, intensity = |score| / max."""
    scores = _np(scores).reshape(-1)
    tokens = [str(t) for t in tokens]
    if len(tokens) != len(scores):
        raise ValueError(f"plot_token_attribution: {len(tokens)} tokens but {len(scores)} scores")
    m = float(np.abs(scores).max()) or 1.0
    lines = max(1, -(-len(tokens) // per_line))
    fig = _figure(min(1.0 * min(len(tokens), per_line) + 1, 14), 0.55 * lines + 0.6)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis("off")
    from matplotlib import colormaps
    cmap = colormaps["bwr"]
    for i, (tok, s) in enumerate(zip(tokens, scores)):
        row, col = divmod(i, per_line)
        ax.text(col / per_line + 0.005, 1 - (row + 1) / (lines + 1), tok, fontsize=11, ha="left", va="center",
                bbox=dict(boxstyle="round,pad=0.3", fc=cmap(0.5 + 0.5 * s / m), ec="none"))
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_feature_importance(names, values, path="features.png", errors=None, title: str | None = None,
                            top: int | None = 20) -> str:
    """Horizontal bars of ``values`` per feature (largest |value| on top; ``errors`` as error bars)."""
    values = _np(values).reshape(-1)
    names = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(len(values))]
    if len(names) != len(values):
        raise ValueError(f"plot_feature_importance: {len(names)} names but {len(values)} values")
    order = np.argsort(-np.abs(values))[:top][::-1]
    fig = _figure(6, 0.3 * len(order) + 1.2)
    ax = fig.add_subplot(1, 1, 1)
    err = None if errors is None else _np(errors).reshape(-1)[order]
    ax.barh(np.arange(len(order)), values[order], xerr=err, color=np.where(values[order] >= 0, "#c0392b", "#2e86c1"))
    ax.set_yticks(np.arange(len(order)), [names[i] for i in order])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("importance")
    ax.set_title(title or "feature importance")
    return _save(fig, path)


def plot_attention(weights, tokens=None, path="attention.png", title: str | None = None) -> str:
    """One heat map per head of ``weights`` (heads, L, S) or (L, S), tokens on the axes."""
    w = _np(weights)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ValueError(f"plot_attention: weights must be (heads, L, S) or (L, S), got shape {w.shape}")
    H = w.shape[0]
    cols = min(H, 4)
    rows = -(-H // cols)
    fig = _figure(3 * cols, 3 * rows)
    for h in range(H):
        ax = fig.add_subplot(rows, cols, h + 1)
        ax.imshow(w[h], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {h}", fontsize=9)
        if tokens is not None and len(tokens) == w.shape[-1] <= 40:
            ax.set_xticks(range(len(tokens)), [str(t) for t in tokens], rotation=90, fontsize=7)
            ax.set_yticks(range(w.shape[1]), [str(t) for t in tokens][:w.shape[1]], fontsize=7)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return _save(fig, path)
