"""Optimizers (course 2, week 2): SGD with momentum, RMSprop, Adam/AdamW; learning-rate
schedules in ``deepgrad.optim.lr_scheduler``. (Gradient clipping lives where PyTorch has
it: ``deepgrad.nn.utils.clip_grad_norm_``.) Optimizers never import ``deepgrad.nn``."""
from . import lr_scheduler  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401
