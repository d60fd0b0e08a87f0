"""The engine's forward pass, BP1–BP4 and SGD against the NumPy oracle and finite differences."""
import numpy as np
import pytest
from reference import backprop as ref_backprop
from reference import feedforward as ref_feedforward
from reference import one_hot, sgd as ref_sgd, total_cost as ref_total_cost

import fastbp

SHAPES = [[3, 4, 2], [5, 7, 6, 3], [2, 1], [6, 3, 4, 5, 3]]
# (hidden activation, output activation, cost): every pairing the API allows.
COMBOS = [
    ("sigmoid", "sigmoid", "quadratic"),
    ("sigmoid", "sigmoid", "cross_entropy"),
    ("tanh", "softmax", "log_likelihood"),
    ("tanh", "tanh", "quadratic"),
    ("relu", "identity", "quadratic"),
    ("identity", "softmax", "quadratic"),
    ("relu", "sigmoid", "cross_entropy"),
]
# A softmax over one neuron is the constant 1: leave those pairings out.
CASES = [(sizes, combo) for sizes in SHAPES for combo in COMBOS
         if not (combo[1] == "softmax" and sizes[-1] == 1)]
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def make_case(sizes, combo, m, dtype=np.float64, seed=0):
    """A random network, and a batch X (m, n_0) with targets Y (m, n_L) valid for its cost."""
    hidden, output, cost = combo
    net = fastbp.Network(sizes, activation=hidden, output_activation=output, cost=cost,
                         dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X = rng.normal(size=(m, sizes[0])).astype(dtype)
    if cost == "quadratic":
        Y = rng.normal(size=(m, sizes[-1]))
    elif cost == "cross_entropy":
        Y = rng.uniform(size=(m, sizes[-1]))
    else:
        Y = one_hot(rng.integers(0, sizes[-1], m), sizes[-1])
    return net, X, Y.astype(dtype)


def params64(net):
    return ([w.astype(np.float64) for w in net.weights],
            [b.astype(np.float64) for b in net.biases])


def assert_close(actual, desired, dtype):
    """Relative to the array's own scale, so near-zero entries do not dominate."""
    tol = TOL[dtype]
    scale = max(1.0, float(np.max(np.abs(desired))))
    np.testing.assert_allclose(actual, desired, rtol=tol, atol=tol * scale)


@pytest.fixture(params=[True, False], ids=["own-kernels", "blas-only"])
def own_kernels(request):
    """Run the test with fastbp's own kernels on (where the CPU has them), then off."""
    from fastbp import _blas
    previous = _blas._use_own_kernels(request.param)
    yield request.param
    _blas._use_own_kernels(previous)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("combo", COMBOS)
@pytest.mark.parametrize("m", [255, 256, 1023, 1024, 2500])
def test_large_batch_feedforward_matches_reference(combo, m, dtype, own_kernels):
    """Narrow layers (<= 64 neurons) take fastbp's own kernel from 256 rows, or
    without it, BLAS as (w^l A^T)^T from 1024 rows; wide ones keep A (w^l)^T: every
    path, and the switches between them, give a^L."""
    net, X, _ = make_case([40, 64, 65, 3], combo, m, dtype)
    W, B = params64(net)
    want = ref_feedforward(W, B, X.astype(np.float64), combo[0], combo[1])
    assert_close(net.feedforward(X), want, dtype)
    # Each row alone gives the same output as within the batch.
    rows = [0, m // 2, m - 1]
    assert_close(np.array([net.feedforward(X[i]) for i in rows]), want[rows], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes, combo", CASES)
@pytest.mark.parametrize("m", [1, 7])
def test_matches_numpy_reference(sizes, combo, m, dtype):
    net, X, Y = make_case(sizes, combo, m, dtype)
    hidden, output, cost = combo
    W, B = params64(net)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)

    A = net.feedforward(X)
    assert A.dtype == dtype and A.shape == (m, sizes[-1])
    assert_close(A, ref_feedforward(W, B, X64, hidden, output), dtype)

    nabla_b, nabla_w = net.backprop(X, Y)
    ref_b, ref_w = ref_backprop(W, B, X64, Y64, hidden, output, cost)
    for got, want, param in zip(nabla_w + nabla_b, ref_w + ref_b, net.weights + net.biases):
        assert got.dtype == dtype and got.shape == param.shape
        assert_close(got, want, dtype)

    assert_close(net.total_cost(X, Y), ref_total_cost(W, B, X64, Y64, hidden, output, cost),
                 dtype)


@pytest.mark.parametrize("sizes, combo", CASES)
@pytest.mark.parametrize("m", [1, 5])
def test_gradient_matches_finite_differences(sizes, combo, m):
    net, X, Y = make_case(sizes, combo, m, seed=3)
    nabla_b, nabla_w = net.backprop(X, Y)
    h = 1e-6
    for params, grads in ((net.weights, nabla_w), (net.biases, nabla_b)):
        for p, g in zip(params, grads):
            numeric = np.empty_like(p)
            for idx in np.ndindex(p.shape):
                saved = p[idx]
                p[idx] = saved + h
                c_plus = net.total_cost(X, Y)
                p[idx] = saved - h
                c_minus = net.total_cost(X, Y)
                p[idx] = saved
                numeric[idx] = (c_plus - c_minus) / (2 * h)
            denom = max(np.linalg.norm(numeric) + np.linalg.norm(g), 1e-12)
            assert np.linalg.norm(numeric - g) / denom < 1e-6


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_fit_step_is_gradient_descent_step(dtype):
    net, X, Y = make_case([5, 7, 6, 3], COMBOS[0], 8, dtype)
    nabla_b, nabla_w = net.backprop(X, Y)
    expect_w = [w - 0.7 * g for w, g in zip(net.weights, nabla_w)]
    expect_b = [b - 0.7 * g for b, g in zip(net.biases, nabla_b)]
    net.fit(X, Y, epochs=1, batch_size=8, learning_rate=0.7, shuffle=False)
    for got, want in zip(net.weights + net.biases, expect_w + expect_b):
        assert got.dtype == dtype
        assert_close(got, want, dtype)


@pytest.mark.parametrize("combo", COMBOS)
def test_fit_matches_reference_sgd(combo):
    """Several epochs with a ragged last batch and seeded shuffling, step for step."""
    hidden, output, cost = combo
    net, X, Y = make_case([4, 6, 3], combo, 23, seed=5)
    W, B = params64(net)
    rng = np.random.default_rng(11)
    orders = [rng.permutation(23) for _ in range(3)]
    net.fit(X, Y, epochs=3, batch_size=5, learning_rate=0.3, seed=11)
    ref_w, ref_b = ref_sgd(W, B, X, Y, 5, 0.3, hidden, output, cost, orders)
    for got, want in zip(net.weights + net.biases, ref_w + ref_b):
        assert_close(got, want, np.float64)


def test_mini_batch_training_matches_reference_sgd_with_either_gemm():
    """Batches of 64 through layers of 70 -> 96 -> 40 -> 10: the forward products,
    BP2 and the BP4 update run in fastbp's own GEMM where the CPU has it, else in
    BLAS; both follow the reference step for step, and the own GEMM ran only when
    it was on (its products are counted: on AVX2 it can give OpenBLAS's bits)."""
    from fastbp import _blas

    combo = COMBOS[0]
    hidden, output, cost = combo
    calls = {}
    for own in [True, False]:
        net, X, Y = make_case([70, 96, 40, 10], combo, 256, seed=6)
        W, B = params64(net)
        previous = _blas._use_own_kernels(own)
        before = _blas._own_gemm_calls()
        try:
            net.fit(X, Y, epochs=2, batch_size=64, learning_rate=0.5, seed=3)
        finally:
            _blas._use_own_kernels(previous)
        calls[own] = _blas._own_gemm_calls() - before
        rng = np.random.default_rng(3)
        orders = [rng.permutation(256) for _ in range(2)]
        ref_w, ref_b = ref_sgd(W, B, X, Y, 64, 0.5, hidden, output, cost, orders)
        for got, want in zip(net.weights + net.biases, ref_w + ref_b):
            assert_close(got, want, np.float64)
    # 2 epochs of 4 steps, each 3 forward products, 3 BP4 products and 2 BP2 products
    assert calls[False] == 0
    assert calls[True] == (2 * 4 * 8 if _blas._own_kernels_available() else 0)


def test_fit_reports_mean_cost_before_each_step():
    """With one full batch per epoch, the epoch's cost is the cost before the update."""
    net, X, Y = make_case([3, 4, 2], COMBOS[0], 6)
    before = net.total_cost(X, Y)
    net.fit(X, Y, epochs=1, batch_size=6, learning_rate=0.5, shuffle=False)
    after_one = net.total_cost(X, Y)
    history = net.fit(X, Y, epochs=1, batch_size=6, learning_rate=0.5, shuffle=False)
    assert history["train_cost"] == [pytest.approx(after_one, rel=1e-12)]
    assert after_one < before


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_with_kept_buffers_equals_the_oracle_call_after_call(dtype):
    """``Engine.gradient(..., keep=True)`` (lbfgs's engine) reuses its work buffers
    from one call to the next, and builds new ones when the row count changes the
    chunk: every call still gives the NumPy oracle's gradient, whatever came before."""
    from fastbp._backprop import Engine
    rng = np.random.default_rng(7)
    for sizes, combo in [CASES[i] for i in rng.choice(len(CASES), 6, replace=False)]:
        net = make_case(sizes, combo, 1, dtype)[0]
        weights = [w.copy() for w in net.weights]
        biases = [b.copy() for b in net.biases]
        engine = Engine(weights, biases, *combo)
        for m in rng.choice([1, 3, 40, 300], 8):
            _, X, Y = make_case(sizes, combo, int(m), dtype, seed=int(rng.integers(100)))
            for p in weights + biases:  # new parameters in place, as scipy's steps
                p[...] = 0.5 * rng.normal(size=p.shape)
            nabla_w = [np.full_like(w, np.nan) for w in weights]
            nabla_b = [np.full_like(b, np.nan) for b in biases]
            engine.gradient(X, Y, None, 1.0 / m, nabla_w, nabla_b, keep=True)
            want_b, want_w = ref_backprop([w.astype(np.float64) for w in weights],
                                          [b.astype(np.float64) for b in biases],
                                          X.astype(np.float64), Y.astype(np.float64),
                                          *combo)
            for got, want in zip(nabla_w + nabla_b, want_w + want_b):
                np.testing.assert_allclose(got, want, rtol=TOL[dtype] * 100,
                                           atol=TOL[dtype] * 10)
