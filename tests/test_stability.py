"""Numerical stability: extreme inputs, saturated outputs, and diverging training.

Every allowed (activation, output_activation, cost) pairing, in float64 and float32:
huge (±1e300 / ±1e30) and tiny (down to subnormal) inputs, saturated sigmoids,
softmax of huge logits, and the log-based costs at outputs of exactly 0 and 1 keep
feedforward, backprop and total_cost finite. A diverging fit stops with a
FloatingPointError naming the epoch and the learning rate and leaves finite parameters.
"""
import re

import numpy as np
import pytest
from test_backprop import COMBOS

import fastbp

DTYPES = ["float64", "float32"]
# Magnitudes with room to spare below the dtype's maximum (1.8e308 / 3.4e38).
HUGE = {"float64": 1e300, "float32": 1e30}
TINY = {"float64": [1e-300, 5e-324], "float32": [1e-30, 1e-45]}  # incl. subnormals
# With unbounded hidden and output activations (relu -> identity) the output, the
# quadratic cost (½ a²) and ∂C/∂w^L (a^L a^{L-1}) grow like the input squared: the
# exact values for HUGE inputs are not representable. For those, "huge" is the largest
# input whose exact results fit.
HUGE_UNBOUNDED = {"float64": 1e150, "float32": 1e15}


def unbounded(combo):
    return combo[1] in ("identity", "relu")


def all_finite(*arrays):
    return all(np.isfinite(np.asarray(a)).all() for a in arrays)


def extreme_inputs(n0, dtype, huge):
    tiny = TINY[dtype]
    rows = [
        [huge, -huge] + [tiny[0]] * (n0 - 2),
        [huge] * n0,
        [-huge] * n0,
        [tiny[0], -tiny[0]] + [tiny[1]] * (n0 - 2),
        [tiny[1]] * n0,
        [huge, 0.0] + [-huge] * (n0 - 2),
        [0.0] * n0,
    ]
    return np.array(rows, dtype=dtype)


def targets_for(cost, m, n_out, rng):
    if cost == "quadratic":
        return rng.normal(size=(m, n_out))
    if cost == "cross_entropy":
        return rng.choice([0.0, 1.0, 0.5], size=(m, n_out))
    return np.eye(n_out)[rng.integers(0, n_out, m)]


