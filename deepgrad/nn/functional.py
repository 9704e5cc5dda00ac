"""``deepgrad.nn.functional``: PyTorch's ``torch.nn.functional`` names and signatures.

Port PyTorch code by changing the import. Where PyTorch says ``dim`` this module
accepts ``dim`` (and NumPy's ``axis``).
"""
from __future__ import annotations

from .. import ops
from ..ops import (  # noqa: F401  (re-exported unchanged)
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    elu,
    gelu,
    leaky_relu,
    linear,
    mse_loss,
    nll_loss,
    relu,
    sigmoid,
    softplus,
    tanh,
)
from ..tensor import Tensor


def softmax(input: Tensor, dim: int | None = None, axis: int | None = None) -> Tensor:
    """Softmax along ``dim`` (or NumPy's ``axis``), default the last."""
    return ops.softmax(input, axis, dim=dim)


def log_softmax(input: Tensor, dim: int | None = None, axis: int | None = None) -> Tensor:
    """Log-softmax along ``dim`` (or NumPy's ``axis``), default the last."""
    return ops.log_softmax(input, axis, dim=dim)


def logsigmoid(input: Tensor) -> Tensor:
    return -ops.softplus(-input)


def silu(input: Tensor) -> Tensor:
    return input * ops.sigmoid(input)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices -> int64 one-hot rows (``num_classes`` -1: the largest index + 1)."""
    import numpy as np

    idx = np.asarray(getattr(tensor, "data", tensor))
    n = int(idx.max()) + 1 if num_classes < 0 else num_classes
    return Tensor._wrap(np.eye(n, dtype=np.int64)[idx])
from ..ops.attention import scaled_dot_product_attention  # noqa: E402,F401
from ..ops.conv import conv1d, conv2d, conv_transpose2d  # noqa: E402,F401
from ..ops.conv_relu_pool import conv2d_relu_max_pool2d  # noqa: E402,F401
from ..ops.embedding import embedding  # noqa: E402,F401
from ..ops.layernorm import layer_norm  # noqa: E402,F401
from ..ops.normalization import batch_norm, batch_norm_relu  # noqa: E402,F401
from ..ops.pool import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d  # noqa: E402,F401
from ..ops.recurrent import gru_cell, lstm_cell, rnn_cell  # noqa: E402,F401
