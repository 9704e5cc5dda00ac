# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Course 5, week 3: neural machine translation of dates, with attention
#
# The course translates dates as people write them ("3 May 1979", "Tuesday 10 Jul 2007")
# into the machine's `YYYY-MM-DD`: a bidirectional LSTM (32 units each way) reads the
# characters, and for each of the 10 output characters "one step of attention" scores every
# encoder state against the decoder's previous state, a softmax turns the scores into
# weights, and the weighted sum of the encoder states (the context) feeds a post-attention
# LSTM (64 units) and a softmax over the 11 output characters. The course's data are 10,000
# dates written by Faker and Babel in American formats (lowercased, commas removed).
#
# Here the data come from `deepgrad.text.dates`: distinct dates in 1950-2049 written in 47
# formats of 8 locales (case and commas kept), **split on the date itself**, so no test
# date was seen in training in any format. The model is `deepgrad.text.seq2seq.DateTranslator`
# (the course's sizes); the training loop is the one of the recipe `deepgrad run
# dates-attention` (Adam 0.005, batches of 100, gradient norm clipped at 5, the epoch best
# on dev kept). Needs `pip install -e ".[dates]"` (faker, babel).

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import time

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.autograd import no_grad
from deepgrad.nn.utils import clip_grad_norm_
from deepgrad.text import beam_search, corpus_bleu
from deepgrad.text import dates as D
from deepgrad.text.seq2seq import AdditiveAttention, DateTranslator, plot_attention, translate

args = _common.parse_args("c5w3_nmt_dates", "Date translation with attention (the course's neural machine translation).",
                          seed=0)
results = _common.Results(args)
dg.manual_seed(args.seed)
n_dates, epochs = (5000, 6) if args.quick else (20000, 10)

# %% [markdown]
# ## The data
#
# A date is drawn once and lands in one split (80/10/10); only then is it written in a
# format drawn at random. The input characters are every character any format writes (all
# months and weekdays of the 8 locales), plus padding and "unknown"; the outputs are `0-9`
# and `-`.

# %%
splits = D.make_dates(n_dates, seed=args.seed)
inv, outv = D.input_vocab(), D.target_vocab()
T = max(len(e.text) for rows in splits.values() for e in rows)
enc = {k: D.encode(v, inv, outv, max_len=T) for k, v in splits.items()}
for e in splits["train"][:8]:
    print(f"{e.text!r:34} -> {e.target}   ({e.format})")
sizes = {k: len(v) for k, v in splits.items()}
print(f"{sizes}; {len(D.formats())} formats in {len({f.locale for f in D.formats()})} locales; "
      f"{len(inv)} input characters; longest input {T}")
results.add("dates: train / dev / test", ours=f"{sizes['train']:,} / {sizes['dev']:,} / {sizes['test']:,}",
            note="distinct dates, split on the date")
results.add("input characters", course=37, ours=len(inv), note="8 locales, case kept; the course: en_US, lowercased")
results.add("output characters", course=11, ours=len(outv))
results.add("input length T_x (longest input)", course=30, ours=T, note="the course pads to 30")
results.add("output length T_y", course=10, ours=D.TARGET_LENGTH)

# %% [markdown]
# ## One step of attention
#
# The course's `one_step_attention(a, s_prev)`: repeat the decoder's previous state
# `s_prev` over the T_x encoder states `a`, concatenate `[a_t; s_prev]`, a `Dense(10, tanh)`
# then a `Dense(1, relu)` give an energy per position, a softmax over the positions gives
# the weights alpha, and the context is `sum_t alpha_t a_t`. Below: the course's steps in
# NumPy, with the weights of `deepgrad.nn.AdditiveAttention(energy_activation="relu")`
# (which concatenates `[s_prev; a_t]`, so the course's Dense kernel is ours with its two
# blocks swapped).
#
# The translation model uses Bahdanau's form `e_t = v . tanh(W_s s + W_a a_t + b)` (no
# ReLU on the energy), which is the same Dense over the concatenation split in two: `W_a a_t`
# does not change from one decoder step to the next, so it is computed once per input.


