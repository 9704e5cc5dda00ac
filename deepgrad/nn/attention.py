"""``MultiheadAttention`` (course 5, week 4) with PyTorch's contract and parameters.

For each head h: ``softmax(Q_h K_h^T / sqrt(d) + mask) V_h`` with Q, K, V projections of the
query, key and value through ``in_proj_weight`` (3E, E) = [W_q; W_k; W_v] and
``in_proj_bias`` (3E,); the heads are concatenated and projected by ``out_proj``
(a ``Linear(E, E)``). The attention itself is the fused ``F.scaled_dot_product_attention``
op; with ``need_weights=True`` the weights are returned, so the attention is composed
from generic ops instead (as PyTorch also does on that path).

Masks, as PyTorch's ``nn.MultiheadAttention`` (note: the opposite boolean sense to
``F.scaled_dot_product_attention``): a boolean ``attn_mask`` (L, S) or (N*num_heads, L, S)
is True where attention is NOT allowed; a boolean ``key_padding_mask`` (N, S) is True at
keys to ignore (padding). Float masks of those shapes are added to the scores.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..ops.attention import scaled_dot_product_attention
from ..ops.matmul import linear
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter


def _additive(mask, name: str, dtype) -> np.ndarray | Tensor:
    """A PyTorch MHA mask as an additive float mask: boolean True -> -inf."""
    raw = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if raw.dtype == np.bool_:
        return np.where(raw, -np.inf, 0.0).astype(dtype)
    if raw.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {name} must be boolean or floating, got dtype {raw.dtype}")
    return raw.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True,
    batch_first=False)``: query (L, N, E) (or (N, L, E) with ``batch_first``, or unbatched
    (L, E)), key/value (S, N, E) -> ``(output, weights)``; weights (N, L, S) averaged over
    heads, (N, num_heads, L, S) with ``average_attn_weights=False``, None without
    ``need_weights``. Key and value must have ``embed_dim`` features (no kdim/vdim)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype=np.float32, generator=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout}")
        self.embed_dim, self.num_heads, self.head_dim = int(embed_dim), int(num_heads), embed_dim // num_heads
        self.dropout, self.batch_first, self.generator = float(dropout), bool(batch_first), generator
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, generator=generator)
        self._reset_parameters(generator)

    def _reset_parameters(self, generator=None):
        init.xavier_uniform_(self.in_proj_weight, generator=generator)  # PyTorch's initialisation
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _project(self, x, i):
        E = self.embed_dim
        w = self.in_proj_weight[i * E:(i + 1) * E]
        b = None if self.in_proj_bias is None else self.in_proj_bias[i * E:(i + 1) * E]
        return linear(x, w, b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        E, H, D = self.embed_dim, self.num_heads, self.head_dim
        name = f"MultiheadAttention(embed_dim={E}, num_heads={H})"
        for what, t in (("query", query), ("key", key), ("value", value)):
            if t.ndim not in (2, 3) or t.shape[-1] != E:
                raise ValueError(f"{name}: {what} must be ({'N, L' if self.batch_first else 'L, N'}, {E}) or "
                                 f"(L, {E}), got {tuple(t.shape)}")
        if not (query.ndim == key.ndim == value.ndim):
            raise ValueError(f"{name}: query, key and value must all be batched or all unbatched, got shapes "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if is_causal and attn_mask is None:
            raise ValueError(f"{name}: is_causal is a hint; give the causal attn_mask too (as PyTorch)")
        unbatched = query.ndim == 2
        self_attn = query is key and key is value
        if unbatched:
            query, key, value = (ops.unsqueeze(t, 0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(getattr(key_padding_mask, "data", key_padding_mask))[None]
        elif not self.batch_first:
            query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
        N, L, S = query.shape[0], query.shape[1], key.shape[1]
        if key.shape[:2] != value.shape[:2] or key.shape[0] != N:
            raise ValueError(f"{name}: key {tuple(key.shape)} and value {tuple(value.shape)} must match each other "
                             f"and the query's batch size {N}")
        if self_attn:
            q, k, v = ops.split(linear(query, self.in_proj_weight, self.in_proj_bias), 3, axis=-1)
        else:
            q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        q, k, v = (ops.permute(ops.reshape(t, (N, t.shape[1], H, D)), (0, 2, 1, 3)) for t in (q, k, v))
        mask = None
        if attn_mask is not None:
            m = _additive(attn_mask, "attn_mask", q.dtype)
            if m.shape == (L, S):
                pass
            elif m.shape == (N * H, L, S):
                m = m.reshape(N, H, L, S)
            else:
                raise ValueError(f"{name}: attn_mask must be ({L}, {S}) or ({N * H}, {L}, {S}), got {m.shape}")
            mask = m
        if key_padding_mask is not None:
            kp = _additive(key_padding_mask, "key_padding_mask", q.dtype)
            if kp.shape != (N, S):
                raise ValueError(f"{name}: key_padding_mask must be ({N}, {S}), got {kp.shape}")
            kp = kp.reshape(N, 1, 1, S)
            mask = kp if mask is None else mask + kp
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(D))
            if mask is not None:
                scores = scores + mask
            weights = ops.softmax(scores, -1)
            if p > 0.0:
                weights = ops.dropout(weights, p, True, self.generator)
            out = ops.matmul(weights, v)
            if average_attn_weights:
                weights = ops.mean(weights, 1)
            if unbatched:
                weights = ops.squeeze(weights, 0)
        else:
            out = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, generator=self.generator)
        out = ops.reshape(ops.permute(out, (0, 2, 1, 3)), (N, L, E))
        out = self.out_proj(out)
        if unbatched:
            out = ops.squeeze(out, 0)
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, " \
               f"batch_first={self.batch_first}"


class AdditiveAttention(Module):
    """Additive (Bahdanau) attention as course 5, week 3 builds it ("one step of attention"):
    the decoder's previous state ``query`` (N, Eq) is repeated over the T encoder states
    ``keys`` (N, T, Ek) and concatenated with them; ``hidden`` (a Linear to ``hidden_dim``,
    tanh) and ``energy`` (a Linear to 1) score each position; a softmax over the T positions
    gives the attention weights alpha, and the context is sum_t alpha_t * keys_t.

    ``energy_activation="relu"`` applies a ReLU to the energies as the course's notebook
    does (Dense(1, activation="relu")); the default None is Bahdanau's v^T tanh(W [s; h]).
    ``key_padding_mask`` (N, T), True at positions to ignore. Returns ``(context (N, Ek),
    weights (N, T))``. Built from generic ops (one step per decoder step is not a hot path)."""

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int = 10, energy_activation: str | None = None,
                 dtype=np.float32, generator=None):
        super().__init__()
        if energy_activation not in (None, "relu"):
            raise ValueError(f"AdditiveAttention: energy_activation must be None or 'relu', got {energy_activation!r}")
        self.query_dim, self.key_dim, self.energy_activation = int(query_dim), int(key_dim), energy_activation
        self.hidden = Linear(query_dim + key_dim, hidden_dim, dtype=dtype, generator=generator)
        self.energy = Linear(hidden_dim, 1, dtype=dtype, generator=generator)

    def forward(self, query, keys, key_padding_mask=None):
        if query.ndim != 2 or keys.ndim != 3 or query.shape[0] != keys.shape[0] or query.shape[1] != self.query_dim \
                or keys.shape[2] != self.key_dim:
            raise ValueError(f"AdditiveAttention(query_dim={self.query_dim}, key_dim={self.key_dim}): expected query "
                             f"(N, {self.query_dim}) and keys (N, T, {self.key_dim}), got {tuple(query.shape)} and "
                             f"{tuple(keys.shape)}")
        N, T = keys.shape[0], keys.shape[1]
        rep = ops.broadcast_to(ops.unsqueeze(query, 1), (N, T, self.query_dim))
        e = self.energy(ops.tanh(self.hidden(ops.concatenate([rep, keys], -1))))
        e = ops.reshape(e, (N, T))
        if self.energy_activation == "relu":
            e = ops.relu(e)
        if key_padding_mask is not None:
            m = _additive(key_padding_mask, "key_padding_mask", e.dtype)
            if m.shape != (N, T):
                raise ValueError(f"AdditiveAttention: key_padding_mask must be ({N}, {T}), got {m.shape}")
            e = e + m
        weights = ops.softmax(e, -1)
        context = ops.reshape(ops.matmul(ops.unsqueeze(weights, 1), keys), (N, self.key_dim))
        return context, weights
