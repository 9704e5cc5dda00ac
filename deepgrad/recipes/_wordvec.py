"""What the word-vector recipes share: the corpus, the WordNet evaluation, the PPMI-SVD
baseline, and the run's files (vectors in word2vec text format, metrics.json, history.csv,
plots)."""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import time

import numpy as np

#: words whose nearest neighbours are printed and stored
SAMPLE_WORDS = ("dog", "king", "france", "music", "quickly", "teacher", "red", "river", "happy", "computer")
QUICK_DOCS = 12_000  # --quick: the first synsets of data.noun only


def load_corpus(corpus: str, quick: bool, min_count: int, log=print):
    """``(wordnet, Corpus, description)``: WordNet's glosses (headwords first), plus GCIDE's
    entries when ``corpus == "wordnet+gcide"``."""
    from ..text.corpus import build_corpus
    from ..text.wordnet import WordNet, gloss_documents

    t = time.perf_counter()
    wn = WordNet(pos="n" if quick else "nvar")
    docs = gloss_documents(wn)
    if quick:
        docs = docs[:QUICK_DOCS]
    if corpus == "wordnet+gcide":
        from ..text.gcide import gcide_documents

        docs = docs + gcide_documents(limit=2000 if quick else None)
    elif corpus != "wordnet":
        raise ValueError(f"--corpus must be 'wordnet' or 'wordnet+gcide', got {corpus!r}")
    c = build_corpus(docs, min_count=min_count)
    desc = f"{corpus}: {len(docs):,} documents, {len(c):,} tokens, {c.vocab_size:,} words (min count {min_count})"
    log(f"corpus {desc} ({time.perf_counter() - t:.1f} s)")
    return wn, c, desc


def eval_sets(wn, corpus, quick: bool, seed: int = 0, log=print):
    """WordNet similarity pairs (nouns seen >= 20 times, 1,000 pairs; 200 in --quick) and
    analogy questions (<= 1,000 per relation) for the corpus's vocabulary. The sets depend
    on the corpus, not on ``--seed``, so every model of one corpus meets the same questions."""
    from ..text import evaluation as ev

    frequent = [w for w, n in zip(corpus.words, corpus.counts) if n >= (5 if quick else 20)]
    sims = ev.similarity_pairs(wn, frequent, n=200 if quick else 1000, seed=seed)
    pairs = ev.analogy_pairs(wn, corpus.words)
    questions = ev.analogy_questions(pairs, max_per_relation=1000, seed=seed)
    log("evaluation: " + f"{len(sims)} WordNet noun pairs (Wu-Palmer), analogies: "
        + ", ".join(f"{k} {len(v)} pairs / {len(questions[k])} questions" for k, v in pairs.items()))
    return sims, questions


def evaluate(wv, sims, questions) -> dict:
    from ..text import evaluation as ev

    sim = ev.evaluate_similarity(wv, sims)
    ana = ev.evaluate_analogies(wv, questions)
    return {"similarity_spearman": sim["spearman"], "similarity_pairs": sim["pairs"],
            "analogy_accuracy": ana["overall"]["accuracy"], "analogy_questions": ana["overall"]["questions"],
            "analogy_by_relation": {k: v["accuracy"] for k, v in ana.items() if k != "overall"},
            "neighbours": ev.nearest_neighbours(wv, SAMPLE_WORDS, k=5)}


def baseline(corpus, dim: int, seed: int, log=print):
    from ..text.ppmi import ppmi_svd

    t = time.perf_counter()
    wv = ppmi_svd(corpus, dim=dim, window=5, seed=seed)
    secs = time.perf_counter() - t
    log(f"PPMI-SVD baseline: window 5 (1/d weights), context smoothing 0.75, rank {dim}, ({secs:.1f} s)")
    return wv, secs


def report(name: str, ours: dict, base: dict, log=print) -> None:
    rows = [("similarity: Spearman vs WordNet Wu-Palmer", ours["similarity_spearman"], base["similarity_spearman"])]
    rows.append(("analogies: accuracy (all relations)", ours["analogy_accuracy"], base["analogy_accuracy"]))
    for k in ours["analogy_by_relation"]:
        rows.append((f"  {k}", ours["analogy_by_relation"][k], base["analogy_by_relation"][k]))
    w = max(len(r[0]) for r in rows)
    log(f"{'':<{w}}  {name:>9}  {'PPMI-SVD':>9}")
    for label, a, b in rows:
        fa = "-" if a is None else f"{a:.4f}"
        fb = "-" if b is None else f"{b:.4f}"
        log(f"{label:<{w}}  {fa:>9}  {fb:>9}")
    log("nearest neighbours (ours | PPMI-SVD):")
    for word, nb in ours["neighbours"].items():
        log(f"  {word:>9}: {', '.join(nb)}  |  {', '.join(base['neighbours'].get(word, []))}")


