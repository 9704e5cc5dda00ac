"""Character-level LSTM language model on English names or words (course 5, week 1: dinosaur names).

The corpus comes from the English word list (/usr/share/dict/american-english):
``--lm-corpus names`` (default; ~10,000 names of people and places, like the course's
1,536 dinosaur names) or ``words`` (~64,000 lowercase words), or ``python`` (the standard
library's source code). The entries are shuffled and split 80/10/10 into train, dev and
test by entry, so no name is in two splits. Each split is one character stream, entries
ending in a newline (the course's end-of-name character); the model reads it with
truncated backpropagation through time, the LSTM state carried from batch to batch.
Default names run: 25 epochs, 96 s on the quiet 2-core machine (one BLAS thread; about
18 minutes under a load average of 25); test 3.29 bits/char against the bigram's 3.72
(docs/c5-w1.md).

Reported, in bits per character on the dev and test splits: the LSTM (weights of the
epoch with the best dev figure) beside an add-alpha smoothed bigram model (alpha chosen
on dev), both scored on exactly the same (context, next character) pairs. Writes
samples at several temperatures and top-k settings to ``samples.txt``, the vocabulary to
``vocab.json``, plus the usual ``metrics.json``, ``history.csv``, model and curves.
"""
from __future__ import annotations

import os
import time
from typing import Any

#: the `deepgrad run` flags this recipe takes (any other is refused)
FLAGS = ("epochs", "seed", "lr", "batch_size", "lm_corpus")
DEFAULTS: dict[str, Any] = {
    "names": {"epochs": 25, "embed": 32, "hidden": 256, "layers": 1, "dropout": 0.25, "lr": 3e-3},
    "words": {"epochs": 8, "embed": 32, "hidden": 256, "layers": 1, "dropout": 0.1, "lr": 3e-3},
    "python": {"epochs": 3, "embed": 48, "hidden": 256, "layers": 1, "dropout": 0.1, "lr": 3e-3},
    "batch_size": 32, "bptt": 64, "clip_norm": 1.0, "quick_entries": 600, "quick_epochs": 2, "quick_hidden": 32,
    "python_max_files": 60,
}


def load_entries(corpus: str, seed: int, quick: bool):
    """(entries, separator): names or words of the word list, or Python files."""
    import numpy as np

    from ..text import python_sources, read_words

    if corpus == "python":
        texts = python_sources(DEFAULTS["python_max_files"] if not quick else 10, seed)
        if quick:
            texts = [t[:15000] for t in texts]
        return texts, "\n"
    entries = read_words(corpus)
    rng = np.random.default_rng(seed)
    rng.shuffle(entries)
    if quick:
        entries = entries[:DEFAULTS["quick_entries"]]
    return entries, "\n"


