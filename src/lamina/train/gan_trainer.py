"""GANTrainer: adversarial training on the Trainer's loop, callbacks and exact-resume checkpoints.

Every batch of real images x (and labels y, for a conditional GAN) makes one discriminator
(critic) step, and every ``n_critic``-th batch also one generator step (as PyTorch's DCGAN
example and WGAN-GP's Algorithm 1)::

    z ~ N(0, I);  fake = G(z, y)
    D step:  L_D = d_loss(D(x, y), D(fake.detach(), y)) [+ λ GP]            (lamina.nn.gan_losses)
    G step:  L_G = g_loss(D(fake, y))          (D's parameters frozen: no gradient is computed for them)

    gan = GAN("dcgan", latent_dim=100, image_shape=(1, 28, 28))
    trainer = GANTrainer(gan, loss="non_saturating", callbacks=[SampleGrid(dirpath="runs/a/samples")])
    history = trainer.fit(loader, epochs=20)      # history.history['d_loss'], ['g_loss']
    trainer.fit(loader, epochs=20, resume_from="runs/a/checkpoints")   # after a crash

``global_step`` counts discriminator steps (one per batch), so ``ModelCheckpoint(every_n_steps=...)``
and TensorBoard count batches. A checkpoint (the Trainer's ``last.safetensors``) holds both nets
(the GAN module's state_dict), both optimizers (``OptimizerPair``), the noise generator and
every other generator, the loader's position and the epoch's running sums, so a run killed
mid-epoch resumes to the bitwise-identical result. The fixed noise for sample grids comes from
its own seed and is drawn once, so sampling never disturbs training.
"""
from __future__ import annotations

import math
import os
import sys

from .. import backend
from ..autograd import no_grad
from ..models.gan import image_grid
from ..nn.gan_losses import canonical_kind, discriminator_loss, generator_loss, gradient_penalty
from ..ops.creation import arange, randn
from ..optim import Adam, clip_grad_norm_
from .callbacks.base import Callback, CallbackList
from .callbacks.progress import ProgressBar
from .trainer import Trainer, _num_samples

__all__ = ["GANTrainer", "OptimizerPair", "SampleGrid", "GANProgressBar"]


class OptimizerPair:
    """The generator's and the discriminator's optimizers as one object, so the Trainer's checkpoints
    store both: ``state_dict()`` is ``{'generator': ..., 'discriminator': ...}``; ``param_groups``
    lists the generator's groups first (the logged ``lr`` is the generator's)."""

    def __init__(self, generator, discriminator):
        self.generator, self.discriminator = generator, discriminator

    @property
    def param_groups(self):
        return list(self.generator.param_groups) + list(self.discriminator.param_groups)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.generator.zero_grad(set_to_none)
        self.discriminator.zero_grad(set_to_none)

    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != {"generator", "discriminator"}:
            raise ValueError("OptimizerPair: expected a state with keys 'generator' and 'discriminator', got "
                             f"{sorted(state) if isinstance(state, dict) else type(state).__name__}")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])

    def __repr__(self):
        return (f"OptimizerPair(generator={type(self.generator).__name__}, "
                f"discriminator={type(self.discriminator).__name__})")


class _GANSums(Callback):
    """Carries the GAN's running sums in the checkpoint (the Trainer's counters hold the discriminator's)."""

    order = 99

    def state_dict(self) -> dict:
        t = self.trainer
        return {"g_loss_sum": t._g_loss_sum, "g_count": t._g_count, "gp_sum": t._gp_sum}

    def load_state_dict(self, state: dict) -> None:
        t = self.trainer
        t._g_loss_sum, t._g_count, t._gp_sum = float(state["g_loss_sum"]), int(state["g_count"]), float(state["gp_sum"])


