"""Language modelling (course 5, week 1): batching with truncated backpropagation through
time, an RNN language model, sampling, and a smoothed bigram baseline.

A corpus is one stream of token ids. :func:`batchify` cuts it into N parallel columns
(column n continues where column n-1 stopped, each column read top to bottom), and
:class:`LMBatches` walks down the columns ``bptt`` steps at a time: the inputs are the
tokens of a window and the targets the same window shifted by one. Since window k+1 of
a column continues window k, the model's final state of one batch is the right initial
state of the next; :func:`detach_state` cuts it from the graph, so gradients flow back
at most ``bptt`` steps (truncated BPTT) while the state carries information across the
whole stream.

Evaluation is in bits per token (``log2`` of the perplexity): the mean of
``-log2 p(next token | history)`` over every predicted position.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import Tensor

LN2 = math.log(2.0)


def batchify(ids, batch_size: int) -> np.ndarray:
    """The stream ``ids`` (1-D) as (L, batch_size) int64 columns; the tail that does not fill
    a row is dropped."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if batch_size <= 0:
        raise ValueError(f"batchify: batch_size must be positive, got {batch_size}")
    L = len(ids) // batch_size
    if L < 2:
        raise ValueError(f"batchify: a stream of {len(ids)} tokens is too short for {batch_size} columns")
    return np.ascontiguousarray(ids[:L * batch_size].reshape(batch_size, L).T)


class LMBatches:
    """Truncated-BPTT batches ``(x, y)`` of shape (T, N), time-major, ``T <= bptt``.

    ``y[t] = x[t + 1]`` within a column; consecutive batches continue each other, so carry
    the (detached) state from one to the next. ``len()`` is the number of batches.
    """

    def __init__(self, ids, batch_size: int, bptt: int):
        if bptt <= 0:
            raise ValueError(f"LMBatches: bptt must be positive, got {bptt}")
        self.data = batchify(ids, batch_size)
        self.batch_size, self.bptt = batch_size, bptt

    def __len__(self) -> int:
        return math.ceil((len(self.data) - 1) / self.bptt)

    def __iter__(self):
        L = len(self.data)
        for i in range(0, L - 1, self.bptt):
            T = min(self.bptt, L - 1 - i)
            yield self.data[i:i + T], self.data[i + 1:i + 1 + T]

    @property
    def num_targets(self) -> int:
        return (len(self.data) - 1) * self.batch_size


def detach_state(state):
    """The recurrent state (a Tensor, a tuple such as LSTM's (h, c), or None) cut from the graph."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


class RNNLanguageModel(nn.Module):
    """Embedding -> RNN/GRU/LSTM -> Linear to the vocabulary, with dropout on the
    embeddings and on the recurrent outputs.

    ``forward(x, state=None)``: x (T, N) token ids -> logits (T, N, vocab_size) and the
    final state, to pass to the next call.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0):
        super().__init__()
        cells = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
        if cell not in cells:
            raise ValueError(f"RNNLanguageModel: cell must be one of {sorted(cells)}, got {cell!r}")
        self.vocab_size, self.cell = int(vocab_size), cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.drop = nn.Dropout(dropout)
        self.rnn = cells[cell](embed_dim, hidden_size, num_layers=num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        out, state = self.rnn(self.drop(self.embed(x)), state)
        return self.head(self.drop(out)), state


def lm_loss(logits, y):
    """Mean cross-entropy in nats over all (T * N) positions."""
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), Tensor._wrap(np.asarray(y, dtype=np.int64).reshape(-1)))


def train_epoch(model, batches: LMBatches, optimizer, clip_norm: float | None = None, clip_value: float | None = None,
                on_nonfinite: str = "raise") -> float:
    """One pass over ``batches`` with truncated BPTT (the state carried, detached, from
    batch to batch); gradients clipped by norm and/or by value, as the course teaches.
    Returns the mean training loss in bits per token."""
    model.train()
    state = None
    total, count = 0.0, 0
    params = [p for p in model.parameters() if p.requires_grad]
    for x, y in batches:
        state = detach_state(state)
        logits, state = model(x, state)
        loss = lm_loss(logits, y)
        value = float(loss.item())
        if not math.isfinite(value):
            raise FloatingPointError(f"train_epoch: the loss became {value} after {count} tokens; "
                                     "lower the learning rate or clip the gradients")
        optimizer.zero_grad()
        loss.backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(params, clip_norm)
        if clip_value is not None:
            nn.utils.clip_grad_value_(params, clip_value)
        optimizer.step()
        n = y.size
        total += value * n
        count += n
    return total / max(count, 1) / LN2


