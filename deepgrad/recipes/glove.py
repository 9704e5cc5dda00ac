"""GloVe on WordNet's glosses (weighted least squares on co-occurrence counts), evaluated against WordNet beside PPMI-SVD.

Counts co-occurrences within 10 tokens of the same gloss (weight 1/distance), then fits
``w_i . w~_j + b_i + b~_j = log X_ij`` weighted by ``min(1, (X_ij / x_max)^0.75)`` with
AdaGrad on shuffled mini-batches of the non-zero entries: each batch is the fused
``glove_loss`` op, backward through the engine into the rows the batch touched
(``deepgrad.text.glove``). The vectors are ``w + w~``. Writes ``vectors.txt`` (word2vec
text format), ``ppmi_svd.txt``, ``metrics.json``, ``history.csv``, ``loss.png`` and
``evaluation.png``.
"""
from __future__ import annotations

#: the `deepgrad run` flags this recipe takes (``dest`` names; ``--corpus`` is its own)
FLAGS = ("epochs", "seed", "lr", "batch_size", "corpus")

DEFAULTS = {"dim": 100, "window": 10, "epochs": 10, "lr": 0.05, "batch_size": 8192, "x_max": 10.0,
            "min_count": 5}
QUICK = {**DEFAULTS, "dim": 32, "epochs": 3, "min_count": 3, "max_entries": 200_000}


def _train(corpus, cfg, seed):
    from ..text.glove import train_glove

    return train_glove(corpus, dim=cfg["dim"], window=cfg["window"], epochs=cfg["epochs"], lr=cfg["lr"],
                       x_max=cfg["x_max"], batch_size=cfg["batch_size"], seed=seed,
                       max_entries=cfg.get("max_entries"))


def run(args) -> dict:
    from ._wordvec import run_embedding

    return run_embedding(args, "glove", DEFAULTS, QUICK, _train)