# %%
def softmax(z, axis):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def one_step_attention(a, s_prev, W1, b1, W2, b2):
    """The course's cell in NumPy: a (m, T_x, 2 n_a), s_prev (m, n_s); W1 (2 n_a + n_s, 10), W2 (10, 1) as Keras kernels."""
    s_rep = np.repeat(s_prev[:, None, :], a.shape[1], axis=1)  # RepeatVector(T_x)
    concat = np.concatenate([a, s_rep], axis=-1)  # Concatenate(axis=-1)([a, s_prev])
    e = np.tanh(concat @ W1 + b1)  # Dense(10, activation="tanh")
    energies = np.maximum(e @ W2 + b2, 0)  # Dense(1, activation="relu")
    alphas = softmax(energies, axis=1)  # softmax over the T_x positions
    return (alphas * a).sum(axis=1), alphas[..., 0]  # Dot(axes=1)([alphas, a])


rng = np.random.default_rng(args.seed)
m, Tx, n_a, n_s = 4, T, 32, 64
a = rng.standard_normal((m, Tx, 2 * n_a))
s_prev = rng.standard_normal((m, n_s))
course_attn = nn.AdditiveAttention(n_s, 2 * n_a, 10, energy_activation="relu", dtype=np.float64)
Wh, bh = course_attn.hidden.weight.data, course_attn.hidden.bias.data  # (10, n_s + 2 n_a): [s_prev; a] columns
W1 = np.concatenate([Wh[:, n_s:], Wh[:, :n_s]], axis=1).T  # the course's order [a; s_prev], as a Keras kernel
ctx_np, alpha_np = one_step_attention(a, s_prev, W1, bh, course_attn.energy.weight.data.T, course_attn.energy.bias.data)
with no_grad():
    ctx_dg, alpha_dg = course_attn(dg.tensor(s_prev), dg.tensor(a))
d_course = float(max(np.abs(ctx_np - ctx_dg.data).max(), np.abs(alpha_np - alpha_dg.data).max()))
print(f"context {ctx_dg.shape}, weights {alpha_dg.shape}; the weights sum to {alpha_dg.data.sum(1)}")
print(f"the course's NumPy cell vs nn.AdditiveAttention: max |difference| {d_course:.1e}")

# the model's split form with the same Dense: W_s = the s_prev block, W_a = the a block, v = the energy weights
split = AdditiveAttention(n_s, 2 * n_a, 10)
split.query_proj.weight.data = Wh[:, :n_s].copy()
split.key_proj.weight.data, split.key_proj.bias.data = Wh[:, n_s:].copy(), bh.copy()
split.energy.weight.data = course_attn.energy.weight.data.copy()
bahdanau = nn.AdditiveAttention(n_s, 2 * n_a, 10, dtype=np.float64)  # no ReLU: the model's energy
bahdanau.load_state_dict(course_attn.state_dict())
bahdanau.energy.bias.data[...] = 0  # a constant energy shift does not change the softmax; the split form has none
with no_grad():
    ctx_split, alpha_split = split(dg.tensor(s_prev), dg.tensor(a))
    ctx_cat, alpha_cat = bahdanau(dg.tensor(s_prev), dg.tensor(a))
d_split = float(max(np.abs(ctx_split.data - ctx_cat.data).max(), np.abs(alpha_split.data - alpha_cat.data).max()))
print(f"split form W_s s + W_a a_t vs the Dense over [s; a_t]: max |difference| {d_split:.1e}")
results.add("one step of attention: the course's NumPy cell vs nn.AdditiveAttention", ours=d_course,
            note="max |difference|, float64")
results.add("the model's split form vs the Dense over the concatenation", ours=d_split, note="max |difference|, float64")

# %% [markdown]
# ## The model
#
# The course's layers (one-hot inputs of 37 characters, Bi-LSTM 32, Dense 10 and 1,
# post-attention LSTM 64, Dense 11) have 52,960 parameters in Keras; the same layers built
# here have more because PyTorch's LSTM (and deepgrad's) has two bias vectors per gate
# where Keras has one. `DateTranslator` reads a 32-dimensional embedding instead of the
# one-hot vector, and its energy layer has no bias (a constant does not change a softmax).


