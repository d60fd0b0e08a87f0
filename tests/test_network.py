"""The Network API: construction, dtypes, persistence, and refusing bad input cleanly."""
import copy
import zipfile

import numpy as np
import pytest

import fastbp


def small_net(**kwargs):
    kwargs.setdefault("seed", 0)
    return fastbp.Network([4, 5, 3], **kwargs)


def data(m=6, n_in=4, n_out=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, n_in)), rng.integers(0, n_out, m)


def snapshot(net):
    return [p.copy() for p in net.weights + net.biases]


def assert_unchanged(net, before):
    after = net.weights + net.biases
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


# -- construction ------------------------------------------------------------------

def test_parameter_shapes_follow_the_book():
    net = fastbp.Network([784, 30, 10])
    assert [w.shape for w in net.weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in net.biases] == [(30,), (10,)]
    assert net.sizes == [784, 30, 10]


@pytest.mark.parametrize("init, w_std, b_std", [
    ("normal", lambda n_in: 1.0, 1.0),
    ("scaled_normal", lambda n_in: 1 / np.sqrt(n_in), 1.0),
    ("he", lambda n_in: np.sqrt(2 / n_in), 0.0),
    ("xavier", lambda n_in: np.sqrt(6 / (n_in + 200)) / np.sqrt(3), 0.0),
])
def test_init_distributions(init, w_std, b_std):
    net = fastbp.Network([400, 200, 200], init=init, seed=0)
    for w, b in zip(net.weights, net.biases):
        n_in = w.shape[1]
        assert abs(w.mean()) < 0.05 * w_std(n_in) + 1e-3
        assert w.std() == pytest.approx(w_std(n_in), rel=0.05)
        assert b.std() == pytest.approx(b_std, abs=0.15)


def test_seed_reproduces_parameters_and_training():
    X, y = data(40)
    nets = [small_net(seed=7) for _ in range(2)]
    for net in nets:
        net.fit(X, y, epochs=3, batch_size=4, learning_rate=0.5)
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)
    other = small_net(seed=8)
    assert not np.array_equal(other.weights[0], small_net(seed=7).weights[0])


def test_output_activation_defaults():
    assert small_net().output_activation == "sigmoid"
    assert small_net(activation="tanh").output_activation == "tanh"
    assert small_net(cost="log_likelihood").output_activation == "softmax"


@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32")])
def test_float32_network_stays_float32(dtype):
    net = small_net(dtype=dtype)
    X, y = data()
    assert net.dtype == np.float32
    net.fit(X, y, epochs=2, batch_size=3, learning_rate=0.5)
    assert all(p.dtype == np.float32 for p in net.weights + net.biases)
    assert net.feedforward(X).dtype == np.float32
    nabla_b, nabla_w = net.backprop(X, y)
    assert all(g.dtype == np.float32 for g in nabla_b + nabla_w)


def test_single_example_and_predict():
    net = small_net()
    X, y = data()
    # One example goes through GEMV, a batch through GEMM: equal up to rounding.
    np.testing.assert_allclose(net.feedforward(X[2]), net.feedforward(X)[2], rtol=1e-14)
    assert net.feedforward(X[2]).shape == (3,)
    np.testing.assert_array_equal(net.predict(X), net.feedforward(X).argmax(axis=1))
    assert net.predict(X[2]) == net.predict(X)[2]
    bad = X[2].copy()
    bad[1] = np.inf
    with pytest.raises(ValueError, match="X contains NaN"):
        net.feedforward(bad)
    assert net.evaluate(X, y) == np.mean(net.predict(X) == y)


def test_fit_learns_a_separable_problem_and_reports_history():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = fastbp.Network([2, 8, 2], cost="cross_entropy", seed=0)
    history = net.fit(X, y, epochs=20, batch_size=10, learning_rate=1.0,
                      validation_data=(X, y))
    assert set(history) == {"train_cost", "val_cost", "val_accuracy", "learning_rate"}
    assert all(len(v) == 20 for v in history.values())
    assert history["train_cost"][-1] < history["train_cost"][0]
    assert history["val_accuracy"][-1] > 0.95
    assert net.history is history
    assert history["val_cost"][-1] == pytest.approx(net.total_cost(X, y))


def test_integer_readonly_bigendian_noncontiguous_inputs_are_converted():
    net = small_net()
    X, y = data()
    expected = net.feedforward(X)
    readonly = X.copy()
    readonly.setflags(write=False)
    wide = np.zeros((6, 8))
    wide[:, ::2] = X
    for variant in (readonly, X.astype(">f8"), wide[:, ::2], np.asfortranarray(X)):
        np.testing.assert_array_equal(net.feedforward(variant), expected)
    Xi = np.arange(24).reshape(6, 4)
    np.testing.assert_array_equal(net.feedforward(Xi), net.feedforward(Xi.astype(float)))


