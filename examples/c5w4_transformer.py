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
# # Course 5, week 4: the transformer, built from its parts
#
# The course's assignment ("Transformers architecture with TensorFlow") builds the
# transformer of "Attention is all you need" piece by piece: the sinusoidal positional
# encoding, the padding and look-ahead masks, scaled dot-product attention, an encoder
# layer (multi-head self-attention, "Add & Norm", a two-layer feed-forward network,
# dropout), then the encoder, the decoder and the whole model. It checks each piece with
# unit tests and prints no figure of its own, so the course column below is empty.
#
# Here the same pieces in deepgrad: the course's NumPy formulas beside the library's ops
# (`nn.positional_encoding`, `F.scaled_dot_product_attention`), an encoder layer assembled
# by hand from `nn.MultiheadAttention`, `nn.LayerNorm`, two `nn.Linear` and `nn.Dropout`,
# checked against `nn.TransformerEncoderLayer` with the same weights, and (if PyTorch is
# installed) against `torch.nn.TransformerEncoderLayer` after loading the state dict.
# Last, a small transformer encoder is trained on a task that needs word order, with and
# without the positional encoding.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import math
import time

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.autograd import no_grad

args = _common.parse_args("c5w4_transformer", "The transformer built from its parts, checked against "
                          "nn.TransformerEncoderLayer and PyTorch's.")
results = _common.Results(args)
dg.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)
plt = _common.pyplot()
np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## Positional encoding
#
# Attention treats its inputs as a set: permute the words and the outputs are permuted
# alike. The course adds to each word's embedding a vector that says where it is:
#
#     PE(pos, 2i) = sin(pos / 10000^(2i / d)),   PE(pos, 2i + 1) = cos(pos / 10000^(2i / d))
#
# Each pair of dimensions is a sinusoid of its own wavelength, from 2 pi (i = 0) to
# 10000 * 2 pi. Below: the course's `get_angles` / `positional_encoding` in NumPy beside
# `nn.positional_encoding`, and the course's picture (50 positions, d = 512). Because
# `sin a sin b + cos a cos b = cos(a - b)`, the dot product of two positions' encodings
# depends only on how far apart they are, not on where they are: the right panel.


# %%
def get_angles(pos, k, d):
    """The course's angles: pos / 10000^(2i / d) for dimension k = 2i or 2i + 1."""
    i = k // 2
    return pos / np.power(10000, 2 * i / d)


def positional_encoding_course(positions, d):
    angle_rads = get_angles(np.arange(positions)[:, None], np.arange(d)[None, :], d)
    angle_rads[:, 0::2] = np.sin(angle_rads[:, 0::2])
    angle_rads[:, 1::2] = np.cos(angle_rads[:, 1::2])
    return angle_rads[None, ...]  # (1, positions, d)


pe_course = positional_encoding_course(50, 512)
pe = nn.positional_encoding(50, 512, dtype=np.float64).data
d_pe = float(np.abs(pe - pe_course[0]).max())
gram = pe @ pe.T  # (50, 50): PE(p) . PE(q)
spread = max(float(np.ptp(np.diagonal(gram, k))) for k in range(50))  # the same for every p at distance k
results.add("positional encoding: the course's NumPy vs nn.positional_encoding", ours=d_pe, note="max |difference|")
results.add("PE(p) . PE(p + k) varies with p by at most", ours=spread, note="over p, for every k < 50: "
            "it depends on k only")
results.add("|PE(p)|^2", ours=float(gram[7, 7]), expected=256.0, note="d / 2: one sin^2 + cos^2 per pair")
if plt is not None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
    mesh = ax1.pcolormesh(pe, cmap="RdBu")  # the course's figure
    ax1.set_xlabel("d")
    ax1.set_xlim((0, 512))
    ax1.set_ylabel("Position")
    ax1.set_title("positional encoding, 50 positions x 512 dimensions (the course's figure)", fontsize=9)
    fig.colorbar(mesh, ax=ax1)
    im = ax2.imshow(gram, cmap="viridis", origin="lower")
    ax2.set_xlabel("position q")
    ax2.set_ylabel("position p")
    ax2.set_title("PE(p) . PE(q): constant along diagonals", fontsize=9)
    fig.colorbar(im, ax=ax2)
    fig.tight_layout()
    fig.savefig(args.out / "positional_encoding.png", dpi=90)
    plt.close(fig)

