"""Property tests (hypothesis): generated networks, inputs, layouts and garbage.

For random architectures (2-4 layers of 1-8 neurons), every (activation,
output_activation, cost) pairing the API allows, both dtypes, batches of 1-10 rows in
any memory layout NumPy can produce, the engine agrees with the NumPy oracle in
``reference.py``; random garbage is refused with a ValueError or TypeError whose
message starts with the argument's name, and leaves the network untouched.

Profiles: ``HYPOTHESIS_PROFILE=dev`` (50 examples per test, the default on a developer
machine) or ``HYPOTHESIS_PROFILE=ci`` (300 examples, derandomized; the default when
``CI=true``). Needs ``pip install hypothesis``.
"""
import os
import re

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import currently_in_test_context, HealthCheck, assume, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from reference import backprop as ref_backprop  # noqa: E402
from reference import feedforward as ref_feedforward  # noqa: E402
from reference import total_cost as ref_total_cost  # noqa: E402
from test_backprop import COMBOS  # noqa: E402

import fastbp  # noqa: E402

# -- profiles ----------------------------------------------------------------------

_COMMON = dict(deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
try:  # hypothesis >= 6.113 ships a "ci" profile (derandomized, no database): extend it
    _CI_PARENT = settings.get_profile("ci")
except Exception:  # pragma: no cover - older hypothesis
    _CI_PARENT = settings.get_profile("default")
settings.register_profile("dev", max_examples=50, **_COMMON)
settings.register_profile("ci", parent=_CI_PARENT, max_examples=300, derandomize=True,
                          database=None, print_blob=True, **_COMMON)
settings.load_profile(os.environ.get(
    "HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))

# -- tolerances --------------------------------------------------------------------

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
# float32 results are compared with the float64 oracle; where the computation is
# ill-conditioned (large intermediates cancelling), the float32 error is allowed to be
# up to this many times the error of the same oracle evaluated in float32.
F32_ERROR_FACTOR = 30
EPS = {np.dtype(np.float32): np.finfo(np.float32).eps,
       np.dtype(np.float64): np.finfo(np.float64).eps}


def assert_close(got, want, dtype, want_lowp=None, what=""):
    """|got - want| <= tol * max(1, max|want|) (+ a multiple of the oracle's own float32
    error, for float32), entry by entry."""
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, what
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    atol = TOL[dtype] * scale
    if want_lowp is not None:
        err = np.abs(np.asarray(want_lowp, dtype=np.float64) - want)
        if np.isfinite(err).all() and err.size:
            atol += F32_ERROR_FACTOR * float(err.max())
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=atol, err_msg=what)


# -- strategies --------------------------------------------------------------------

def _valid_combo(combo, n_out):
    # A softmax over one neuron is the constant 1: the API allows it, the oracle's
    # general BP1 is then degenerate. test_backprop leaves it out too.
    return not (combo[1] == "softmax" and n_out == 1)


@st.composite
def networks(draw, dtype=None, max_width=8):
    """A Network with hypothesis-drawn parameters (|w|, |b| <= 3)."""
    combo = draw(st.sampled_from(COMBOS))
    n_layers = draw(st.integers(2, 4))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=n_layers,
                          max_size=n_layers))
    if combo[1] == "softmax" and sizes[-1] == 1:
        sizes[-1] = draw(st.integers(2, max_width))
    if dtype is None:
        dtype = draw(st.sampled_from(DTYPES))
    hidden, output, cost = combo
    net = fastbp.Network(sizes, activation=hidden, output_activation=output, cost=cost,
                         init=draw(st.sampled_from(["normal", "scaled_normal", "xavier",
                                                    "he"])),
                         dtype=dtype, seed=draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):  # let hypothesis pick the parameters too
        elements = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=32)
        for w, b in zip(net.weights, net.biases):
            w[...] = draw(hnp.arrays(np.float64, w.shape, elements=elements))
            b[...] = draw(hnp.arrays(np.float64, b.shape, elements=elements))
    return net


