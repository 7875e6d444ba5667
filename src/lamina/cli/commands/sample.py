"""``lamina sample RUN``: a PNG grid of what a generative run makes (samples, walks, reconstructions)."""
from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError

HELP = "draw samples of a generative run (GAN, VAE, autoencoder, ...) into a PNG grid"
DESCRIPTION = """\
Write a PNG grid of what a generative run makes, from its final weights:

  dcgan, wgan_gp    --n images from the generator, z ~ N(0, I), pixels mapped from [-1, 1]
  cgan              the same for --label L (every image of class L), or one class per column
  vae               --n samples from the prior: z ~ N(0, I), decoded to pixel probabilities
  conditional_vae   the same for --label L (every sample of class L), or classes 0, 1, ... in turn
  autoencoder,      held-out test digits (rows) above their reconstructions (the row below)
  conv_autoencoder
  --interpolate     rows of --steps pictures: a walk in latent space between two test inputs'
                    codes (a VAE's posterior means), decoded step by step (a GAN: between two
                    random codes)
  --z FILE          decode your own latent codes: a .npy or .csv of shape (N, latent_dim)

The grid is --out (default RUN/samples/sample.png, or interpolation.png), each picture enlarged
--scale times. --seed repeats the same samples. A run that is not generative, a --label outside
the run's classes, or latent codes of the wrong size exit 2 with one line.

examples:
  lamina sample runs/vae_digits --n 64
  lamina sample runs/cgan_digits --label 3
  lamina sample runs/cvae_digits --label 3 --out threes.png
  lamina sample runs/vae_digits --interpolate --steps 10
"""


def configure(p) -> None:
    p.add_argument("run", metavar="RUN", help="a run directory of a generative model (or a checkpoint file in one)")
    p.add_argument("--n", type=int, default=64, metavar="N", help="pictures to draw (default 64)")
    p.add_argument("--label", type=int, metavar="L", help="class to draw (a conditional model)")
    p.add_argument("--interpolate", action="store_true", help="latent walks between pairs of test inputs")
    p.add_argument("--steps", type=int, default=10, metavar="K", help="pictures per walk with --interpolate (default 10)")
    p.add_argument("--z", metavar="FILE", help="decode these latent codes (.npy or .csv, shape (N, latent_dim))")
    p.add_argument("--out", metavar="PATH", help="the PNG to write (default RUN/samples/sample.png)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the samples (default 0)")
    p.add_argument("--scale", type=int, default=4, metavar="K", help="enlarge each picture K times (default 4)")
    p.add_argument("--checkpoint", choices=("best", "last"), help="which weights (default: the run's final_weights)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing")


def _check(args) -> None:
    for key in ("n", "steps", "scale"):
        v = getattr(args, key)
        if v < 1 or (key == "steps" and v < 2):
            raise ConfigError(f"--{key} must be an integer >= {2 if key == 'steps' else 1}, got {v}")
    if args.n > 4096:
        raise ConfigError(f"--n must be at most 4096 pictures, got {args.n}")
    if not -(2 ** 63) <= args.seed < 2 ** 64:
        raise ConfigError(f"--seed must be in [-2**63, 2**64), got {args.seed}")
    if args.z is not None and args.interpolate:
        raise ConfigError("--z decodes given codes; --interpolate makes its own: use one of them")
    if args.out is not None and not args.out.lower().endswith(".png"):
        raise ConfigError(f"--out must name a .png file, got {args.out}")


def _read_z(path: str, latent_dim: int, model_name: str) -> np.ndarray:
    from ..readers import read_arrays, read_table, to_float
    if not os.path.isfile(path):
        raise ConfigError(f"--z: file not found: {os.path.abspath(path)}")
    if path.lower().endswith((".npy", ".npz")):
        z, _ = read_arrays(path, "--z")
    else:
        table = read_table(path, ",", "auto", where="--z")
        z = to_float(table, path, "--z")
    z = np.asarray(z, dtype=np.float32)
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != latent_dim or not len(z):
        raise ConfigError(f"--z: {path} holds latent codes of shape {tuple(z.shape)}, but the run's {model_name} has "
                          f"latent_dim = {latent_dim}: expected (N, {latent_dim})")
    if not np.isfinite(z).all():
        raise ConfigError(f"--z: {path} holds NaN or infinite values")
    return z


def run(args) -> int:
    from ... import backend
    from ...report.generative import image_grid, to_images, write_png
    from .. import build, config, generative, rundir
    _check(args)
    run_dir, _ = rundir.find_checkpoint(args.run, args.checkpoint)
    cfg = rundir.load_run_config(run_dir)
    family = generative.family_of(cfg["model"])
    if family is None:
        what = cfg["model"].get("name", "a layers model")
        raise ConfigError(f"{run_dir} is not a generative run (its model is {what}): lamina sample draws from "
                          f"GANs, autoencoders and VAEs ({', '.join(sorted(generative._BY_MODEL))}); classify inputs "
                          "with lamina predict")
    if not family.has_samples:
        raise ConfigError(f"{run_dir} is a {family.name} run: it learns {family.sample_what} and draws no pictures "
                          "(lamina evaluate RUN reports its linear probe, lamina report RUN maps its features)")
    loaded = rundir.load_run(args.run, prefer=args.checkpoint)
    info = loaded.preprocess.info
    image = family.image_spec(cfg["model"], info)
    if not image:
        raise ConfigError(f"{run_dir} was trained on {info.get('dataset')}, which is not images: lamina sample draws "
                          "picture grids")
    model = loaded.model
    z = _read_z(args.z, family.latent_dim(model), cfg["model"]["name"]) if args.z else None
    data = None
    if z is None and (args.interpolate or family.sample_what == "reconstructions"):
        data = build.build_data(config.validate(loaded.cfg, check_files=False), preprocess=loaded.preprocess)
        data = next((p for p in data.arrays[::-1] if p is not None and len(p[0])), None)  # test, else val, train
    generator = backend.Generator().manual_seed(args.seed)
    values, per_row = family.sample(model, args.n, generator, label=args.label, z=z, data=data,
                                    interpolate=args.interpolate, steps=args.steps)
    grid = image_grid(to_images(values, image), nrow=per_row, scale=args.scale)
    out = args.out or os.path.join(run_dir, "samples", "interpolation.png" if args.interpolate else "sample.png")
    write_png(out, grid)
    if not args.quiet:
        what = "latent walks" if args.interpolate else ("decoded codes" if z is not None else family.sample_what)
        print(f"{len(values)} pictures ({what}) -> {out}")
    return 0
