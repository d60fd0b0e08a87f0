"""The compiled building blocks on their own: BLAS wrappers, activations, costs."""
import numpy as np
import pytest

from fastbp import _activations, _blas, _costs

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