def run(args) -> dict:
    import numpy as np

    import deepgrad as dg

    from .. import optim
    from ..text import BigramModel, LMBatches, RNNLanguageModel, Vocab, evaluate_bits, sample, train_epoch
    from ..train.history import History
    from ._common import finish, out_dir, setting

    t0 = time.perf_counter()
    recipe = "char-lm"
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    corpus = setting(args, "lm_corpus", "names")
    if corpus not in ("names", "words", "python"):
        raise ValueError(f"char-lm: --lm-corpus must be names, words or python, got {corpus!r}")
    d = DEFAULTS[corpus]
    cfg = {
        "corpus": corpus, "quick": quick,
        "epochs": setting(args, "epochs", DEFAULTS["quick_epochs"] if quick else d["epochs"]),
        "batch_size": setting(args, "batch_size", DEFAULTS["batch_size"]), "bptt": DEFAULTS["bptt"],
        "embed": d["embed"], "hidden": DEFAULTS["quick_hidden"] if quick else d["hidden"], "layers": d["layers"],
        "dropout": d["dropout"], "lr": setting(args, "lr", d["lr"]), "clip_norm": DEFAULTS["clip_norm"],
        "optimizer": "Adam", "cell": "lstm",
    }
    out = out_dir(args, recipe)

    entries, sep = load_entries(corpus, seed, quick)
    n = len(entries)
    n_tr, n_dev = int(0.8 * n), max(1, int(0.1 * n))
    n_tr = min(n_tr, n - n_dev - 1)  # at least one entry in each split
    splits = {"train": entries[:n_tr], "dev": entries[n_tr:n_tr + n_dev], "test": entries[n_tr + n_dev:]}
    streams = {k: sep + sep.join(v) + sep for k, v in splits.items()}
    # rare characters (in code: stray Unicode) share the unknown token
    vocab = Vocab.build(streams["train"], level="char", min_count=1 if corpus != "python" else 5)
    ids = {k: vocab.encode(s) for k, s in streams.items()}
    eval_bs = 8
    train_b = LMBatches(ids["train"], cfg["batch_size"], cfg["bptt"])
    dev_b, test_b = LMBatches(ids["dev"], eval_bs, cfg["bptt"]), LMBatches(ids["test"], eval_bs, cfg["bptt"])

    bigram = BigramModel(len(vocab)).fit(ids["train"])
    alpha = bigram.choose_alpha(dev_b)
    bigram_dev, bigram_test = bigram.bits_on(dev_b), bigram.bits_on(test_b)

    dg.manual_seed(seed)
    model = RNNLanguageModel(len(vocab), cfg["embed"], cfg["hidden"], cfg["layers"], cell="lstm", dropout=cfg["dropout"])
    opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    history = History()
    best, best_state = float("inf"), None
    progress = bool(getattr(args, "progress", False)) or not quick
    for epoch in range(1, cfg["epochs"] + 1):
        te = time.perf_counter()
        tr_bits = train_epoch(model, train_b, opt, clip_norm=cfg["clip_norm"])
        dev_bits = evaluate_bits(model, dev_b)
        sched.step(dev_bits)
        history.append({"epoch": epoch, "train_loss": tr_bits, "dev_loss": dev_bits, "dev_bigram_loss": bigram_dev,
                        "lr": opt.param_groups[0]["lr"], "time_s": round(time.perf_counter() - te, 2)})
        if dev_bits < best:
            best, best_state = dev_bits, model.state_dict()
        if progress:
            print(f"char-lm epoch {epoch}/{cfg['epochs']}: train {tr_bits:.3f}  dev {dev_bits:.3f} bits/char "
                  f"(bigram {bigram_dev:.3f})  {time.perf_counter() - te:.1f} s", flush=True)
    # every epoch ran: no stop reason, so History.status() reads "ok"
    model.load_state_dict(best_state)
    dev_bits = evaluate_bits(model, dev_b)
    test_bits = evaluate_bits(model, test_b)

    # samples: temperature and top-k, as in the course's sampling exercise
    rng = np.random.default_rng(seed)
    train_set = set(splits["train"])
    lines, novel = [], {}
    max_len = 60 if corpus != "python" else (100 if quick else 400)
    settings = [(1.0, None), (0.7, None), (1.0, 5)] if corpus != "python" else [(0.8, None), (0.5, 10)]
    for temp, k in settings:
        n_s = 20 if corpus != "python" else 2
        texts = sample(model, vocab, n=n_s, max_len=max_len, temperature=temp, top_k=k, rng=rng,
                       stop="\n" if corpus != "python" else None)
        key = f"temperature={temp}" + (f", top_k={k}" if k else "")
        if corpus == "python":
            lines.append(f"# {key}")
        else:
            novel[key] = float(np.mean([t not in train_set for t in texts]))
            lines.append(f"# {key}  ({novel[key]:.0%} not in the training list)")
        lines += texts if corpus != "python" else [t + "\n" + "-" * 40 for t in texts]
        lines.append("")
    with open(os.path.join(out, "samples.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    vocab.save(os.path.join(out, "vocab.json"))

    results = {
        "dev_bits_per_char": dev_bits, "test_bits_per_char": test_bits,
        "bigram_dev_bits_per_char": bigram_dev, "bigram_test_bits_per_char": bigram_test, "bigram_alpha": alpha,
        "best_epoch": int(history.best("dev_loss")["epoch"]), "vocab_size": len(vocab),
        "train_chars": int(len(ids["train"])), "dev_chars": int(len(ids["dev"])), "test_chars": int(len(ids["test"])),
        "entries": {k: len(v) for k, v in splits.items()}, "samples_novel_fraction": novel,
        "beats_bigram": bool(test_bits < bigram_test),
    }
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe} ({corpus}): test {test_bits:.3f} bits/char (bigram {bigram_test:.3f}), dev {dev_bits:.3f} "
          f"(bigram {bigram_dev:.3f}), {metrics['wall_time_s']:.1f} s -> {out}")
    return metrics
