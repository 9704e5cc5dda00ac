"""Sequence to sequence with attention: the course's date translation model (course 5, week 3).

* :class:`AdditiveAttention`: Bahdanau's (the course's) attention. For a decoder state
  ``s`` (the query) and encoder states ``a_1..a_T`` (the keys, also the values):
  ``e_t = v . tanh(W_s s + W_a a_t + b)``, ``alpha = softmax_t(e)`` (padding positions
  get no weight), ``context = sum_t alpha_t a_t``. The course writes the first step as a
  Dense layer over the concatenation ``[s; a_t]``, which is the same map: ``W_s`` and ``W_a``
  are its two blocks. ``W_a a_t`` does not depend on the decoder step, so it is computed
  once per sequence (:meth:`AdditiveAttention.project_keys`).
* :class:`DateTranslator`: characters -> embedding -> bidirectional LSTM encoder (padded
  batches through ``lengths=``) -> for each of the ``out_len`` output characters: attention
  over the encoder states with the previous decoder state, an LSTM cell step on the
  context, a linear layer to the output characters. As in the course, the decoder reads
  only the context (not its previous output), so every step's character is its argmax:
  greedy decoding is exact. Everything is built from deepgrad ops, so autodiff gives the
  gradients (the encoder is one fused op per direction).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..ops.shape import stack, unsqueeze
from ..tensor import Tensor

#: a padding position's energy: exp(-1e9 - max) is exactly 0 in float32 and float64
_MASKED = -1e9


class AdditiveAttention(nn.Module):
    """``forward(query (N, Q), keys (N, T, K), mask=None (N, T) bool, True where real)``
    returns ``(context (N, K), weights (N, T))``; ``hidden`` is the size of the tanh layer
    (the course's ``Dense(10, activation="tanh")``)."""

    def __init__(self, query_size: int, key_size: int, hidden: int = 10):
        super().__init__()
        self.query_size, self.key_size, self.hidden = int(query_size), int(key_size), int(hidden)
        self.query_proj = nn.Linear(query_size, hidden, bias=False)
        self.key_proj = nn.Linear(key_size, hidden)
        self.energy = nn.Linear(hidden, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """``W_a a_t + b`` for every position (N, T, hidden): the part that does not change between decoder steps."""
        return self.key_proj(keys)

    def forward(self, query: Tensor, keys: Tensor, mask=None, projected_keys: Tensor | None = None):
        if keys.ndim != 3 or keys.shape[-1] != self.key_size:
            raise ValueError(f"AdditiveAttention: keys must be (N, T, {self.key_size}), got {tuple(keys.shape)}")
        N, T, _ = keys.shape
        if tuple(query.shape) != (N, self.query_size):
            raise ValueError(f"AdditiveAttention: query must be ({N}, {self.query_size}) for keys {tuple(keys.shape)}, "
                             f"got {tuple(query.shape)}")
        pk = self.project_keys(keys) if projected_keys is None else projected_keys
        e = self.energy((pk + unsqueeze(self.query_proj(query), 1)).tanh()).reshape(N, T)
        if mask is not None:
            m = np.asarray(getattr(mask, "data", mask), dtype=bool)
            if m.shape != (N, T):
                raise ValueError(f"AdditiveAttention: mask must be ({N}, {T}), got {m.shape}")
            if not m.any(axis=1).all():
                raise ValueError("AdditiveAttention: a row of the mask has no real position to attend to")
            e = e + Tensor._wrap(np.where(m, 0.0, _MASKED).astype(e.dtype))
        weights = e.softmax(axis=1)
        context = (unsqueeze(weights, 1) @ keys).reshape(N, self.key_size)
        return context, weights


class DateTranslator(nn.Module):
    """The course's attention model for dates: ``forward(x (N, T) ids, lengths (N,))`` returns
    logits (N, out_len, out_vocab); with ``return_attention=True`` also the weights (N, out_len, T)."""

    def __init__(self, in_vocab: int, out_vocab: int = 11, out_len: int = 10, embed: int = 32, enc_hidden: int = 32,
                 dec_hidden: int = 64, attn_hidden: int = 10, padding_idx: int | None = None):
        super().__init__()
        self.out_len = int(out_len)
        self.embed = nn.Embedding(in_vocab, embed, padding_idx=padding_idx)
        self.encoder = nn.LSTM(embed, enc_hidden, batch_first=True, bidirectional=True)
        self.attention = AdditiveAttention(dec_hidden, 2 * enc_hidden, attn_hidden)
        self.decoder = nn.LSTMCell(2 * enc_hidden, dec_hidden)
        self.out = nn.Linear(dec_hidden, out_vocab)
        self.dec_hidden = int(dec_hidden)

    def forward(self, x, lengths=None, return_attention: bool = False):
        ids = np.asarray(getattr(x, "data", x))
        if ids.ndim != 2:
            raise ValueError(f"DateTranslator: x must be (N, T) character ids, got shape {ids.shape}")
        N, T = ids.shape
        lengths = np.full(N, T, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
        a, _ = self.encoder(self.embed(ids), lengths=lengths)  # (N, T, 2 * enc_hidden)
        mask = np.arange(T)[None, :] < lengths[:, None]
        pk = self.attention.project_keys(a)
        s = Tensor._wrap(np.zeros((N, self.dec_hidden), dtype=a.dtype))
        c = s
        logits, weights = [], []
        for _ in range(self.out_len):
            context, alpha = self.attention(s, a, mask=mask, projected_keys=pk)
            s, c = self.decoder(context, (s, c))
            logits.append(self.out(s))
            weights.append(alpha)
        out = stack(logits, 1)
        return (out, stack(weights, 1)) if return_attention else out


def translate(model: DateTranslator, x, lengths, out_vocab, batch_size: int = 512):
    """Greedy outputs as strings, and the attention weights (N, out_len, T), in eval mode without gradients."""
    from ..autograd import no_grad

    was = model.training
    model.eval()
    texts, attn = [], []
    try:
        with no_grad():
            for i in range(0, len(x), batch_size):
                logits, w = model(x[i:i + batch_size], lengths[i:i + batch_size], return_attention=True)
                ids = logits.data.argmax(-1)
                texts += ["".join(out_vocab.itos[j] for j in row) for row in ids]
                attn.append(w.data)
    finally:
        model.train(was)
    return texts, (np.concatenate(attn) if attn else np.zeros((0, model.out_len, x.shape[1])))


def plot_attention(texts, outputs, weights, lengths, path: str, title: str = "") -> str:
    """Heatmaps of attention (one panel per input: output characters down, input characters across), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(texts)
    cols = min(2, k)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 * cols, 3.2 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= k:
            ax.axis("off")
            continue
        L = int(lengths[i])
        w = weights[i][:, :L]
        im = ax.imshow(w, cmap="viridis", vmin=0, vmax=1, aspect="auto")  # weights on one scale: 0 to 1
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
        ax.set_xticks(range(L))
        ax.set_xticklabels(list(texts[i].replace(" ", "\u2423")), fontsize=8)
        ax.set_yticks(range(len(outputs[i])))
        ax.set_yticklabels(list(outputs[i]), fontsize=8)
        ax.set_xlabel("input")
        ax.set_ylabel("output")
        ax.set_title(f"{texts[i]!r} -> {outputs[i]}", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
