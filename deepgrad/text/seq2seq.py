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
from ..ops.activation import log_softmax_array
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


# ----- the transformer translator (course 5, week 4, on week 3's task) ----------------------
class TransformerTranslator(nn.Module):
    """An encoder-decoder transformer (``nn.Transformer``, pre-norm) over token ids:
    source ids -> embedding + sinusoidal positions -> encoder; target ids
    (``<bos>`` then the tokens so far) -> embedding + positions -> decoder with the look-ahead
    mask and cross-attention over the encoder's output -> a linear layer to the target vocabulary.

    ``forward(src (N, S), src_lengths (N,), tgt_in (N, T))`` returns logits (N, T, out_vocab):
    the prediction of token ``t + 1`` from ``tgt_in[:, :t + 1]`` (teacher forcing). Padding
    positions of the source are masked out of every attention (``src_key_padding_mask`` and
    ``memory_key_padding_mask``). :meth:`encode` and :meth:`decode` are the two halves, for decoding.

    The embeddings are not multiplied by sqrt(d_model) (as "Attention is all you need" does
    with its small initial embeddings): ``nn.Embedding`` starts at N(0, 1), the scale of the
    positional encoding, and scaling it by 8 would drown the positions, which are most of what
    a character-level date means (a first run so scaled reached 34% dev exact match after 5
    epochs)."""

    def __init__(self, in_vocab: int, out_vocab: int, d_model: int = 64, nhead: int = 4, num_encoder_layers: int = 2,
                 num_decoder_layers: int = 2, dim_feedforward: int = 256, dropout: float = 0.1, max_len: int = 128,
                 padding_idx: int | None = None):
        super().__init__()
        self.d_model = int(d_model)
        self.src_embed = nn.Embedding(in_vocab, d_model, padding_idx=padding_idx)
        self.tgt_embed = nn.Embedding(out_vocab, d_model)
        self.positions = nn.PositionalEncoding(d_model, max_len=max_len, dropout=dropout, batch_first=True)
        self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                          dropout, batch_first=True, norm_first=True)
        self.out = nn.Linear(d_model, out_vocab)

    @staticmethod
    def padding_mask(src_ids, lengths) -> np.ndarray:
        """(N, S) bool, True at padding (PyTorch's ``key_padding_mask``: True is ignored)."""
        S = np.asarray(src_ids).shape[1]
        return np.arange(S)[None, :] >= np.asarray(lengths)[:, None]

    def encode(self, src, lengths):
        ids = np.asarray(getattr(src, "data", src))
        if ids.ndim != 2:
            raise ValueError(f"TransformerTranslator: src must be (N, S) token ids, got shape {ids.shape}")
        pad = self.padding_mask(ids, lengths)
        x = self.positions(self.src_embed(ids))
        return self.transformer.encoder(x, src_key_padding_mask=pad), pad

    def decode(self, tgt_in, memory, pad):
        ids = np.asarray(getattr(tgt_in, "data", tgt_in))
        T = ids.shape[1]
        y = self.positions(self.tgt_embed(ids))
        mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=y.dtype)
        h = self.transformer.decoder(y, memory, tgt_mask=mask, memory_key_padding_mask=pad, tgt_is_causal=True)
        return self.out(h)

    def forward(self, src, lengths, tgt_in):
        memory, pad = self.encode(src, lengths)
        return self.decode(tgt_in, memory, pad)


def _last_log_probs(model: TransformerTranslator, prefix, memory, pad) -> np.ndarray:
    """log P(next token | prefix) for every row, in float64: (rows, vocab)."""
    return log_softmax_array(model.decode(prefix, memory, pad).data[:, -1].astype(np.float64), -1)


