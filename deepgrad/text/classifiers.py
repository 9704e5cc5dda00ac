"""Text classification over pretrained word vectors (course 5, week 2, "Emojify").

* :class:`AveragedEmbeddingClassifier` (Emojify V1): the mean of the sentence's word
  vectors, then a linear layer and softmax. Word order is lost.
* :class:`LSTMClassifier` (Emojify V2): the word vectors run through a (2-layer) LSTM; the
  last layer's final hidden state, after dropout, goes to a linear layer. Padding never
  reaches the state: the LSTM gets each sequence's length.

Both look words up in a frozen ``nn.Embedding.from_pretrained`` table whose row 0 is the
padding/unknown word (zero vector). :func:`encode` turns texts into padded id arrays.

The real task used here (:func:`gloss_topic_data`): a WordNet noun's gloss -> its lexical
category (``noun.animal``, ``noun.food``, ... 25 classes), the synset's own words left out.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..tensor import Tensor
from .corpus import tokenize


def encode(texts, index: dict, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids (n, max_len) int64, lengths (n,))``: word ids from ``index`` shifted by one (0
    pads and stands for unknown words, which are dropped), each text cut to ``max_len``
    words; a text with no known word keeps one unknown token (length 1)."""
    ids = np.zeros((len(texts), max_len), dtype=np.int64)
    lengths = np.ones(len(texts), dtype=np.int64)
    for k, t in enumerate(texts):
        row = [index[w] + 1 for w in tokenize(t) if w in index][:max_len]
        ids[k, :len(row)] = row
        lengths[k] = max(len(row), 1)
    return ids, lengths


def embedding_table(vectors: np.ndarray) -> np.ndarray:
    """Prepend the zero row 0 (padding / unknown) to ``vectors`` (float32)."""
    v = np.asarray(vectors, dtype=np.float32)
    return np.concatenate([np.zeros((1, v.shape[1]), np.float32), v])


class AveragedEmbeddingClassifier(nn.Module):
    """Emojify V1: ``softmax(W mean(e_w) + b)`` over the known words of a text."""

    def __init__(self, table: np.ndarray, num_classes: int):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(table, freeze=True, padding_idx=0)
        self.linear = nn.Linear(table.shape[1], num_classes)

    def forward(self, ids, lengths):
        ids = np.asarray(getattr(ids, "data", ids))
        e = self.embedding(ids)                                       # (N, T, D); padding rows are 0
        n = np.asarray(getattr(lengths, "data", lengths)).astype(np.float32)[:, None]
        return self.linear(e.sum(axis=1) / Tensor(n))


class LSTMClassifier(nn.Module):
    """Emojify V2: frozen embeddings -> LSTM (``num_layers``, dropout between layers) ->
    final hidden state of the last layer -> dropout -> linear."""

    def __init__(self, table: np.ndarray, num_classes: int, hidden: int = 128, num_layers: int = 2,
                 dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(table, freeze=True, padding_idx=0)
        self.lstm = nn.LSTM(table.shape[1], hidden, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden, num_classes)

    def forward(self, ids, lengths):
        ids = np.asarray(getattr(ids, "data", ids))
        lengths = np.asarray(getattr(lengths, "data", lengths))
        T = int(lengths.max())
        _, (h, _) = self.lstm(self.embedding(ids[:, :T]), lengths=lengths)
        return self.linear(self.dropout(h[-1]))


def gloss_topic_data(wn, pos: str = "n", min_class: int = 100):
    """``(texts, labels, class names)``: each synset's gloss (definition and examples, its
    own words not included) and the index of its lexical category; categories with fewer
    than ``min_class`` synsets (``noun.Tops``, ``noun.motive``) are left out."""
    syn = [s for s in wn if s.pos == pos]
    counts: dict[str, int] = {}
    for s in syn:
        counts[s.lexname] = counts.get(s.lexname, 0) + 1
    names = sorted(k for k, n in counts.items() if n >= min_class)
    cls = {k: i for i, k in enumerate(names)}
    texts = [s.gloss.replace('"', " ") for s in syn if s.lexname in cls]
    labels = np.array([cls[s.lexname] for s in syn if s.lexname in cls], dtype=np.int64)
    return texts, labels, names