LAYOUTS = ["C", "F", "strided", "negative_strides", "bigendian", "readonly", "list",
           "other_float", "unaligned"]


def in_layout(A, layout, net_dtype):
    """The values of the float64 array A in another memory layout (same values after
    conversion to the network's dtype)."""
    A = np.asarray(A)
    if layout == "C":
        return np.ascontiguousarray(A)
    if layout == "F":
        return np.asfortranarray(A)
    if layout == "strided":  # a non-contiguous slice of a larger array
        big = np.full((A.shape[0] * 2 + 1, A.shape[1] * 3 + 1) if A.ndim == 2
                      else (A.shape[0] * 3 + 1,), np.nan)
        view = big[1::2, 2::3] if A.ndim == 2 else big[2::3]
        view[...] = A
        return view
    if layout == "negative_strides":
        return np.ascontiguousarray(A[::-1, ::-1] if A.ndim == 2 else A[::-1])[
            (slice(None, None, -1),) * A.ndim]
    if layout == "bigendian":
        return A.astype(A.dtype.newbyteorder(">"))
    if layout == "readonly":
        A = A.copy()
        A.setflags(write=False)
        return A
    if layout == "list":
        return A.tolist()
    if layout == "other_float":
        # float64 data for a float32 network is rounded once, float32 data for a
        # float64 network is widened exactly; float16 is an allowed input dtype too.
        if A.dtype.kind == "f":
            other = np.float32 if net_dtype == np.float64 else np.float64
            return A.astype(other)
        return A
    if layout == "unaligned":
        buf = np.zeros(A.nbytes + 1, dtype=np.uint8)
        view = buf[1:].view(A.dtype).reshape(A.shape)
        view[...] = A
        assert not view.flags.aligned or A.dtype.itemsize == 1
        return view
    raise AssertionError(layout)


def as_engine_values(A, net_dtype):
    """What the network must see: A converted to its dtype, then widened to float64."""
    return np.asarray(A).astype(net_dtype).astype(np.float64)


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64]


@st.composite
def feature_arrays(draw, m, n0, net_dtype):
    """(X as given to the API, layout name): moderate real values in some layout."""
    if draw(st.integers(0, 4)) == 0:  # integer-valued integer arrays
        dt = np.dtype(draw(st.sampled_from(INT_DTYPES)))
        lo = 0 if dt.kind == "u" else -5
        X = draw(hnp.arrays(dt, (m, n0), elements=st.integers(lo, 5)))
        layout = draw(st.sampled_from(["C", "F", "strided", "bigendian", "readonly",
                                       "list"]))
        return in_layout(X, layout, net_dtype), f"int:{dt}:{layout}"
    elements = st.one_of(
        st.floats(-10, 10, allow_nan=False, allow_infinity=False),
        st.floats(-1e-30, 1e-30, allow_nan=False, allow_infinity=False),  # incl. subnormal
        st.sampled_from([0.0, -0.0, 1.0, -1.0]))
    X = draw(hnp.arrays(np.float64, (m, n0), elements=elements))
    layout = draw(st.sampled_from(LAYOUTS))
    if layout == "other_float" and draw(st.booleans()):
        return X.astype(np.float16), "float16"
    return in_layout(X, layout, net_dtype), layout