def _greedy_batch(model: TransformerTranslator, memory, pad, bos: int, eos: int, max_len: int):
    """Greedy decoding of one encoded batch: token lists (``eos`` included when reached) and
    their total log-probabilities."""
    n = memory.shape[0]
    prefix = np.full((n, 1), bos, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    total = np.zeros(n)
    for _ in range(max_len):
        lp = _last_log_probs(model, prefix, memory, pad)
        tok = lp.argmax(-1)
        total += np.where(done, 0.0, lp[np.arange(n), tok])
        tok = np.where(done, eos, tok)
        prefix = np.concatenate([prefix, tok[:, None]], axis=1)
        done |= tok == eos
        if done.all():
            break
    seqs = []
    for row in prefix[:, 1:].tolist():
        seqs.append(row[: row.index(eos) + 1] if eos in row else row)
    return seqs, total.tolist()


def _encoded_batches(model: TransformerTranslator, src, lengths, batch_size: int):
    """Yield ``(memory, pad)`` for each batch of ``src``, encoded in eval mode without gradients
    (the caller's decoding runs in that mode too); the model's mode is restored at the end."""
    from ..autograd import no_grad

    was = model.training
    model.eval()
    try:
        with no_grad():
            for i in range(0, len(src), batch_size):
                yield model.encode(src[i:i + batch_size], lengths[i:i + batch_size])
    finally:
        model.train(was)


def transformer_greedy(model: TransformerTranslator, src, lengths, bos: int, eos: int, max_len: int,
                       batch_size: int = 500):
    """Greedy decoding of a batch, every sequence at once: returns a list of token lists
    (``eos`` included when reached) and their total log-probabilities."""
    seqs: list[list[int]] = []
    totals: list[float] = []
    for memory, pad in _encoded_batches(model, src, lengths, batch_size):
        s, t = _greedy_batch(model, memory, pad, bos, eos, max_len)
        seqs += s
        totals += t
    return seqs, totals


def transformer_beam(model: TransformerTranslator, src, lengths, bos: int, eos: int, max_len: int,
                     beam_width: int = 3, alpha: float = 0.7, batch_size: int = 200):
    """Beam search for a batch (every sequence's beams decoded together), with the same rules as
    :func:`deepgrad.text.decoding.beam_search`: at each step the ``beam_width`` best expansions
    by total log-probability are kept, one that ends in ``eos`` leaves the beam finished, and the
    candidates (the finished ones, the beams still open after ``max_len`` and the greedy output)
    are ranked by ``log P / T^alpha``. Returns the best token list of each sequence and its score."""
    from .decoding import normalized_score

    B = int(beam_width)
    best: list[list[int]] = []
    scores: list[float] = []
    for memory, pad in _encoded_batches(model, src, lengths, batch_size):
        greedy, g_totals = _greedy_batch(model, memory, pad, bos, eos, max_len)  # same encoding
        n = memory.shape[0]
        # n * B beams; at first only beam 0 of each sequence is alive
        memory_b = Tensor._wrap(memory.data.repeat(B, axis=0))
        pad_b = pad.repeat(B, axis=0)
        prefix = np.full((n * B, 1), bos, dtype=np.int64)
        total = np.full((n, B), -np.inf)
        total[:, 0] = 0.0
        finished: list[dict] = [{} for _ in range(n)]
        for _ in range(max_len):
            if not np.isfinite(total).any():
                break
            lp = _last_log_probs(model, prefix, memory_b, pad_b)  # (n * B, V)
            V = lp.shape[-1]
            cand = (total.reshape(n * B, 1) + lp).reshape(n, B * V)  # dead beams stay at -inf
            top = np.argsort(-cand, axis=1, kind="stable")[:, :B]
            top_total = np.take_along_axis(cand, top, axis=1)
            beam, tok = top // V, top % V
            rows = (np.arange(n)[:, None] * B + beam).reshape(-1)
            prefix = np.concatenate([prefix[rows], tok.reshape(-1, 1)], axis=1)
            ended = tok == eos
            for s, b in zip(*np.nonzero(ended & np.isfinite(top_total))):
                finished[s][tuple(prefix[s * B + b, 1:].tolist())] = float(top_total[s, b])
            total = np.where(ended, -np.inf, top_total)  # a finished beam leaves the beam
        for s in range(n):
            for b in range(B):
                if np.isfinite(total[s, b]):  # still open after max_len
                    finished[s][tuple(prefix[s * B + b, 1:].tolist())] = float(total[s, b])
            finished[s].setdefault(tuple(greedy[s]), g_totals[s])
            ranked = sorted(((normalized_score(t, len(seq), alpha), seq) for seq, t in finished[s].items()),
                            key=lambda x: -x[0])
            best.append(list(ranked[0][1]))
            scores.append(ranked[0][0])
    return best, scores
