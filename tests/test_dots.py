"""The "dots" kernel (fastbp/src/dots_body.h): C = alpha A B^T + beta C for the few
rows of A (the planner's dots_max_rows) of a mini-batch's forward product, on every
instruction set this CPU has, against NumPy in float64 and exact integer sums."""
import numpy as np
import pytest

import fastbp
from fastbp import _blas
from own_kernels import (at_offset, isa,  # noqa: F401 (isa: a fixture)
                         needs_kernels, strided)

DTYPES = [np.float32, np.float64]
MAX_ROWS = 16   # the planner's largest dots_max_rows (src/planner.c)


def _dots(alpha, A, B, beta, C, threads=None):
    """The dots kernel's C, run with the BLAS's thread limit at `threads` (None: as
    it is)."""
    import threadpoolctl

    C = C.copy()
    with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
        assert _blas._dots_test(alpha, A, B, beta, C)
    return C


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_dots_matches_numpy_on_every_shape_around_its_tiles(isa, dtype):
    """Every row count it takes (1..16, around the 5- and 4-row tiles), columns around
    the 5- and 3-column tiles, k around every vector width (and 0), strided operands,
    beta 0 (C not read: NaN there must not show) or not. Each entry is one sum over
    k, so its error is bounded by (k + 2) eps times the sum of the magnitudes."""
    rng = np.random.default_rng(26)
    eps = np.finfo(dtype).eps
    cases = [(m, n, k, pad) for m in range(1, MAX_ROWS + 1)
             for n, k, pad in [(1, 1, 0), (7, 17, 3), (30, 784, 0), (11, 33, 1)]]
    cases += [(10, 100, 784, 0), (3, 2, 0, 0), (5, 13, 15, 2), (16, 64, 129, 0)]
    for m, n, k, pad in cases:
        A, B = strided(rng, m, k, dtype, pad), strided(rng, n, k, dtype, pad)
        C = strided(rng, m, n, dtype, pad)
        for alpha, beta in [(1.0, 0.0), (-0.75, 1.0), (0.5, -2.0)]:
            C_in = np.full_like(C, np.nan) if beta == 0 else C
            got = _dots(alpha, A, B, beta, C_in)
            a64, b64 = A.astype(np.float64), B.astype(np.float64)
            c = 0 if beta == 0 else C.astype(np.float64)
            want = alpha * a64 @ b64.T + beta * c
            scale = abs(alpha) * np.abs(a64) @ np.abs(b64).T + abs(beta) * np.abs(c)
            assert np.all(np.abs(got - want) <= (k + 2) * eps * scale), (isa, m, n, k)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_dots_is_exact_on_small_integers(isa, dtype):
    """Integers small enough that every partial sum is exact: the kernel must give
    NumPy's integer product exactly, whatever the order of its sums (a dropped or
    doubled term, or a lane read past a row's end, shows as a wrong integer)."""
    rng = np.random.default_rng(3)
    for _ in range(40):
        m, n, k = rng.integers(1, MAX_ROWS + 1), rng.integers(1, 40), rng.integers(0, 200)
        A = rng.integers(-8, 9, size=(m, k))
        B = rng.integers(-8, 9, size=(n, k))
        got = _dots(1.0, A.astype(dtype), B.astype(dtype), 0.0, np.zeros((m, n), dtype))
        np.testing.assert_array_equal(got, (A @ B.T).astype(dtype))


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_dots_propagates_nan_and_inf_to_exactly_their_outputs(isa, dtype):
    """A NaN in row i of A makes row i of C NaN and nothing else; an inf in row j of
    B (with nonzero A) makes column j of C infinite or NaN and nothing else."""
    rng = np.random.default_rng(5)
    for m, n, k in [(10, 30, 784), (7, 11, 13), (16, 5, 1)]:
        for i in {0, m // 2, m - 1}:
            for p in {0, k // 2, k - 1}:
                A, B = strided(rng, m, k, dtype, 0), strided(rng, n, k, dtype, 0)
                A[i, p] = np.nan
                got = _dots(1.0, A, B, 0.0, np.zeros((m, n), dtype))
                bad = ~np.isfinite(got)
                assert bad[i].all() and bad.sum() == n, (m, n, k, i, p)
        j = n - 1
        A, B = strided(rng, m, k, dtype, 0), strided(rng, n, k, dtype, 0)
        B[j, k - 1] = np.inf
        got = _dots(1.0, A, B, 0.0, np.zeros((m, n), dtype))
        assert (~np.isfinite(got[:, j])).all() and np.isfinite(got[:, :j]).all()


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_dots_bits_depend_on_the_two_rows_alone(isa, dtype):
    """The same bits for any alignment of the operands, any thread limit, and for a
    row whichever rows surround it in A and B (the tile it lands in must not matter),
    so a network's results never depend on where NumPy put its arrays."""
    rng = np.random.default_rng(8)
    m, n, k = 10, 30, 784
    A, B = strided(rng, m, k, dtype, 0), strided(rng, n, k, dtype, 0)
    want = _dots(1.0, A, B, 0.0, np.zeros((m, n), dtype))
    for offset in [8, 16, 40]:
        got = _dots(1.0, at_offset(A, offset), at_offset(B, 64 - offset), 0.0,
                    np.zeros((m, n), dtype))
        np.testing.assert_array_equal(got, want)
    for threads in [1, 2, 4]:
        np.testing.assert_array_equal(_dots(1.0, A, B, 0.0, np.zeros((m, n), dtype),
                                            threads), want)
    for rows, cols in [([3, 4, 9], [0, 29, 7, 12]), ([9], [29])]:
        got = _dots(1.0, np.ascontiguousarray(A[rows]), np.ascontiguousarray(B[cols]), 0.0,
                    np.zeros((len(rows), len(cols)), dtype))
        np.testing.assert_array_equal(got, want[np.ix_(rows, cols)])


@needs_kernels
def test_batch_training_uses_the_same_bits_on_one_and_two_threads(isa):
    """The book's step at batch 10 (forward products by the dots kernel): one and two
    threads train to the same bits, and float64 stays within 1e-12 of the book's
    algorithm (tests/reference.py) after a few steps."""
    import threadpoolctl

    from reference import sgd as ref_sgd

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 784))
    Y = np.eye(10)[rng.integers(0, 10, 60)]
    results = []
    for limit in (1, 2):
        net = fastbp.Network([784, 30, 10], seed=2)
        W = [w.copy() for w in net.weights]
        B = [b.copy() for b in net.biases]
        with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
            net.fit(X, Y, epochs=1, batch_size=10, learning_rate=0.5, seed=9)
        results.append(net.weights + net.biases)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    order = [np.random.default_rng(9).permutation(60)]
    ref_w, ref_b = ref_sgd(W, B, X, Y, 10, 0.5, "sigmoid", "sigmoid", "quadratic", order)
    for got, want in zip(results[0], ref_w + ref_b):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