@st.composite
def target_arrays(draw, m, n_out, cost, net_dtype):
    """(y as given to the API, Y as the float64 (m, n_out) targets it stands for)."""
    kind = draw(st.sampled_from(["labels", "targets"]))
    if kind == "labels":
        dt = np.dtype(draw(st.sampled_from(INT_DTYPES + [np.float64, np.float32])))
        labels = draw(hnp.arrays(np.int64, (m,), elements=st.integers(0, n_out - 1)))
        y = labels.astype(dt)
        Y = np.zeros((m, n_out))
        Y[np.arange(m), labels] = 1
        layout = draw(st.sampled_from(["C", "strided", "bigendian", "readonly", "list"]))
        return in_layout(y, layout, net_dtype), Y
    if cost == "quadratic":
        Y = draw(hnp.arrays(np.float64, (m, n_out),
                            elements=st.floats(-3, 3, allow_nan=False)))
    elif cost == "cross_entropy":
        Y = draw(hnp.arrays(np.float64, (m, n_out),
                            elements=st.one_of(st.floats(0, 1),
                                               st.sampled_from([0.0, 1.0]))))
    else:  # log_likelihood: rows of a probability distribution (soft or one-hot)
        w = draw(hnp.arrays(np.float64, (m, n_out),
                            elements=st.one_of(st.floats(0, 1), st.just(0.0))))
        w[:, 0] += 1e-3  # no all-zero row
        Y = w / w.sum(axis=1, keepdims=True)
    layout = draw(st.sampled_from(["C", "F", "strided", "negative_strides", "bigendian",
                                   "readonly", "list"]))
    return in_layout(Y, layout, net_dtype), Y


def twin(net):
    """An independent network with the same architecture and parameters."""
    other = fastbp.Network(net.sizes, activation=net.activation,
                           output_activation=net.output_activation, cost=net.cost,
                           init=net.init, dtype=net.dtype, seed=0)
    for mine, theirs in zip(other.weights + other.biases, net.weights + net.biases):
        np.copyto(mine, theirs)
    return other


def params64(net):
    return ([w.astype(np.float64) for w in net.weights],
            [b.astype(np.float64) for b in net.biases])


def params32(net):
    return ([w.astype(np.float32) for w in net.weights],
            [b.astype(np.float32) for b in net.biases])


def snapshot(net):
    return ([w for w in net.weights], [b for b in net.biases],
            [p.copy() for p in net.weights + net.biases], net.history)


def assert_unchanged(net, snap):
    weights, biases, values, history = snap
    assert len(net.weights) == len(weights) and len(net.biases) == len(biases)
    assert all(a is b for a, b in zip(net.weights, weights)), "weights replaced"
    assert all(a is b for a, b in zip(net.biases, biases)), "biases replaced"
    for a, b in zip(net.weights + net.biases, values):
        np.testing.assert_array_equal(a, b)
    assert net.history is history


# -- valid input: agree with the oracle --------------------------------------------