# %% [markdown]
# ## Masks
#
# **Padding mask.** Sentences of one batch are padded with 0 to one length; no word should
# attend to the padding. The course's `create_padding_mask` is 1 at real words and 0 at
# padding, shaped (batch, 1, length) to broadcast over the queries, and the attention adds
# `(1 - mask) * -1e9` to the scores before the softmax, which gives the padding a weight
# of 0 (the course prints the softmax of its example with and without the mask).
#
# **Look-ahead mask.** A decoder that learns to predict word t + 1 must not see words
# t + 1, t + 2, ...: query t may attend to keys 0..t only, a lower-triangular matrix of
# ones (the course's `tf.linalg.band_part(ones, -1, 0)`).
#
# The three conventions that meet here:
#
# | | "may attend" is | added to the scores |
# |---|---|---|
# | the course (Keras) | 1 | `(1 - mask) * -1e9` |
# | `F.scaled_dot_product_attention` (as PyTorch's) | boolean `True` | a float mask as is |
# | `nn.MultiheadAttention`, `nn.TransformerEncoderLayer` (as PyTorch's) | boolean `False` (True = **masked**) | a float mask as is (`-inf` where masked) |


# %%
x = np.array([[7., 6., 0., 0., 1.], [1., 2., 3., 0., 0.], [0., 0., 0., 4., 5.]])  # the course's example


def create_padding_mask(seq):
    return (1.0 - (seq == 0))[:, None, :]  # (batch, 1, length): 1 at words, 0 at padding


def create_look_ahead_mask(n):
    return np.tril(np.ones((1, n, n)))  # (1, n, n): query t sees keys 0..t


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


pad = create_padding_mask(x)
print("padding mask (1 = a word, 0 = padding):\n", pad)
print("softmax(x) without the mask:\n", softmax(x))
masked_softmax = softmax(x + (1 - pad[:, 0]) * -1.0e9)
print("softmax(x + (1 - mask) * -1e9): padding gets weight 0:\n", masked_softmax)
print("look-ahead mask for 3 positions:\n", create_look_ahead_mask(3)[0])
print("the same as PyTorch's float mask (nn.Transformer.generate_square_subsequent_mask):\n",
      nn.Transformer.generate_square_subsequent_mask(3).data)
results.add("softmax weight left on padding", ours=float((masked_softmax * (x == 0)).sum()),
            note="the course's example, masked")
results["padding_mask"] = pad[:, 0].tolist()
results["masked_softmax"] = masked_softmax.tolist()

# %% [markdown]
# ## Scaled dot-product attention
#
# `Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V`: the course's function in
# NumPy beside `F.scaled_dot_product_attention` (one fused op with its own backward), fed
# the course's 1/0 mask, the boolean mask in PyTorch's sense, and the float mask.


# %%
def scaled_dot_product_attention_course(q, k, v, mask):
    matmul_qk = q @ np.swapaxes(k, -1, -2)
    scaled = matmul_qk / np.sqrt(k.shape[-1])
    if mask is not None:
        scaled = scaled + (1.0 - mask) * -1e9
    weights = softmax(scaled, axis=-1)
    return weights @ v, weights


L, E = 5, 4
q, k, v = (rng.standard_normal((3, L, E)) for _ in range(3))
both = pad * create_look_ahead_mask(L)  # (3, 5, 5): a decoder's self-attention on the padded batch
for i in range(3):  # a query whose every key is masked: give it its own position (PyTorch would return zeros)
    both[i] = np.maximum(both[i], np.eye(L) * (x[i] == 0)[:, None])
out_course, w_course = scaled_dot_product_attention_course(q, k, v, both)
out_bool = F.scaled_dot_product_attention(dg.tensor(q), dg.tensor(k), dg.tensor(v), attn_mask=both.astype(bool)).data
out_float = F.scaled_dot_product_attention(dg.tensor(q), dg.tensor(k), dg.tensor(v),
                                           attn_mask=np.where(both > 0, 0.0, -np.inf)).data