def write_run(out: str, recipe: str, results: dict, history: list[dict], config: dict, seed, t0: float,
              files: dict) -> dict:
    from ..serialization import atomic_write_bytes

    metrics = {"recipe": recipe, "seed": seed, "epochs": len(history), **results,
               "wall_time_s": round(time.perf_counter() - t0, 3), "stop_reason": "completed", "config": config,
               "platform": {"python": platform.python_version(), "numpy": np.__version__,
                            "machine": platform.machine()},
               "files": {**files, "history": "history.csv"}}
    buf = io.StringIO()
    if history:
        wr = csv.DictWriter(buf, fieldnames=list(history[0]))
        wr.writeheader()
        wr.writerows(history)
    atomic_write_bytes(os.path.join(out, "history.csv"), buf.getvalue().encode())
    atomic_write_bytes(os.path.join(out, "metrics.json"), (json.dumps(metrics, indent=2) + "\n").encode())
    return metrics


def plot(out: str, recipe: str, history: list[dict], ours: dict, base: dict) -> list[str]:
    """``loss.png`` (training loss per epoch) and ``evaluation.png`` (ours beside PPMI-SVD)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([h["epoch"] for h in history], [h["loss"] for h in history], marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(f"{recipe}: training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=100)
    plt.close(fig)
    written.append("loss.png")
    labels = ["similarity\n(Spearman)", "analogies\n(all)"] + [k.replace("-", "-\n") for k in ours["analogy_by_relation"]]
    a = [ours["similarity_spearman"], ours["analogy_accuracy"]] + list(ours["analogy_by_relation"].values())
    b = [base["similarity_spearman"], base["analogy_accuracy"]] + list(base["analogy_by_relation"].values())
    a = [0 if v is None else v for v in a]
    b = [0 if v is None else v for v in b]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.bar(x - 0.2, a, 0.4, label=recipe)
    ax.bar(x + 0.2, b, 0.4, label="PPMI-SVD")
    for xi, (va, vb) in enumerate(zip(a, b)):
        ax.text(xi - 0.2, va, f"{va:.2f}", ha="center", va="bottom", fontsize=7)
        ax.text(xi + 0.2, vb, f"{vb:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_title(f"{recipe} vs PPMI-SVD on the same corpus (WordNet-derived evaluation)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "evaluation.png"), dpi=100)
    plt.close(fig)
    written.append("evaluation.png")
    return written


def run_embedding(args, recipe: str, defaults: dict, quick_defaults: dict, train) -> dict:
    """The whole recipe around ``train(corpus, cfg, log) -> (WordVectors, history rows)``."""
    from ._common import out_dir, setting

    t0 = time.perf_counter()
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg = dict(quick_defaults if quick else defaults)
    cfg["epochs"] = setting(args, "epochs", cfg["epochs"])
    cfg["lr"] = setting(args, "lr", cfg["lr"])
    cfg["batch_size"] = setting(args, "batch_size", cfg["batch_size"])
    cfg["corpus"] = setting(args, "corpus", "wordnet")
    cfg["quick"] = quick
    out = out_dir(args, recipe)
    wn, corpus, desc = load_corpus(cfg["corpus"], quick, cfg["min_count"])
    sims, questions = eval_sets(wn, corpus, quick)
    t = time.perf_counter()
    wv, history = train(corpus, cfg, seed)
    train_s = time.perf_counter() - t
    wv.save_word2vec_format(os.path.join(out, "vectors.txt"))
    base_wv, base_s = baseline(corpus, cfg["dim"], seed)
    base_wv.save_word2vec_format(os.path.join(out, "ppmi_svd.txt"))
    ours, base = evaluate(wv, sims, questions), evaluate(base_wv, sims, questions)
    report(recipe, ours, base)
    plots = plot(out, recipe, history, ours, base)
    beats = {"similarity": ours["similarity_spearman"] >= base["similarity_spearman"],
             "analogies": (ours["analogy_accuracy"] or 0) >= (base["analogy_accuracy"] or 0)}
    results = {"corpus": desc, "train_seconds": round(train_s, 1), "ppmi_svd_seconds": round(base_s, 1),
               "similarity_spearman": ours["similarity_spearman"], "analogy_accuracy": ours["analogy_accuracy"],
               "ppmi_svd": {k: base[k] for k in ("similarity_spearman", "analogy_accuracy", "analogy_by_relation")},
               "matches_or_beats_ppmi_svd": beats, "evaluation": {"ours": ours, "ppmi_svd": base},
               "similarity_pairs": ours["similarity_pairs"], "analogy_questions": ours["analogy_questions"]}
    metrics = write_run(out, recipe, results, history, cfg, seed, t0,
                        {"vectors": "vectors.txt", "baseline_vectors": "ppmi_svd.txt", "plots": plots})
    print(f"{recipe}: similarity {ours['similarity_spearman']:.3f} (PPMI-SVD {base['similarity_spearman']:.3f}), "
          f"analogies {ours['analogy_accuracy'] or 0:.3f} (PPMI-SVD {base['analogy_accuracy'] or 0:.3f}); "
          f"{metrics['wall_time_s']:.0f} s -> {out}")
    return metrics
