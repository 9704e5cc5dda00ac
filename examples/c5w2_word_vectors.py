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
# # Course 5, week 2: operations on word vectors, and debiasing
#
# The course loads 50-dimensional GloVe vectors and then: measures similarity with the
# cosine, solves analogies `a : b :: c : ?` by the word nearest to `e_b - e_a + e_c`,
# finds a gender direction `g = e_woman - e_man`, and removes gender bias as Bolukbasi et
# al. (2016) do: **neutralize** a word that should be gender-neutral (receptionist) by
# removing its component along `g`, and **equalize** a pair that differs only by gender
# (actor/actress, man/woman) so that both are equally far from every neutral word.
#
# GloVe's pretrained files are not on this machine, so we make our own vectors from real
# English text that is: the glosses of WordNet (`apt-get install wordnet-base`). By
# default PPMI + truncated SVD, 50 dimensions (seconds, a strong count-based method);
# `--vectors FILE` loads any word2vec-format file instead, e.g. what `deepgrad run glove`
# or `deepgrad run word2vec` wrote. The operations live in `deepgrad/text/vectors.py`.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

from deepgrad.text.corpus import build_corpus
from deepgrad.text.ppmi import ppmi_svd
from deepgrad.text.vectors import WordVectors, bias_direction, cosine_similarity, equalize, hard_debias, neutralize
from deepgrad.text.wordnet import WordNet, gloss_documents

args = _common.parse_args("c5w2_word_vectors", "Word vectors: cosine similarity, analogies, debiasing.",
                          vectors=(str, None, "word2vec-format vectors to use instead of PPMI-SVD on WordNet"))
results = _common.Results(args)

if args.vectors:
    wv = WordVectors.load_word2vec_format(args.vectors)
    source = args.vectors
else:
    wn = WordNet(pos="n" if args.quick else "nvar")  # --quick: the noun glosses only
    corpus = build_corpus(gloss_documents(wn), min_count=3)
    wv = ppmi_svd(corpus, dim=50, window=5, seed=args.seed)
    source = f"PPMI-SVD 50d on WordNet glosses ({len(corpus):,} tokens)"
print(f"{len(wv):,} words, {wv.dim} dimensions: {source}")
results["vectors"] = source

# %% [markdown]
# ## 1. Cosine similarity
#
# `cosine_similarity(u, v) = u.v / (||u|| ||v||)`: 1 for the same direction, 0 for
# orthogonal vectors, -1 for opposite ones.

# %%
for a, b, course in (("father", "mother", 0.89), ("ball", "crocodile", None), ("france", "italy", None)):
    s = cosine_similarity(wv[a], wv[b])
    print(f"cosine_similarity({a}, {b}) = {s:.4f}")
    results.add(f"cosine({a}, {b})", course, s)
s = cosine_similarity(wv["france"] - wv["paris"], wv["rome"] - wv["italy"])
print(f"cosine_similarity(france - paris, rome - italy) = {s:.4f}")
results.add("cosine(france - paris, rome - italy)", None, s)

# %% [markdown]
# ## 2. Analogies: `a : b :: c : ?`
#
# The course's `complete_analogy` is `WordVectors.analogy` (3CosAdd on unit vectors, the
# three question words excluded). On vectors from 2 million words of definitions (GloVe
# saw 6 billion) some answers differ from the course's; the nearest candidates show how
# close they come.

# %%
triads = [("italy", "italian", "spain"), ("india", "delhi", "japan"), ("man", "woman", "boy"),
          ("small", "smaller", "large")]
expected = {"spain": "spanish", "japan": "tokyo", "boy": "girl", "large": "larger"}  # what GloVe answers
analogies = {}
for a, b, c in triads:
    top = wv.analogy(a, b, c, topn=5)
    analogies[f"{a}:{b}::{c}"] = [w for w, _ in top]
    print(f"{a} -> {b} :: {c} -> {top[0][0]}   (top 5: {', '.join(w for w, _ in top)})")
    results.add(f"analogy {a}:{b}::{c}:?", None, top[0][0], note=f"expected {expected[c]}")
results["analogies"] = analogies

# %% [markdown]
# ## 3. The gender direction
#
# `g = e_woman - e_man` (the course), and Bolukbasi's first principal component of
# several definitional pairs. Cosine with `g` of first names and of other words: positive
# leans female, negative male.

# %%
g = wv["woman"] - wv["man"]
g_pca = bias_direction(wv, [("woman", "man"), ("she", "he"), ("her", "his"), ("girl", "boy"),
                            ("mother", "father"), ("daughter", "son"), ("female", "male"), ("queen", "king")])
print(f"cosine between the two directions: {cosine_similarity(g, g_pca):.3f}")
words = ["john", "marie", "sophie", "ronaldo", "priya", "rahul", "danielle", "reza", "katy", "yasmin",
         "lipstick", "guns", "science", "arts", "literature", "warrior", "doctor", "tree", "receptionist",
         "technology", "fashion", "teacher", "engineer", "pilot", "computer", "singer", "nurse", "soldier"]
proj = {w: cosine_similarity(wv[w], g) for w in words if w in wv}
for w, p in proj.items():
    print(f"  {w:>13}: {p:+.3f}")
results["cosine_with_g"] = proj

# %% [markdown]
# ## 4. Neutralize
#
# `e_debiased = e - (e.g / ||g||^2) g`: the word keeps everything but its component on the
# bias axis.