out_causal = F.scaled_dot_product_attention(dg.tensor(q), dg.tensor(k), dg.tensor(v), is_causal=True).data
out_causal_course, _ = scaled_dot_product_attention_course(q, k, v, create_look_ahead_mask(L))
d_sdpa = float(max(np.abs(out_course - out_bool).max(), np.abs(out_course - out_float).max(),
                   np.abs(out_causal - out_causal_course).max()))
print("attention weights of the first sentence (padding and look-ahead masks):\n", w_course[0])
results.add("scaled dot-product attention: the course's NumPy vs F.scaled_dot_product_attention", ours=d_sdpa,
            note="boolean, float and causal masks; max |difference|")

# %% [markdown]
# ## An encoder layer, by hand
#
# The course's `EncoderLayer`: multi-head self-attention, a residual connection and layer
# norm, the feed-forward network (Dense(dff, relu), Dense(d)), dropout, a residual
# connection and layer norm:
#
#     out1 = LayerNorm(x + MHA(x, x, x, mask))
#     out  = LayerNorm(out1 + Dropout(FFN(out1)))
#
# PyTorch's post-norm layer is the same with dropout also on the attention's output and
# between the two linear layers; the hand-built layer has those two as well, so that the
# two layers can be compared in training mode too (in evaluation every dropout is the
# identity). (The course's
# Keras `MultiHeadAttention(num_heads, key_dim=d)` gives each head the full width d;
# PyTorch's splits d among the heads. The hand-built layer uses PyTorch's, as deepgrad
# does.) The layer norms use the course's epsilon, 1e-6.


# %%
class EncoderLayer(nn.Module):
    def __init__(self, d, num_heads, dff, dropout=0.1, eps=1e-6, dtype=np.float32):
        super().__init__()
        self.mha = nn.MultiheadAttention(d, num_heads, dropout=dropout, batch_first=True, dtype=dtype)
        self.ffn = nn.Sequential(nn.Linear(d, dff, dtype=dtype), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(dff, d, dtype=dtype))
        self.layernorm1 = nn.LayerNorm(d, eps=eps, dtype=dtype)
        self.layernorm2 = nn.LayerNorm(d, eps=eps, dtype=dtype)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout_ffn = nn.Dropout(dropout)

    def forward(self, x, key_padding_mask=None, attn_mask=None):
        attn, _ = self.mha(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask, need_weights=False)
        out1 = self.layernorm1(x + self.dropout1(attn))
        return self.layernorm2(out1 + self.dropout_ffn(self.ffn(out1)))


# the same weights under PyTorch's names
RENAME = {"mha.": "self_attn.", "ffn.0.": "linear1.", "ffn.3.": "linear2.", "layernorm1.": "norm1.", "layernorm2.": "norm2."}


def torch_names(state):
    out = {}
    for key, value in state.items():
        for a, b in RENAME.items():
            if key.startswith(a):
                key = b + key[len(a):]
        out[key] = value
    return out


d_model, heads, dff, N, S = 16, 4, 32, 3, 6
mine = EncoderLayer(d_model, heads, dff, dtype=np.float64)
library = nn.TransformerEncoderLayer(d_model, heads, dff, dropout=0.1, batch_first=True, layer_norm_eps=1e-6,
                                     dtype=np.float64)
library.load_state_dict(torch_names(mine.state_dict()))
src = rng.standard_normal((N, S, d_model))
lengths = np.array([6, 4, 2])
key_padding = np.arange(S)[None, :] >= lengths[:, None]  # True at padding (PyTorch's sense)
print("key_padding_mask (True = padding):\n", key_padding)
mine.eval()
library.eval()
xa, xb = dg.tensor(src, requires_grad=True), dg.tensor(src, requires_grad=True)
ya, yb = mine(xa, key_padding_mask=key_padding), library(xb, src_key_padding_mask=key_padding)
g = rng.standard_normal(ya.shape)
(ya * dg.tensor(g)).sum().backward()
(yb * dg.tensor(g)).sum().backward()
d_layer = float(np.abs(ya.data - yb.data).max())
d_grad = float(np.abs(xa.grad - xb.grad).max())
print(f"hand-built vs nn.TransformerEncoderLayer: max |output difference| {d_layer:.1e}, "
      f"max |input-gradient difference| {d_grad:.1e}")
