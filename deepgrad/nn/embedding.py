"""``Embedding``: a learnable lookup table of word (or character) vectors (course 5, week 2).

Indices of any shape (...) -> vectors (..., embedding_dim). PyTorch's contract: the
weight is ``(num_embeddings, embedding_dim)`` drawn from N(0, 1); the row
``padding_idx`` starts at zero and never receives a gradient; ``max_norm`` renormalizes
the looked-up rows in place before each lookup; ``from_pretrained`` wraps given vectors,
frozen by default.
"""
from __future__ import annotations

import numpy as np

from ..ops.embedding import _normalize_padding_idx, embedding
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table; ``forward(indices)`` returns ``weight[indices]``."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, _weight=None, _freeze: bool = False, dtype=np.float32, generator=None):
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be positive, got {num_embeddings}, {embedding_dim}"
            )
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = _normalize_padding_idx(padding_idx, self.num_embeddings)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.norm_type = float(norm_type)
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters(generator)
        else:
            w = np.asarray(getattr(_weight, "data", _weight))
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: weight of shape {w.shape} does not match ({num_embeddings}, {embedding_dim})"
                )
            self.weight = Parameter(w, requires_grad=not _freeze, dtype=w.dtype if w.dtype.kind == "f" else np.float32)

    def reset_parameters(self, generator=None) -> None:
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): expected integer indices, got dtype {idx.dtype}"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
            raise IndexError(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): index {bad} is out of range "
                f"[0, {self.num_embeddings})"
            )
        return embedding(idx, self.weight, self.padding_idx, self.max_norm, self.norm_type)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None, norm_type: float = 2.0):
        """An Embedding holding a copy of ``embeddings`` (2-D array or Tensor); ``freeze``
        (default True) makes the weight non-trainable, as in PyTorch."""
        w = np.asarray(getattr(embeddings, "data", embeddings))
        if w.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {w.shape}")
        m = cls(w.shape[0], w.shape[1], padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                _weight=w, _freeze=freeze)
        # A model file describes the architecture, not the vectors (they are in the weights).
        m.__dict__["_init_args"] = ((w.shape[0], w.shape[1]), {
            "padding_idx": padding_idx, "max_norm": max_norm, "norm_type": norm_type, "_freeze": freeze,
            "dtype": np.dtype(m.weight.dtype)})
        return m

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s
