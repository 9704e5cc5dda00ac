"""Neural-network building blocks: ``Module``, ``Parameter``, layers, ``init`` and ``functional``."""
from . import functional  # noqa: F401
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