def test_replaced_parameter_arrays_are_used_and_checked():
    net = small_net()
    X, _ = data()
    net.weights[0] = np.zeros((5, 4))
    net.biases[0] = np.zeros(5)
    # Every hidden neuron now outputs σ(0) = 1/2.
    expected = 1 / (1 + np.exp(-(0.5 * net.weights[1].sum(axis=1) + net.biases[1])))
    np.testing.assert_allclose(net.feedforward(X), np.tile(expected, (6, 1)), rtol=1e-14)
    # Checked as they are assigned: the network keeps its arrays.
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(3, 5\)"):
        net.weights[1] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"weights\[1\] must have dtype float64"):
        net.weights[1] = np.zeros((3, 5), dtype=np.float32)
    np.testing.assert_allclose(net.feedforward(X), np.tile(expected, (6, 1)), rtol=1e-14)
    with pytest.raises(ValueError, match="weights"):
        net.weights = [np.zeros((5, 4))]


def test_deepcopy_is_independent():
    net = small_net()
    twin = copy.deepcopy(net)
    X, y = data()
    twin.fit(X, y, epochs=1, batch_size=2, learning_rate=1.0)
    assert not np.array_equal(twin.weights[0], net.weights[0])


# -- persistence -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_load_round_trip(tmp_path, dtype):
    net = fastbp.Network([4, 6, 5, 3], activation="tanh", output_activation="softmax",
                         cost="log_likelihood", dtype=dtype, seed=3)
    X, y = data()
    net.fit(X, y, epochs=2, batch_size=2, learning_rate=0.1)
    net.save(tmp_path / "net.npz")
    back = fastbp.load(tmp_path / "net.npz")
    assert (back.sizes, back.activation, back.output_activation, back.cost, back.dtype) == \
        (net.sizes, net.activation, net.output_activation, net.cost, net.dtype)
    for a, b in zip(back.weights + back.biases, net.weights + net.biases):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.feedforward(X), net.feedforward(X))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "net.npz"
    small_net(seed=1).save(path)
    small_net(seed=2).save(str(path))
    np.testing.assert_array_equal(fastbp.load(path).weights[0], small_net(seed=2).weights[0])
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


def test_load_refuses_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        fastbp.load(tmp_path / "absent.npz")
    with pytest.raises(FileNotFoundError):
        fastbp.load(tmp_path / "absent.npz")
    with pytest.raises(TypeError, match="path"):
        fastbp.load(3.5)

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x93NUMPY not really" * 10)
    with pytest.raises(ValueError, match="path"):
        fastbp.load(garbage)

    good = tmp_path / "good.npz"
    small_net().save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="path"):
        fastbp.load(truncated)

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"format": "fastbp.Network"}], dtype=object))
    with pytest.raises(ValueError, match="path"):
        fastbp.load(pickled)

    def rewrite(name, **changes):
        with np.load(good) as f:
            arrays = dict(f)
        arrays.update(changes)
        path = tmp_path / name
        np.savez(path, **arrays)
        return path

    import json
    meta = json.loads(str(np.load(good)["meta"]))
    for name, changes, message in [
        ("version.npz", {"meta": np.array(json.dumps({**meta, "version": 99}))}, "version"),
        ("format.npz", {"meta": np.array(json.dumps({**meta, "format": "x"}))}, "not a"),
        ("shape.npz", {"w1": np.zeros((2, 2))}, "shape"),
        ("nan.npz", {"b2": np.full(3, np.nan)}, "NaN"),
        ("act.npz", {"meta": np.array(json.dumps({**meta, "activation": "os.system"}))},
         "activation"),
    ]:
        with pytest.raises(ValueError, match=message):
            fastbp.load(rewrite(name, **changes))
    with zipfile.ZipFile(good) as z:
        assert sorted(z.namelist()) == ["b1.npy", "b2.npy", "meta.npy", "w1.npy", "w2.npy"]


