"""Differentiable operations, one family per file (forward and backward side by side)."""
from .activation import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .dropout import dropout
from .elementwise import (
    abs, add, cast, clamp, clip, div, divide, equal, exp, greater, greater_equal, less, less_equal, log,
    maximum, minimum, mul, multiply, neg, negative, not_equal, pow, power, sign, sqrt, sub, subtract,
    true_divide, where,
)
from .loss import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from .matmul import linear, matmul
from .reduce import amax, amin, argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import (
    broadcast_to, cat, concatenate, copy, expand, expand_dims, flatten, getitem, moveaxis, pad, permute,
    reshape, split, squeeze, stack, swapaxes, transpose, unsqueeze, view,
)

__all__ = ['matmul', 'dropout', 'abs', 'add', 'amax', 'amin', 'argmax', 'argmin', 'binary_cross_entropy', 'binary_cross_entropy_with_logits', 'broadcast_to', 'cast', 'cat', 'clamp', 'clip', 'concatenate', 'copy', 'cross_entropy', 'div', 'divide', 'elu', 'equal', 'exp', 'expand', 'expand_dims', 'flatten', 'gelu', 'getitem', 'greater', 'greater_equal', 'leaky_relu', 'less', 'less_equal', 'linear', 'log', 'log_softmax', 'logsumexp', 'max', 'maximum', 'mean', 'min', 'minimum', 'moveaxis', 'mse_loss', 'mul', 'multiply', 'neg', 'negative', 'nll_loss', 'not_equal', 'pad', 'permute', 'pow', 'power', 'relu', 'reshape', 'sigmoid', 'sign', 'softmax', 'softplus', 'split', 'sqrt', 'squeeze', 'stack', 'std', 'sub', 'subtract', 'sum', 'swapaxes', 'tanh', 'transpose', 'true_divide', 'unsqueeze', 'var', 'view', 'where']
