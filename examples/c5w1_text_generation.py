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
# # Course 5, week 1: generating sequences with an LSTM (improvise a jazz solo, on Python code)
#
# The course's third exercise trains an LSTM (`n_a = 64`) on 60 jazz snippets of 30
# time steps over 90 musical values and then generates new music one value at a time,
# feeding each sampled value back as the next input. The jazz data set is not available
# offline. **We generate Python code instead**, character by character, trained on the
# standard library's own source (`deepgrad.text.python_sources`):
#
# * it is on every machine that runs deepgrad, megabytes of real text, under a free license;
# * like music it has structure at several time scales that a bigram model cannot keep and
#   an LSTM can: indentation in steps of four spaces, brackets and quotes that must close,
#   `def name(args):` followed by an indented body;
# * what comes out can be checked by a program, so the example measures it: the share of
#   generated lines whose indentation is a multiple of 4 and whose brackets balance, for
#   text sampled from the LSTM and from the bigram model.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import time

import _common
import numpy as np

import deepgrad as dg
from deepgrad import optim
from deepgrad.text import (
    BigramModel,
    LMBatches,
    RNNLanguageModel,
    Vocab,
    evaluate_bits,
    python_sources,
    sample,
    train_epoch,
)

args = _common.parse_args("c5w1_text_generation", "Character-level LSTM generating Python code (the course's jazz exercise).")
dg.manual_seed(args.seed)
results = _common.Results(args)
rng = np.random.default_rng(args.seed)

n_files = 6 if args.quick else 20
texts = python_sources(max_files=n_files, seed=args.seed)
if args.quick:
    texts = [t[:15000] for t in texts]
n_held = max(1, len(texts) // 10)
train_text = "\n".join(texts[:-n_held])
dev_text = "\n".join(texts[-n_held:])
vocab = Vocab.build(train_text, min_count=3)  # rare characters share <unk>
print(f"{len(texts)} files: {len(train_text):,} training characters, {len(dev_text):,} held out; "
      f"{len(vocab)} characters in the vocabulary")
T, N = 64, 32
train_b = LMBatches(vocab.encode(train_text), N, T)
dev_b = LMBatches(vocab.encode(dev_text), 8, T)

# %% [markdown]
# ## The model
#
# Embedding, one LSTM layer, a linear layer to the vocabulary; trained on windows of 64
# characters of 32 parallel streams with the state carried between windows (truncated
# BPTT), Adam, gradients clipped by norm. Where the course's data are 60 x 30 x 90
# (examples x steps x values), ours are streams cut into 32 x 64 windows over the
# characters of the vocabulary.

# %%
hidden, epochs = (64, 1) if args.quick else (256, 3)
model = RNNLanguageModel(len(vocab), embed_dim=48, hidden_size=hidden, cell="lstm", dropout=0.1)
opt = optim.Adam(model.parameters(), lr=3e-3)
bigram = BigramModel(len(vocab)).fit(vocab.encode(train_text))
bigram.choose_alpha(dev_b)
bigram_dev = bigram.bits_on(dev_b)
history = []
t0 = time.perf_counter()
for epoch in range(1, epochs + 1):
    tr = train_epoch(model, train_b, opt, clip_norm=1.0)
    dv = evaluate_bits(model, dev_b)
    history.append({"epoch": epoch, "train_bits": tr, "dev_bits": dv})
    print(f"epoch {epoch}: train {tr:.3f}  held-out {dv:.3f} bits/char (bigram {bigram_dev:.3f})  "
          f"{time.perf_counter() - t0:.0f} s")
results["history"] = history
results.add("model", "LSTM n_a=64 on 60 x 30 x 90 (jazz)", f"LSTM n_a={hidden} on {N} x {T} x {len(vocab)} (code)")
results.add("held-out bits/char: smoothed bigram", None, bigram_dev)
results.add(f"held-out bits/char: LSTM, {epochs} epoch(s)", None, history[-1]["dev_bits"])

# %% [markdown]
# ## Generating
#
# As in the course's `music_inference_model`, each sampled character is fed back as the
# next input. We start from a newline and a prefix and sample at two temperatures.

# %%
generated = {}
for temp in (0.5, 0.8):
    generated[temp] = sample(model, vocab, n=2, max_len=600 if not args.quick else 200, temperature=temp,
                             start="\n", prefix="def ", stop=None, rng=rng)
    print(f"----- temperature {temp} -----")
    print(generated[temp][0])
results["samples"] = {str(k): v for k, v in generated.items()}


def bigram_sample(n_chars, temperature, start="\n"):
    p = np.exp2(bigram.log2_probs() / temperature)
    p /= p.sum(axis=1, keepdims=True)
    if vocab.unk_token is not None:
        p[:, vocab.unk_index] = 0
        p /= p.sum(axis=1, keepdims=True)
    c, out = vocab[start], []
    for _ in range(n_chars):
        c = rng.choice(len(vocab), p=p[c])
        out.append(vocab.itos[c])
    return "".join(out)


# %% [markdown]
# ## Does the generated text keep the structure of code?
#
# Two checks any Python programmer makes at a glance, on every non-blank generated line:
# is its indentation a multiple of four spaces, and do its round and square brackets
# balance? The bigram model sees one character back, so it cannot count spaces or remember
# an open bracket.

# %%
def structure(text):
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return 0.0, 0.0
    indent = np.mean([(len(ln) - len(ln.lstrip(" "))) % 4 == 0 for ln in lines])
    balanced = np.mean([ln.count("(") == ln.count(")") and ln.count("[") == ln.count("]") for ln in lines])
    return float(indent), float(balanced)


n_chars = 1500 if args.quick else 6000
lstm_text = "".join(sample(model, vocab, n=4, max_len=n_chars // 4, temperature=0.8, stop=None, rng=rng))
bigram_text = bigram_sample(n_chars, 0.8)
real = structure(dev_text)
lstm_s, bigram_s = structure(lstm_text), structure(bigram_text)
for name, (ind, bal) in (("held-out code", real), ("LSTM, T=0.8", lstm_s), ("bigram, T=0.8", bigram_s)):
    print(f"{name:<14} lines indented by a multiple of 4: {ind:.0%}   brackets balanced: {bal:.0%}")
results.add("lines indented by a multiple of 4: real / LSTM / bigram", None,
            f"{real[0]:.0%} / {lstm_s[0]:.0%} / {bigram_s[0]:.0%}")
results.add("lines with balanced brackets: real / LSTM / bigram", None,
            f"{real[1]:.0%} / {lstm_s[1]:.0%} / {bigram_s[1]:.0%}")
results["structure"] = {"real": real, "lstm": lstm_s, "bigram": bigram_s}
results["bits"] = {"bigram": bigram_dev, "lstm": history[-1]["dev_bits"]}
(args.out / "generated.py.txt").write_text(lstm_text)

# %%
results.finish()
