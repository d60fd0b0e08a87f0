"""The "bp4" kernel (fastbp/src/bp4_body.h): C = alpha A^T B + beta C over at most
the planner's bp4_max_k rows of A and B, BP4's fused update of a mini-batch step, on every
instruction set this CPU has, against NumPy in float64 and exact integer sums, and
whole training steps against the book's algorithm."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastbp
from fastbp import _blas
from own_kernels import (ISAS, at_offset, isa,  # noqa: F401 (isa: a fixture)
                         needs_kernels, strided)

DTYPES = [np.float32, np.float64]
MAX_K = 16   # the planner's bp4_max_k (src/planner.c)


def _bp4(alpha, A, B, beta, C, threads=None):
    """C' = alpha A.T @ B + beta C by the bp4 kernel, with the BLAS's thread limit at
    `threads` (None: as it is)."""
    import threadpoolctl

    C = C.copy()
    with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
        assert _blas._bp4_test(alpha, A, B, beta, C)
    return C


def _check_against_numpy(isa, dtype, cases, seed):
    rng = np.random.default_rng(seed)
    eps = np.finfo(dtype).eps
    for m, n, k, pad in cases:
        A, B = strided(rng, k, m, dtype, pad), strided(rng, k, n, dtype, 2 * pad)
        C = strided(rng, m, n, dtype, 3 * pad)
        for alpha, beta in [(1.0, 0.0), (-0.03, 1.0), (0.5, -2.0), (0.0, 0.75),
                            (0.0, 0.0)]:
            C_in = np.full_like(C, np.nan) if beta == 0 else C
            got = _bp4(alpha, A, B, beta, C_in)
            a64, b64 = A.astype(np.float64), B.astype(np.float64)
            c = 0 if beta == 0 else C.astype(np.float64)
            want = alpha * a64.T @ b64 + beta * c
            # one chain of k multiply-adds, a product by alpha, one by beta, one add
            scale = abs(alpha) * np.abs(a64).T @ np.abs(b64) + abs(beta) * np.abs(c)
            assert np.all(np.abs(got - want) <= (k + 3) * eps * scale), \
                (isa, m, n, k, pad, alpha, beta)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_bp4_matches_numpy_on_a_grid_of_shapes(isa, dtype):
    """Every k it takes (0..bp4_max_k), rows of C around the 6-row tiles, odd
    column counts around every vector width and tile width, strided operands (row
    strides longer than the rows), alpha and beta 0 (C not read: NaN there must not
    show), 1 and others."""
    cases = [(m, n, k, pad) for k in range(0, MAX_K + 1)
             for m, n, pad in [(1, 1, 0), (7, 17, 3), (13, 33, 1)]]
    cases += [(m, n, 10, pad) for m in (2, 5, 6, 11, 12, 30)
              for n, pad in [(3, 0), (31, 1), (63, 5), (65, 0), (129, 2), (784, 0)]]
    cases += [(100, 784, 10, 0), (30, 784, 16, 0), (10, 30, 10, 0), (10, 100, 16, 1)]
    _check_against_numpy(isa, dtype, cases, seed=26)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_bp4_matches_numpy_on_generated_shapes(isa, dtype):
    """Random shapes, strides and k in seeded draws."""
    rng = np.random.default_rng(41)
    cases = [(int(rng.integers(1, 40)), int(rng.integers(1, 300)),
              int(rng.integers(1, MAX_K + 1)), int(rng.integers(0, 9)))
             for _ in range(25)]
    _check_against_numpy(isa, dtype, cases, seed=42)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_bp4_is_exact_on_small_integers(isa, dtype):
    """Integers small enough that every partial sum is exact: the kernel must give
    NumPy's integer product exactly (a dropped or doubled term, a lane read or written
    past a row's end, or a row of C left out shows as a wrong integer)."""
    rng = np.random.default_rng(3)
    for _ in range(40):
        m, n, k = rng.integers(1, 40), rng.integers(1, 200), rng.integers(0, MAX_K + 1)
        A = rng.integers(-8, 9, size=(k, m))
        B = rng.integers(-8, 9, size=(k, n))
        C = rng.integers(-8, 9, size=(m, n))
        got = _bp4(1.0, A.astype(dtype), B.astype(dtype), 1.0, C.astype(dtype))
        np.testing.assert_array_equal(got, (A.T @ B + C).astype(dtype))
        # C's row stride longer than its rows: the gap is neither read nor written
        wide = np.full((m, n + 5), 7, dtype)
        wide[:, :n] = C
        out = wide.copy()
        assert _blas._bp4_test(-1.0, A.astype(dtype), B.astype(dtype), 1.0, out[:, :n])
        np.testing.assert_array_equal(out[:, :n], (C - A.T @ B).astype(dtype))
        np.testing.assert_array_equal(out[:, n:], wide[:, n:])


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_bp4_propagates_nan_and_inf_to_exactly_their_outputs(isa, dtype):
    """A NaN in column j of A (a neuron's delta) makes row j of C NaN and nothing
    else; an inf in column p of B makes column p of C infinite or NaN and nothing
    else."""
    rng = np.random.default_rng(5)
    for m, n, k in [(30, 784, 10), (7, 11, 13), (13, 5, 1)]:
        for j in {0, m // 2, m - 1}:
            for i in {0, k // 2, k - 1}:
                A, B = strided(rng, k, m, dtype, 0), strided(rng, k, n, dtype, 0)
                A[i, j] = np.nan
                got = _bp4(1.0, A, B, 1.0, np.zeros((m, n), dtype))
                bad = ~np.isfinite(got)
                assert bad[j].all() and bad.sum() == n, (m, n, k, j, i)
        p = n - 1
        A, B = strided(rng, k, m, dtype, 0), strided(rng, k, n, dtype, 0)
        B[k - 1, p] = np.inf
        got = _bp4(1.0, A, B, 0.0, np.zeros((m, n), dtype))
        assert (~np.isfinite(got[:, p])).all() and np.isfinite(got[:, :p]).all()


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_bp4_bits_depend_on_the_two_columns_alone(isa, dtype):
    """The same bits for any alignment of the operands, any thread limit, and for an
    element whichever rows and columns surround it (the tile it lands in must not
    matter), so a network's results never depend on where NumPy put its arrays."""
    rng = np.random.default_rng(8)
    m, n, k = 30, 784, 10
    A, B = strided(rng, k, m, dtype, 0), strided(rng, k, n, dtype, 0)
    C = strided(rng, m, n, dtype, 0)
    want = _bp4(-0.3, A, B, 1.0, C)
    for offset in [8, 16, 40]:
        got = _bp4(-0.3, at_offset(A, offset), at_offset(B, 64 - offset), 1.0,
                   at_offset(C, offset))
        np.testing.assert_array_equal(got, want)
    for threads in [1, 2, 4]:
        np.testing.assert_array_equal(_bp4(-0.3, A, B, 1.0, C, threads), want)
    for rows, cols in [([3, 4, 29], [0, 783, 7, 12, 100]), ([9], [29])]:
        got = _bp4(-0.3, np.ascontiguousarray(A[:, rows]), np.ascontiguousarray(B[:, cols]),
                   1.0, np.ascontiguousarray(C[np.ix_(rows, cols)]))
        np.testing.assert_array_equal(got, want[np.ix_(rows, cols)])


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_bp4_flushes_subnormals_and_restores_the_mode(isa, dtype):
    """As the GEMMs do: subnormal deltas count as zero and subnormal products become
    zero (each would cost a microcode assist: saturated sigmoids give such deltas),
    while C's normal values pass through; afterwards the caller's arithmetic is IEEE
    again."""
    tiny = np.finfo(dtype).smallest_normal
    rng = np.random.default_rng(12)
    k, m, n = 10, 13, 70
    # subnormal deltas times activations in [0.5, 1]: IEEE gives subnormal sums
    D = np.full((k, m), tiny / 4, dtype)
    A = rng.uniform(0.5, 1, size=(k, n)).astype(dtype)
    assert np.all(D.T @ A > 0)
    np.testing.assert_array_equal(_bp4(1.0, D, A, 0.0, np.zeros((m, n), dtype)), 0)
    C = rng.normal(size=(m, n)).astype(dtype)
    np.testing.assert_array_equal(_bp4(1.0, D, A, 1.0, C), C)
    # normal deltas whose products fall below the normal range
    D[...] = np.sqrt(tiny) / 8
    A = (A * np.sqrt(tiny) / 8).astype(dtype)
    assert np.all(D.T @ A > 0)
    np.testing.assert_array_equal(_bp4(1.0, D, A, 0.0, np.zeros((m, n), dtype)), 0)
    x = np.array(tiny, dtype)
    assert x / 4 > 0 and (x / 4) * 2 == x / 2


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_planner_gives_bp4_w2s_update_and_the_gemm_more_rows(isa, dtype):
    """The planner's choice run by ``product``: W2's BP4 at batch 10 and 16 (which the
    BLAS would thread) is the bp4 kernel's, its result OpenBLAS's to rounding; one row
    over bp4_max_k is the packing GEMM's (its call count moves), W1's BP4 OpenBLAS's
    bits."""
    rng = np.random.default_rng(9)
    eps = np.finfo(dtype).eps
    for m, n, k, want_path in [(100, 784, 10, "bp4"), (100, 784, MAX_K, "bp4"),
                               (100, 784, MAX_K + 1, "gemm"), (30, 784, 10, "blas")]:
        A, B = strided(rng, k, m, dtype, 0), strided(rng, k, n, dtype, 0)
        C0 = strided(rng, m, n, dtype, 0)
        want = np.ascontiguousarray(C0)
        _blas._gemm_test(True, False, -0.05, A, B, 1.0, want)
        C = np.ascontiguousarray(C0)
        calls = _blas._own_gemm_calls()
        ran, declined, _ = _blas._product_test(k, False, True, False, -0.05, A, B, 1.0, C)
        assert (ran, declined) == (want_path, False), (m, n, k)
        assert _blas._own_gemm_calls() == calls + (want_path == "gemm")
        if want_path == "blas":
            np.testing.assert_array_equal(C, want)
        scale = 0.05 * np.abs(A.astype(float)).T @ np.abs(B.astype(float)) + np.abs(C0)
        assert np.all(np.abs(C - want) <= 2 * (k + 3) * eps * scale), (m, n, k)


@needs_kernels
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 100, 10]])
def test_w1_w2_steps_match_the_books_algorithm_and_the_blas(isa, sizes):
    """Two epochs of batch-10 steps of W1- and W2-shaped networks stay within 1e-12 of
    the book's algorithm (tests/reference.py) and of the same fit with fastbp's own
    kernels off (every product by OpenBLAS), with L2 weight decay (beta != 1) too; one
    and two threads give the same bits. W2's BP4 (784,000 multiply-adds, which the
    engine keeps from OpenBLAS's threads) is the bp4 kernel's, so the packing GEMM
    runs none of its products; W1's is OpenBLAS's."""
    import threadpoolctl

    from reference import sgd as ref_sgd

    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, size=(200, 784))
    Y = np.eye(10)[rng.integers(0, 10, 200)]
    for l2 in (0.0, 5.0):
        results = []
        for limit, own in ((1, True), (2, True), (1, False)):
            net = fastbp.Network(sizes, seed=2)
            W = [w.copy() for w in net.weights]
            B = [b.copy() for b in net.biases]
            previous = _blas._use_own_kernels(own)
            calls = _blas._own_gemm_calls()
            try:
                with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
                    net.fit(X, Y, epochs=2, batch_size=10, learning_rate=0.5, l2=l2,
                            seed=9)
            finally:
                _blas._use_own_kernels(previous)
            assert _blas._own_gemm_calls() == calls
            results.append(net.weights + net.biases)
        for a, b in zip(results[0], results[1]):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(results[0], results[2]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        if l2 == 0:
            order_rng = np.random.default_rng(9)
            orders = [order_rng.permutation(200) for _ in range(2)]
            ref_w, ref_b = ref_sgd(W, B, X, Y, 10, 0.5, "sigmoid", "sigmoid",
                                   "quadratic", orders)
            for got, want in zip(results[0], ref_w + ref_b):
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@needs_kernels
@pytest.mark.parametrize("off", ["", "AVX512F", "AVX512F,AVX2"])
def test_bp4_under_each_disable_setting_in_a_fresh_process(off):
    """FASTBP_DISABLE_CPU_FEATURES read at import, as CI runs the suite: the kernels
    it leaves (or the BLAS, with none) give NumPy's product to rounding."""
    code = textwrap.dedent("""
        import numpy as np
        from fastbp import _blas
        rng = np.random.default_rng(1)
        worst = 0.0
        for m, n, k in [(30, 784, 10), (100, 784, 10), (7, 33, 1), (13, 65, 16)]:
            A, B, C = rng.normal(size=(k, m)), rng.normal(size=(k, n)), rng.normal(size=(m, n))
            for dtype in (np.float32, np.float64):
                a, b, c = A.astype(dtype), B.astype(dtype), C.astype(dtype)
                out = c.copy()
                if not _blas._bp4_test(-0.5, a, b, 1.0, out):
                    _blas._gemm_test(True, False, -0.5, a, b, 1.0, out)
                want = C - 0.5 * A.T @ B
                err = np.max(np.abs(out - want) / (np.abs(A).T @ np.abs(B) + np.abs(C)))
                worst = max(worst, err / np.finfo(dtype).eps / (k + 3))
        print(_blas._config()["kernels"], worst)
    """)
    env = dict(os.environ, FASTBP_DISABLE_CPU_FEATURES=off)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, cwd=os.path.dirname(__file__), check=True).stdout.split()
    expected = {"": ISAS[0], "AVX512F": "AVX2" if "AVX2" in ISAS else "none",
                "AVX512F,AVX2": "none"}[off]
    assert out[0] == expected
    assert float(out[1]) <= 1.0