@given(data=st.data())
def test_feedforward_and_backprop_match_reference(data):
    net = data.draw(networks(), "net")
    dtype = net.dtype
    hidden, output, cost = net.activation, net.output_activation, net.cost
    n0, nL = net.sizes[0], net.sizes[-1]
    m = data.draw(st.integers(1, 10), "m")
    X, x_layout = data.draw(feature_arrays(m, n0, dtype), "X")
    y, Y = data.draw(target_arrays(m, nL, cost, dtype), "y")
    note(f"{net!r}, X layout {x_layout}")
    before = [p.copy() for p in net.weights + net.biases]

    X64 = as_engine_values(X, dtype)
    Y64 = as_engine_values(Y, dtype)
    W, B = params64(net)
    lowp = dtype == np.float32
    with np.errstate(all="ignore"):
        want_A = ref_feedforward(W, B, X64, hidden, output)
        want_grad = ref_backprop(W, B, X64, Y64, hidden, output, cost)
        want_cost = ref_total_cost(W, B, X64, Y64, hidden, output, cost)
        if lowp:
            W32, B32 = params32(net)
            X32, Y32 = X64.astype(np.float32), Y64.astype(np.float32)
            lowp_A = ref_feedforward(W32, B32, X32, hidden, output)
            lowp_grad = ref_backprop(W32, B32, X32, Y32, hidden, output, cost)
        else:
            lowp_A, lowp_grad = None, (None,) * 2
    assume(np.isfinite(want_A).all())

    # feedforward, batch and (for one row) a single 1-d example
    A = net.feedforward(X)
    assert type(A) is np.ndarray and A.dtype == dtype and A.shape == (m, nL)
    assert np.isfinite(A).all(), "NaN or inf from finite, moderate input"
    assert_close(A, want_A, dtype, lowp_A, "feedforward")
    if m == 1:
        a = net.feedforward(np.asarray(X, dtype=np.float64 if dtype == np.float64
                                       else np.float32).reshape(-1))
        assert a.shape == (nL,)
        np.testing.assert_array_equal(a, A[0])
    np.testing.assert_array_equal(net.predict(X), np.argmax(A, axis=1))

    # backprop
    nabla_b, nabla_w = net.backprop(X, y)
    for got, param in zip(nabla_w + nabla_b, net.weights + net.biases):
        assert got.dtype == dtype and got.shape == param.shape
        assert np.isfinite(got).all(), "NaN or inf gradient from finite, moderate input"
    # The oracle's BP1 divides by a(1 - a) (cross-entropy) or a (log-likelihood): where
    # an output saturates to exactly 0 or 1 the oracle, not the engine, breaks down.
    if all(np.isfinite(g).all() for g in want_grad[0] + want_grad[1]):
        ref_b, ref_w = want_grad
        lowp_b, lowp_w = lowp_grad
        for l in range(len(nabla_w)):
            assert_close(nabla_w[l], ref_w[l], dtype, lowp_w and lowp_w[l],
                         f"nabla_w[{l}]")
            assert_close(nabla_b[l], ref_b[l], dtype, lowp_b and lowp_b[l],
                         f"nabla_b[{l}]")

    # total_cost: the engine clips outputs to [eps, 1 - eps] inside the logarithms
    # (finite cost at saturation), so compare only where that clipping is inactive.
    c = net.total_cost(X, y)
    assert np.isfinite(c)
    eps = EPS[dtype]
    if cost == "quadratic" or (np.all(want_A >= 2 * eps) and np.all(want_A <= 1 - 2 * eps)):
        tol = TOL[dtype] * max(1.0, abs(want_cost))
        if lowp:
            # ln(1 - a) of a float32 output near 1 is ill-conditioned: allow a multiple
            # of the float32 oracle's own error.
            with np.errstate(all="ignore"):
                err = abs(float(ref_total_cost(W32, B32, X32, Y32, hidden, output, cost))
                          - want_cost)
            if np.isfinite(err):
                tol += F32_ERROR_FACTOR * err
        assert abs(c - want_cost) <= tol, (c, want_cost)

    # nothing above changed the parameters
    for a, b in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(a, b)


@given(data=st.data())
def test_every_layout_gives_bit_identical_results(data):
    """Conversion is exact, so a layout never changes a single bit of any result."""
    net = data.draw(networks(), "net")
    dtype = net.dtype
    m = data.draw(st.integers(1, 10), "m")
    X, x_layout = data.draw(feature_arrays(m, net.sizes[0], dtype), "X")
    y, Y = data.draw(target_arrays(m, net.sizes[-1], net.cost, dtype), "y")
    note(f"{net!r}, X layout {x_layout}")
    Xc = np.ascontiguousarray(np.asarray(X), dtype=dtype)
    yc = np.ascontiguousarray(np.asarray(y))
    yc = yc.astype(dtype) if yc.ndim == 2 else yc

    np.testing.assert_array_equal(net.feedforward(X), net.feedforward(Xc))
    for got, want in zip(sum(net.backprop(X, y), []), sum(net.backprop(Xc, yc), [])):
        np.testing.assert_array_equal(got, want)
    assert net.total_cost(X, y) == net.total_cost(Xc, yc)

    other = twin(net)
    kwargs = dict(epochs=2, batch_size=data.draw(st.integers(1, 12), "batch_size"),
                  learning_rate=data.draw(st.floats(1e-3, 1.0), "eta"),
                  seed=data.draw(st.integers(0, 2**31 - 1), "seed"))

    def fit(network, features, targets):
        """The history, or the message of the divergence it stopped at (a drawn
        learning rate can make a fit diverge: then both must, at the same step)."""
        try:
            return network.fit(features, targets, **kwargs)
        except FloatingPointError as exc:
            return str(exc)

    assert fit(net, X, y) == fit(other, Xc, yc)
    for a, b in zip(net.weights + net.biases, other.weights + other.biases):
        assert a.dtype == dtype and a.flags.c_contiguous
        np.testing.assert_array_equal(a, b)


