"""The compiled building blocks on their own: BLAS wrappers, activations, costs."""
import numpy as np
import pytest

from fastbp import _activations, _blas, _costs
from own_kernels import at_offset

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def rand(rng, shape, dtype):
    return rng.normal(size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (3, 5, 4), (7, 2, 9)])
def test_gemm(dtype, trans_a, trans_b, m, n, k):
    rng = np.random.default_rng(0)
    A = rand(rng, (k, m) if trans_a else (m, k), dtype)
    B = rand(rng, (n, k) if trans_b else (k, n), dtype)
    C = rand(rng, (m, n), dtype)
    expected = 0.5 * (A.T if trans_a else A) @ (B.T if trans_b else B) - 2.0 * C
    _blas._gemm_test(trans_a, trans_b, dtype(0.5), A, B, dtype(-2.0), C)
    np.testing.assert_allclose(C, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans", [False, True])
def test_gemv(dtype, trans):
    rng = np.random.default_rng(1)
    A = rand(rng, (4, 6), dtype)
    x = rand(rng, 4 if trans else 6, dtype)
    y = rand(rng, 6 if trans else 4, dtype)
    expected = 1.5 * (A.T if trans else A) @ x + 0.25 * y
    _blas._gemv_test(trans, dtype(1.5), A, x, dtype(0.25), y)
    np.testing.assert_allclose(y, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_routines(dtype):
    rng = np.random.default_rng(2)
    x, y = rand(rng, 5, dtype), rand(rng, 5, dtype)
    A = rand(rng, (5, 3), dtype)
    z = rand(rng, 3, dtype)

    expected = A + 2.0 * np.outer(x, z)
    _blas._ger_test(dtype(2.0), x, z, A)
    np.testing.assert_allclose(A, expected, rtol=TOL[dtype], atol=TOL[dtype])

    expected = y - 3.0 * x
    _blas._axpy_test(dtype(-3.0), x, y)
    np.testing.assert_allclose(y, expected, rtol=TOL[dtype], atol=TOL[dtype])

    expected = 0.5 * x
    _blas._scal_test(dtype(0.5), x)
    np.testing.assert_allclose(x, expected, rtol=TOL[dtype])

    assert _blas._dot_test(x, y) == pytest.approx(float(x.astype(float) @ y.astype(float)),
                                                  rel=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_stable_for_huge_inputs(dtype):
    big = 1e30 if dtype == np.float32 else 1e300
    Z = np.array([[-big, -800.0, -1.0, 0.0, 1.0, 800.0, big]], dtype=dtype)
    with np.errstate(over="raise"):  # a Python-side overflow would not show here anyway
        _activations._activate_test("sigmoid", Z, np.zeros(7, dtype=dtype))
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[0, [0, 1, 3, 5, 6]], [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(Z[0, 2] + Z[0, 4], 1, rtol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 10, 30, 31, 64, 100, 129])
def test_sigmoid_of_many_short_rows_equals_row_by_row(dtype, n):
    """Rows that are not a whole number of 16 elements run 16 at a time as one flat
    loop (no scalar tail per row): the same bits as each row alone, with the bias of
    the right column, NaN kept, and matching 1 / (1 + e^-z)."""
    rng = np.random.default_rng(n)
    Z = (rng.normal(size=(37, n)) * 8).astype(dtype)
    Z[20, n // 2] = np.nan
    b = rng.normal(size=n).astype(dtype)
    whole = Z.copy()
    _activations._activate_test("sigmoid", whole, b)
    for i in range(len(Z)):
        row = Z[i:i + 1].copy()
        _activations._activate_test("sigmoid", row, b)
        np.testing.assert_array_equal(whole[i], row[0])
    want = 1 / (1 + np.exp(-(Z.astype(np.float64) + b)))
    np.testing.assert_allclose(whole, want, rtol=TOL[dtype] * 10)
    assert np.isnan(whole[20, n // 2]) and np.isnan(whole).sum() == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_for_large_logits(dtype):
    Z = np.array([[1000.0, 999.0, -1000.0], [-5e4, -5e4, -5e4]], dtype=dtype)
    _activations._activate_test("softmax", Z, np.zeros(3, dtype=dtype))
    e = np.exp([0.0, -1.0])
    np.testing.assert_allclose(Z[0], [e[0] / e.sum(), e[1] / e.sum(), 0], rtol=TOL[dtype] * 10)
    np.testing.assert_allclose(Z[1], [1 / 3] * 3, rtol=TOL[dtype])


@pytest.mark.parametrize("name, derivative", [
    ("sigmoid", lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    ("tanh", lambda z: 1 / np.cosh(z) ** 2),
    ("relu", lambda z: (z > 0).astype(float)),
    ("identity", lambda z: np.ones_like(z)),
])
def test_derivative_from_activation(name, derivative):
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(4, 5)) * 3
    A = Z.copy()
    _activations._activate_test(name, A, np.zeros(5))
    D = rng.normal(size=(4, 5))
    expected = D * derivative(Z)
    _activations._derivative_test(name, D, A)
    np.testing.assert_allclose(D, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_costs_at_saturated_outputs_are_finite(dtype):
    A = np.array([[0.0, 1.0, 0.5]], dtype=dtype)
    for name, Y in [("cross_entropy", [[1.0, 0.0, 0.5]]), ("cross_entropy", [[0.0, 1.0, 1.0]]),
                    ("log_likelihood", [[1.0, 0.0, 0.0]]), ("quadratic", [[1.0, 0.0, 0.0]])]:
        value = _costs.cost_sum_py(name, A, np.array(Y, dtype=dtype))
        assert np.isfinite(value) and value > 0
    # Exact outputs give exactly the minimum for the cross-entropy's zero terms.
    assert _costs.cost_sum_py("cross_entropy", A[:, :2], np.array([[0.0, 1.0]], dtype)) < 1e-5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 8, 17, 64, 1000, 70000])
def test_all_finite_finds_every_special_value_anywhere(dtype, n):
    """The bit-trick check agrees with np.isfinite for the extremes of the format,
    at the start, end and middle of arrays on both sides of the SIMD widths and of
    the size where it releases the GIL."""
    from fastbp._backprop import all_finite
    info = np.finfo(dtype)
    x = np.random.default_rng(n).normal(size=n).astype(dtype)
    assert all_finite(x)
    for value in [np.nan, -np.nan, np.inf, -np.inf, info.max, -info.max, info.tiny,
                  info.smallest_subnormal, -0.0]:
        for i in {0, n // 2, n - 1}:
            y = x.copy()
            y[i] = value
            assert all_finite(y) == bool(np.isfinite(value)), (value, i)
    # A NaN with a payload and the sign bit set is still a NaN.
    bits = np.array([-1], dtype=np.int64 if dtype == np.float64 else np.int32)
    y = x.copy()
    y[-1] = bits.view(dtype)[0]
    assert not all_finite(y)


# fastbp's own kernel for X @ W.T through a narrow layer (_blas.narrow_gemm).

OWN_KERNELS = _blas._own_kernels_available()
# Where they are not compiled in or the CPU lacks AVX2 and AVX-512 (or CI turned them
# off), the engine runs on the BLAS alone; the tests of that path run everywhere.
needs_own_kernels = pytest.mark.skipif(
    not OWN_KERNELS, reason="fastbp's own kernels need GCC or clang, Linux and AVX2 or AVX-512")


def _narrow(X, W, check=True, threads=0):
    C = np.full((X.shape[0], W.shape[0]), np.nan, X.dtype)
    done, nonfinite = _blas._narrow_gemm_test(X, W, C, check, threads)
    return done, nonfinite, C


@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_gemm_matches_numpy(dtype):
    """Row counts around the 4-row tiles, widths around the 6-column tiles, and
    lengths around the 8/16-lane vectors."""
    rng = np.random.default_rng(2)
    for m in [1, 3, 4, 5, 8, 11]:
        for n in [1, 5, 6, 7, 13, 64]:
            for k in [1, 7, 8, 9, 16, 17, 33, 784]:
                X, W = rand(rng, (m, k), dtype), rand(rng, (n, k), dtype)
                done, nonfinite, C = _narrow(X, W)
                assert done == OWN_KERNELS
                if not done:    # the caller falls back to BLAS, tested elsewhere
                    continue
                assert nonfinite is False
                want = X.astype(np.float64) @ W.T.astype(np.float64)
                scale = np.abs(X).astype(np.float64) @ np.abs(W).T.astype(np.float64)
                # Each lane adds up k / lanes products, then the lanes are added in
                # a tree: the classical bound for that order of summation.
                lanes = 64 // X.itemsize
                terms = -(-k // lanes) + int(np.log2(lanes)) + 1
                bound = terms * np.finfo(dtype).eps * scale
                assert np.all(np.abs(C - want) <= bound), (m, n, k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_gemm_finds_nonfinite_inputs_anywhere(dtype):
    rng = np.random.default_rng(3)
    m, n, k = 9, 7, 19     # two full tiles of rows and one left over; a partial vector
    X, W = rand(rng, (m, k), dtype), rand(rng, (n, k), dtype)
    info = np.finfo(dtype)
    payload_nan = np.array([-1], np.int64 if dtype == np.float64 else np.int32).view(dtype)[0]
    for value in [np.nan, np.inf, -np.inf, payload_nan, info.max, info.smallest_subnormal]:
        for where in [(0, 0), (3, k - 1), (4, 8), (m - 1, k - 1), (m - 1, 0)]:
            Y = X.copy()
            Y[where] = value
            done, nonfinite, _ = _narrow(Y, W)
            assert done == OWN_KERNELS
            if done:
                assert nonfinite == (not np.isfinite(value)), (value, where)
    # Only X is checked: W's values are the network's business.
    W[0, 0] = np.nan
    done, nonfinite, C = _narrow(X, W)
    if done:
        assert nonfinite is False and np.isnan(C[:, 0]).all() and np.isfinite(C[:, 1:]).all()
    # Without the check, nothing is reported.
    assert _narrow(X, W, check=False)[1] is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_gemm_bits_do_not_depend_on_alignment(dtype):
    """Reproducible bit for bit wherever NumPy happens to place the arrays."""
    rng = np.random.default_rng(4)
    X, W = rand(rng, (10, 784), dtype), rand(rng, (30, 784), dtype)
    results = [_narrow(at_offset(X, ox), at_offset(W, ow))[2]
               for ox in range(0, 64, X.itemsize * 2) for ow in (0, 16, 40)]
    for C in results[1:]:
        np.testing.assert_array_equal(C, results[0])


@needs_own_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_gemm_threads_give_the_same_bits_and_find_nonfinite_in_every_share(dtype):
    """Rows split between threads (1,024 at least each; the last share takes the rows
    left over from whole tiles of 4): every thread count gives the same bits, and a NaN
    in any thread's rows is reported."""
    rng = np.random.default_rng(6)
    m, n, k = 4 * 1024 + 7, 30, 37
    X, W = rand(rng, (m, k), dtype), rand(rng, (n, k), dtype)
    one = _narrow(X, W, threads=1)[2]
    np.testing.assert_allclose(one, X.astype(np.float64) @ W.T, rtol=TOL[dtype] * 10,
                               atol=TOL[dtype] * 10)
    for threads in [2, 3, 4, 9]:
        done, nonfinite, C = _narrow(X, W, threads=threads)
        assert done and nonfinite is False
        np.testing.assert_array_equal(C, one)
        # first row, the rows around every share's boundary, last row
        cuts = [m * t // min(threads, 4) // 4 * 4 for t in range(1, min(threads, 4))]
        for row in [0, m - 1] + [c + d for c in cuts for d in (-1, 0)]:
            Y = X.copy()
            Y[row, k // 2] = np.inf
            assert _narrow(Y, W, threads=threads)[1] is True, (threads, row)


def test_kernel_threads_follow_the_blas_limit():
    """threadpoolctl's limit on the BLAS is the limit on our kernels as well."""
    import threadpoolctl    # a test dependency

    if not _blas._config()["own_kernels_compiled"]:
        assert _blas._kernel_threads() == 1
        return
    for limit in [1, 2, 3]:
        with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
            assert _blas._kernel_threads() == limit


def test_own_kernels_can_be_turned_off():
    X = np.ones((4, 3))
    previous = _blas._use_own_kernels(False)
    try:
        assert _narrow(X, X)[0] is False
    finally:
        _blas._use_own_kernels(previous)
    # The switch's setting, on at import whether or not this CPU has kernels: a
    # restore after a CPU without them must not leave them off for good.
    assert previous is True
    assert _narrow(X, X)[0] == OWN_KERNELS


def test_the_switch_restored_on_a_cpu_without_kernels_keeps_them_for_later(monkeypatch):
    """Kernels turned off by FASTBP_DISABLE_CPU_FEATURES, the switch flipped and
    restored, then the CPU's kernels enabled again: they are in use."""
    before = _blas._config()["kernels"]
    monkeypatch.setenv("FASTBP_DISABLE_CPU_FEATURES", "AVX512F,AVX2")
    _blas._init_cpu()
    try:
        _blas._use_own_kernels(_blas._use_own_kernels(False))
        monkeypatch.delenv("FASTBP_DISABLE_CPU_FEATURES")
        _blas._init_cpu()
        assert _blas._own_kernels_available() == (_blas._config()["kernels"] != "none")
        X = np.ones((4, 3))
        assert _narrow(X, X)[0] == (_blas._config()["kernels"] != "none")
    finally:
        monkeypatch.undo()
        _blas._init_cpu()
    assert _blas._config()["kernels"] == before


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemv_rows_matches_numpy_and_ignores_alignment(dtype):
    """fastbp's one-example kernel: lengths around the vector widths and the unrolled
    block of four, and past the size up to which it copies x to an aligned buffer;
    the same bits wherever x and W start."""
    rng = np.random.default_rng(5)
    for n, k in [(1, 1), (3, 7), (30, 784), (10, 30), (4, 33), (2, 64), (5, 65), (2, 3000)]:
        W, x = rand(rng, (n, k), dtype), rand(rng, k, dtype)
        y = np.full(n, np.nan, dtype)
        assert _blas._gemv_rows_test(W, x, y) == OWN_KERNELS
        if not OWN_KERNELS:
            continue
        want = W.astype(np.float64) @ x.astype(np.float64)
        scale = np.abs(W).astype(np.float64) @ np.abs(x).astype(np.float64)
        lanes = 64 // x.itemsize
        terms = -(-k // lanes) + int(np.log2(lanes)) + 3
        assert np.all(np.abs(y - want) <= terms * np.finfo(dtype).eps * scale), (n, k)
        for offset in range(x.itemsize, 64, 3 * x.itemsize):
            y2 = np.empty_like(y)
            _blas._gemv_rows_test(at_offset(W, offset), at_offset(x, 64 - offset), y2)
            np.testing.assert_array_equal(y2, y)


def _own_gemm(trans_a, trans_b, alpha, A, B, beta, C, threads=0):
    """fastbp's own GEMM on a copy of C whose row stride is 3 elements longer than
    its rows: (whether it ran, the result)."""
    C, C_given = np.empty((C.shape[0], C.shape[1] + 3), C.dtype)[:, :C.shape[1]], C
    C[...] = C_given
    return _blas._own_gemm_test(trans_a, trans_b, alpha, A, B, beta, C, threads), C


def _operands(rng, trans_a, trans_b, m, n, k, dtype, pad=0):
    """op(A) (m, k), op(B) (k, n) and C (m, n), as views whose rows are `pad`
    elements longer than they are wide (pad = 0: contiguous)."""
    def view(shape):
        return rand(rng, (shape[0], shape[1] + pad), dtype)[:, :shape[1]]
    return (view((k, m) if trans_a else (m, k)), view((n, k) if trans_b else (k, n)),
            view((m, n)))


@needs_own_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True)])
def test_own_gemm_matches_numpy(dtype, trans_a, trans_b):
    """Rows around the 6- and 2-row tiles, columns around the vectors and the
    column tiles (AVX-512: 32 doubles, 64 floats; AVX2: 8 and 16), strided operands, and beta = 0 (C is
    then not read: NaN in it must not show) or not. Each entry is one sum over k in
    order, so its error is bounded by (k + 2) eps times the sum of the magnitudes."""
    rng = np.random.default_rng(7)
    lanes = 64 // np.dtype(dtype).itemsize
    eps = np.finfo(dtype).eps
    for m, n, k, pad in [(1, 1, 1, 0), (3, 5, 4, 2), (7, 2, 9, 0), (12, lanes, 10, 0),
                         (35, 2 * lanes + 1, 33, 3), (44, 3 * lanes - 1, 70, 0),
                         (47, 100, 129, 5), (128, 4 * lanes, 40, 0),
                         (9, 4 * lanes + 1, 17, 0), (14, 8 * lanes - 1, 21, 2),
                         (33, 65, 784, 1)]:
        A, B, C = _operands(rng, trans_a, trans_b, m, n, k, dtype, pad)
        opA = (A.T if trans_a else A).astype(np.float64)
        opB = (B.T if trans_b else B).astype(np.float64)
        for alpha, beta in [(-0.75, 1.0), (0.5, -2.0), (1.0, 0.0)]:
            if beta == 0:
                C[...] = np.nan
            done, got = _own_gemm(trans_a, trans_b, alpha, A, B, beta, C)
            assert done, (m, n, k)
            c = 0 if beta == 0 else C.astype(np.float64)
            want = alpha * opA @ opB + beta * c
            scale = abs(alpha) * np.abs(opA) @ np.abs(opB) + abs(beta) * np.abs(c)
            assert np.all(np.abs(got - want) <= (k + 2) * eps * scale), (m, n, k, alpha, beta)


@pytest.mark.parametrize("dtype", DTYPES)
def test_own_gemm_leaves_other_products_to_blas(dtype):
    """Both operands transposed, or alpha = 0: not run, C untouched; ``gemm`` computes
    them, by BLAS."""
    rng = np.random.default_rng(8)
    cases = [(True, True, 40, 20, 30, 1.0), (False, False, 40, 20, 30, 0.0)]
    for trans_a, trans_b, m, n, k, alpha in cases:
        A, B, C = _operands(rng, trans_a, trans_b, m, n, k, dtype)
        done, got = _own_gemm(trans_a, trans_b, alpha, A, B, 0.5, C)
        assert not done and np.array_equal(got, C), (trans_a, trans_b, m, n, k, alpha)
        opA = (A.T if trans_a else A).astype(np.float64)
        want = alpha * opA @ (B.T if trans_b else B) + 0.5 * C
        _blas._gemm_test(trans_a, trans_b, alpha, np.ascontiguousarray(A),
                         np.ascontiguousarray(B), 0.5, C)
        np.testing.assert_allclose(C, want, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10 * k)


@needs_own_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_own_gemm_streams_a_large_a_block_by_block(dtype):
    """Inference of many rows through a layer of several column tiles (AVX2's for
    the book's 30 neurons; the whole-set gradient's first layer): op(A) over 8 MB
    runs block-major (blocks of 48 rows against each tile in turn), within the
    rounding bound of NumPy, with the same bits for every thread count (issue 26)
    and the NaN/inf check of A in every block."""
    rng = np.random.default_rng(21)
    eps = np.finfo(dtype).eps
    tile = _blas._own_gemm_tile_bytes() // np.dtype(dtype).itemsize
    m, n, k = 5003, 2 * tile + 14, 784 if dtype == np.float64 else 1568
    A, B, C = _operands(rng, False, True, m, n, k, dtype)
    assert A.nbytes > 8 << 20
    assert _blas._own_gemm_test(False, True, 1.0, A, B, 0.0, C, 1, True) == (True, False)
    one = C.copy()
    want = A.astype(np.float64) @ B.T.astype(np.float64)
    scale = np.abs(A).astype(np.float64) @ np.abs(B.T).astype(np.float64)
    assert np.all(np.abs(one - want) <= (k + 2) * eps * scale)
    for threads in [2, 3, 8]:
        C[...] = np.nan
        assert _blas._own_gemm_test(False, True, 1.0, A, B, 0.0, C, threads, True) \
            == (True, False)
        np.testing.assert_array_equal(C, one)
    for row, col in [(0, 0), (47, k - 1), (48, 3), (m - 1, k - 1)]:
        bad_A = A.copy()
        bad_A[row, col] = np.nan
        for threads in [1, 2]:
            assert _blas._own_gemm_test(False, True, 1.0, bad_A, B, 0.0, C, threads,
                                        True) == (True, True), (row, col)


@needs_own_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_own_gemm_shares_rows_of_one_column_tile_and_checks_a(dtype):
    """Inference through a narrow layer: one column tile, so the rows are shared out
    in blocks of 192 between the threads (any size of A: it is read once). Every
    thread count gives the bits of one thread, and the check of A finds a NaN or inf
    in any row: the first, either side of a block boundary, in the 2- and 1-row
    tails, the last element of the last row."""
    rng = np.random.default_rng(13)
    tile = _blas._own_gemm_tile_bytes() // np.dtype(dtype).itemsize
    eps = np.finfo(dtype).eps
    for m, n, k in [(1000, tile - 2, 300), (4099, min(10, tile - 2), 2100)]:
        A, B, C = _operands(rng, False, True, m, n, k, dtype)
        done, bad = _blas._own_gemm_test(False, True, 1.0, A, B, 0.0, C, 1, True)
        assert done and bad is False
        one = C.copy()
        want = A.astype(np.float64) @ B.T.astype(np.float64)
        scale = np.abs(A).astype(np.float64) @ np.abs(B.T).astype(np.float64)
        assert np.all(np.abs(one - want) <= (k + 2) * eps * scale)
        for threads in [2, 3, 4, 9]:
            C[...] = np.nan
            assert _blas._own_gemm_test(False, True, 1.0, A, B, 0.0, C, threads, True) \
                == (True, False)
            np.testing.assert_array_equal(C, one)
        for row, col in [(0, 0), (191, k - 1), (192, 0), (m - 3, 5), (m - 1, k - 1)]:
            for value in [np.nan, np.inf, -np.inf]:
                bad_A = A.copy()
                bad_A[row, col] = value
                for threads in [1, 2, 3]:
                    assert _blas._own_gemm_test(False, True, 1.0, bad_A, B, 0.0, C,
                                                threads, True) == (True, True), (row, col)
    # The check reads A by rows, so a transposed A is left to the caller.
    A, B, C = _operands(rng, True, False, 40, 20, 30, dtype)
    assert _blas._own_gemm_test(True, False, 1.0, A, B, 0.0, C, 1, True)[0] is False


@needs_own_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_own_gemm_threads_give_the_same_bits(dtype):
    """Column tiles shared out between threads (whole tiles; at least 2^21
    multiply-adds each): every thread count gives the bits of one thread, including
    2 threads again after 9 started more workers than it uses."""
    rng = np.random.default_rng(9)
    for trans_a, trans_b in [(False, True), (True, False), (False, False)]:
        A, B, C = _operands(rng, trans_a, trans_b, 128, 300, 256, dtype)
        one = _own_gemm(trans_a, trans_b, 0.5, A, B, 1.0, C, threads=1)[1]
        for threads in [2, 3, 4, 9, 2]:
            done, got = _own_gemm(trans_a, trans_b, 0.5, A, B, 1.0, C, threads=threads)
            assert done
            np.testing.assert_array_equal(got, one)


@needs_own_kernels
def test_own_gemm_from_concurrent_callers_and_a_forked_child():
    """Callers in several threads at once (one gets the persistent workers, the others
    start threads of their own) and a child forked after the workers started (it has
    none, and must start its own rather than wait for them) all get the serial bits."""
    import multiprocessing
    import threading

    rng = np.random.default_rng(10)
    cases = [_operands(rng, False, True, 128, 256, 200 + 8 * i, np.float32) for i in range(4)]
    serial = [_own_gemm(False, True, 1.0, A, B, 0.0, C, threads=2)[1] for A, B, C in cases]
    results = [None] * len(cases)

    def call(i):
        A, B, C = cases[i]
        for _ in range(20):
            results[i] = _own_gemm(False, True, 1.0, A, B, 0.0, C, threads=2)[1]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive()
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)

    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    A, B, C = cases[0]
    process = ctx.Process(target=_gemm_in_child, args=(child, A, B, C))
    process.start()
    assert parent.poll(120), "the forked child did not answer"
    np.testing.assert_array_equal(parent.recv(), serial[0])
    process.join(60)
    assert process.exitcode == 0


def _gemm_in_child(conn, A, B, C):
    conn.send(_own_gemm(False, True, 1.0, A, B, 0.0, C, threads=2)[1])


@needs_own_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_own_gemm_flushes_subnormals_on_every_thread_and_restores_the_mode(dtype):
    """Subnormal operands count as zero and subnormal results become zero (they cost
    a microcode assist per multiply-add), on the workers as on the calling thread;
    afterwards the caller's arithmetic is IEEE again."""
    tiny = np.finfo(dtype).smallest_normal
    rng = np.random.default_rng(11)
    A, B, C = _operands(rng, False, False, 64, 512, 64, dtype)
    A[:, 1::2] = tiny / 4                               # subnormal operands
    A[:, ::2] = np.sqrt(tiny) / 8                       # products below the normal range
    B[...] = np.abs(B) * np.sqrt(tiny) / 8
    assert np.all(A[:, ::2] @ B[::2] > 0)               # IEEE: subnormal sums, not zero
    for threads in [1, 4]:
        done, got = _own_gemm(False, False, 1.0, A, B, 0.0, C, threads=threads)
        assert done
        np.testing.assert_array_equal(got, 0)
    x = np.array(tiny, dtype)
    assert x / 4 > 0 and (x / 4) * 2 == x / 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_blas_gemm_keeps_subnormals(dtype):
    """Only fastbp's own GEMM flushes: ``gemm`` (BLAS) keeps IEEE results."""
    tiny = np.finfo(dtype).smallest_normal
    A = np.full((4, 4), np.sqrt(tiny) / 8, dtype)
    C = np.zeros((4, 4), dtype)
    _blas._gemm_test(False, False, 1.0, A, A, 0.0, C)
    assert np.all(C > 0) and np.all(C < tiny)
