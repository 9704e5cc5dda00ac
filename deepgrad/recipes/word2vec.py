"""word2vec skip-gram with negative sampling on WordNet's glosses, evaluated against WordNet beside PPMI-SVD.

Trains SGNS (unigram^0.75 noise, subsampling of frequent words, dynamic window) with
deepgrad: each mini-batch's loss is the fused ``sgns_loss`` op, backward runs through the
engine into the batch's rows of the two embedding tables, and AdaGrad updates only those
rows (``deepgrad.text.word2vec``; word2vec's own SGD with a linearly decaying learning rate
is ``optimizer="sgd"``, slower to converge here). The vectors
saved are input + output embeddings (``in+out``). Writes
``vectors.txt`` (word2vec text format, gensim's ``KeyedVectors.load_word2vec_format`` reads
it), ``ppmi_svd.txt`` (the count-based baseline on the same corpus), ``metrics.json``,
``history.csv``, ``loss.png`` and ``evaluation.png``.
"""
from __future__ import annotations

#: the `deepgrad run` flags this recipe takes (``dest`` names; ``--corpus`` is its own)
FLAGS = ("epochs", "seed", "lr", "batch_size", "corpus")

# Sparse AdaGrad (lr 0.2), not word2vec's SGD at 0.025: on this 1.6M-token corpus, after 2 epochs
# (seed 0), SGD lr 0.025 gave similarity 0.12 / analogies 0.003, SGD lr 0.1 0.50 / 0.028,
# AdaGrad lr 0.2 0.51 / 0.077 (in+out vectors for the last two; PPMI-SVD: 0.52 / 0.040).
DEFAULTS = {"dim": 100, "window": 5, "negative": 5, "epochs": 3, "lr": 0.2, "batch_size": 1024,
            "subsample": 1e-4, "min_count": 5, "optimizer": "adagrad", "output": "in+out"}
QUICK = {**DEFAULTS, "dim": 32, "epochs": 1, "max_pairs": 150_000, "min_count": 3}


def _train(corpus, cfg, seed):
    from ..text.word2vec import train_word2vec

    return train_word2vec(corpus, dim=cfg["dim"], window=cfg["window"], negative=cfg["negative"],
                          epochs=cfg["epochs"], lr=cfg["lr"], batch_size=cfg["batch_size"],
                          subsample=cfg["subsample"], seed=seed, max_pairs=cfg.get("max_pairs"),
                          optimizer=cfg["optimizer"], output=cfg["output"])


def run(args) -> dict:
    from ._wordvec import run_embedding

    return run_embedding(args, "word2vec", DEFAULTS, QUICK, _train)
