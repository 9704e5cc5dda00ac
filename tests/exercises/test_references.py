"""Every exercise's reference passes its own properties, and the references are right:
checked against deepgrad's ops (an independent implementation) and, for the backward
passes, against finite differences of the forward references."""
import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import exercises
from deepgrad.exercises import c1, c2, c4, c5

NAMES = exercises.names()


def test_at_least_30_exercises_across_the_courses():
    assert len(NAMES) >= 30
    courses = {exercises.get(n).course[:2] for n in NAMES}
    assert courses == {"C1", "C2", "C4", "C5"}  # course 3 has no programming exercise


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes(name):
    ex = exercises.get(name)
    res = exercises.check(ex, ex.reference, max_examples=20)
    assert res.passed, str(res)
    assert [n for n, _ in res.properties] == [p.name for p in ex.properties]


@pytest.mark.parametrize("name", NAMES)
def test_show_describes_signature_shapes_and_properties(name):
    ex = exercises.get(name)
    text = ex.describe()
    assert ex.signature in text and "Shapes:" in text and "What it must do:" in text
    for p in ex.properties:
        assert p.name in text


def _numgrad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


rng = np.random.default_rng(0)


def test_conv_and_pool_forward_match_deepgrad_ops():
    A = rng.standard_normal((2, 6, 5, 3))
    W = rng.standard_normal((3, 3, 3, 4))
    b = rng.standard_normal((1, 1, 1, 4))
    Z, _ = c4.conv_forward(A, W, b, {"stride": 2, "pad": 1})
    ref = F.conv2d(dg.tensor(A.transpose(0, 3, 1, 2)), dg.tensor(W.transpose(3, 2, 0, 1)), dg.tensor(b.ravel()),
                    stride=2, padding=1).data.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(Z, ref, rtol=1e-10, atol=1e-12)
    P, _ = c4.pool_forward(A, {"f": 2, "stride": 2}, "max")
    ref = F.max_pool2d(dg.tensor(A.transpose(0, 3, 1, 2)), 2, 2).data.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(P, ref)
    P, _ = c4.pool_forward(A, {"f": 3, "stride": 1}, "average")
    ref = F.avg_pool2d(dg.tensor(A.transpose(0, 3, 1, 2)), 3, 1).data.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(P, ref, rtol=1e-12)


def test_softmax_sigmoid_match_deepgrad():
    Z = rng.standard_normal((5, 4)) * 10
    np.testing.assert_allclose(c2.softmax(Z), dg.softmax(dg.tensor(Z), axis=0).data, rtol=1e-12)
    np.testing.assert_allclose(c1.sigmoid(Z), dg.sigmoid(dg.tensor(Z)).data, rtol=1e-12)


def test_backward_references_match_finite_differences():
    # linear_activation_backward: d/dA_prev, dW, db of sum(A * dA) / m... (the course averages dW, db over m)
    A_prev, W, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 3)), rng.standard_normal((4, 1))
    dA = rng.standard_normal((4, 5))
    for act in ("relu", "sigmoid"):
        A, cache = c1.linear_activation_forward(A_prev, W, b, act)
        dA_prev, dW, db = c1.linear_activation_backward(dA, cache, act)
        def J(act=act):
            return float(np.sum(c1.linear_activation_forward(A_prev, W, b, act)[0] * dA))

        np.testing.assert_allclose(dA_prev, _numgrad(J, A_prev), atol=1e-6)
        np.testing.assert_allclose(dW * 5, _numgrad(J, W), atol=1e-6)  # the course's dW is the mean over m = 5
        np.testing.assert_allclose(db * 5, _numgrad(J, b), atol=1e-6)