# %%
def n_params(mod):
    return int(sum(p.data.size for p in mod.parameters()))


course_layers = nn.ModuleDict({"pre_lstm": nn.LSTM(37, 32, bidirectional=True), "attention": nn.AdditiveAttention(64, 64, 10),
                               "post_lstm": nn.LSTMCell(64, 64), "out": nn.Linear(64, 11)})
second_bias = sum(p.data.size for name, p in course_layers.named_parameters() if "bias_hh" in name)
results.add("parameters of the course's layers (Keras: one bias per gate)", course=52960,
            ours=n_params(course_layers) - int(second_bias),
            note=f"{n_params(course_layers):,} with PyTorch's second LSTM bias")
model = DateTranslator(len(inv), len(outv), D.TARGET_LENGTH, 32, 32, 64, 10, padding_idx=inv[D.PAD])
results.add("parameters of DateTranslator", ours=n_params(model), note=f"embedding {len(inv)} x 32 in place of one-hot")

# %% [markdown]
# ## Training
#
# Cross-entropy averaged over the 10 output characters of every date, Adam at the course's
# 0.005, the learning rate halved when dev exact match stalls for 2 epochs; the weights of
# the epoch best on dev are kept.


# %%
def loss_on(x, y, lengths):
    logits = model(x, lengths)
    return F.cross_entropy(logits.reshape(-1, len(outv)), y.reshape(-1))


def exact_match(outputs, rows):
    return float(np.mean([o == e.target for o, e in zip(outputs, rows)]))


opt = optim.Adam(model.parameters(), lr=5e-3)
sched = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2)
xtr, ytr, ltr = enc["train"]
history, best, best_state = [], -1.0, None
for epoch in range(1, epochs + 1):
    te = time.perf_counter()
    losses = []
    for idx in np.array_split(rng.permutation(len(xtr)), max(1, len(xtr) // 100)):
        loss = loss_on(xtr[idx], ytr[idx], ltr[idx])
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(float(loss.data))
    dev_out, _ = translate(model, enc["dev"][0], enc["dev"][2], outv)
    dev_em = exact_match(dev_out, splits["dev"])
    sched.step(dev_em)
    history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "first_batch_loss": losses[0],
                    "dev_exact_match": dev_em, "seconds": round(time.perf_counter() - te, 1)})
    print(f"epoch {epoch}/{epochs}: train loss {np.mean(losses):.4f}, dev exact match {dev_em:.2%} "
          f"({time.perf_counter() - te:.0f} s)")
    if dev_em > best:
        best, best_state = dev_em, model.state_dict()
model.load_state_dict(best_state)
results["history"] = history

# %% [markdown]
# ## Results on the test dates
#
# Exact match: all 10 characters right. The course prints no accuracy; its notebook shows
# a few translations, one of them wrong ("3 May 1979" -> 1979-05-33).

# %%
test = splits["test"]
xt, yt, lt = enc["test"]
outputs, weights = translate(model, xt, lt, outv)
test_em = exact_match(outputs, test)
chars = float(np.mean([a == b for o, e in zip(outputs, test) for a, b in zip(o, e.target)]))
valid = float(np.mean([D.parse_iso(o) is not None for o in outputs]))
bleu = corpus_bleu([list(o) for o in outputs], [[list(e.target)] for e in test])
results.add("test exact match", ours=test_em, pct=True, note=f"{sum(o != e.target for o, e in zip(outputs, test))} wrong "
            f"of {len(test):,}; best dev epoch {int(np.argmax([h['dev_exact_match'] for h in history])) + 1}")
results.add("test per-character accuracy", ours=chars, pct=True)
results.add("test outputs that are valid dates", ours=valid, pct=True)
results.add("test character BLEU-4", ours=float(bleu), note="deepgrad.text.corpus_bleu over characters, in [0, 1]")
per_locale: dict = {}
for e, o in zip(test, outputs):
    per_locale.setdefault(e.format.split(":")[0], []).append(o == e.target)