# %%
word = next(w for w in ("receptionist", "secretary", "nurse") if w in wv)  # the course's word, if we have it
e = wv[word]
before = cosine_similarity(e, g)
after = cosine_similarity(neutralize(e, g), g)
print(f"{word}: cosine with g before {before:.4f}, after neutralizing {after:.2e}")
course = 0.33 if word == "receptionist" else None
results.add(f"neutralize {word}: cosine with g before", course, before)
results.add(f"neutralize {word}: cosine with g after", "~0" if course else None, after, note="test: |.| < 1e-6")
results["neutralized_word"] = word

# %% [markdown]
# ## 5. Equalize
#
# A pair like man/woman should differ only along `g`. Equalize moves both words to unit
# vectors with the same component `mu_orth` off the axis and opposite components on it,
# so every neutralized word is exactly as similar to one as to the other. (The course's
# notebook divides by `||e_w - mu_orth - mu_B||`; we follow the paper's
# `||e_wB - mu_B||`, which keeps both vectors at length 1; see `equalize`'s docstring.)

# %%
e1, e2 = wv.unit[wv.index["man"]], wv.unit[wv.index["woman"]]
b1, b2 = cosine_similarity(e1, g), cosine_similarity(e2, g)
q1, q2 = equalize(e1, e2, g)
a1, a2 = cosine_similarity(q1, g), cosine_similarity(q2, g)
print(f"man, woman: cosine with g before {b1:+.4f}, {b2:+.4f}; after equalizing {a1:+.4f}, {a2:+.4f}")
results.add("equalize man: cosine with g before", None, b1)
results.add("equalize woman: cosine with g before", None, b2)
results.add("equalize man: cosine with g after", -0.70, a1)
results.add("equalize woman: cosine with g after", 0.70, a2)
neutral = neutralize(wv[word], g)
gap = abs(cosine_similarity(neutral, q1) - cosine_similarity(neutral, q2))
print(f"neutralized {word} vs the equalized pair: |cos({word}, man) - cos({word}, woman)| = {gap:.2e}")
results.add(f"equalized pair: |cos({word}, man) - cos({word}, woman)|", None, gap, note="~0")

# %% [markdown]
# ## 6. Hard debiasing, all at once, before and after
#
# `hard_debias` neutralizes a list of occupation words and equalizes a list of pairs along
# Bolukbasi's direction. The picture shows each word's cosine with the direction before
# and after, and how far each occupation is from he and from she.

# %%
occupations = [w for w in ["receptionist", "nurse", "secretary", "teacher", "engineer", "pilot", "doctor",
                           "soldier", "programmer", "scientist", "dancer", "singer", "surgeon", "housekeeper",
                           "carpenter", "librarian", "captain", "maid"] if w in wv]
pairs = [p for p in [("man", "woman"), ("he", "she"), ("boy", "girl"), ("king", "queen"), ("father", "mother"),
                     ("actor", "actress"), ("husband", "wife")] if p[0] in wv and p[1] in wv]
debiased = hard_debias(wv, g_pca, occupations, pairs)
rows = []
for w in occupations:
    rows.append({"word": w, "before": float(wv.unit[wv.index[w]] @ g_pca),
                 "after": float(debiased[w] @ g_pca),
                 "he_minus_she_before": wv.similarity(w, "he") - wv.similarity(w, "she"),
                 "he_minus_she_after": debiased.similarity(w, "he") - debiased.similarity(w, "she")})
worst_proj = max(abs(r["after"]) for r in rows)
worst_gap = max(abs(r["he_minus_she_after"]) for r in rows)
print(f"largest |projection| after: {worst_proj:.2e}; largest |cos(w, he) - cos(w, she)| after: {worst_gap:.2e}")
results.add("hard debias: largest |projection| of a neutralized word", None, worst_proj)
results.add("hard debias: largest |cos(w, he) - cos(w, she)|", None, worst_gap)
results["debias_rows"] = rows
results["pairs"] = pairs

plt = _common.pyplot()
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    y = np.arange(len(rows))
    axes[0].barh(y + 0.2, [r["before"] for r in rows], 0.4, label="before")
    axes[0].barh(y - 0.2, [r["after"] for r in rows], 0.4, label="after neutralize")
    axes[0].set_yticks(y, [r["word"] for r in rows])
    axes[0].set_xlabel("projection on the gender direction (+ female)")
    axes[0].set_title(f"after: every |projection| <= {worst_proj:.0e}", fontsize=9)
    axes[0].legend()
    axes[1].barh(y + 0.2, [r["he_minus_she_before"] for r in rows], 0.4, label="before")
    axes[1].barh(y - 0.2, [r["he_minus_she_after"] for r in rows], 0.4, label="after")
    axes[1].set_yticks(y, [r["word"] for r in rows])
    axes[1].set_xlabel("cos(word, he) - cos(word, she)")
    axes[1].set_title(f"after: every |difference| <= {worst_gap:.0e}", fontsize=9)
    axes[1].legend()
    fig.suptitle("Hard debiasing (Bolukbasi et al. 2016) of vectors from WordNet's glosses")
    fig.tight_layout()
    fig.savefig(args.out / "debias.png", dpi=90)
    print(f"picture: {args.out / 'debias.png'}")

# %%
results.finish()