@given(data=st.data())
def test_one_full_batch_fit_step_is_the_backprop_step(data):
    """fit with one batch per epoch and no shuffling is w <- w - eta * nabla_w."""
    net = data.draw(networks(), "net")
    dtype = net.dtype
    m = data.draw(st.integers(1, 10), "m")
    X, _ = data.draw(feature_arrays(m, net.sizes[0], dtype), "X")
    y, _ = data.draw(target_arrays(m, net.sizes[-1], net.cost, dtype), "y")
    eta = data.draw(st.floats(1e-3, 2.0), "eta")
    nabla_b, nabla_w = net.backprop(X, y)
    cost_before = net.total_cost(X, y)
    expect = [p - dtype.type(eta) * g
              for p, g in zip(net.weights + net.biases, nabla_w + nabla_b)]
    history = net.fit(X, y, epochs=1, batch_size=data.draw(st.integers(m, 20)),
                      learning_rate=eta, shuffle=data.draw(st.booleans()))
    for got, want in zip(net.weights + net.biases, expect):
        assert got.dtype == dtype
        assert_close(got, want, dtype)
    assert history["train_cost"][0] == pytest.approx(cost_before,
                                                     rel=TOL[dtype], abs=TOL[dtype])


# -- invalid input: refused, named, nothing changed --------------------------------

BAD_FEATURE_KINDS = ["scalar", "ndim3", "ndim1", "width", "empty", "nonfinite",
                     "overflow32", "bool", "complex", "object", "str", "bytes", "datetime",
                     "timedelta", "structured", "ragged", "none", "mapping"]


@st.composite
def bad_features(draw, m, n0, dtype, allow_1d):
    kind = draw(st.sampled_from(BAD_FEATURE_KINDS))
    if kind == "ndim1" and allow_1d:
        kind = "ndim3"
    if kind == "overflow32" and dtype == np.float64:
        kind = "nonfinite"
    good = draw(hnp.arrays(np.float64, (m, n0), elements=st.floats(-5, 5)))
    if kind == "scalar":
        # 0-d arrays of the network's own dtype: test_zero_dim_array_of_the_network_dtype.
        return draw(st.sampled_from([1.0, 3, np.float64(2.0), np.array(1.5, dtype=np.int64),
                                     np.array(1.5, dtype=np.float16)])), kind
    if kind == "ndim3":
        shape = draw(st.sampled_from([(m, n0, 1), (1, m, n0), (m, 1, n0)]))
        return good.reshape(shape), kind
    if kind == "ndim1":
        return good.reshape(-1), kind
    if kind == "width":
        n = draw(st.integers(0, 12).filter(lambda k: k != n0))
        return np.ones((m, n)), kind
    if kind == "empty":
        return draw(st.sampled_from([np.empty((0, n0)), np.empty((0,)), [], [[]],
                                     np.empty((0, n0), dtype=np.int32)])), kind
    if kind in ("nonfinite", "overflow32"):
        bad = good.copy()
        positions = draw(st.lists(st.tuples(st.integers(0, m - 1), st.integers(0, n0 - 1)),
                                  min_size=1, max_size=3))
        for i, j in positions:
            bad[i, j] = draw(st.sampled_from(
                [np.nan, np.inf, -np.inf] if kind == "nonfinite"
                else [1e39, -1e300, np.finfo(np.float64).max]))
        return in_layout(bad, draw(st.sampled_from(["C", "F", "strided", "bigendian"])),
                         dtype), kind
    if kind == "bool":
        return good > 0, kind
    if kind == "complex":
        return good.astype(draw(st.sampled_from([np.complex64, np.complex128]))), kind
    if kind == "object":
        return good.astype(object), kind
    if kind == "str":
        return good.astype(str), kind
    if kind == "bytes":
        return good.astype("S8"), kind
    if kind == "datetime":
        return good.astype(np.int64).astype("M8[s]"), kind
    if kind == "timedelta":
        return good.astype(np.int64).astype("m8[s]"), kind
    if kind == "structured":
        return np.zeros((m, n0), dtype=[("a", "f8")]), kind
    if kind == "ragged":
        rows = good.tolist() + [[1.0] * (n0 + draw(st.integers(1, 3)))]
        return rows, kind
    if kind == "none":
        return None, kind
    return {"X": good}, kind