def test_conv_and_pool_backward_match_finite_differences():
    A, W, b = rng.standard_normal((2, 5, 4, 2)), rng.standard_normal((3, 3, 2, 3)), rng.standard_normal((1, 1, 1, 3))
    hp = {"stride": 2, "pad": 1}
    Z, cache = c4.conv_forward(A, W, b, hp)
    dZ = rng.standard_normal(Z.shape)
    dA, dW, db = c4.conv_backward(dZ, cache)
    def J():
        return float(np.sum(c4.conv_forward(A, W, b, hp)[0] * dZ))

    for got, x in ((dA, A), (dW, W), (db, b)):
        np.testing.assert_allclose(got, _numgrad(J, x), atol=1e-6)
    for mode in ("max", "average"):
        hp = {"f": 3, "stride": 1}
        P, cache = c4.pool_forward(A, hp, mode)
        dP = rng.standard_normal(P.shape)
        def J_pool(hp=hp, mode=mode, dP=dP):
            return float(np.sum(c4.pool_forward(A, hp, mode)[0] * dP))

        np.testing.assert_allclose(c4.pool_backward(dP, cache, mode), _numgrad(J_pool, A), atol=1e-6)


def test_rnn_and_lstm_backward_match_finite_differences():
    g = exercises.get("rnn_cell_forward")
    n_x, n_a, m = 3, 4, 2
    p = {"Wax": rng.standard_normal((n_a, n_x)), "Waa": rng.standard_normal((n_a, n_a)),
         "Wya": rng.standard_normal((2, n_a)), "ba": rng.standard_normal((n_a, 1)), "by": rng.standard_normal((2, 1))}
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    a_next, _, cache = c5.rnn_cell_forward(xt, a_prev, p)
    da = rng.standard_normal(a_next.shape)
    grads = c5.rnn_cell_backward(da, cache)
    def J():
        return float(np.sum(c5.rnn_cell_forward(xt, a_prev, p)[0] * da))

    for key, x in (("dxt", xt), ("da_prev", a_prev), ("dWax", p["Wax"]), ("dWaa", p["Waa"]), ("dba", p["ba"])):
        np.testing.assert_allclose(grads[key], _numgrad(J, x), atol=1e-6, err_msg=key)
    assert g.name == "rnn_cell_forward"

    p = {}
    for gate in "fico":
        p["W" + gate], p["b" + gate] = rng.standard_normal((n_a, n_a + n_x)), rng.standard_normal((n_a, 1))
    p["Wy"], p["by"] = rng.standard_normal((2, n_a)), rng.standard_normal((2, 1))
    c_prev = rng.standard_normal((n_a, m))
    a_next, c_next, _, cache = c5.lstm_cell_forward(xt, a_prev, c_prev, p)
    da, dc = rng.standard_normal(a_next.shape), rng.standard_normal(c_next.shape)
    grads = c5.lstm_cell_backward(da, dc, cache)

    def J():
        a, c, _, _ = c5.lstm_cell_forward(xt, a_prev, c_prev, p)
        return float(np.sum(a * da) + np.sum(c * dc))

    pairs = [("dxt", xt), ("da_prev", a_prev), ("dc_prev", c_prev)]
    pairs += [(f"d{k}", p[k]) for k in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")]
    for key, x in pairs:
        np.testing.assert_allclose(grads[key], _numgrad(J, x), atol=1e-6, err_msg=key)


def test_attention_matches_torch():
    torch = pytest.importorskip("torch")
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 6))
    mask = (rng.random((2, 1, 5)) < 0.7).astype(float)
    mask[..., 0] = 1
    out, w = c5.scaled_dot_product_attention(q, k, v, mask)
    ref = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=torch.tensor(mask).bool())
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_known_values_from_the_course_conventions():
    assert c4.iou((2, 1, 4, 3), (1, 2, 3, 4)) == pytest.approx(1 / 7)  # the course's example: 0.14285714
    assert c4.iou((1, 2, 3, 4), (5, 6, 7, 8)) == 0.0
    pe = c5.positional_encoding(4, 6)
    assert pe.shape == (1, 4, 6) and np.allclose(pe[0, 0, 0::2], 0) and np.allclose(pe[0, 0, 1::2], 1)
    scores, beams, toks = c5.beam_search_step(np.log([0.5, 0.5]), np.log([[0.9, 0.1], [0.6, 0.4]]), 3)
    assert list(zip(beams, toks)) == [(0, 0), (1, 0), (1, 1)]
    assert c5.cosine_similarity(np.array([1.0, 0]), np.array([0.0, 2])) == 0.0