results["test_exact_match_by_locale"] = {k: float(np.mean(v)) for k, v in sorted(per_locale.items())}
errors = [{"input": e.text, "target": e.target, "output": o, "format": e.format}
          for e, o in zip(test, outputs) if o != e.target]
results["test_errors"] = errors
for err in errors[:10]:
    print(f"wrong: {err['input']!r} -> {err['output']} (true {err['target']}; {err['format']})")

# %% [markdown]
# ## Greedy is exact here: beam search agrees
#
# The decoder reads only the context, never its own previous output, so the 10 output
# distributions do not depend on which characters were chosen: the product of the
# per-step maxima is the most probable output, and beam search
# (`deepgrad.text.beam_search`, width 3) must return the greedy output.

# %%
with no_grad():
    model.eval()
    log_probs = F.log_softmax(model(xt[:200], lt[:200]), axis=-1).data  # (200, 10, 11)
    model.train()
agree = 0
for lp, o in zip(log_probs, outputs[:200]):
    best_beam, _ = beam_search(lambda tok, t, lp=lp: (lp[t], t + 1), 0, bos=-1, eos=-2, max_len=D.TARGET_LENGTH,
                               beam_width=3)[0]
    agree += "".join(outv.itos[i] for i in best_beam) == o
results.add("beam search (width 3) gives the greedy output", ours=f"{agree} of {len(log_probs)}")

# %% [markdown]
# ## Where the attention looks
#
# The course plots the weights as a map: output characters down, input characters across.
# A measure of the same thing: for the test inputs that write the year in four digits, the
# share of the four year outputs' attention that falls on those digits or their
# neighbours (the encoder is bidirectional, so a state next to a field already knows it),
# beside what uniform attention would give.


# %%
def year_attention(rows, w, lengths):
    got, uniform = [], []
    for e, wi, L in zip(rows, w, lengths):
        i = e.text.rfind(e.target[:4])
        if i < 0:
            continue
        lo, hi = max(0, i - 1), min(int(L), i + 5)
        got.append(float(wi[:4, lo:hi].sum(axis=1).mean()))
        uniform.append((hi - lo) / int(L))
    return float(np.mean(got)), float(np.mean(uniform)), len(got)


share, uniform_share, n_year = year_attention(test, weights, lt)
results["year_attention"] = {"share": share, "uniform": uniform_share, "inputs": n_year}
results.add("attention of the year outputs on the input's year digits", ours=share,
            note=f"uniform attention: {uniform_share:.2f}; {n_year} test inputs with a 4-digit year")

course_examples = ["3 May 1979", "5 April 09", "21th of August 2016", "Tue 10 Jul 2007", "Saturday May 9 2018",
                   "March 3 2001", "March 3rd 2001", "1 March 2001"]
cx, _, cl = D.encode([D.DateExample(s, "0000-00-00", None, "course") for s in course_examples], inv, outv, max_len=T)
course_out, course_w = translate(model, cx, cl, outv)
for s, o in zip(course_examples, course_out):
    print(f"{s!r:24} -> {o}")
results["course_examples"] = dict(zip(course_examples, course_out))
results.add("'3 May 1979'", ours=course_out[0], note="the course's model wrote 1979-05-33")
first_of: dict = {}
for j, e in enumerate(test):
    first_of.setdefault(e.format, j)
picks = [first_of[f] for f in ("fr_FR:'le' d MMMM y", "de_DE:short", "en_US:full") if f in first_of][:2]
texts = [course_examples[0], course_examples[3]] + [test[j].text for j in picks]
out_sel = [course_out[0], course_out[3]] + [outputs[j] for j in picks]
w_sel = np.stack([course_w[0], course_w[3]] + [weights[j] for j in picks])
len_sel = [cl[0], cl[3]] + [lt[j] for j in picks]
if _common.pyplot() is not None:
    plot_attention(texts, out_sel, w_sel, len_sel, str(args.out / "attention.png"),
                   "attention weights: two of the course's inputs, two test dates")
    print(f"picture: {args.out / 'attention.png'}")

results.finish()
