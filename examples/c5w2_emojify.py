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
# # Course 5, week 2: Emojify, text classification over word embeddings
#
# The course labels 132 short sentences with one of 5 emojis. Version 1 averages the
# sentence's GloVe vectors and applies softmax regression (it cannot tell "not happy" from
# "happy": word order is lost); version 2 runs the vectors through two LSTM layers of 128
# units with dropout, and reads the order.
#
# The emoji sentences are not on this machine; a larger real task with the same shape is:
# a WordNet noun's **gloss** (its definition, e.g. "a domesticated carnivorous mammal that
# typically has a long snout ...") → its **lexical category** (`noun.animal`,
# `noun.artifact`, `noun.food`, ... 24 classes with at least 100 synsets). The synset's
# own words are not part of the input. Word vectors are pretrained without labels, on the
# training glosses and the verb/adjective/adverb glosses (never on dev or test text):
# PPMI + truncated SVD, as `deepgrad run gloss-topic` does by default.
#
# The models are `deepgrad.text.classifiers.AveragedEmbeddingClassifier` (V1) and
# `LSTMClassifier` (V2), built from `nn.Embedding.from_pretrained(freeze=True)`,
# `nn.LSTM` (with each sequence's length, so padding never enters the state), `nn.Linear`.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import optim
from deepgrad.text.classifiers import (
    AveragedEmbeddingClassifier,
    LSTMClassifier,
    embedding_table,
    encode,
    gloss_topic_data,
)
from deepgrad.text.corpus import build_corpus
from deepgrad.text.ppmi import ppmi_svd
from deepgrad.text.wordnet import WordNet

args = _common.parse_args("c5w2_emojify", "Gloss -> lexical category: averaged embeddings vs an LSTM.")
results = _common.Results(args)
dg.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

wn = WordNet(pos="n" if args.quick else "nvar")
texts, labels, names = gloss_topic_data(wn)
idx = rng.permutation(len(texts))
n_train, n_test = (4000, 1000) if args.quick else (20000, 5000)  # the course's set is tiny; ours need not be
tr, dv, te = idx[:n_train], idx[n_train:n_train + n_test], idx[n_train + n_test:n_train + 2 * n_test]
other = [] if args.quick else [s.gloss for s in wn if s.pos != "n"]
corpus = build_corpus([texts[i] for i in tr] + other, min_count=2)
wv = ppmi_svd(corpus, dim=50, seed=args.seed)
table = embedding_table(wv.vectors)
ids, lens = encode(texts, wv.index, max_len=24)
print(f"{len(names)} classes; train {len(tr):,}, dev {len(dv):,}, test {len(te):,}; {len(wv):,} word vectors "
      f"of {wv.dim} dimensions")
print("example:", names[labels[tr[0]]], "<-", texts[tr[0]][:100])

# %% [markdown]
# ## Version 1: the average of the word vectors
#
# The course's `sentence_to_avg`, then softmax regression. In deepgrad it is a module: a
# frozen embedding lookup, the sum over the words divided by the length, a linear layer.


# %%
def sentence_to_avg(text):
    """The course's function, on our vectors: the mean vector of the text's known words."""
    i, n = encode([text], wv.index, max_len=24)
    return table[i[0, :n[0]]].mean(axis=0)


avg = sentence_to_avg("a domesticated carnivorous mammal")
print("avg[:4] =", np.round(avg[:4], 4))


def train(model, epochs, lr, batch=64):
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    curve = []
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(tr)
        total = 0.0
        for s in range(0, len(order), batch):
            k = order[s:s + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(ids[k], lens[k]), dg.tensor(labels[k]))
            loss.backward()
            opt.step()
            total += loss.item() * len(k)
        curve.append({"epoch": epoch + 1, "train_loss": total / len(tr), "dev_accuracy": accuracy(model, dv)})
        print(f"  epoch {epoch + 1}: loss {curve[-1]['train_loss']:.4f}, dev accuracy {curve[-1]['dev_accuracy']:.4f}")
    return curve


def predict(model, rows):
    model.eval()
    with dg.no_grad():
        return model(ids[rows], lens[rows]).data.argmax(axis=1)


def accuracy(model, rows):
    return float((predict(model, rows) == labels[rows]).mean())


v1 = AveragedEmbeddingClassifier(table, len(names))
curve_v1 = train(v1, epochs=5 if args.quick else 20, lr=0.01)

# %% [markdown]
# ## Version 2: an LSTM over the word vectors
#
# The course's model: embedding (frozen) → LSTM(128) → dropout 0.5 → LSTM(128) → dropout
# 0.5 → dense + softmax; `--quick` uses one layer of 32 units.

# %%
dg.manual_seed(args.seed)
v2 = LSTMClassifier(table, len(names), hidden=32 if args.quick else 128, num_layers=1 if args.quick else 2,
                    dropout=0.5)
curve_v2 = train(v2, epochs=3 if args.quick else 6, lr=0.003 if args.quick else 0.002)

# %% [markdown]
# ## Test accuracy beside the majority class, and the confusion matrix

# %%
majority = int(np.bincount(labels[tr]).argmax())
acc_major = float((labels[te] == majority).mean())
acc_v1, acc_v2 = accuracy(v1, te), accuracy(v2, te)
results.add(f"majority class ({names[majority]}): test accuracy", None, acc_major, pct=True)
results.add("V1 averaged embeddings: train accuracy", 0.977, accuracy(v1, tr), pct=True, note="course: 132 sentences")
results.add("V1 averaged embeddings: test accuracy", 0.857, acc_v1, pct=True, note="course: 56 test sentences, 5 classes")
results.add("V2 LSTM: test accuracy", "0.839-0.929", acc_v2, pct=True, note=f"{len(names)} classes here")
results["curves"] = {"v1": curve_v1, "v2": curve_v2}
results["classes"] = names

for text in ["a small furry animal that hunts mice", "a sweet food made from flour and sugar and baked",
             "a device for cutting wood", "a feeling of great happiness"]:
    i, n = encode([text], wv.index, max_len=24)
    v2.eval()
    with dg.no_grad():
        p = v2(i, n).data.argmax(axis=1)[0]
    print(f"  {text!r} -> {names[p]}")

pred = predict(v2, te)
cm = np.zeros((len(names), len(names)), dtype=np.int64)
np.add.at(cm, (labels[te], pred), 1)
results["confusion_matrix_v2"] = cm
plt = _common.pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(cm / np.maximum(cm.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    short = [n.split(".", 1)[1] for n in names]
    ax.set_xticks(range(len(names)), short, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), short, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"LSTM (V2), test accuracy {acc_v2:.3f}")
    fig.tight_layout()
    fig.savefig(args.out / "confusion.png", dpi=90)
    print(f"picture: {args.out / 'confusion.png'}")

# %%
results.finish()