# -- refusing bad input ------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    ({"sizes": [4]}, ValueError, "sizes"),
    ({"sizes": []}, ValueError, "sizes"),
    ({"sizes": [4, 0, 3]}, ValueError, r"sizes\[1\]"),
    ({"sizes": [4, -2]}, ValueError, r"sizes\[1\]"),
    ({"sizes": [4, 2.5]}, TypeError, r"sizes\[1\]"),
    ({"sizes": [4, True]}, TypeError, r"sizes\[1\]"),
    ({"sizes": "43"}, TypeError, "sizes"),
    ({"sizes": 4}, TypeError, "sizes"),
    ({"activation": "swish"}, ValueError, "activation"),
    ({"activation": "softmax"}, ValueError, "activation"),
    ({"activation": None}, TypeError, "activation"),
    ({"output_activation": "gelu"}, ValueError, "output_activation"),
    ({"cost": "hinge"}, ValueError, "cost"),
    ({"cost": "cross_entropy", "output_activation": "relu"}, ValueError, "cross_entropy"),
    ({"cost": "log_likelihood", "output_activation": "tanh"}, ValueError, "log_likelihood"),
    ({"init": "zeros"}, ValueError, "init"),
    ({"dtype": "float16"}, ValueError, "dtype"),
    ({"dtype": "int64"}, ValueError, "dtype"),
    ({"dtype": "nonsense"}, TypeError, "dtype"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": "abc"}, TypeError, "seed"),
    ({"seed": True}, TypeError, "seed"),
])
def test_constructor_refuses_bad_arguments(kwargs, error, message):
    kwargs = {"sizes": [4, 5, 3], **kwargs}
    with pytest.raises(error, match=message):
        fastbp.Network(**kwargs)


X_GOOD, Y_GOOD = data()
NAN_X = X_GOOD.copy()
NAN_X[1, 2] = np.nan
INF_X = X_GOOD.copy()
INF_X[0, 0] = np.inf

BAD_X = [
    (X_GOOD[:, :3], ValueError, "X has 3 features"),
    (X_GOOD[None], ValueError, "X must be a 2-d"),
    (np.float64(1.0), ValueError, "X must be"),
    (np.empty((0, 4)), ValueError, "X is empty"),
    (NAN_X, ValueError, "X contains NaN"),
    (INF_X, ValueError, "X contains NaN"),
    (np.full((6, 4), 1e300), ValueError, "X contains NaN"),  # overflows in float32 only
    (X_GOOD.astype(str), TypeError, "X must hold real numbers"),
    (X_GOOD.astype(object), TypeError, "X must hold real numbers"),
    (X_GOOD > 0, TypeError, "X has dtype bool"),
    (X_GOOD.astype(complex), TypeError, "X must hold real numbers"),
    ([[1, 2, 3, 4], [1, 2]], ValueError, "X could not be read"),
]


@pytest.mark.parametrize("X, error, message", BAD_X)
def test_fit_refuses_bad_X_and_leaves_network_unchanged(X, error, message):
    net = small_net(dtype="float32")
    before = snapshot(net)
    with pytest.raises(error, match=message):
        net.fit(X, Y_GOOD, epochs=1, batch_size=2, learning_rate=1.0)
    assert_unchanged(net, before)


@pytest.mark.parametrize("method", ["feedforward", "predict"])
@pytest.mark.parametrize("X, error, message", [c for c in BAD_X if c[2] != "X must be a 2-d"])
def test_inference_refuses_bad_X(method, X, error, message):
    with pytest.raises(error, match=message):
        getattr(small_net(dtype="float32"), method)(X)


@pytest.mark.parametrize("y, error, message", [
    (Y_GOOD[:5], ValueError, "y has 5 labels but X has 6 rows"),
    (np.array([0, 1, 2, 3, 0, 1]), ValueError, r"outside \[0, 3\)"),
    (np.array([0, 1, 2, -1, 0, 1]), ValueError, r"outside \[0, 3\)"),
    (np.array([0, 1, 2, 0.5, 0, 1]), ValueError, "integer class labels"),
    (np.array(["a"] * 6), TypeError, "y must hold real numbers"),
    (np.ones((6, 2)), ValueError, "y has 2 columns"),
    (np.ones((5, 3)), ValueError, "y has 5 rows"),
    (np.full((6, 3), np.nan), ValueError, "y contains NaN"),
    (np.ones((6, 3, 1)), ValueError, "y must be 1-d class labels or a 2-d"),
])
@pytest.mark.parametrize("call", ["fit", "backprop", "total_cost"])
def test_bad_targets_are_refused(call, y, error, message):
    net = small_net()
    before = snapshot(net)
    args = {"fit": dict(epochs=1, batch_size=2, learning_rate=1.0)}.get(call, {})
    with pytest.raises(error, match=message):
        getattr(net, call)(X_GOOD, y, **args)
    assert_unchanged(net, before)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": 1.5}, TypeError, "epochs"),
    ({"epochs": None}, TypeError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -3}, ValueError, "batch_size"),
    ({"batch_size": "10"}, TypeError, "batch_size"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"learning_rate": -0.1}, ValueError, "learning_rate"),
    ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
    ({"learning_rate": float("inf")}, ValueError, "learning_rate"),
    ({"learning_rate": "3"}, TypeError, "learning_rate"),
    ({"validation_data": X_GOOD}, TypeError, "validation_data"),
    ({"validation_data": (X_GOOD[:, :2], Y_GOOD)}, ValueError, r"validation_data\[0\]"),
    ({"validation_data": (X_GOOD, Y_GOOD + 5)}, ValueError, r"validation_data\[1\]"),
    ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"seed": -5}, ValueError, "seed"),
])
def test_fit_refuses_bad_hyperparameters(kwargs, error, message):
    net = small_net()
    before = snapshot(net)
    kwargs = {"epochs": 1, "batch_size": 2, "learning_rate": 1.0, **kwargs}
    with pytest.raises(error, match=message):
        net.fit(X_GOOD, Y_GOOD, **kwargs)
    assert_unchanged(net, before)


