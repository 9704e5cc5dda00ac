"""Additive attention and the date translator (deepgrad.text.seq2seq), and the dates-attention recipe."""
from __future__ import annotations

import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.check.gradcheck import gradcheck, gradcheck_model
from deepgrad.nn import functional as F
from deepgrad.tensor import Tensor
from deepgrad.text.seq2seq import AdditiveAttention, DateTranslator, translate


def _attention(seed=0, Q=5, K=6, H=4):
    dg.manual_seed(seed)
    return AdditiveAttention(Q, K, H)


def _reference(att, q, k, mask):
    """The course's formulation in NumPy: Dense(tanh) over the concatenation [s; a_t], then Dense(1), softmax."""
    W = np.concatenate([att.query_proj.weight.data, att.key_proj.weight.data], axis=1)  # (H, Q + K)
    N, T, _ = k.shape
    concat = np.concatenate([np.repeat(q[:, None, :], T, axis=1), k], axis=2)
    e = (np.tanh(concat @ W.T + att.key_proj.bias.data) @ att.energy.weight.data.T)[..., 0]
    e = np.where(mask, e, -np.inf)
    w = np.exp(e - e.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return (w[:, :, None] * k).sum(1), w


def test_additive_attention_is_the_courses_dense_over_the_concatenation():
    att = _attention()
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((3, 5)), rng.standard_normal((3, 7, 6))
    mask = np.arange(7)[None, :] < np.array([7, 3, 1])[:, None]
    ctx, w = att(Tensor(q.astype(np.float32)), Tensor(k.astype(np.float32)), mask=mask)
    ref_ctx, ref_w = _reference(att, q, k, mask)
    np.testing.assert_allclose(w.data, ref_w, atol=1e-5)
    np.testing.assert_allclose(ctx.data, ref_ctx, atol=1e-5)
    assert (w.data[~mask] == 0).all() and np.allclose(w.data.sum(1), 1)
    np.testing.assert_allclose(ctx.data[2], k[2, 0], atol=1e-5)  # one real position: all the weight on it


def test_additive_attention_gradients_float64():
    att = _attention(seed=2)
    for p in att.parameters():
        p.data = p.data.astype(np.float64)
    rng = np.random.default_rng(3)
    q, k = Tensor(rng.standard_normal((2, 5)), requires_grad=True), Tensor(rng.standard_normal((2, 4, 6)), requires_grad=True)
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
    rep = gradcheck(lambda a, b: att(a, b, mask=mask)[0], q, k)
    assert not rep.failed, rep
    rep = gradcheck(lambda a, b: att(a, b, mask=mask)[1], q, k)
    assert not rep.failed, rep
    rep = gradcheck_model(att, lambda m: (m(q, k, mask=mask)[0] ** 2).sum())
    assert not rep.failed, rep


def test_additive_attention_matches_torch():
    torch = pytest.importorskip("torch")
    att = _attention(seed=4)
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((3, 5)), rng.standard_normal((3, 6, 6))
    lengths = np.array([6, 2, 4])
    mask = np.arange(6)[None, :] < lengths[:, None]
    p64 = {n: torch.tensor(p.data.astype(np.float64), requires_grad=True) for n, p in att.named_parameters()}
    tq, tk = torch.tensor(q, requires_grad=True), torch.tensor(k, requires_grad=True)
    e = torch.tanh(tk @ p64["key_proj.weight"].T + p64["key_proj.bias"] + (tq @ p64["query_proj.weight"].T)[:, None])
    e = (e @ p64["energy.weight"].T)[..., 0].masked_fill(~torch.tensor(mask), float("-inf"))
    tw = torch.softmax(e, 1)
    tctx = (tw[..., None] * tk).sum(1)
    g = rng.standard_normal(tctx.shape)
    (tctx * torch.tensor(g)).sum().backward()

    for p in att.parameters():
        p.data = p.data.astype(np.float64)
    dq, dk = Tensor(q, requires_grad=True), Tensor(k, requires_grad=True)
    ctx, w = att(dq, dk, mask=mask)
    (ctx * Tensor(g)).sum().backward()
    np.testing.assert_allclose(ctx.data, tctx.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dq.grad, tq.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dk.grad, tk.grad.numpy(), atol=1e-10)
    for n, p in att.named_parameters():
        np.testing.assert_allclose(p.grad, p64[n].grad.numpy(), atol=1e-10, err_msg=n)


def test_attention_refuses_bad_shapes_and_empty_rows():
    att = _attention()
    with pytest.raises(ValueError, match="keys must be"):
        att(Tensor(np.zeros((2, 5), np.float32)), Tensor(np.zeros((2, 3, 5), np.float32)))
    with pytest.raises(ValueError, match="query must be"):
        att(Tensor(np.zeros((3, 5), np.float32)), Tensor(np.zeros((2, 3, 6), np.float32)))
    with pytest.raises(ValueError, match="no real position"):
        att(Tensor(np.zeros((2, 5), np.float32)), Tensor(np.zeros((2, 3, 6), np.float32)),
            mask=np.array([[1, 0, 0], [0, 0, 0]], bool))


def _translator(seed=0, vocab=9):
    dg.manual_seed(seed)
    return DateTranslator(vocab, 11, out_len=4, embed=6, enc_hidden=5, dec_hidden=7, attn_hidden=3, padding_idx=0)


def test_translator_shapes_and_padding_changes_nothing():
    m = _translator()
    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, size=(3, 6))
    lengths = np.array([6, 4, 2])
    x[1, 4:] = 0
    x[2, 2:] = 0
    logits, w = m(x, lengths, return_attention=True)
    assert logits.shape == (3, 4, 11) and w.shape == (3, 4, 6)
    assert (w.data[1, :, 4:] == 0).all() and np.allclose(w.data.sum(-1), 1)
    # the same sequence without its padding gives the same outputs
    short = m(x[2:, :2], lengths[2:])
    np.testing.assert_allclose(short.data[0], logits.data[2], atol=1e-6)
    # and other padding symbols past the end change nothing either
    x2 = x.copy()
    x2[2, 2:] = 5
    np.testing.assert_allclose(m(x2, lengths).data, logits.data, atol=1e-6)


