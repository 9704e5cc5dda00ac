"""Date translation with attention: human-readable dates (47 formats, 8 locales) -> ISO YYYY-MM-DD, exact match.

Course 5, week 3 ("neural machine translation"): a bidirectional LSTM encoder over the
characters, additive (Bahdanau) attention over its states, an LSTM decoder that writes the
10 characters of the ISO date (:mod:`deepgrad.text.seq2seq`), on seeded data from
:mod:`deepgrad.text.dates` split on the date itself (no test date is seen in training, in
any format). Reports exact-match accuracy (all 10 characters right) on the test split,
per-character accuracy and the accuracy of each format; writes ``attention.png`` (the
attention weights for a few test inputs), ``errors.txt`` (every wrong test output) and the
usual ``metrics.json``, ``history.csv``, ``model.safetensors``. Needs ``pip install deepgrad[dates]``.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

#: the `deepgrad run` flags this recipe takes (any other is refused)
FLAGS = ("epochs", "seed", "lr", "batch_size")
DEFAULTS: dict[str, Any] = {
    "dates": 20000,  # distinct dates: 80% train, 10% dev, 10% test
    "epochs": 10,  # dev exact match 99.9% after 4 epochs in the first run (of 30 planned)
    "batch_size": 100,
    "lr": 5e-3,
    "embed": 32, "enc_hidden": 32, "dec_hidden": 64, "attn_hidden": 10,  # the course's n_a=32, n_s=64, Dense(10)
    "clip_norm": 5.0,
    "quick_dates": 600,
    "quick_epochs": 2,
}
#: test inputs shown in attention.png (one of each kind; the first test example of each format found)
HEATMAP_FORMATS = ("en_US:full", "fr_FR:'le' d MMMM y", "de_DE:short", "en_US:short", "es_ES:long", "nl_NL:medium")


def exact_match(outputs, targets) -> float:
    return float(np.mean([o == t for o, t in zip(outputs, targets)])) if len(targets) else 0.0


def accuracy_by_format(examples, correct) -> dict[str, float]:
    """The share of right outputs per date format (``correct[i]`` for ``examples[i]``), by format name."""
    per: dict[str, list] = {}
    for e, ok in zip(examples, correct):
        per.setdefault(e.format, []).append(bool(ok))
    return {k: float(np.mean(v)) for k, v in sorted(per.items())}


def heatmap_picks(examples, formats=HEATMAP_FORMATS, k: int = 4) -> list[int]:
    """Up to ``k`` indices of examples to show in attention.png: the first example of each of
    ``formats`` found, else the first ``k``."""
    first_of: dict[str, int] = {}
    for j, e in enumerate(examples):
        first_of.setdefault(e.format, j)
    picks = [first_of[name] for name in formats if name in first_of]
    return (picks or list(range(min(k, len(examples)))))[:k]


def run(args) -> dict:
    import deepgrad as dg

    from .. import optim
    from ..autograd import no_grad
    from ..nn import functional as F
    from ..text import dates as D
    from ..text.seq2seq import DateTranslator, plot_attention, translate
    from ..train.history import History
    from ._common import finish, out_dir, setting, train_epoch

    t0 = time.perf_counter()
    recipe = "dates-attention"
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg: dict[str, Any] = {k: v for k, v in DEFAULTS.items() if not k.startswith("quick")}
    cfg.update(quick=quick, dates=DEFAULTS["quick_dates"] if quick else DEFAULTS["dates"],
               epochs=setting(args, "epochs", DEFAULTS["quick_epochs"] if quick else DEFAULTS["epochs"]),
               lr=setting(args, "lr", DEFAULTS["lr"]), batch_size=setting(args, "batch_size", DEFAULTS["batch_size"]),
               optimizer="Adam", date_window=["1950-01-01", "2049-12-31"])
    out = out_dir(args, recipe)

    splits = D.make_dates(cfg["dates"], seed=seed)
    inv, outv = D.input_vocab(), D.target_vocab()
    T = max(len(e.text) for rows in splits.values() for e in rows)
    enc = {k: D.encode(v, inv, outv, max_len=T) for k, v in splits.items()}
    cfg.update(train_examples=len(splits["train"]), dev_examples=len(splits["dev"]), test_examples=len(splits["test"]),
               formats=len(D.formats()), locales=len({f.locale for f in D.formats()}), input_vocab=len(inv), max_len=T)

    dg.manual_seed(seed)
    model = DateTranslator(len(inv), len(outv), D.TARGET_LENGTH, cfg["embed"], cfg["enc_hidden"], cfg["dec_hidden"],
                           cfg["attn_hidden"], padding_idx=inv[D.PAD])
    opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2)
    rng = np.random.default_rng(seed)
    history = History()

    def loss_on(x, y, lengths):
        logits = model(x, lengths)
        return F.cross_entropy(logits.reshape(-1, len(outv)), y.reshape(-1))

    def evaluate(split):
        x, y, lengths = enc[split]
        outputs, _ = translate(model, x, lengths, outv)
        targets = [e.target for e in splits[split]]
        with no_grad():
            model.eval()
            loss = float(np.mean([float(loss_on(x[i:i + 500], y[i:i + 500], lengths[i:i + 500]).data)
                                  for i in range(0, len(x), 500)]))
            model.train()
        chars = float(np.mean([a == b for o, t in zip(outputs, targets) for a, b in zip(o, t)]))
        return loss, exact_match(outputs, targets), chars, outputs

    best, best_state = -1.0, None
    progress = not quick
    xtr, ytr, ltr = enc["train"]
    bs = cfg["batch_size"]
    for epoch in range(1, cfg["epochs"] + 1):
        te = time.perf_counter()
        order = rng.permutation(len(xtr))
        losses = train_epoch(history, epoch, order, bs, lambda idx: loss_on(xtr[idx], ytr[idx], ltr[idx]), opt,
                             clip=(list(model.parameters()), cfg["clip_norm"]))
        if losses is None:  # a loss that is not finite: history.stop_reason says where
            break
        dev_loss, dev_em, dev_chars, _ = evaluate("dev")
        sched.step(dev_em)
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "dev_loss": dev_loss,
                        "dev_accuracy": dev_em, "dev_char_accuracy": dev_chars, "lr": opt.param_groups[0]["lr"],
                        "time_s": round(time.perf_counter() - te, 2)})
        if dev_em > best:
            best, best_state = dev_em, model.state_dict()
        if progress:
            print(f"{recipe} epoch {epoch}/{cfg['epochs']}: train loss {np.mean(losses):.4f}  dev loss {dev_loss:.4f}  "
                  f"dev exact match {dev_em:.2%}  ({time.perf_counter() - te:.1f} s)", flush=True)
    if best_state is not None:
        model.load_state_dict(best_state)
    dev_loss, dev_em, dev_chars, _ = evaluate("dev")
    test_loss, test_em, test_chars, outputs = evaluate("test")
    test = splits["test"]

    per_format_acc = accuracy_by_format(test, [o == e.target for e, o in zip(test, outputs)])
    valid = float(np.mean([D.parse_iso(o) is not None for o in outputs]))
    with open(os.path.join(out, "errors.txt"), "w", encoding="utf-8") as f:
        f.write("# input\ttarget\toutput\tformat\n")
        for e, o in zip(test, outputs):
            if o != e.target:
                f.write(f"{e.text}\t{e.target}\t{o}\t{e.format}\n")

    picks = heatmap_picks(test)
    xt, _, lt = enc["test"]
    sel_out, sel_w = translate(model, xt[picks], lt[picks], outv)
    files = []
    try:
        files.append(os.path.basename(plot_attention([test[i].text for i in picks], sel_out, sel_w, lt[picks],
                                                     os.path.join(out, "attention.png"),
                                                     f"{recipe}: attention weights (test inputs)")))
    except ImportError:
        pass

    results = {
        "test_accuracy": test_em, "test_exact_match": test_em, "test_char_accuracy": test_chars, "test_loss": test_loss,
        "dev_accuracy": dev_em, "dev_char_accuracy": dev_chars, "test_valid_date_fraction": valid,
        "best_epoch": int(history.best("dev_accuracy", mode="max")["epoch"]) if len(history) else 0,
        "test_accuracy_by_format": per_format_acc,
        "worst_formats": sorted(per_format_acc, key=lambda k: per_format_acc[k])[:5],
        "test_errors": int(sum(o != e.target for e, o in zip(test, outputs))),
        "attention_examples": [{"input": test[i].text, "target": test[i].target, "output": o}
                               for i, o in zip(picks, sel_out)],
    }
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe}: test exact match {test_em:.2%} ({results['test_errors']} wrong of {len(test)}), "
          f"per character {test_chars:.2%}, dev {dev_em:.2%}, {metrics['wall_time_s']:.1f} s -> {out}")
    return metrics
