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
# # Course 5, week 1: character-level language model (dinosaur names, on English names)
#
# The course trains a character-level RNN on 1,536 dinosaur names (27 characters: a-z and
# the newline that ends a name), one name per step of stochastic gradient descent with
# gradients clipped to [-5, 5], and samples new names from it. The dinosaur list is not
# available offline, so we use the ~10,000 names of people and places in the English word
# list (`/usr/share/dict/american-english`, `deepgrad.text.read_words("names")`), lowercased:
# the same 27 characters.
#
# 1. **The course's model and training loop**: an RNN with `n_a = 50` on one-hot
#    characters, SGD at lr 0.01, `clip_grad_value_(5)`, one name per iteration, and the
#    course's smoothed loss (the loss of a name is the sum of its characters'
#    cross-entropies in nats, smoothed as `0.999 * smoothed + 0.001 * loss`).
# 2. **The library's way**: an LSTM over batches of 32 character streams with truncated
#    backpropagation through time (the state carried from batch to batch), Adam, gradient
#    norm clipping.
# 3. Both scored in bits per character on held-out names beside a smoothed bigram
#    model, and sampled with temperature and top-k.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import math

import _common
import numpy as np

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.nn import functional as F
from deepgrad.text import (
    BigramModel,
    LMBatches,
    RNNLanguageModel,
    Vocab,
    evaluate_bits,
    read_words,
    sample,
    train_epoch,
)

args = _common.parse_args("c5w1_char_lm", "Character-level language model on English names (the course's dinosaur names).")
dg.manual_seed(args.seed)
results = _common.Results(args)
rng = np.random.default_rng(args.seed)

names = read_words("names")
rng.shuffle(names)
if args.quick:
    names = names[:1200]
n_dev = len(names) // 10
train_names, dev_names = names[:-2 * n_dev], names[-2 * n_dev:-n_dev]
test_names = names[-n_dev:]
vocab = Vocab.build("\n".join(train_names) + "\n", unk_token=None)  # exactly a-z and "\n"
V = len(vocab)
print(f"{len(names)} names ({len(train_names)} train / {len(dev_names)} dev / {len(test_names)} test), "
      f"{V} characters, mean length {np.mean([len(s) for s in names]):.2f}")
print("e.g.", ", ".join(train_names[:8]))


def stream(ns):
    return vocab.encode("\n" + "\n".join(ns) + "\n")


dev_b, test_b = LMBatches(stream(dev_names), 8, 64), LMBatches(stream(test_names), 8, 64)
results.add("vocabulary size (a-z and newline)", 27, V)

# %% [markdown]
# ## The baseline: a smoothed bigram model
#
# $p(c_t \mid c_{t-1}) = \frac{count(c_{t-1} c_t) + \alpha}{count(c_{t-1}) + 27 \alpha}$, with
# $\alpha$ chosen on the dev names. A recurrent model is worth its cost only if it beats this.

# %%
bigram = BigramModel(V).fit(stream(train_names))
alpha = bigram.choose_alpha(dev_b)
bigram_dev, bigram_test = bigram.bits_on(dev_b), bigram.bits_on(test_b)
print(f"bigram (alpha {alpha}): dev {bigram_dev:.3f}, test {bigram_test:.3f} bits/char")

# %% [markdown]
# ## 1. The course's model: RNN, one name per SGD step
#
# The input at step t is the one-hot vector of character t-1 (the first input is the
# newline, where the course feeds a zero vector), the target character t; the last target
# is the newline. The loss of a name is the **sum** over its characters (nats), as in the
# course.

# %%
class CourseRNN(nn.Module):
    def __init__(self, vocab_size, n_a=50):
        super().__init__()
        self.rnn = nn.RNN(vocab_size, n_a)  # a<t> = tanh(Wax x<t> + Waa a<t-1> + b)
        self.out = nn.Linear(n_a, vocab_size)  # y<t> = softmax(Wya a<t> + by)

    def forward(self, x, h=None):
        a, h = self.rnn(x, h)
        return self.out(a), h


eye = np.eye(V, dtype=np.float32)
course_model = CourseRNN(V)
sgd = optim.SGD(course_model.parameters(), lr=0.01)
iterations = 2000 if args.quick else 22000
smooth = -math.log(1.0 / V) * 7  # the course's get_initial_loss(vocab_size, 7)
curve = []
for j in range(iterations):
    ids = vocab.encode("\n" + train_names[j % len(train_names)] + "\n")
    x = dg.tensor(eye[ids[:-1]][:, None, :])  # (T, 1, 27) one-hot
    logits, _ = course_model(x)
    loss = F.cross_entropy(logits.reshape(-1, V), dg.tensor(ids[1:]), reduction="sum")
    sgd.zero_grad()
    loss.backward()
    nn.utils.clip_grad_value_(course_model.parameters(), 5.0)
    sgd.step()
    smooth = 0.999 * smooth + 0.001 * loss.item()
    if j % 100 == 0 or j == iterations - 1:
        curve.append((j, smooth))
    if j % 2000 == 0:
        print(f"iteration {j}: smoothed loss {smooth:.2f}")
