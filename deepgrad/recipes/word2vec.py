"""word2vec skip-gram with negative sampling on WordNet's glosses, evaluated against WordNet beside PPMI-SVD.

Trains SGNS (unigram^0.75 noise, subsampling of frequent words, dynamic window) with
deepgrad: each mini-batch's loss is the fused ``sgns_loss`` op, backward runs through the
engine into the batch's rows of the two embedding tables, and SGD with word2vec's linearly
decaying learning rate updates only those rows (``deepgrad.text.word2vec``). Writes
``vectors.txt`` (word2vec text format, gensim's ``KeyedVectors.load_word2vec_format`` reads
it), ``ppmi_svd.txt`` (the count-based baseline on the same corpus), ``metrics.json``,
``history.csv``, ``loss.png`` and ``evaluation.png``.
"""
from __future__ import annotations

DEFAULTS = {"dim": 100, "window": 5, "negative": 5, "epochs": 5, "lr": 0.025, "batch_size": 1024,
            "subsample": 1e-4, "min_count": 5}
QUICK = {**DEFAULTS, "dim": 32, "epochs": 1, "max_pairs": 150_000, "min_count": 3}


def _train(corpus, cfg, seed):
    from ..text.word2vec import train_word2vec

    return train_word2vec(corpus, dim=cfg["dim"], window=cfg["window"], negative=cfg["negative"],
                          epochs=cfg["epochs"], lr=cfg["lr"], batch_size=cfg["batch_size"],
                          subsample=cfg["subsample"], seed=seed, max_pairs=cfg.get("max_pairs"))


def run(args) -> dict:
    from ._wordvec import run_embedding

    return run_embedding(args, "word2vec", DEFAULTS, QUICK, _train)