BAD_TARGET_KINDS = ["labels_length", "labels_range", "labels_fraction", "labels_nonfinite",
                    "targets_columns", "targets_rows", "targets_nonfinite", "overflow32",
                    "scalar", "ndim3", "bool", "complex", "object", "str", "ragged",
                    "none"]


@st.composite
def bad_targets(draw, m, n_out, dtype):
    kind = draw(st.sampled_from(BAD_TARGET_KINDS))
    if kind == "overflow32" and dtype == np.float64:
        kind = "targets_nonfinite"
    labels = draw(hnp.arrays(np.int64, (m,), elements=st.integers(0, n_out - 1)))
    targets = draw(hnp.arrays(np.float64, (m, n_out), elements=st.floats(0, 1)))
    if kind == "labels_length":
        k = draw(st.integers(0, m + 5).filter(lambda k: k != m))
        return np.zeros(k, dtype=np.int64), kind
    if kind == "labels_range":
        bad = labels.copy()
        bad[draw(st.integers(0, m - 1))] = draw(st.one_of(st.integers(n_out, 2**62),
                                                          st.integers(-2**62, -1)))
        return bad.astype(draw(st.sampled_from([np.int64, np.float64]))), kind
    if kind == "labels_fraction":
        bad = labels.astype(np.float64)
        bad[draw(st.integers(0, m - 1))] += draw(st.sampled_from([0.5, 1e-3, 0.25]))
        return bad, kind
    if kind == "labels_nonfinite":
        bad = labels.astype(np.float64)
        bad[draw(st.integers(0, m - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return bad, kind
    if kind == "targets_columns":
        return np.zeros((m, draw(st.integers(0, 12).filter(lambda k: k != n_out)))), kind
    if kind == "targets_rows":
        return np.zeros((draw(st.integers(0, 12).filter(lambda k: k != m)), n_out)), kind
    if kind in ("targets_nonfinite", "overflow32"):
        bad = targets.copy()
        bad[draw(st.integers(0, m - 1)), draw(st.integers(0, n_out - 1))] = (
            draw(st.sampled_from([np.nan, np.inf, -np.inf])) if kind == "targets_nonfinite"
            else 1e300)
        return bad, kind
    if kind == "scalar":
        return draw(st.sampled_from([0, 1.0, np.int64(0)])), kind
    if kind == "ndim3":
        return targets.reshape(m, n_out, 1), kind
    if kind == "bool":
        return draw(st.sampled_from([labels > 0, targets > 0.5])), kind
    if kind == "complex":
        return draw(st.sampled_from([labels, targets])).astype(complex), kind
    if kind == "object":
        return labels.astype(object), kind
    if kind == "str":
        return labels.astype(str), kind
    if kind == "ragged":
        return [[0.0] * n_out] * max(m - 1, 1) + [[0.0] * (n_out + 1)], kind
    return None, kind


def _call(net, method, X, y):
    if method == "feedforward":
        return net.feedforward(X)
    if method == "predict":
        return net.predict(X)
    if method == "backprop":
        return net.backprop(X, y)
    if method == "total_cost":
        return net.total_cost(X, y)
    if method == "evaluate":
        return net.evaluate(X, y)
    assert method == "fit"
    return net.fit(X, y, epochs=1, batch_size=2, learning_rate=0.5)


def _assert_refused(net, method, X, y, name):
    snap = snapshot(net)
    probe = np.zeros((2, net.sizes[0]), dtype=net.dtype)
    out_before = net.feedforward(probe)
    with pytest.raises((ValueError, TypeError)) as info:
        _call(net, method, X, y)
    message = str(info.value)
    if currently_in_test_context():
        note(f"{type(info.value).__name__}: {message}")
    assert type(info.value) in (ValueError, TypeError) or \
        isinstance(info.value, (ValueError, TypeError))
    assert re.match(rf"{name}\b", message), \
        f"the message should start with the argument's name {name!r}: {message!r}"
    assert_unchanged(net, snap)
    np.testing.assert_array_equal(net.feedforward(probe), out_before)


@given(data=st.data())
def test_garbage_X_is_refused_by_name_and_changes_nothing(data):
    net = data.draw(networks(max_width=5), "net")
    method = data.draw(st.sampled_from(["feedforward", "predict", "backprop", "total_cost",
                                        "evaluate", "fit"]), "method")
    m = data.draw(st.integers(1, 6), "m")
    X, kind = data.draw(bad_features(m, net.sizes[0], net.dtype,
                                     allow_1d=method in ("feedforward", "predict")), "X")
    note(f"{net!r}, method {method}, bad X kind {kind}")
    y = np.zeros(m, dtype=np.int64)
    _assert_refused(net, method, X, y, "X")


@given(data=st.data())
def test_garbage_y_is_refused_by_name_and_changes_nothing(data):
    net = data.draw(networks(max_width=5), "net")
    method = data.draw(st.sampled_from(["backprop", "total_cost", "evaluate", "fit"]),
                       "method")
    m = data.draw(st.integers(1, 6), "m")
    X, _ = data.draw(feature_arrays(m, net.sizes[0], net.dtype), "X")
    y, kind = data.draw(bad_targets(m, net.sizes[-1], net.dtype), "y")
    note(f"{net!r}, method {method}, bad y kind {kind}")
    _assert_refused(net, method, X, y, "y")


# -- regressions ------------------------------------------------------------------

@pytest.mark.parametrize("method", ["feedforward", "predict"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_dim_array_of_the_network_dtype(method, dtype):
    """Regression: the fast path once read X.shape[-1] of a 0-d array (IndexError)."""
    net = fastbp.Network([1, 2], dtype=dtype, seed=0)
    _assert_refused(net, method, np.array(1.5, dtype=dtype), None, "X")


# Targets that are not distributions (rows not summing to 1, all-zero rows): BP1 must
# be the exact a^L Σ_j y_j - y, not the usual shortcut a^L - y (fixed in 2a667b2).
@given(data=st.data())
def test_log_likelihood_targets_that_are_not_distributions(data):
    sizes = data.draw(st.lists(st.integers(2, 6), min_size=2, max_size=3), "sizes")
    dtype = data.draw(st.sampled_from(DTYPES), "dtype")
    net = fastbp.Network(sizes, activation="tanh", cost="log_likelihood", dtype=dtype,
                         seed=data.draw(st.integers(0, 2**16)))
    m = data.draw(st.integers(1, 6), "m")
    X = data.draw(hnp.arrays(np.float64, (m, sizes[0]), elements=st.floats(-3, 3)), "X")
    Y = data.draw(hnp.arrays(np.float64, (m, sizes[-1]), elements=st.floats(0, 2)), "Y")
    try:
        nabla_b, nabla_w = net.backprop(X, Y)
    except (ValueError, TypeError) as exc:
        assert str(exc).startswith("y")
        return
    W, B = params64(net)
    X64, Y64 = as_engine_values(X, dtype), as_engine_values(Y, dtype)
    with np.errstate(all="ignore"):
        ref_b, ref_w = ref_backprop(W, B, X64, Y64, "tanh", "softmax", "log_likelihood")
    assume(all(np.isfinite(g).all() for g in ref_b + ref_w))
    for got, want in zip(nabla_w + nabla_b, ref_w + ref_b):
        assert_close(got, want, dtype)