class GANProgressBar(ProgressBar):
    """ProgressBar whose running postfix shows both losses (``d_loss`` and ``g_loss``)."""

    def on_train_batch_end(self, batch, logs=None):
        bar = self.bar
        if bar is None:
            return
        bar.update(1)
        if (batch + 1) % self.trainer.log_every == 0:
            d, g = self.trainer._running()
            bar.set_postfix_str(f"d_loss: {d:.4f} - g_loss: {g:.4f} - {self._rate():.0f} samples/s", refresh=False)


class SampleGrid(Callback):
    """Generate the trainer's fixed-noise samples every ``every_n_epochs`` epochs (and every
    ``every_n_steps`` steps) as an image grid (``lamina.models.gan.image_grid``, values in [0, 1]).

    Keeps ``self.grids``: a list of ``(epoch, global_step, grid)``; writes ``dirpath/epoch{E:03d}.png``
    (or ``step{S:06d}.png``) when ``dirpath`` is given (Pillow), and an image summary ``samples`` to
    the trainer's TensorBoard callback when it has one.
    >>> GANTrainer(gan, callbacks=[SampleGrid(dirpath="runs/a/samples")])
    """

    order = 55  # before TensorBoard (60) writes and flushes the epoch

    def __init__(self, every_n_epochs: int | None = 1, every_n_steps: int | None = None, dirpath=None,
                 nrow: int | None = None, keep: bool = True):
        for name, v in (("every_n_epochs", every_n_epochs), ("every_n_steps", every_n_steps)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"SampleGrid: {name} must be a positive int or None, got {v!r}")
        self.every_n_epochs, self.every_n_steps, self.nrow, self.keep = every_n_epochs, every_n_steps, nrow, keep
        self.dirpath = None if dirpath is None else os.fspath(dirpath)
        self.grids = []

    def on_train_batch_end(self, batch, logs=None):
        step = self.trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0:
            self._emit(f"step{step:06d}")

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self._emit(f"epoch{epoch + 1:03d}")

    def _emit(self, name):
        t = self.trainer
        grid = t.sample_grid(self.nrow)
        if self.keep:
            self.grids.append((t.epoch, t.global_step, grid))
        if self.dirpath is not None:
            save_png(grid, os.path.join(self.dirpath, name + ".png"))
        from .callbacks.tensorboard import TensorBoard
        for cb in t._callbacks or []:
            if isinstance(cb, TensorBoard) and cb.writer is not None:
                cb.writer.add_image("samples", grid, t.global_step, dataformats="HW" if grid.ndim == 2 else "HWC")


def save_png(grid, path) -> None:
    """Write a [0, 1] grid (H, W) or (H, W, C) as an 8-bit PNG, atomically (needs Pillow)."""
    import numpy as np

    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("writing sample PNGs needs Pillow: pip install pillow") from e
    from ..io.atomic import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img = Image.fromarray(np.round(np.asarray(grid) * 255).astype(np.uint8))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


