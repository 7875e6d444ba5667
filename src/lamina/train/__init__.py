"""lamina.train: the Trainer (fit / evaluate / predict), callbacks, and exact-resume checkpoints.

    from lamina.train import Trainer
    from lamina.train.callbacks import EarlyStopping, ModelCheckpoint
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-3), metrics=["accuracy"],
                      callbacks=[EarlyStopping(patience=3), ModelCheckpoint("ckpt", every_n_steps=500)])
    history = trainer.fit(train_loader, validation=val_loader, epochs=20)
    trainer.fit(train_loader, validation=val_loader, epochs=20, resume_from="ckpt")   # after a crash
"""
from . import callbacks
from .callbacks import (Callback, CSVLogger, EarlyStopping, History, LambdaCallback, LearningRateMonitor,
                        LearningRateScheduler, ModelCheckpoint, ProgressBar, ReduceLROnPlateau, TensorBoard)
from .checkpointing import load_training_state, save_training_state
from .gan_trainer import GANProgressBar, GANTrainer, OptimizerPair, SampleGrid
from .pruning import GradualPruning, polynomial_sparsity
from .rng_state import get_rng_states, set_rng_states
from .trainer import Trainer, default_batch_fn

__all__ = ["Trainer", "History", "Callback", "LambdaCallback", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "LearningRateMonitor", "CSVLogger", "TensorBoard",
           "ProgressBar", "callbacks", "default_batch_fn", "save_training_state", "load_training_state",
           "get_rng_states", "set_rng_states", "GradualPruning", "polynomial_sparsity",
           "GANTrainer", "OptimizerPair", "SampleGrid", "GANProgressBar"]