def check_all_finite(net, X, Y):
    A = net.feedforward(X)
    assert all_finite(A), f"feedforward: {A}"
    nabla_b, nabla_w = net.backprop(X, Y)
    for l, (gb, gw) in enumerate(zip(nabla_b, nabla_w)):
        assert all_finite(gb), f"nabla_b[{l}]: {gb}"
        assert all_finite(gw), f"nabla_w[{l}]: {gw}"
    cost = net.total_cost(X, Y)
    assert np.isfinite(cost), cost
    for i in range(X.shape[0]):  # one example at a time takes the GEMV path
        assert all_finite(net.feedforward(X[i]))
    return A, cost


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("combo", COMBOS, ids="-".join)
@pytest.mark.parametrize("init", ["normal", "scaled_normal"])
def test_huge_and_tiny_inputs_stay_finite(combo, dtype, init):
    hidden, output, cost = combo
    huge = HUGE_UNBOUNDED[dtype] if unbounded(combo) else HUGE[dtype]
    rng = np.random.default_rng(0)
    for sizes in ([4, 6, 5, 3], [4, 3], [5, 8, 8, 8, 2]):
        net = fastbp.Network(sizes, activation=hidden, output_activation=output,
                             cost=cost, init=init, seed=1, dtype=dtype)
        X = extreme_inputs(sizes[0], dtype, huge)
        Y = targets_for(cost, X.shape[0], sizes[-1], rng)
        A, _ = check_all_finite(net, X, Y)
        if output == "softmax":
            np.testing.assert_allclose(A.sum(axis=1), 1, rtol=1e-5)
        if output == "sigmoid":
            assert ((A >= 0) & (A <= 1)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_unrepresentable_results_overflow_to_inf_never_nan(dtype):
    """relu -> identity with ±1e300 inputs: the exact cost and last-layer gradient
    exceed the largest float; they may round to inf, but nothing may be NaN, and the
    output itself (about 1e300) is finite."""
    net = fastbp.Network([4, 6, 3], activation="relu", output_activation="identity",
                         seed=0, dtype=dtype)
    X = extreme_inputs(4, dtype, HUGE[dtype])
    Y = np.zeros((X.shape[0], 3))
    A = net.feedforward(X)
    assert all_finite(A)
    nabla_b, nabla_w = net.backprop(X, Y)
    assert not any(np.isnan(g).any() for g in nabla_b + nabla_w)
    assert not np.isnan(net.total_cost(X, Y))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
@pytest.mark.parametrize("hidden", ["sigmoid", "relu"])
def test_sigmoid_outputs_of_exactly_0_and_1(hidden, cost, dtype):
    """Output pre-activations of ±1000 make σ exactly 0 and 1 (in both dtypes); the
    targets are right for some outputs and as wrong as possible for others."""
    net = fastbp.Network([3, 4, 4], activation=hidden, output_activation="sigmoid",
                         cost=cost, seed=0, dtype=dtype)
    net.weights[-1][...] = 0
    net.biases[-1][...] = [1000, -1000, 1000, -1000]
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(dtype)
    A = net.feedforward(X)
    np.testing.assert_array_equal(A, np.tile([1.0, 0.0, 1.0, 0.0], (5, 1)))
    Y = np.tile([1.0, 0.0, 0.0, 1.0], (5, 1))  # outputs 0, 1 right; 2, 3 wrong
    _, c = check_all_finite(net, X, Y)
    if cost == "cross_entropy":
        # two maximally wrong outputs per example, each costing at least -ln(1e-6)
        assert c > 2 * 13
    nabla_b, _ = net.backprop(X, Y)
    if cost == "cross_entropy":  # δ^L = a - y: full-size error where wrong
        np.testing.assert_array_equal(nabla_b[-1], [0.0, 0.0, 1.0, -1.0])
    else:  # the quadratic cost's σ'(z) = a(1 - a) = 0 kills it: finite, zero
        np.testing.assert_array_equal(nabla_b[-1], 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", ["log_likelihood", "quadratic"])
def test_softmax_of_huge_logits(cost, dtype):
    """Logits of ±huge: exp would overflow without the max subtraction."""
    huge = HUGE[dtype]
    net = fastbp.Network([3, 4, 3], activation="tanh", output_activation="softmax",
                         cost=cost, seed=0, dtype=dtype)
    net.weights[-1][...] = 0
    net.biases[-1][...] = [huge, -huge, huge / 2]
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(dtype)
    A = net.feedforward(X)
    np.testing.assert_array_equal(A, np.tile([1.0, 0.0, 0.0], (4, 1)))
    # right class, and the two classes of probability exactly 0
    for labels in ([0, 0, 0, 0], [1, 2, 1, 2], [0, 1, 2, 0]):
        _, c = check_all_finite(net, X, np.array(labels))
        wrong = sum(label != 0 for label in labels)
        if cost == "log_likelihood":  # -ln(clip(0)) is large, not inf, per wrong row
            assert c >= 13 * wrong / len(labels)
    # equal huge logits: a uniform distribution, not NaN from inf - inf
    net.biases[-1][...] = [huge, huge, -huge]
    np.testing.assert_allclose(net.feedforward(X), np.tile([0.5, 0.5, 0.0], (4, 1)))
    check_all_finite(net, X, np.array([0, 1, 2, 0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_saturated_hidden_layers(hidden, dtype):
    """Hidden units driven to exactly 0/1 (sigmoid) or ±1 (tanh): σ' = 0 there, so
    the gradients of the layers below vanish, finitely."""
    net = fastbp.Network([3, 5, 5, 2], activation=hidden, output_activation="sigmoid",
                         cost="cross_entropy", init="normal", seed=0, dtype=dtype)
    for w in net.weights[:-1]:
        w *= 1e4
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(6, 3)).astype(dtype)
    Y = np.random.default_rng(1).choice([0.0, 1.0], size=(6, 2))
    check_all_finite(net, X, Y)
    nabla_b, nabla_w = net.backprop(X, Y)
    assert np.abs(nabla_w[0]).max() < 1e-6
    assert np.abs(nabla_w[-1]).max() > 1e-3  # the output layer still learns


@pytest.mark.parametrize("call", ["feedforward", "backprop", "total_cost", "fit"])
def test_float64_values_that_overflow_float32_are_refused(call):
    net = fastbp.Network([3, 4, 2], dtype="float32", seed=0)
    before = [p.copy() for p in net.weights + net.biases]
    X = np.ones((4, 3))
    y = np.array([0, 1, 0, 1])
    bad_X = X.copy()
    bad_X[2, 1] = -1e300
    bad_Y = np.eye(2)[y]
    bad_Y[1, 0] = 1e300
    args = {"feedforward": [(bad_X,)],
            "backprop": [(bad_X, y), (X, bad_Y)],
            "total_cost": [(bad_X, y), (X, bad_Y)],
            "fit": [(bad_X, y), (X, bad_Y)]}[call]
    for arg, name in zip(args, ["X", "y"]):
        kwargs = dict(epochs=1, batch_size=2, learning_rate=0.1) if call == "fit" else {}
        with pytest.raises(ValueError, match=rf"^{name}\b.*(NaN|inf|overflow)"):
            getattr(net, call)(*arg, **kwargs)
    for p, q in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(p, q)
    # the largest float32 itself is fine
    assert all_finite(net.feedforward(np.full((1, 3), np.finfo(np.float32).max,
                                              dtype=np.float64)))


# -- divergence ----------------------------------------------------------------------

def _assert_diverged_cleanly(net, fit_args, lr, epoch=None):
    X, y = fit_args[:2]
    with pytest.raises(FloatingPointError) as info:
        net.fit(*fit_args, learning_rate=lr)
    message = str(info.value)
    epoch_pattern = str(epoch) if epoch else r"\d+"
    assert re.search(rf"epoch {epoch_pattern}\b", message), message
    assert "learning rate" in message and repr(float(lr)) in message, message
    assert all_finite(*net.weights, *net.biases), "non-finite parameters after divergence"


@pytest.mark.parametrize("dtype", DTYPES)
def test_divergence_in_the_middle_of_an_epoch(dtype):
    rng = np.random.default_rng(0)
    net = fastbp.Network([4, 5, 3], activation="identity", init="normal", seed=0,
                         dtype=dtype)
    X = (rng.normal(size=(50, 4)) * 100).astype(dtype)
    Y = rng.normal(size=(50, 3))
    _assert_diverged_cleanly(net, (X, Y, 5, 5), 1e3, epoch=1)



@pytest.mark.parametrize("dtype", [
    "float64",
    "float32",  # the weights overflow (to -inf) one step before the cost does
])
def test_divergence_in_a_later_epoch(dtype):
    """Finite cost through epoch 1, then a blow-up: the message names that epoch."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(dtype)
    Y = (X @ np.array([[1.0], [-2.0]])).astype(dtype)
    net = fastbp.Network([2, 1], activation="identity", init="xavier", seed=0,
                         dtype=dtype)
    # One full batch per epoch on a linear least-squares problem: with η above
    # 2 / λ_max the error grows geometrically, by a constant factor per epoch.
    lam = np.linalg.eigvalsh(np.c_[X, np.ones(40)].T @ np.c_[X, np.ones(40)] / 40).max()
    lr = 40.0 / lam
    with pytest.raises(FloatingPointError) as info:
        net.fit(X, Y, epochs=200, batch_size=40, learning_rate=lr, shuffle=False)
    message = str(info.value)
    epoch = int(re.search(r"epoch (\d+)", message).group(1))
    assert epoch > 1, message
    assert repr(float(lr)) in message, message
    assert all_finite(*net.weights, *net.biases)
    # the epochs before the one named all had a finite cost
    twin = fastbp.Network([2, 1], activation="identity", init="xavier", seed=0,
                          dtype=dtype)
    history = twin.fit(X, Y, epochs=epoch - 1, batch_size=40, learning_rate=lr,
                       shuffle=False)
    assert np.isfinite(history["train_cost"]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr", [1e30, 1e300])
def test_huge_learning_rate_over_several_steps(dtype, lr):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    y = rng.integers(0, 3, 20)
    net = fastbp.Network([4, 5, 3], cost="cross_entropy", seed=0, dtype=dtype)
    try:
        net.fit(X, y, epochs=5, batch_size=5, learning_rate=lr)
    except FloatingPointError as exc:
        assert re.search(r"epoch \d+\b", str(exc)) and repr(float(lr)) in str(exc)
    except ValueError as exc:  # refusing an η the dtype cannot hold is fine too
        assert str(exc).startswith("learning_rate"), exc
    assert all_finite(*net.weights, *net.biases)


def test_overflow_in_the_last_step_float64():
    """Regression: an update that overflows in the last step used to go unnoticed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4)) * 1e6
    y = rng.integers(0, 3, 20)
    net = fastbp.Network([4, 5, 3], activation="relu", output_activation="identity",
                         seed=0)
    _assert_diverged_cleanly(net, (X, y, 1, 20), 1e300, epoch=1)


def test_overflow_in_the_last_step_float32():
    """Regression: 1e300 is finite in float64 but inf as a float32 learning rate."""
    net = fastbp.Network([1, 1], dtype="float32", seed=0)
    try:
        _assert_diverged_cleanly(net, ([[1.0]], [[0.0]], 1, 1), 1e300, epoch=1)
    except ValueError as exc:  # refusing an η float32 cannot hold is a fix too
        assert str(exc).startswith("learning_rate"), exc