results.add("encoder layer by hand vs nn.TransformerEncoderLayer: output", ours=d_layer,
            note="float64, same weights, padding mask")
results.add("encoder layer by hand vs nn.TransformerEncoderLayer: input gradient", ours=d_grad)

# padding really is ignored: change what sits in the padding, the real positions' outputs stay
noisy = src.copy()
noisy[key_padding] = rng.standard_normal((int(key_padding.sum()), d_model)) * 10
with no_grad():
    y_noisy = library(dg.tensor(noisy), src_key_padding_mask=key_padding).data
d_padding = float(np.abs(y_noisy - yb.data)[~key_padding].max())
results.add("words' outputs after the padding is replaced by noise: change", ours=d_padding)

# the look-ahead mask: changing word 3 changes no output before it
causal = nn.Transformer.generate_square_subsequent_mask(S, dtype=np.float64)
changed = src.copy()
changed[:, 3] += 1.0
with no_grad():
    y1 = library(dg.tensor(src), src_mask=causal).data
    y2 = library(dg.tensor(changed), src_mask=causal).data
d_before = float(np.abs(y1 - y2)[:, :3].max())
d_after = float(np.abs(y1 - y2)[:, 3:].max(axis=-1).min())  # the least-changed of outputs 3-5 (its largest change)
results["look_ahead_least_change"] = d_after
results.add("look-ahead mask: word 3 changed, outputs 0-2 change by", ours=d_before,
            note=f"each of outputs 3-5 changes, the least by {d_after:.2f}")

# training mode: the same dropout masks on both sides (one seed) give the same output
mine.train()
library.train()
dg.manual_seed(123)
ya = mine(dg.tensor(src), key_padding_mask=key_padding).data
dg.manual_seed(123)
yb_train = library(dg.tensor(src), src_key_padding_mask=key_padding).data
d_train = float(np.abs(ya - yb_train).max())
results.add("in training mode, with dropout (same seed): output", ours=d_train,
            note="the dropouts are drawn in the same order")
mine.eval()
library.eval()

# %% [markdown]
# ## Against PyTorch
#
# The state dict of the hand-built layer, under PyTorch's names, loads into
# `torch.nn.TransformerEncoderLayer`; outputs and input gradients are compared in float64.
# (Skipped when PyTorch is not installed.)

# %%
try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed: the comparison with torch.nn.TransformerEncoderLayer is skipped")
if torch is not None:
    ref = torch.nn.TransformerEncoderLayer(d_model, heads, dff, dropout=0.1, batch_first=True, layer_norm_eps=1e-6,
                                           dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in torch_names(mine.state_dict()).items()})
    ref.eval()
    xt = torch.tensor(src, requires_grad=True)  # with gradients PyTorch takes its ordinary (not "fast") path
    yt = ref(xt, src_key_padding_mask=torch.tensor(key_padding))
    (yt * torch.tensor(g)).sum().backward()
    d_torch = float(np.abs(yt.detach().numpy() - yb.data).max())
    d_torch_grad = float(np.abs(xt.grad.numpy() - xb.grad).max())
    print(f"vs torch {torch.__version__}: max |output difference| {d_torch:.1e}, "
          f"max |input-gradient difference| {d_torch_grad:.1e}")
    results.add("encoder layer by hand vs torch.nn.TransformerEncoderLayer: output", ours=d_torch,
                note=f"torch {torch.__version__}, float64, loaded state dict")
    results.add("encoder layer by hand vs torch.nn.TransformerEncoderLayer: input gradient", ours=d_torch_grad)
results["torch"] = None if torch is None else torch.__version__

# %% [markdown]
# ## A small transformer encoder learns word order
#
# The course's `Encoder`: embed the words, multiply by sqrt(d), add the positional
# encoding, dropout, then the encoder layers. Here with one classification head (the mean
# of the words' outputs, padding left out, then a linear layer) on a task that needs the
# order of the words: each sentence (5 to 12 words of a 10-word vocabulary, padded to 12)
# holds the word A once and the word B once, and the label says whether A comes before
# B. The same network without the positional encoding sees a bag of words (attention and
# the mean are blind to order), so it cannot beat chance, 50%: exchange A and B in a test
# sentence and its label changes, but that network's prediction cannot.

