import numpy as np
import pytest

from deepgrad.train.metrics import accuracy, confusion_matrix, f1_score, get_metric, precision, recall, to_labels


def test_against_hand_computed_binary():
    t = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([1, 0, 1, 1, 0, 0, 0, 1])
    # TP=3, FP=1, FN=1
    assert precision(t, p, average="binary") == pytest.approx(0.75)
    assert recall(t, p, average="binary") == pytest.approx(0.75)
    assert f1_score(t, p, average="binary") == pytest.approx(0.75)
    assert accuracy(t, p) == pytest.approx(6 / 8)
    np.testing.assert_array_equal(confusion_matrix(t, p), [[3, 1], [1, 3]])


def test_matches_sklearn_multiclass():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    t = rng.integers(0, 5, 300)
    p = np.where(rng.random(300) < 0.6, t, rng.integers(0, 5, 300))
    for avg in ("macro", "micro"):
        assert precision(t, p, average=avg) == pytest.approx(sk.precision_score(t, p, average=avg))
        assert recall(t, p, average=avg) == pytest.approx(sk.recall_score(t, p, average=avg))
        assert f1_score(t, p, average=avg) == pytest.approx(sk.f1_score(t, p, average=avg))
    np.testing.assert_allclose(f1_score(t, p, average=None), sk.f1_score(t, p, average=None))
    np.testing.assert_array_equal(confusion_matrix(t, p, 5), sk.confusion_matrix(t, p))


def test_scores_to_labels():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]], np.float32)
    np.testing.assert_array_equal(to_labels(logits), [1, 0])
    np.testing.assert_array_equal(to_labels(np.array([[-0.5], [0.2]], np.float32)), [0, 1])
    assert accuracy([1, 0], logits) == 1.0
    assert accuracy([0, 0], logits) == 0.5
    with pytest.raises(ValueError, match="shape"):
        accuracy([1, 0, 1], logits)


def test_zero_division_and_lookup():
    assert precision([0, 0], [0, 0], average="binary") == 0.0
    name, fn = get_metric("f1")
    assert name == "f1" and fn is f1_score
    with pytest.raises(ValueError, match="unknown metric"):
        get_metric("auc")
