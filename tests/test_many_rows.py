"""Row counts beyond what one BLAS call (C int sizes) or one scratch buffer holds:
``backprop`` runs its rows in chunks and adds up their gradients."""
import numpy as np
import pytest

import fastbp
import reference

CHUNK = 1 << 16     # GRADIENT_CHUNK_ROWS in _backprop.pyx


@pytest.mark.parametrize("m", [CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 37])
@pytest.mark.parametrize("weighted", [False, True])
def test_backprop_across_chunks_matches_the_reference(m, weighted):
    """Across chunk boundaries the gradient is the NumPy oracle's, weights included."""
    rng = np.random.default_rng(m)
    net = fastbp.Network([5, 4, 3], seed=m % 97, activation="sigmoid",
                         output_activation="sigmoid", cost="quadratic")
    X = rng.normal(size=(m, 5))
    Y = rng.random((m, 3))
    S = rng.random(m) if weighted else None
    nabla_b, nabla_w = net.backprop(X, Y, sample_weight=S)
    if S is None:
        want_b, want_w = reference.backprop(net.weights, net.biases, X, Y, "sigmoid",
                                            "sigmoid", "quadratic")
    else:
        # The weighted mean gradient is Σ_x s_x g_x / Σ_x s_x: put together from
        # single-chunk calls (whose gradients other tests check against the oracle).
        want_b = [np.zeros_like(b) for b in net.biases]
        want_w = [np.zeros_like(w) for w in net.weights]
        for lo in range(0, m, 4096):
            part = slice(lo, lo + 4096)
            gb, gw = net.backprop(X[part], Y[part], sample_weight=S[part])
            weight = S[part].sum()
            want_b = [a + weight * g for a, g in zip(want_b, gb)]
            want_w = [a + weight * g for a, g in zip(want_w, gw)]
        want_b = [a / S.sum() for a in want_b]
        want_w = [a / S.sum() for a in want_w]
    for got, want in zip(nabla_b + nabla_w, list(want_b) + list(want_w)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
