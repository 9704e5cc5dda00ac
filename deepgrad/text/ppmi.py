"""The count-based baseline: positive pointwise mutual information + truncated SVD.

From co-occurrence counts ``X_ij`` (:func:`deepgrad.text.corpus.cooccurrence`):

    PMI(i, j) = log( X_ij * sum(X) / (X_i. * Xc_.j) ),    PPMI = max(PMI, 0)

with the context counts smoothed as word2vec's noise distribution is
(``Xc_.j = X_.j ** alpha``, normalised; Levy, Goldberg & Dagan 2015 show ``alpha = 0.75``
closes much of the gap to SGNS). The word vectors are ``U_d * S_d ** eig`` of the rank-d
SVD of the sparse PPMI matrix (``eig = 0.5`` is their recommended "symmetric" weighting),
computed by randomized SVD (Halko, Martinsson & Tropp 2011) so the ``V x V`` matrix is
never dense. Needs SciPy's sparse matrices (``pip install scipy``; scikit-learn brings it).
"""
from __future__ import annotations

import numpy as np

from .corpus import Corpus, cooccurrence
from .vectors import WordVectors


def _sparse():
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        raise ImportError("PPMI-SVD needs scipy's sparse matrices: pip install scipy") from None
    return sp


def ppmi_matrix(rows, cols, vals, size: int, alpha: float = 0.75):
    """The PPMI matrix (``scipy.sparse.csr_matrix``, float64) of the counts given as triplets."""
    sp = _sparse()
    X = sp.csr_matrix((vals, (rows, cols)), shape=(size, size), dtype=np.float64)
    X.sum_duplicates()
    row = np.asarray(X.sum(axis=1)).ravel()
    col = np.asarray(X.sum(axis=0)).ravel() ** alpha
    total = X.sum()
    coo = X.tocoo()
    pmi = np.log(coo.data * total / (row[coo.row] * col[coo.col] * total / col.sum()))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=(size, size))


def _orth(Y: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning ``Y`` (m >> k): Cholesky QR done twice ("CholQR2"), all
    GEMMs, several times faster than Householder QR here and as accurate for a full-rank sketch."""
    try:
        for _ in range(2):
            L = np.linalg.cholesky(Y.T @ Y)
            Y = np.linalg.solve(L, Y.T).T
        return Y
    except np.linalg.LinAlgError:  # a rank-deficient sketch: Householder QR copes
        return np.linalg.qr(Y)[0]


def randomized_svd(A, k: int, n_oversample: int = 20, n_iter: int = 4, seed: int = 0):
    """``U (m, k), s (k,), Vt (k, n)``, the leading singular triplets of ``A`` (dense or sparse):
    a Gaussian sketch, ``n_iter`` power iterations (re-orthonormalised), then the exact SVD
    of the small projected matrix."""
    rng = np.random.default_rng(seed)
    m, n = A.shape
    Q = _orth(A @ rng.standard_normal((n, k + n_oversample)))
    for _ in range(n_iter):
        Q = _orth(A.T @ Q)
        Q = _orth(A @ Q)
    B = np.asarray((A.T @ Q).T)
    Ub, s, Vt = np.linalg.svd(B, full_matrices=False)
    return (Q @ Ub)[:, :k], s[:k], Vt[:k]


def ppmi_svd(corpus: Corpus, dim: int = 100, window: int = 5, alpha: float = 0.75, eig: float = 0.5,
             weighting: str = "harmonic", seed: int = 0, counts=None) -> WordVectors:
    """Word vectors from the PPMI matrix of ``corpus`` (or of precomputed ``counts``, the
    ``(rows, cols, values)`` of :func:`cooccurrence`)."""
    rows, cols, vals = counts if counts is not None else cooccurrence(corpus, window, weighting)
    M = ppmi_matrix(rows, cols, vals, corpus.vocab_size, alpha)
    U, s, _ = randomized_svd(M, dim, seed=seed)
    return WordVectors(corpus.words, (U * s ** eig).astype(np.float32))
