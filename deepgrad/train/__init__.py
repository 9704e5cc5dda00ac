"""Training: ``Trainer.fit``, callbacks, metrics and resumable checkpoints.

>>> from deepgrad.train import Trainer, EarlyStopping, NaNGuard  # doctest: +SKIP
>>> trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), "cross_entropy", seed=0)  # doctest: +SKIP
>>> history = trainer.fit((X_train, y_train), dev=(X_dev, y_dev), epochs=10)  # doctest: +SKIP
"""
from .callbacks import (  # noqa: F401
    Callback,
    Checkpointing,
    CSVLogger,
    DivergenceGuard,
    EarlyStopping,
    JSONLogger,
    LambdaCallback,
    ModelCheckpoint,
    NaNGuard,
    ProgressBar,
)
from .checkpoint import load_checkpoint, restore_checkpoint, save_checkpoint  # noqa: F401
from .history import History  # noqa: F401
from .metrics import accuracy, confusion_matrix, f1_score, precision, recall, to_labels  # noqa: F401
from .run import DirLock, RunConfigMismatch, RunDiverged, RunLockedError, config_hash, run_config  # noqa: F401
from .trainer import Trainer  # noqa: F401
