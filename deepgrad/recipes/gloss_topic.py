"""WordNet gloss -> lexical category (24 noun classes): averaged embeddings (Emojify V1) vs an LSTM (V2) vs the majority class.

The course's Emojify on real text: each noun synset's gloss is a short English text, its
lexicographer file (``noun.animal``, ``noun.artifact``, ``noun.food``, ...) the label.
Split 80/10/10 (stratified, seeded). Word vectors are pretrained without labels or test
text: by default PPMI-SVD (100 dimensions) on the training glosses plus the verb,
adjective and adverb glosses; ``--vectors FILE`` uses a word2vec-format file instead (e.g.
``runs/word2vec-*/vectors.txt``). Both classifiers keep the vectors frozen and train with
Adam; each keeps the epoch of best dev accuracy (V1: 30 epochs; V2: 4, ``--epochs`` changes
it). Reports test accuracy of the majority
class, V1 and V2, and writes ``confusion.png`` (the LSTM's test confusion matrix),
``metrics.json``, ``history.csv`` and ``curves.png``.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

#: the `deepgrad run` flags this recipe takes (``dest`` names; ``--vectors`` is its own)
FLAGS = ("epochs", "seed", "lr", "batch_size", "vectors")
DEFAULTS = {"epochs_v1": 30, "epochs_v2": 4, "lr_v1": 0.01, "lr_v2": 0.002, "batch_size": 64, "hidden": 128,
            "num_layers": 2, "dropout": 0.5, "max_len": 32, "dim": 100, "min_count": 3}
QUICK = {**DEFAULTS, "epochs_v1": 8, "epochs_v2": 2, "hidden": 32, "num_layers": 1, "dim": 32,
         "max_len": 16, "n_train": 3000}


def _split(labels, seed):
    rng = np.random.default_rng(seed)
    tr, dv, te = [], [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_dev = n_test = max(1, len(idx) // 10)
        te += list(idx[:n_test])
        dv += list(idx[n_test:n_test + n_dev])
        tr += list(idx[n_test + n_dev:])
    return rng.permutation(tr), rng.permutation(dv), rng.permutation(te)


def _batches(lengths, batch_size, rng):
    """Mini-batches of similar lengths (less padding for the LSTM): shuffle, sort within
    chunks of 50 batches by length, shuffle the batches."""
    order = rng.permutation(len(lengths))
    chunk = 50 * batch_size
    out = []
    for s in range(0, len(order), chunk):
        part = order[s:s + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def _predict(model, ids, lengths, batch=512):
    import deepgrad as dg

    model.eval()
    preds = []
    with dg.no_grad():
        order = np.argsort(lengths, kind="stable")
        for s in range(0, len(order), batch):
            k = order[s:s + batch]
            preds.append((k, model(ids[k], lengths[k]).data.argmax(axis=1)))
    out = np.empty(len(ids), dtype=np.int64)
    for k, p in preds:
        out[k] = p
    return out


def _fit(name, model, data, epochs, lr, batch_size, seed, log):
    import deepgrad as dg
    import deepgrad.nn.functional as F

    from .. import optim

    (ids, lens, y), (dids, dlens, dy) = data
    rng = np.random.default_rng(seed)
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    best, best_state, rows = -1.0, None, []
    for epoch in range(1, epochs + 1):
        t = time.perf_counter()
        model.train()
        total, n = 0.0, 0
        for k in _batches(lens, batch_size, rng):
            opt.zero_grad()
            loss = F.cross_entropy(model(ids[k], lens[k]), dg.tensor(y[k]))
            loss.backward()
            opt.step()
            total += loss.item() * len(k)
            n += len(k)
        if not np.isfinite(total):
            raise FloatingPointError(f"gloss-topic {name}: the loss became {total} in epoch {epoch}")
        dev_acc = float((_predict(model, dids, dlens) == dy).mean())
        rows.append({"model": name, "epoch": epoch, "train_loss": total / n, "dev_accuracy": dev_acc,
                     "seconds": round(time.perf_counter() - t, 2)})
        log(f"{name} epoch {epoch}/{epochs}: train loss {total / n:.4f}, dev accuracy {dev_acc:.4f} "
            f"({rows[-1]['seconds']:.1f} s)")
        if dev_acc > best:
            best, best_state = dev_acc, {k: v.copy() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return rows


def _confusion_png(path, cm, names, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    short = [n.split(".", 1)[1] for n in names]
    ax.set_xticks(range(len(names)), short, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), short, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _curves_png(path, rows):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for name in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == name]
        axes[0].plot([r["epoch"] for r in rs], [r["train_loss"] for r in rs], marker="o", ms=3, label=name)
        axes[1].plot([r["epoch"] for r in rs], [r["dev_accuracy"] for r in rs], marker="o", ms=3, label=name)
    for ax, what in zip(axes, ("train loss", "dev accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def run(args) -> dict:
    import deepgrad as dg

    from ..text.classifiers import (
        AveragedEmbeddingClassifier,
        LSTMClassifier,
        embedding_table,
        encode,
        gloss_topic_data,
    )
    from ..text.corpus import build_corpus
    from ..text.ppmi import ppmi_svd
    from ..text.vectors import WordVectors
    from ..text.wordnet import WordNet
    from ._common import out_dir, setting
    from ._wordvec import write_run

    t0 = time.perf_counter()
    recipe = "gloss-topic"
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg: dict[str, Any] = dict(QUICK if quick else DEFAULTS)  # numbers, then the vectors path and flags
    if getattr(args, "epochs", None):
        cfg["epochs_v2"] = args.epochs
    cfg["batch_size"] = setting(args, "batch_size", cfg["batch_size"])
    if getattr(args, "lr", None):
        cfg["lr_v2"] = args.lr
    cfg["vectors"] = getattr(args, "vectors", None)
    cfg["quick"] = quick
    out = out_dir(args, recipe)
    log = print

    wn = WordNet(pos="n" if quick else "nvar")
    texts, labels, names = gloss_topic_data(wn)
    tr, dv, te = _split(labels, seed)
    if quick:
        tr, dv, te = tr[:cfg["n_train"]], dv[:1000], te[:1000]
    log(f"gloss-topic: {len(texts):,} noun glosses, {len(names)} lexical categories; "
        f"train {len(tr):,} / dev {len(dv):,} / test {len(te):,}")

    t = time.perf_counter()
    if cfg["vectors"]:
        wv = WordVectors.load_word2vec_format(cfg["vectors"])
        source = f"{cfg['vectors']} ({len(wv):,} words, {wv.dim} dimensions)"
    else:  # PPMI-SVD on text without labels and without dev/test glosses
        other = [s.gloss.replace('"', " ") for s in wn if s.pos != "n"]
        corpus = build_corpus([texts[i] for i in tr] + other, min_count=cfg["min_count"])
        wv = ppmi_svd(corpus, dim=cfg["dim"], seed=seed)
        source = (f"PPMI-SVD, {cfg['dim']} dimensions, on the training glosses and the "
                  f"verb/adjective/adverb glosses ({len(corpus):,} tokens, {len(wv):,} words)")
    vec_s = time.perf_counter() - t
    log(f"word vectors: {source} ({vec_s:.1f} s)")
    table = embedding_table(wv.vectors)
    ids, lens = encode(texts, wv.index, cfg["max_len"])
    y = labels
    data = ((ids[tr], lens[tr], y[tr]), (ids[dv], lens[dv], y[dv]))
    coverage = float(np.mean([ids[i, :lens[i]].astype(bool).mean() for i in te]))

    majority = int(np.bincount(y[tr]).argmax())
    results = {"classes": len(names), "train": len(tr), "dev": len(dv), "test": len(te), "vectors": source,
               "majority_class": names[majority], "majority_test_accuracy": float((y[te] == majority).mean())}
    dg.manual_seed(seed)
    v1 = AveragedEmbeddingClassifier(table, len(names))
    t = time.perf_counter()
    rows = _fit("V1 averaged", v1, data, cfg["epochs_v1"], cfg["lr_v1"], cfg["batch_size"], seed, log)
    results["v1_seconds"] = round(time.perf_counter() - t, 1)
    dg.manual_seed(seed)
    v2 = LSTMClassifier(table, len(names), hidden=cfg["hidden"], num_layers=cfg["num_layers"], dropout=cfg["dropout"])
    t = time.perf_counter()
    rows += _fit("V2 LSTM", v2, data, cfg["epochs_v2"], cfg["lr_v2"], cfg["batch_size"], seed + 1, log)
    results["v2_seconds"] = round(time.perf_counter() - t, 1)
    p1, p2 = _predict(v1, ids[te], lens[te]), _predict(v2, ids[te], lens[te])
    results["v1_test_accuracy"] = float((p1 == y[te]).mean())
    results["v2_test_accuracy"] = float((p2 == y[te]).mean())
    results["test_accuracy"] = results["v2_test_accuracy"]
    results["v1_dev_accuracy"] = max(r["dev_accuracy"] for r in rows if r["model"].startswith("V1"))
    results["v2_dev_accuracy"] = max(r["dev_accuracy"] for r in rows if r["model"].startswith("V2"))
    results["test_word_coverage"] = coverage
    results["lstm_beats_averaged_beats_majority"] = (
        results["v2_test_accuracy"] > results["v1_test_accuracy"] > results["majority_test_accuracy"])
    cm = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(cm, (y[te], p2), 1)
    results["confusion_matrix_v2"] = cm.tolist()
    results["class_names"] = names
    plots = []
    if _confusion_png(os.path.join(out, "confusion.png"), cm, names,
                      f"gloss -> lexname, LSTM (V2), test accuracy {results['v2_test_accuracy']:.3f}"):
        plots.append("confusion.png")
    if _curves_png(os.path.join(out, "curves.png"), rows):
        plots.append("curves.png")
    metrics = write_run(out, recipe, results, rows, cfg, seed, t0, {"plots": plots})
    log(f"test accuracy: majority class ({names[majority]}) {results['majority_test_accuracy']:.4f}, "
        f"V1 averaged embeddings {results['v1_test_accuracy']:.4f}, V2 LSTM {results['v2_test_accuracy']:.4f}")
    print(f"{recipe}: {metrics['wall_time_s']:.0f} s -> {out}")
    return metrics