# %%
PAD_ID, A_ID, B_ID, VOCAB, MAXLEN = 0, 1, 2, 12, 12


def order_task(n, seed):
    r = np.random.default_rng(seed)
    lens = r.integers(5, MAXLEN + 1, n)
    x = np.full((n, MAXLEN), PAD_ID, dtype=np.int64)
    y = np.zeros(n, dtype=np.int64)
    for j, L_ in enumerate(lens):
        x[j, :L_] = r.integers(3, VOCAB, L_)
        ia, ib = r.choice(L_, 2, replace=False)
        x[j, ia], x[j, ib] = A_ID, B_ID
        y[j] = int(ia < ib)
    return x, y


class OrderClassifier(nn.Module):
    def __init__(self, d, num_heads, dff, num_layers, positional=True, dropout=0.1):
        super().__init__()
        self.d, self.positional = d, positional
        self.embedding = nn.Embedding(VOCAB, d)
        self.pe = nn.positional_encoding(MAXLEN, d).data
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(d, num_heads, dff, dropout=dropout, batch_first=True,
                                                                layer_norm_eps=1e-6) for _ in range(num_layers)])
        self.head = nn.Linear(d, 2)

    def forward(self, ids):
        pad_mask = ids == PAD_ID  # True at padding: PyTorch's key_padding_mask
        h = self.embedding(ids) * math.sqrt(self.d)
        if self.positional:
            h = h + dg.tensor(self.pe[: ids.shape[1]])
        h = self.dropout(h)
        for layer in self.layers:
            h = layer(h, src_key_padding_mask=pad_mask)
        keep = dg.tensor((~pad_mask)[..., None].astype(np.float32))
        return self.head((h * keep).sum(axis=1) / keep.sum(axis=1))


n_train, steps = (4000, 400) if args.quick else (8000, 2000)
xtr, ytr = order_task(n_train, args.seed)
xte, yte = order_task(2000, args.seed + 100)
swapped = xte.copy()  # the same test sentences with A and B exchanged: the label flips, the bag of words does not
swapped[xte == A_ID], swapped[xte == B_ID] = B_ID, A_ID
results["task_example"] = {"ids": xtr[0].tolist(), "label": int(ytr[0])}
curves, acc, flips = {}, {}, {}


def predict(m, ids):
    with no_grad():
        return np.concatenate([m(ids[i:i + 500]).data.argmax(-1) for i in range(0, len(ids), 500)])



for name, positional in (("with positional encoding", True), ("without positional encoding", False)):
    dg.manual_seed(args.seed)
    model = OrderClassifier(32, 4, 64, 2, positional=positional)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    t0, losses = time.perf_counter(), []
    for _ in range(steps):
        idx = rng.integers(0, n_train, 64)
        loss = F.cross_entropy(model(xtr[idx]), dg.tensor(ytr[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    model.eval()
    pred = predict(model, xte)
    acc[name] = float(np.mean(pred == yte))
    flips[name] = float(np.mean(predict(model, swapped) != pred))
    curves[name] = losses
    print(f"{name}: test accuracy {acc[name]:.1%} after {steps} steps ({time.perf_counter() - t0:.0f} s)")
n_params = sum(p.data.size for p in model.parameters())
for name in curves:
    results.add(f"order task, {name}: test accuracy", ours=acc[name], pct=True,
                note=f"2 layers, d 32, 4 heads, {n_params:,} parameters; {steps} steps of 64" if name.startswith("with ")
                else "chance: 50%")
    results.add(f"order task, {name}: predictions that change when A and B swap", ours=flips[name], pct=True,
                note="every label changes")
results["losses"] = curves
results["accuracy"] = acc
results["flips"] = flips
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, losses in curves.items():
        smooth = np.convolve(losses, np.ones(20) / 20, mode="valid")
        ax.plot(smooth, label=f"{name}: test {acc[name]:.1%}")
    ax.axhline(math.log(2), color="grey", ls=":", label="chance (ln 2)")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (mean of 20 steps)")
    ax.set_title("is A before B? a 2-layer transformer encoder", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "order_task.png", dpi=90)
    plt.close(fig)

results.finish()