def test_translator_gradients_float64():
    m = _translator(seed=1)
    rng = np.random.default_rng(1)
    x = rng.integers(1, 9, size=(2, 5))
    lengths = np.array([5, 3])
    y = rng.integers(0, 11, size=(2, 4))
    rep = gradcheck_model(m, lambda mod: F.cross_entropy(mod(x, lengths).reshape(-1, 11), y.reshape(-1)),
                          max_elements=8)
    assert not rep.failed, rep


def test_translator_learns_to_copy_reverse():
    """A small task the model must learn through attention: output the input's first 4 symbols reversed."""
    dg.manual_seed(0)
    m = DateTranslator(12, 12, out_len=4, embed=8, enc_hidden=16, dec_hidden=16, attn_hidden=8)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 12, size=(256, 6))
    y = x[:, 3::-1]
    lengths = np.full(256, 6)
    opt = optim.Adam(m.parameters(), lr=2e-2)
    first = None
    for _ in range(120):
        idx = rng.integers(0, 256, 64)
        loss = F.cross_entropy(m(x[idx], lengths[idx]).reshape(-1, 12), y[idx].reshape(-1))
        first = first if first is not None else float(loss.data)
        opt.zero_grad()
        loss.backward()
        opt.step()

    class V:
        itos = [str(i) for i in range(12)]

    outs, w = translate(m, x, lengths, V)
    acc = np.mean([o == "".join(V.itos[j] for j in row) for o, row in zip(outs, y)])
    assert float(loss.data) < 0.3 * first and acc > 0.8, (first, float(loss.data), acc)
    # output step t attends mostly to input position 3 - t
    assert (w.mean(0).argmax(-1) == np.array([3, 2, 1, 0])).all(), w.mean(0).round(2)


@pytest.mark.slow
def test_dates_attention_quick(tmp_path):
    pytest.importorskip("babel")
    pytest.importorskip("faker")
    from deepgrad import cli

    out = tmp_path / "run"
    assert cli.main(["run", "dates-attention", "--quick", "--out", str(out), "--store", str(tmp_path / "s.sqlite")]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["recipe"] == "dates-attention" and m["epochs"] == 2 and m["config"]["quick"]
    assert 0 <= m["test_exact_match"] <= 1 and m["test_char_accuracy"] > 0.15  # learned the frame "YYYY-MM-DD" at least
    assert m["config"]["formats"] >= 12 and m["config"]["locales"] >= 6
    assert (out / "attention.png").stat().st_size > 10_000
    assert (out / "history.csv").read_text().splitlines()[0].startswith("epoch")
    assert len((out / "errors.txt").read_text().splitlines()) == 1 + m["test_errors"]