class GANTrainer(Trainer):
    """Trains a GAN (a module with ``.generator`` and ``.discriminator``) by alternating two optimizers.

    Args:
        model: e.g. ``lamina.models.GAN``; ``generator(z, labels)`` and ``discriminator(x, labels)``, and
            ``latent_dim`` (on the model or its generator); ``num_classes`` set makes it conditional
            (the batches' labels go to both nets).
        g_optimizer, d_optimizer: default Adam(2e-4, betas=(0.5, 0.999)) (DCGAN), or for WGAN-GP
            Adam(1e-4, betas=(0.0, 0.9)).
        loss: 'non_saturating' (BCE), 'hinge', 'wasserstein', or 'wgan-gp' (Wasserstein + gradient penalty).
        n_critic: discriminator steps per generator step (default 5 for Wasserstein losses, else 1).
        gp_weight: λ of the gradient penalty (default 10 for 'wgan-gp', else 0: none).
        seed: seeds the noise generator (z and the penalty's ε; stored in checkpoints as 'gan_noise')
            and, with ``seed + 1``, the fixed noise of the sample grids.
        num_fixed_samples: how many fixed-noise samples ``sample_grid`` shows (labels 0, 1, 2, ... cycling).
        clip_grad_norm, nonfinite, device, log_every, batch_fn, generators, checkpoint_dir,
        checkpoint_every_n_steps, callbacks: as the Trainer's.

    Logs: ``d_loss``, ``g_loss`` (epoch means over samples) and ``gradient_penalty`` (with a penalty);
    the batch logs also have ``loss`` (the discriminator's, for per-step loggers).
    """

    def __init__(self, model, g_optimizer=None, d_optimizer=None, loss: str = "non_saturating",
                 n_critic: int | None = None, gp_weight: float | None = None, seed: int = 0,
                 num_fixed_samples: int = 64, callbacks=None, clip_grad_norm: float | None = None,
                 nonfinite: str = "raise", device=None, log_every: int = 10, batch_fn=None, generators=None,
                 checkpoint_dir=None, checkpoint_every_n_steps: int | None = None):
        for part in ("generator", "discriminator"):
            if not callable(getattr(model, part, None)):
                raise TypeError(f"GANTrainer: the model must have a '{part}' module (e.g. lamina.models.GAN), "
                                f"got {type(model).__name__}")
        self.latent_dim = getattr(model, "latent_dim", None) or getattr(model.generator, "latent_dim", None)
        if not isinstance(self.latent_dim, int):
            raise TypeError("GANTrainer: the model (or its generator) must have an int 'latent_dim'")
        self.num_classes = getattr(model, "num_classes", None)
        wgan_gp = str(loss).lower().replace("-", "_") == "wgan_gp"
        self.loss_kind = canonical_kind(loss)
        wasserstein = self.loss_kind == "wasserstein"
        self.n_critic = int(n_critic if n_critic is not None else (5 if wasserstein else 1))
        if self.n_critic < 1:
            raise ValueError(f"GANTrainer: n_critic must be >= 1, got {n_critic}")
        self.gp_weight = float(gp_weight if gp_weight is not None else (10.0 if wgan_gp else 0.0))
        if self.gp_weight < 0 or not math.isfinite(self.gp_weight):
            raise ValueError(f"GANTrainer: gp_weight must be a finite number >= 0, got {gp_weight}")
        lr, betas = (1e-4, (0.0, 0.9)) if wasserstein else (2e-4, (0.5, 0.999))
        g_opt = g_optimizer or Adam(model.generator.parameters(), lr=lr, betas=betas)
        d_opt = d_optimizer or Adam(model.discriminator.parameters(), lr=lr, betas=betas)
        self.noise_generator = backend.Generator().manual_seed(int(seed))
        if isinstance(generators, (list, tuple)):
            generators = {f"generator{i}": g for i, g in enumerate(generators)}
        generators = dict(generators or {})
        if "gan_noise" in generators:
            raise ValueError("GANTrainer: the generator name 'gan_noise' is reserved for the trainer's noise")
        generators["gan_noise"] = self.noise_generator
        super().__init__(model, lambda out, y: out, OptimizerPair(g_opt, d_opt), callbacks=callbacks,
                         clip_grad_norm=clip_grad_norm, nonfinite=nonfinite, device=device, log_every=log_every,
                         batch_fn=batch_fn, generators=generators, checkpoint_dir=checkpoint_dir,
                         checkpoint_every_n_steps=checkpoint_every_n_steps)
        p = next(model.generator.parameters())
        fixed = backend.Generator().manual_seed(int(seed) + 1)
        self.fixed_noise = randn(int(num_fixed_samples), self.latent_dim, generator=fixed, dtype=p.dtype,
                                 device=p.device)
        self.fixed_labels = None if self.num_classes is None else arange(int(num_fixed_samples),
                                                                        device=p.device) % self.num_classes
        self._collect_params()

    def _collect_params(self):
        self._g_params = [p for p in self.model.generator.parameters() if p.requires_grad]
        self._d_params = [p for p in self.model.discriminator.parameters() if p.requires_grad]

    def _reset_epoch(self):
        super()._reset_epoch()
        self._g_loss_sum, self._g_count, self._gp_sum = 0.0, 0, 0.0

    def _running(self):
        """(mean d_loss, mean g_loss) of the epoch so far."""
        d = self._loss_sum / self._count if self._count else math.nan
        return d, (self._g_loss_sum / self._g_count if self._g_count else math.nan)

    # ------------------------------------------------------------ one batch
    def _finite(self, value, what, epoch, batch) -> bool:
        if value - value == 0.0:
            return True
        if self.nonfinite == "raise":
            raise RuntimeError(f"GANTrainer: the {what} is {value} (not finite) at epoch {epoch + 1}, batch "
                               f"{batch + 1} of the epoch, global step {self.global_step}; lower the learning "
                               "rates, try loss='wgan-gp', or pass nonfinite='skip'")
        return False

    def _step(self, opt, params):
        if self.clip_grad_norm is not None:
            clip_grad_norm_(params, self.clip_grad_norm)
        opt.step()

    def train_step(self, x, labels=None, z=None, epsilon=None) -> dict:
        """One discriminator step on real images ``x`` (and fakes from noise ``z``, drawn from the
        noise generator when None), and a generator step when this is the ``n_critic``-th batch.

        Returns ``{'d_loss', 'g_loss' (None without a G step), 'gradient_penalty' (with one)}`` as floats;
        a non-finite loss raises or, with ``nonfinite='skip'``, skips its step (the value is returned).
        """
        G, D = self.model.generator, self.model.discriminator
        opt_g, opt_d = self.optimizer.generator, self.optimizer.discriminator
        if self.num_classes is None:
            labels = None
        elif labels is None:
            raise ValueError(f"GANTrainer: the GAN is conditional (num_classes={self.num_classes}) but the batch has "
                             "no labels; batches must be (images, labels)")
        n = x.shape[0]
        if z is None:
            z = randn(n, self.latent_dim, generator=self.noise_generator, dtype=x.dtype, device=x.device)
        do_g = (self.global_step + 1) % self.n_critic == 0
        epoch, batch = self.epoch, self._batch_in_epoch
        out = {"d_loss": None, "g_loss": None}
        if do_g:
            fake = G(z, labels)
        else:
            with no_grad():
                fake = G(z, labels)
        fake_d = fake.detach()
        opt_d.zero_grad()
        d_loss = discriminator_loss(D(x, labels), D(fake_d, labels), self.loss_kind)
        total = d_loss
        if self.gp_weight:
            extra = () if labels is None else (labels,)
            gp = gradient_penalty(D, x, fake_d, *extra, epsilon=epsilon, generator=self.noise_generator)
            out["gradient_penalty"] = float(gp.array)
            total = d_loss + self.gp_weight * gp
        out["d_loss"] = value = float(total.array)
        if not self._finite(value, "discriminator loss", epoch, batch):
            self._skipped += 1
            return out
        total.backward()
        cbs = self._callbacks
        if cbs is not None and cbs.has("on_before_optimizer_step"):
            cbs.call("on_before_optimizer_step", self.global_step)
        self._step(opt_d, self._d_params)
        self.global_step += 1
        self._loss_sum += value * n
        self._count += n
        self._gp_sum += out.get("gradient_penalty", 0.0) * n
        if not do_g:
            return out
        opt_g.zero_grad()
        for p in self._d_params:  # D's parameter gradients are not needed for the generator's step
            p.requires_grad_(False)
        try:
            g_loss = generator_loss(D(fake, labels), self.loss_kind)
            out["g_loss"] = g_value = float(g_loss.array)
            if self._finite(g_value, "generator loss", epoch, batch):
                g_loss.backward()
        finally:
            for p in self._d_params:
                p.requires_grad_(True)
        if g_value - g_value != 0.0:
            self._skipped += 1
            return out
        self._step(opt_g, self._g_params)
        self._g_loss_sum += g_value * n
        self._g_count += n
        return out

    def _train_epoch(self, loader, epoch, cbs, skip=0):
        import itertools

        begin, end = cbs.has("on_train_batch_begin"), cbs.has("on_train_batch_end")
        logs = self._batch_logs
        self.model.train()
        self._collect_params()
        for batch in (itertools.islice(loader, skip, None) if skip else loader):
            b = self._batch_in_epoch
            if begin:
                cbs.call("on_train_batch_begin", b, logs)
            x, y = self.batch_fn(batch)
            x, y = self._to_device(x), self._to_device(y)
            n = _num_samples(x)
            self._samples += n
            res = self.train_step(x, y)
            self._batch_in_epoch = b + 1
            if end:
                logs.clear()
                logs.update({k: v for k, v in res.items() if v is not None})
                logs["loss"], logs["batch_size"] = res["d_loss"], n
                cbs.call("on_train_batch_end", b, logs)
            if self.stop_training:
                break
        d, g = self._running()
        out = {"d_loss": d, "g_loss": g}
        if self.gp_weight:
            out["gradient_penalty"] = self._gp_sum / self._count if self._count else math.nan
        if self.nonfinite == "skip":
            out["skipped_batches"] = self._skipped
        return out

    # ------------------------------------------------------------ fit and samples
    def _callback_list(self, extra, verbose, with_history=True):
        cbs = list(self.callbacks) + list(extra or [])
        if with_history:
            cbs += [self.history, _GANSums()]
        if not any(isinstance(c, ProgressBar) for c in cbs):
            if verbose == "auto":
                verbose = sys.stdout.isatty()
            if verbose:
                cbs.append(GANProgressBar())
        return CallbackList(cbs, self)

    def fit(self, train_loader, epochs: int = 1, initial_epoch: int = 0, resume_from=None, callbacks=None,
            verbose="auto", validation=None):
        """Train for epochs ``initial_epoch .. epochs - 1`` on batches of real images (``(x, y)``, or
        ``(x,)`` for an unconditional GAN); return the History (``d_loss``, ``g_loss`` per epoch).
        ``resume_from``: a checkpoint file or directory, as ``Trainer.fit``."""
        if validation is not None:
            raise ValueError("GANTrainer.fit: a GAN has no validation loss; judge samples with a callback "
                             "(SampleGrid, or your own metric in on_epoch_end)")
        return super().fit(train_loader, epochs=epochs, initial_epoch=initial_epoch, resume_from=resume_from,
                           callbacks=callbacks, verbose=verbose)

    def evaluate(self, loader, batch_size: int = 128, callbacks=None):
        raise NotImplementedError("GANTrainer.evaluate: a GAN has no held-out loss; generate with "
                                  "trainer.generate_fixed() or model.sample(n) and judge the samples")

    def generate_fixed(self):
        """The generator's images for the fixed noise (and labels 0, 1, ... for a conditional GAN), made
        in eval mode without a graph (no generator draws, no BatchNorm update: training is undisturbed)."""
        G = self.model.generator
        was_training = G.training
        G.eval()
        try:
            with no_grad():
                return G(self.fixed_noise, self.fixed_labels)
        finally:
            G.train(was_training)

    def sample_grid(self, nrow: int | None = None):
        """``generate_fixed()`` tiled into one NumPy image in [0, 1] (``nrow`` per row, default √n)."""
        n = self.fixed_noise.shape[0]
        return image_grid(self.generate_fixed(), nrow=nrow or max(1, math.isqrt(n)))

    def __repr__(self):
        return (f"GANTrainer(model={type(self.model).__name__}, loss={self.loss_kind!r}, n_critic={self.n_critic}, "
                f"gp_weight={self.gp_weight}, optimizer={self.optimizer!r})")
