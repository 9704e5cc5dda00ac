"""Date translation with a transformer: human-readable dates -> ISO (dates-transformer) or -> words (dates-words).

Course 5, week 4 (the transformer) on week 3's task: the same seeded dates as
``dates-attention`` (:mod:`deepgrad.text.dates`, split on the date itself), translated by an
encoder-decoder transformer (:class:`deepgrad.text.seq2seq.TransformerTranslator`: character
embeddings + sinusoidal positions, pre-norm ``nn.Transformer``, look-ahead and padding masks)
trained with teacher forcing and decoded token by token.

* ``dates-transformer``: the target is the ISO date, 10 characters and ``<eos>``; reports
  exact match (all 10 right) on the test split beside the attention RNN's figure, with the
  parameter count and training time.
* ``dates-words``: the target is the date written out in English words ("the third of may
  nineteen seventy nine", :func:`deepgrad.text.dates.in_words`), 6-8 word tokens and
  ``<eos>``; exact match is not the whole story there, so it also reports corpus BLEU
  (:func:`deepgrad.text.corpus_bleu`) on the words.

Both report greedy and beam-search decoding (width 3, length normalization alpha = 0.7)
side by side; write ``errors.txt`` (every wrong test output), ``attention.png`` (the last
decoder layer's cross-attention over the input for a few test dates) and the usual
``metrics.json``, ``history.csv``, ``model.safetensors``. Needs ``pip install deepgrad[dates]``.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

#: the `deepgrad run` flags these recipes take (any other is refused)
FLAGS = ("epochs", "seed", "lr", "batch_size", "config")
DEFAULTS: dict[str, Any] = {
    "dates": 20000,  # distinct dates: 80% train, 10% dev, 10% test (the same data set as dates-attention)
    "epochs": 30, "batch_size": 64, "lr": 1e-3, "warmup_epochs": 1, "final_lr_fraction": 0.02,
    "d_model": 64, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 256,
    "dropout": 0.1, "clip_norm": 1.0, "beam_width": 3, "alpha": 0.7,
    "quick_dates": 600, "quick_epochs": 2,
}
#: what each recipe translates into: ISO characters, or the date in words
TARGETS = {"dates-transformer": "iso", "dates-words": "words"}
DESCRIPTIONS = {
    "dates-transformer": "Date translation with a transformer: human-readable dates -> ISO YYYY-MM-DD, exact match",
    "dates-words": "Dates written out in words by a transformer: exact match and BLEU, greedy and beam search",
}
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
#: test inputs shown in attention.png (the first test example of each of these formats)
HEATMAP_FORMATS = ("en_US:full", "fr_FR:'le' d MMMM y", "de_DE:short", "en_US:short")


def target_tokens(example, target: str) -> list[str]:
    from ..text.dates import in_words

    return list(example.target) if target == "iso" else in_words(example.date).split()


def target_vocab(target: str):
    """``<pad>``, ``<bos>``, ``<eos>`` then the target's tokens (ISO characters, or every word
    :func:`~deepgrad.text.dates.in_words` uses in 1950-2049)."""
    import datetime as dt

    from ..text.dates import in_words
    from ..text.vocab import Vocab

    if target == "iso":
        tokens = list("0123456789-")
    else:
        words: set[str] = set()
        d = dt.date(1950, 1, 1)
        while d.year < 2050:
            words.update(in_words(d).split())
            d += dt.timedelta(days=1)
        tokens = sorted(words)
    return Vocab([PAD, BOS, EOS] + tokens, level="word", unk_token=None)


def encode_targets(examples, target: str, vocab, max_len: int):
    """``(tgt_in, tgt_out)``: ``<bos>`` + tokens and tokens + ``<eos>``, padded with ``<pad>`` to ``max_len + 1``."""
    n = len(examples)
    tin = np.full((n, max_len + 1), vocab[PAD], dtype=np.int64)
    tout = np.full((n, max_len + 1), vocab[PAD], dtype=np.int64)
    for i, e in enumerate(examples):
        ids = [vocab[t] for t in target_tokens(e, target)]
        tin[i, : len(ids) + 1] = [vocab[BOS]] + ids
        tout[i, : len(ids) + 1] = ids + [vocab[EOS]]
    return tin, tout


def _detok(ids, vocab) -> list[str]:
    """Token ids -> tokens, without ``<pad>``, ``<bos>`` and ``<eos>``."""
    return [vocab.itos[t] for t in ids if vocab.itos[t] not in (PAD, BOS, EOS)]


def _cross_attention(model, src, lengths, tgt_in):
    """The last decoder layer's cross-attention weights (N, T, S), averaged over heads: a
    forward pre-hook asks that layer's ``multihead_attn`` for its weights (the layer itself
    asks for none) and a forward hook keeps them."""
    from ..autograd import no_grad

    attn = model.transformer.decoder.layers[-1].multihead_attn
    seen = {}

    def want_weights(module, args, kwargs):
        return args, {**kwargs, "need_weights": True, "average_attn_weights": True}

    def keep(module, args, output):
        seen["w"] = output[1]

    hooks = [attn.register_forward_pre_hook(want_weights, with_kwargs=True), attn.register_forward_hook(keep)]
    was = model.training
    try:
        model.eval()
        with no_grad():
            memory, pad = model.encode(src, lengths)
            model.decode(tgt_in, memory, pad)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    w = seen.get("w")
    return None if w is None else np.asarray(getattr(w, "data", w))


def run(args) -> dict:
    import deepgrad as dg

    from .. import optim
    from ..autograd import no_grad
    from ..nn import functional as F
    from ..text import dates as D
    from ..text.bleu import corpus_bleu
    from ..text.seq2seq import TransformerTranslator, plot_attention, transformer_beam, transformer_greedy
    from ..train.history import History
    from ._common import config_overrides, finish, out_dir, setting, train_epoch
    from .dates_attention import accuracy_by_format, heatmap_picks

    t0 = time.perf_counter()
    recipe = getattr(args, "recipe", None) or "dates-transformer"
    if recipe not in TARGETS:
        raise KeyError(f"dates_transformer: unknown recipe {recipe!r}; this module runs {sorted(TARGETS)}")
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg: dict[str, Any] = {k: v for k, v in DEFAULTS.items() if not k.startswith("quick")}
    cfg.update(config_overrides(args))  # --config FILE (keys of DEFAULTS); the flags below win
    cfg.update(quick=quick, target=TARGETS[recipe],
               dates=DEFAULTS["quick_dates"] if quick else cfg["dates"],
               epochs=setting(args, "epochs", DEFAULTS["quick_epochs"] if quick else cfg["epochs"]),
               lr=setting(args, "lr", cfg["lr"]), batch_size=setting(args, "batch_size", cfg["batch_size"]),
               optimizer="Adam", schedule="linear warmup, then cosine", date_window=["1950-01-01", "2049-12-31"])
    target = cfg["target"]
    out = out_dir(args, recipe)

    splits = D.make_dates(cfg["dates"], seed=seed)
    inv, outv = D.input_vocab(), target_vocab(target)
    S = max(len(e.text) for rows in splits.values() for e in rows)
    T = max(len(target_tokens(e, target)) for rows in splits.values() for e in rows)
    enc = {}
    for name, rows in splits.items():
        x, _, lengths = D.encode(rows, inv, D.target_vocab(), max_len=S)
        tin, tout = encode_targets(rows, target, outv, T)
        enc[name] = (x, lengths, tin, tout)
    refs = {name: [target_tokens(e, target) for e in rows] for name, rows in splits.items()}
    cfg.update(train_examples=len(splits["train"]), dev_examples=len(splits["dev"]), test_examples=len(splits["test"]),
               input_vocab=len(inv), output_vocab=len(outv), max_src_len=S, max_tgt_len=T)

    dg.manual_seed(seed)
    model = TransformerTranslator(len(inv), len(outv), cfg["d_model"], cfg["nhead"], cfg["num_encoder_layers"],
                                  cfg["num_decoder_layers"], cfg["dim_feedforward"], cfg["dropout"],
                                  max_len=max(S, T + 1), padding_idx=inv[D.PAD])
    opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    bs = cfg["batch_size"]
    x_tr, l_tr, tin_tr, tout_tr = enc["train"]
    steps_per_epoch = math.ceil(len(x_tr) / bs)
    total_steps = max(1, steps_per_epoch * cfg["epochs"])
    warm = max(1, int(cfg["warmup_epochs"] * steps_per_epoch))
    floor = float(cfg["final_lr_fraction"])

    def lr_factor(step):  # step counts from 0
        if step < warm:
            return (step + 1) / warm
        p = min(1.0, (step - warm) / max(1, total_steps - warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))

    sched = optim.lr_scheduler.LambdaLR(opt, lr_factor)
    rng = np.random.default_rng(seed)
    history = History()
    pad_id, bos, eos = outv[PAD], outv[BOS], outv[EOS]

    def loss_on(x, lengths, tin, tout):
        logits = model(x, lengths, tin)
        return F.cross_entropy(logits.reshape(-1, len(outv)), tout.reshape(-1), ignore_index=pad_id)

    def evaluate(split, beam: bool = False):
        x, lengths, tin, tout = enc[split]
        if beam:
            seqs, _ = transformer_beam(model, x, lengths, bos, eos, T + 1, cfg["beam_width"], cfg["alpha"])
        else:
            seqs, _ = transformer_greedy(model, x, lengths, bos, eos, T + 1)
        hyps = [_detok(s, outv) for s in seqs]
        em = float(np.mean([h == r for h, r in zip(hyps, refs[split])])) if hyps else 0.0
        return em, hyps

    def dev_loss():
        x, lengths, tin, tout = enc["dev"]
        with no_grad():
            model.eval()
            v = float(np.mean([float(loss_on(x[i:i + 500], lengths[i:i + 500], tin[i:i + 500], tout[i:i + 500]).data)
                               for i in range(0, len(x), 500)]))
            model.train()
        return v

    best, best_state = -1.0, None
    progress = not quick
    for epoch in range(1, cfg["epochs"] + 1):
        te = time.perf_counter()
        order = rng.permutation(len(x_tr))
        losses = train_epoch(history, epoch, order, bs,
                             lambda idx: loss_on(x_tr[idx], l_tr[idx], tin_tr[idx], tout_tr[idx]), opt,
                             clip=(list(model.parameters()), cfg["clip_norm"]), after_step=sched.step)
        if losses is None:  # a loss that is not finite: history.stop_reason says where
            break
        dl = dev_loss()
        dev_em, _ = evaluate("dev")
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "dev_loss": dl, "dev_accuracy": dev_em,
                        "lr": opt.param_groups[0]["lr"], "time_s": round(time.perf_counter() - te, 2)})
        if dev_em >= best:  # ties: the later epoch (the schedule has lowered the rate further)
            best, best_state = dev_em, model.state_dict()
        if progress:
            print(f"{recipe} epoch {epoch}/{cfg['epochs']}: train loss {np.mean(losses):.4f}  dev loss {dl:.4f}  "
                  f"dev exact match {dev_em:.2%}  ({time.perf_counter() - te:.1f} s)", flush=True)
    train_s = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
        dev_em = best  # the kept epoch's dev exact match, measured when it was kept
    else:
        dev_em, _ = evaluate("dev")
    tg = time.perf_counter()
    test_em, hyps = evaluate("test")
    greedy_s = time.perf_counter() - tg
    tb = time.perf_counter()
    beam_em, beam_hyps = evaluate("test", beam=True)
    beam_s = time.perf_counter() - tb
    test = splits["test"]
    bleu = corpus_bleu(hyps, [[r] for r in refs["test"]]) if hyps else 0.0
    beam_bleu = corpus_bleu(beam_hyps, [[r] for r in refs["test"]]) if beam_hyps else 0.0
    joiner = "" if target == "iso" else " "
    per_format_acc = accuracy_by_format(test, [h == r for h, r in zip(hyps, refs["test"])])
    with open(os.path.join(out, "errors.txt"), "w", encoding="utf-8") as f:
        f.write("# input\ttarget\tgreedy output\tbeam output\tformat\n")
        for e, h, b, r in zip(test, hyps, beam_hyps, refs["test"]):
            if h != r or b != r:
                f.write(f"{e.text}\t{joiner.join(r)}\t{joiner.join(h)}\t{joiner.join(b)}\t{e.format}\n")

    picks = heatmap_picks(test, HEATMAP_FORMATS)
    x_te, l_te, tin_te, _ = enc["test"]
    try:
        w = _cross_attention(model, x_te[picks], l_te[picks], tin_te[picks])
        if w is not None:
            shown = [hyps[i] for i in picks]
            weights = [w[k][: len(shown[k])] for k in range(len(picks))]
            if target == "iso":
                outs = ["".join(s) for s in shown]
            else:
                outs = shown  # one row per word
            plot_attention([test[i].text for i in picks], outs, weights, l_te[picks], os.path.join(out, "attention.png"),
                           f"{recipe}: last decoder layer's cross-attention (test inputs)")
    except ImportError:
        pass

    results = {
        "test_accuracy": test_em, "test_exact_match": test_em, "test_exact_match_beam": beam_em,
        "test_bleu": bleu, "test_bleu_beam": beam_bleu, "dev_accuracy": dev_em,
        "best_epoch": int(history.best("dev_accuracy", mode="max")["epoch"]) if len(history) else 0,
        "train_seconds": round(train_s, 1), "greedy_decode_seconds": round(greedy_s, 2),
        "beam_decode_seconds": round(beam_s, 2),
        "beam_changed_outputs": int(sum(h != b for h, b in zip(hyps, beam_hyps))),
        "test_accuracy_by_format": per_format_acc,
        "worst_formats": sorted(per_format_acc, key=lambda k: per_format_acc[k])[:5],
        "test_errors": int(sum(h != r for h, r in zip(hyps, refs["test"]))),
        "examples": [{"input": test[i].text, "target": joiner.join(refs["test"][i]), "output": joiner.join(hyps[i])}
                     for i in picks],
    }
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe}: test exact match {test_em:.2%} greedy, {beam_em:.2%} beam (width {cfg['beam_width']}); "
          f"BLEU {bleu:.4f} / {beam_bleu:.4f}; {results['test_errors']} wrong of {len(test)}; dev {dev_em:.2%}; "
          f"{metrics['params']:,} parameters; trained in {train_s:.0f} s -> {out}")
    return metrics