def test_batch_larger_than_data_is_one_full_batch():
    net, twin = small_net(), small_net()
    net.fit(X_GOOD, Y_GOOD, epochs=1, batch_size=100, learning_rate=1.0, shuffle=False)
    twin.fit(X_GOOD, Y_GOOD, epochs=1, batch_size=6, learning_rate=1.0, shuffle=False)
    for a, b in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(a, b)


def test_divergence_stops_with_a_clear_error():
    net = fastbp.Network([4, 5, 3], activation="identity", init="normal", seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)) * 100
    with pytest.raises(FloatingPointError, match="epoch 1.*learning rate"):
        net.fit(X, rng.normal(size=(50, 3)), epochs=5, batch_size=5, learning_rate=1e3)


def test_ctrl_c_interrupts_a_long_fit_between_steps():
    """The compiled epoch checks for signals every few milliseconds of work."""
    import os
    import signal
    import threading
    import time

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 200))
    y = rng.integers(0, 10, 20000)
    net = fastbp.Network([200, 100, 10], seed=0)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, epochs=10_000, batch_size=10, learning_rate=0.1)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 30  # 10,000 epochs would take hours
    assert all(np.isfinite(p).all() for p in net.weights + net.biases)


def test_pickle_round_trip_is_exact_and_keeps_training_identically():
    import pickle
    net = small_net(dtype="float32")
    X, y = data(30)
    net.fit(X, y, epochs=2, batch_size=4, learning_rate=0.5, momentum=0.5)
    twin = pickle.loads(pickle.dumps(net))
    for a, b in zip(twin.weights + twin.biases, net.weights + net.biases):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    # The random stream and optimiser state came along: training continues alike.
    for n in (net, twin):
        n.fit(X, y, epochs=2, batch_size=4, learning_rate=0.5, momentum=0.5)
    for a, b in zip(twin.weights + twin.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)


def test_use_from_another_thread_during_fit_is_refused():
    import threading
    net = small_net()
    X, y = data(200)
    errors = []

    def probe(network, epoch, history):
        def use():
            for call in (lambda: network.feedforward(X),
                         lambda: network.fit(X, y, epochs=1, batch_size=2, learning_rate=1.0)):
                try:
                    call()
                except RuntimeError as exc:
                    errors.append(str(exc))
        thread = threading.Thread(target=use)
        thread.start()
        thread.join()

    net.fit(X, y, epochs=1, batch_size=2, learning_rate=1.0, callback=probe)
    assert len(errors) == 2 and all("being trained in another thread" in e for e in errors)
    net.feedforward(X)  # and usable again afterwards


def _unaligned(X):
    raw = np.zeros(X.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=X.dtype, count=X.size, offset=1).reshape(X.shape)
    out[...] = X
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("variant", ["list", "fortran", "strided", "swapped", "unaligned",
                                     "other dtype", "subclass", "readonly"])