@no_grad()
def evaluate_bits(model, batches: LMBatches) -> float:
    """Bits per token of ``model`` on ``batches`` (state carried across batches, dropout off)."""
    was_training = model.training
    model.eval()
    state = None
    total, count = 0.0, 0
    for x, y in batches:
        logits, state = model(x, state)
        total += float(lm_loss(logits, y).item()) * y.size
        count += y.size
    model.train(was_training)
    return total / max(count, 1) / LN2


def _filter_logits(logits: np.ndarray, temperature: float, top_k: int | None) -> np.ndarray:
    z = logits.astype(np.float64) / max(float(temperature), 1e-8)
    if top_k is not None and 0 < top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


@no_grad()
def sample(model, vocab, n: int = 10, max_len: int = 40, temperature: float = 1.0, top_k: int | None = None,
           start: str = "\n", stop: str | None = "\n", prefix: str = "", rng=None, exclude=("<unk>",)) -> list[str]:
    """``n`` texts sampled one token at a time (the course's ``sample``): feed ``start``
    (then ``prefix``), draw the next token from softmax(logits / temperature) restricted to
    the ``top_k`` most likely, feed it back, until ``stop`` or ``max_len`` tokens.
    The ``n`` samples run in parallel as one batch."""
    rng = rng if rng is not None else np.random.default_rng()
    was_training = model.training
    model.eval()
    feed = vocab.encode(start + prefix) if vocab.level == "char" else vocab.encode([start] + vocab.tokenize(prefix))
    x = np.repeat(feed[:, None], n, axis=1)
    logits, state = model(x)
    last = logits.data[-1]
    banned = [vocab.stoi[t] for t in exclude if t in vocab.stoi]
    stop_id = vocab.stoi.get(stop) if stop is not None else None
    out = np.zeros((n, max_len), dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    lengths = np.full(n, max_len)
    for t in range(max_len):
        if banned:
            last = last.copy()
            last[:, banned] = -np.inf
        p = _filter_logits(last, temperature, top_k)
        c = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        out[:, t] = c
        if stop_id is not None:
            newly = (c == stop_id) & ~done
            lengths[newly] = t
            done |= newly
            if done.all():
                break
        logits, state = model(c[None, :], state)
        last = logits.data[-1]
    model.train(was_training)
    sep = "" if vocab.level == "char" else " "
    texts = []
    for i in range(n):
        toks = [vocab.itos[j] for j in out[i, :lengths[i]]]
        texts.append(prefix + (sep if prefix and sep else "") + sep.join(toks))
    return texts


class BigramModel:
    """p(next | previous) = (count(previous, next) + alpha) / (count(previous) + alpha * V):
    add-alpha smoothing of bigram counts, the baseline a language model must beat."""

    def __init__(self, vocab_size: int, alpha: float = 0.1):
        self.V, self.alpha = int(vocab_size), float(alpha)
        self.counts = np.zeros((self.V, self.V), dtype=np.float64)

    def fit(self, ids) -> BigramModel:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        np.add.at(self.counts, (ids[:-1], ids[1:]), 1.0)
        return self

    def log2_probs(self) -> np.ndarray:
        c = self.counts + self.alpha
        return np.log2(c / c.sum(axis=1, keepdims=True))

    def bits(self, x, y) -> float:
        """Mean ``-log2 p(y | x)`` over the pairs (x, y) of equal shape."""
        lp = self.log2_probs()
        return float(-lp[np.asarray(x).reshape(-1), np.asarray(y).reshape(-1)].mean())

    def bits_on(self, batches: LMBatches) -> float:
        """Bits per token on exactly the (input, target) pairs an RNN is evaluated on."""
        xs, ys = zip(*batches)
        return self.bits(np.concatenate([a.reshape(-1) for a in xs]), np.concatenate([b.reshape(-1) for b in ys]))

    def choose_alpha(self, batches: LMBatches, grid=(1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)) -> float:
        """Set ``alpha`` to the value of ``grid`` with the fewest bits on ``batches`` (a
        held-out split: the baseline gets its best smoothing) and return it."""
        scores = []
        for a in grid:
            self.alpha = float(a)
            scores.append(self.bits_on(batches))
        self.alpha = float(grid[int(np.argmin(scores))])
        return self.alpha
