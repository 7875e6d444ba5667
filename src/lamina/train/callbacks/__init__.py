"""Training callbacks (Keras' hooks): every side effect of ``Trainer.fit`` lives here.

    from lamina.train.callbacks import EarlyStopping, ModelCheckpoint, CSVLogger
    trainer = Trainer(model, loss, opt, callbacks=[EarlyStopping(patience=3, restore_best_weights=True),
                                                   ModelCheckpoint("ckpt", monitor="val_accuracy"),
                                                   CSVLogger("metrics.csv")])

``TensorBoard`` needs tensorboardX and ``ProgressBar``'s terminal bar needs tqdm (optional extras).
"""
from .base import Callback, CallbackList, History, LambdaCallback
from .checkpoint import ModelCheckpoint
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .lr import LearningRateMonitor, LearningRateScheduler, ReduceLROnPlateau
from .progress import ProgressBar
from .tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "ModelCheckpoint", "CSVLogger", "EarlyStopping",
           "LearningRateMonitor", "LearningRateScheduler", "ReduceLROnPlateau", "ProgressBar", "TensorBoard"]