@pytest.mark.parametrize("single", [False, True])
def test_feedforward_same_answer_for_every_input_layout(dtype, variant, single):
    """The compiled fast path takes only exact, aligned, native, C-contiguous arrays
    of the network's dtype; every other layout is converted and gives the same a^L."""
    net = fastbp.Network([5, 4, 3], dtype=dtype, seed=0)
    X = np.random.default_rng(1).normal(size=(6, 5)).astype(dtype)
    other = np.float32 if dtype == np.float64 else np.float64
    make = {
        "list": lambda X: X.tolist(),
        "fortran": np.asfortranarray,
        "strided": lambda X: np.repeat(X, 2, axis=-1)[..., ::2],
        "swapped": lambda X: X.astype(X.dtype.newbyteorder()),
        "unaligned": _unaligned,
        "other dtype": lambda X: X.astype(other),
        "subclass": lambda X: X.view(type("Sub", (np.ndarray,), {})),
        "readonly": lambda X: np.frombuffer(X.tobytes(), dtype=X.dtype).reshape(X.shape),
    }[variant]
    if single:
        X = X[2].copy()
    want = net.feedforward(X)
    got = net.feedforward(make(X))
    assert type(got) is np.ndarray and got.dtype == dtype and got.shape == want.shape
    if variant == "other dtype":
        np.testing.assert_allclose(got, want, rtol=1e-5)
    else:
        np.testing.assert_array_equal(got, want)
    bad = X.copy()
    bad[(0,) * bad.ndim] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        net.feedforward(make(bad))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [1, 300, 1030, 2100])
@pytest.mark.parametrize("own", [True, False], ids=["own-kernels", "blas-only"])
def test_feedforward_refuses_nonfinite_input_wherever_it_is(dtype, m, own):
    """The fast path checks X while the first layer reads it: a NaN or inf anywhere,
    down to the last element of the last row, is refused, by every kernel."""
    from fastbp import _blas
    net = fastbp.Network([37, 30, 10], dtype=dtype, seed=0)
    X = np.random.default_rng(2).normal(size=(m, 37)).astype(dtype)
    previous = _blas._use_own_kernels(own)
    try:
        want = net.feedforward(X)
        for value in [np.nan, np.inf, -np.inf]:
            for where in {(0, 0), (m // 2, 36), (m - 1, 36)}:
                bad = X.copy()
                bad[where] = value
                with pytest.raises(ValueError, match="X contains NaN or infinite"):
                    net.feedforward(bad)
                with pytest.raises(ValueError, match="X contains NaN or infinite"):
                    net.feedforward(bad[where[0]])
        np.testing.assert_array_equal(net.feedforward(X), want)
    finally:
        _blas._use_own_kernels(previous)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_own_arrays_start_on_cache_lines(dtype, tmp_path):
    """Parameters, optimizer state and loaded networks start on 64-byte boundaries
    (where NumPy would put large arrays 16 bytes past one, and every vector load
    would straddle two cache lines)."""
    from fastbp._backprop import aligned_empty

    def aligned(arrays):
        return all(a.ctypes.data % 64 == 0 and a.flags.c_contiguous and a.flags.writeable
                   for a in arrays)

    for shape in [(0,), (3,), (30, 784), (0, 5)]:
        a = aligned_empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype
        assert aligned([a]) or a.size == 0
    for init in ["normal", "scaled_normal", "xavier", "he"]:
        net = fastbp.Network([784, 30, 10], init=init, dtype=dtype, seed=0)
        assert aligned(net.weights + net.biases)
    X = np.random.default_rng(0).normal(size=(20, 784)).astype(dtype)
    net.fit(X, np.arange(20) % 10, epochs=1, batch_size=5, learning_rate=0.01,
            optimizer="adam")
    state = net.training_state.optimizer
    assert len(state.arrays()) == 4 * len(net.weights)
    assert aligned(state.arrays())
    net.save(tmp_path / "net.npz")
    loaded = fastbp.load(tmp_path / "net.npz")
    assert aligned(loaded.weights + loaded.biases)
    for got, want in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        np.testing.assert_array_equal(got, want)


def test_a_network_pickled_with_the_old_optimizer_state_dict_trains_on():
    """Before the optimiser state was one object it was pickled as a dict of lists."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    net = fastbp.Network([4, 5, 3], seed=0)
    net.fit(X, y, epochs=1, batch_size=5, learning_rate=0.1, momentum=0.5)
    state = net.__getstate__()
    opt = state["_opt_state"]
    state["_opt_state"] = {"kind": opt.kind, "step": opt.step, "s1w": list(opt.s1w),
                           "s1b": list(opt.s1b)}
    old = fastbp.Network.__new__(fastbp.Network)
    old.__setstate__(state)
    assert old.training_state.optimizer.kind == "momentum"
    assert old.training_state.optimizer.step == 4
    for twin in (net, old):
        twin.partial_fit(X, y, batch_size=5, learning_rate=0.1, momentum=0.5, seed=1)
    for p, q in zip(net.weights + net.biases, old.weights + old.biases):
        np.testing.assert_array_equal(p, q)