print(f"iteration {iterations}: smoothed loss {smooth:.2f}")
results.add(f"course RNN n_a=50, SGD 0.01, clip 5: smoothed loss at it {iterations:,}", 22.73, smooth,
            note="(a sum per name: dinosaur names are longer than ours)")
results["course_curve"] = curve


class OneHotLM(nn.Module):
    """The course model behind the (ids in, logits out) interface of evaluate_bits."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x, state=None):
        return self.m(dg.tensor(eye[np.asarray(x)]), state)


course_dev = evaluate_bits(OneHotLM(course_model), dev_b)
print(f"course RNN: dev {course_dev:.3f} bits/char (bigram {bigram_dev:.3f})")

# %% [markdown]
# ## 2. The library's way: LSTM, batches of streams, truncated BPTT
#
# The training names become one stream (`"\nname\nname\n..."`) cut into 32 parallel
# columns and read 64 characters at a time (`LMBatches`). The LSTM's final state of one
# batch is the initial state of the next, detached: gradients flow back at most 64 steps.

# %%
hidden, epochs = (64, 3) if args.quick else (256, 8)
lm = RNNLanguageModel(V, embed_dim=32, hidden_size=hidden, cell="lstm", dropout=0.25)
adam = optim.Adam(lm.parameters(), lr=3e-3)
train_b = LMBatches(stream(train_names), 32, 64)
history = []
for epoch in range(1, epochs + 1):
    tr = train_epoch(lm, train_b, adam, clip_norm=1.0)
    dv = evaluate_bits(lm, dev_b)
    history.append({"epoch": epoch, "train_bits": tr, "dev_bits": dv})
    print(f"epoch {epoch}: train {tr:.3f}  dev {dv:.3f} bits/char")
lstm_dev, lstm_test = evaluate_bits(lm, dev_b), evaluate_bits(lm, test_b)
course_test = evaluate_bits(OneHotLM(course_model), test_b)
results["lstm_history"] = history
results.add("test bits/char: smoothed bigram", None, bigram_test)
results.add("test bits/char: course RNN (n_a=50, one name per step)", None, course_test)
results.add(f"test bits/char: LSTM {hidden}, truncated BPTT, {epochs} epochs", None, lstm_test)
results["bits"] = {"bigram": {"dev": bigram_dev, "test": bigram_test}, "course_rnn": {"dev": course_dev, "test": course_test},
                   "lstm": {"dev": lstm_dev, "test": lstm_test}}

# %% [markdown]
# ## 3. Sampling new names
#
# Start from the newline, draw each next character from `softmax(logits / T)` (only the
# `k` most likely with top-k), feed it back, stop at the newline. Lower temperature:
# safer, more repetitive names; higher: more inventive and more misspelled.

# %%
train_set = set(train_names)
samples = {}
for temp, k in ((1.0, None), (0.7, None), (1.0, 5)):
    key = f"T={temp}" + (f", top-{k}" if k else "")
    s = sample(lm, vocab, n=12, max_len=30, temperature=temp, top_k=k, rng=rng)
    samples[key] = s
    novel = np.mean([w not in train_set for w in s])
    print(f"{key:<12} ({novel:.0%} new): {', '.join(s)}")
results["samples"] = samples
results.add("samples at T=0.7 not in the training names", None,
            float(np.mean([w not in train_set for w in samples["T=0.7"]])), pct=True)

# %%
plt = _common.pyplot()
if plt is not None:
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    it, sm = zip(*curve)
    ax[0].plot(it, sm)
    ax[0].set_xlabel("iteration")
    ax[0].set_ylabel("smoothed loss (nats per name)")
    ax[0].set_title("course RNN, one name per SGD step", fontsize=9)
    ax[1].plot([h["epoch"] for h in history], [h["train_bits"] for h in history], marker="o", label="LSTM train")
    ax[1].plot([h["epoch"] for h in history], [h["dev_bits"] for h in history], marker="o", label="LSTM dev")
    ax[1].axhline(bigram_dev, color="gray", ls="--", label="bigram dev")
    ax[1].axhline(course_dev, color="C3", ls=":", label="course RNN dev")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("bits per character")
    ax[1].legend(fontsize=8)
    ax[1].set_title("held-out names", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out / "char_lm.png", dpi=90)
    print(f"picture: {args.out / 'char_lm.png'}")

# %%
results.finish()
