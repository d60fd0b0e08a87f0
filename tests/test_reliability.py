"""Reliability: the parameters under the engine are always checked ones, copies and
saves hold whole steps, refused calls change nothing, and bad files raise ValueError."""
import copy
import pickle
import threading
import time

import numpy as np
import pytest

import fastbp


def small_net(**kwargs):
    kwargs.setdefault("seed", 0)
    return fastbp.Network([4, 5, 3], **kwargs)


def data(m=40, n_in=4, n_out=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, n_in)), rng.integers(0, n_out, m)


# -- 1. the engine is built from one checked snapshot of the parameter lists --------

def bad_arrays(shape, dtype, rng):
    """Arrays the engine must never see in place of a (shape, dtype) parameter."""
    n = rng.integers(1, 9)
    yield np.zeros((shape[0] + n,) + shape[1:], dtype)
    yield np.zeros(shape[:-1] + (shape[-1] + n,), dtype)
    yield np.zeros(shape, np.float32 if dtype == np.float64 else np.float64)
    yield np.zeros(shape[::-1] + (1,), dtype)
    yield np.zeros(shape + (2,), dtype)[..., 0]  # not contiguous
    nan = np.zeros(shape, dtype)
    nan.flat[rng.integers(nan.size)] = np.nan
    yield nan
    yield [[0.0] * shape[-1]] * shape[0] if len(shape) == 2 else [0.0] * shape[0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_unchecked_array_is_refused_as_it_is_assigned(dtype):
    rng = np.random.default_rng(0)
    net = small_net(dtype=dtype)
    X, _ = data()
    expected = net.feedforward(X)
    for kind in ("weights", "biases"):
        for i, p in enumerate(getattr(net, kind)):
            for bad in bad_arrays(p.shape, net.dtype, rng):
                with pytest.raises((ValueError, TypeError), match=rf"{kind}\[{i}\]"):
                    getattr(net, kind)[i] = bad
                with pytest.raises((ValueError, TypeError), match=rf"{kind}\[{i}\]"):
                    getattr(net, kind)[i:i + 1] = [bad]
                replaced = list(getattr(net, kind))
                replaced[i] = bad
                with pytest.raises((ValueError, TypeError), match=rf"{kind}\[{i}\]"):
                    setattr(net, kind, replaced)
    np.testing.assert_array_equal(net.feedforward(X), expected)


def test_the_parameter_lists_keep_one_array_per_layer():
    net = small_net()
    for op in (lambda l: l.append(l[0]), lambda l: l.pop(), lambda l: l.insert(0, l[0]),
               lambda l: l.extend([]), lambda l: l.clear(), lambda l: l.reverse(),
               lambda l: l.remove(l[0]), lambda l: l.__delitem__(0),
               lambda l: l.__iadd__([l[0]]), lambda l: l.__imul__(2)):
        for lst in (net.weights, net.biases):
            with pytest.raises(TypeError, match="one array per layer"):
                op(lst)
    with pytest.raises(ValueError, match="length"):
        net.weights[0:1] = []
    assert len(net.weights) == len(net.biases) == 2
    with pytest.raises(TypeError, match="weights must be a list"):
        net.weights = np.zeros((2, 5, 4))
    # Good arrays go in, by index, by slice and as whole lists.
    w = [np.full((5, 4), 0.5), np.full((3, 5), -0.5)]
    net.weights[0] = w[0]
    live = net.weights
    live[1:] = [w[1]]
    assert live is net.weights      # a slice assignment changes the live list itself
    assert net.weights[0] is w[0] and net.weights[1] is w[1]
    net.weights = tuple(a.copy() for a in w)
    np.testing.assert_array_equal(net.weights[1], w[1])
    assert net.feedforward(np.ones(4)).shape == (3,)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_assigning_wrong_arrays_from_a_thread_never_reaches_the_engine(dtype):
    """A thread keeps trying to put wrong-shaped arrays under a network that another
    thread uses: every output is one of the two valid networks' outputs."""
    net = small_net(dtype=dtype)
    X, y = data(64)
    good = [w.copy() for w in net.weights]
    other = [np.ascontiguousarray(w[::-1]) for w in good]
    outputs = []  # every mix of the two valid first and second layers
    for w0 in (good[0], other[0]):
        for w1 in (good[1], other[1]):
            net.weights = [w0.copy(), w1.copy()]
            outputs.append(net.feedforward(X))
    rng = np.random.default_rng(5)
    stop = threading.Event()
    errors = []

    def mutate():
        try:
            while not stop.is_set():
                i = int(rng.integers(2))
                for bad in bad_arrays(good[i].shape, net.dtype, rng):
                    try:
                        net.weights[i] = bad
                    except (ValueError, TypeError):
                        pass
                    else:
                        errors.append(f"weights[{i}] accepted {np.shape(bad)}")
                net.weights[i] = (good if rng.integers(2) else other)[i].copy()
                net.weights = [w.copy() for w in (good if rng.integers(2) else other)]
        except BaseException as exc:  # noqa: BLE001
            errors.append(repr(exc))

    thread = threading.Thread(target=mutate, daemon=True)
    thread.start()
    try:
        deadline = time.perf_counter() + 1.0
        while time.perf_counter() < deadline:
            out = net.feedforward(X)
            assert any(np.array_equal(out, o) for o in outputs)
            nabla_b, nabla_w = net.backprop(X, y)
            assert all(np.isfinite(g).all() for g in nabla_b + nabla_w)
            net.evaluate(X, y)
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors[:3]


# -- 2. copies, saves and parameter assignment while fit runs -----------------------

def training_in_a_thread(net, X, y, **kwargs):
    """Start net.fit in a thread whose first callback waits: returns (thread,
    release); the network is mid-fit until release() is called."""
    paused, resume = threading.Event(), threading.Event()
    errors = []

    def callback(n, epoch, history):
        paused.set()
        resume.wait(30)
        return True

    def run():
        try:
            net.fit(X, y, epochs=5, batch_size=4, learning_rate=0.5,
                    callback=callback, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert paused.wait(30)

    def release():
        resume.set()
        thread.join(30)
        assert not errors, errors

    return release


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_copies_saves_and_assignments_are_refused_while_another_thread_trains(
        tmp_path, optimizer):
    net = small_net()
    X, y = data()
    release = training_in_a_thread(net, X, y, optimizer=optimizer)
    try:
        for attempt in (lambda: copy.deepcopy(net), lambda: copy.copy(net),
                        lambda: pickle.dumps(net),
                        lambda: net.save(tmp_path / "net.npz")):
            with pytest.raises(RuntimeError, match="trained in another thread"):
                attempt()
        with pytest.raises(RuntimeError, match="while fit runs"):
            net.weights[0] = np.zeros((5, 4))
        with pytest.raises(RuntimeError, match="while fit runs"):
            net.biases = [np.zeros(5), np.zeros(3)]
        with pytest.raises(RuntimeError, match="already being trained"):
            net.fit(X, y, epochs=1, batch_size=4, learning_rate=0.5)
    finally:
        release()
    assert not (tmp_path / "net.npz").exists()
    twin = copy.deepcopy(net)       # once fit returns, all of it works again
    net.save(tmp_path / "net.npz")
    np.testing.assert_array_equal(fastbp.load(tmp_path / "net.npz").weights[0],
                                  twin.weights[0])
    net.weights[0] = np.zeros((5, 4))


def test_fit_callback_may_copy_and_save_but_not_replace_parameters(tmp_path):
    net = small_net()
    X, y = data()
    seen = []

    def callback(n, epoch, history):
        twin = copy.deepcopy(n)
        n.save(tmp_path / f"epoch{epoch}.npz")
        seen.append((twin, [p.copy() for p in n.weights + n.biases]))
        with pytest.raises(RuntimeError, match="while fit runs"):
            n.weights[0] = np.zeros((5, 4))
        with pytest.raises(RuntimeError, match="while fit runs"):
            n.weights = [w.copy() for w in n.weights]
        n.biases[0][...] = 0     # in place: training adopts it
        return False

    net.fit(X, y, epochs=3, batch_size=4, learning_rate=0.5, momentum=0.5,
            callback=callback)
    for epoch, (twin, params) in enumerate(seen, start=1):
        for a, b in zip(twin.weights + twin.biases, params):
            np.testing.assert_array_equal(a, b)
        assert twin.training_state.optimizer.step == epoch * 10     # 40 rows, batches of 4
        assert len(twin.history["train_cost"]) == epoch
        loaded = fastbp.load(tmp_path / f"epoch{epoch}.npz")
        np.testing.assert_array_equal(loaded.weights[1], params[1])
    # The copies are independent of the network that went on training.
    assert not np.array_equal(seen[0][0].weights[0], net.weights[0])


def test_fit_waits_for_no_copy_but_refuses_to_start_during_one():
    net = small_net()
    X, y = data()
    before = [p.copy() for p in net.weights + net.biases]
    with net._snapshot_guard("saved"):
        with pytest.raises(RuntimeError, match="being copied or saved"):
            net.fit(X, y, epochs=1, batch_size=4, learning_rate=0.5)
    for a, b in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(a, b)
    net.fit(X, y, epochs=1, batch_size=4, learning_rate=0.5)


# -- 3. a refused estimator fit changes nothing -------------------------------------

def estimator_state(est):
    """A comparable copy of everything an estimator holds."""
    state = {}
    for key, value in est.__dict__.items():
        if key == "network_":
            value = (id(value), [p.copy() for p in value.weights + value.biases],
                     copy.deepcopy(value.training_state.optimizer))
        state[key] = copy.deepcopy(value)
    return state


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if key == "network_":
            assert x[0] == y[0]
            for p, q in zip(x[1], y[1]):
                np.testing.assert_array_equal(p, q)
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y)
        elif type(x) is type(y) and hasattr(x, "__dict__") and type(x).__eq__ is \
                object.__eq__:  # an object held by the estimator (its label binarizer)
            assert_same_state(vars(x), vars(y))
        elif key != "_opt_state":
            assert x == y or (x != x and y != y), key


def refused_fits(X, y, rng, continuing):
    """(description, estimator parameters, fit arguments): fits that must be refused;
    ``continuing``: the estimator is fitted and warm_start is set."""
    n = len(y)
    w = rng.uniform(0.5, 2.0, n)
    # (Negative weights are no refusal: scikit-learn takes them. Weights that sum to 0
    # over the whole batch of n rows are: the weighted mean is undefined.)
    yield "classes and all-zero weights", {}, (X, y + 5, np.zeros(n))
    yield "weights summing to 0", {}, (X, y, np.where(np.arange(n) < n // 2, -1.0, 1.0))
    yield "weights of wrong shape", {}, (X, y, w[:-1])
    yield "NaN weight", {}, (X, y, np.where(np.arange(n) == 0, np.nan, w))
    yield "too small validation split", dict(early_stopping=True,
                                              validation_fraction=0.9 / n), (X, y, None)
    yield "max_iter 2**31", dict(max_iter=2**31), (X, y, None)
    yield "max_iter 0", dict(max_iter=0), (X, y, None)
    Xn = X.copy()
    Xn[rng.integers(n), rng.integers(X.shape[1])] = np.nan
    yield "NaN in X", {}, (Xn, y + 3, None)
    if continuing:
        yield "wrong number of features", {}, (X[:, :-1], y, None)
        yield "other classes", {}, (X, y + 1, None)
    # (One class is no refusal: scikit-learn fits it, and so does fastbp.sklearn.)
    yield "bad hidden sizes", dict(hidden_layer_sizes=(0,)), (X, y, None)
    yield "rate overflows float32", dict(dtype="float32", learning_rate_init=1e300), \
        (X, y + 7, None)


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_refused_classifier_fit_leaves_the_estimator_unchanged(warm_start):
    pytest.importorskip("sklearn")
    import warnings
    from fastbp.sklearn import MLPClassifier

    rng = np.random.default_rng(3)
    X, y = data(30)
    for fitted in (False, True):
        for what, params, (Xf, yf, sw) in refused_fits(X, y, rng, fitted and warm_start):
            clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0,
                                warm_start=warm_start)
            if fitted:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf.fit(X, y)
            clf.set_params(**params)
            before = estimator_state(clf)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pytest.raises((ValueError, TypeError)):
                    clf.fit(Xf, yf, sample_weight=sw)
            assert_same_state(estimator_state(clf), before)


# -- 4. load: every damaged file is a ValueError naming it --------------------------

def zip_mutations(good, rng):
    """Byte strings made from the saved file ``good``: random byte changes,
    truncations, and edits of the zip's own fields and of the JSON header."""
    import io
    import json
    import struct
    import zipfile
    n = len(good)
    for _ in range(300):  # flip a few bytes
        b = bytearray(good)
        for i in rng.integers(0, n, rng.integers(1, 6)):
            b[i] = int(rng.integers(256))
        yield "bytes changed", bytes(b)
    for cut in sorted(set(rng.integers(0, n, 60).tolist())):
        yield f"truncated to {cut}", good[:cut]
    # The fields of every local and central header: method, flags, sizes.
    for sig, fields in ((b"PK\x03\x04", {"flags": 6, "method": 8, "csize": 18,
                                          "usize": 22}),
                        (b"PK\x01\x02", {"flags": 8, "method": 10, "csize": 20,
                                          "usize": 24})):
        start = good.find(sig)
        while start != -1:
            for field, off in fields.items():
                width = 2 if field in ("flags", "method") else 4
                for value in ({"flags": [1, 0x41, 0xFFFF], "method": [12, 14, 99, 8]}
                              .get(field, [0, 1, 2**31, 2**32 - 1])):
                    b = bytearray(good)
                    b[start + off:start + off + width] = value.to_bytes(width, "little")
                    yield f"{sig!r}+{off} = {value}", bytes(b)
            start = good.find(sig, start + 4)
    with np.load(io.BytesIO(good)) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))

    def rebuilt(compress=False, **changes):
        out = io.BytesIO()
        (np.savez_compressed if compress else np.savez)(out, **{**arrays, **changes})
        return out.getvalue()

    yield "deep JSON", rebuilt(meta=np.array("[" * 100_000 + "]" * 100_000))
    yield "deep JSON object", rebuilt(meta=np.array('{"a":' * 50_000 + "1" + "}" * 50_000))
    yield "not JSON", rebuilt(meta=np.array("{nope"))
    yield "bytes meta", rebuilt(meta=np.array(b"abc"))
    yield "2-d meta", rebuilt(meta=np.array([["a"]]))
    for sizes in ([12000, 12000, 2], [2**30, 2**30], [4, 2**31 - 1, 3], [4, -5, 3],
                  [4, 5.5, 3], "453", [4], [4, 5, 3, 7], {"a": 1}, [True, 5, 3]):
        yield f"sizes {sizes}", rebuilt(meta=np.array(json.dumps({**meta, "sizes": sizes})))
    for key in ("activation", "cost", "init", "dtype", "output_activation"):
        yield f"{key} None", rebuilt(meta=np.array(json.dumps({**meta, key: None})))
        yield f"{key} missing", rebuilt(meta=np.array(json.dumps(
            {k: v for k, v in meta.items() if k != key})))
    yield "float32 weights", rebuilt(w1=arrays["w1"].astype(np.float32))
    yield "int weights", rebuilt(w1=arrays["w1"].astype(np.int64))
    yield "big-endian weights", rebuilt(w1=arrays["w1"].astype(">f8"))
    yield "Fortran weights", rebuilt(w1=np.asfortranarray(arrays["w1"]))
    yield "object weights", rebuilt(w1=arrays["w1"].astype(object))
    yield "no w2", rebuilt(**{k: v for k, v in arrays.items() if k != "w2"})
    yield "compressed", rebuilt(compress=True)
    compressed = rebuilt(compress=True)
    for _ in range(100):
        b = bytearray(compressed)
        for i in rng.integers(0, len(b), rng.integers(1, 4)):
            b[i] = int(rng.integers(256))
        yield "compressed, bytes changed", bytes(b)
    # A zip with an encrypted-looking member and one with an unknown method.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, arr)
            z.writestr(name + ".npy", buf.getvalue())
    plain = out.getvalue()
    yield "rewritten by zipfile", plain

    def members(**npy):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, arr in arrays.items():
                buf = io.BytesIO()
                np.save(buf, arr)
                z.writestr(name + ".npy", npy.get(name, buf.getvalue()))
        return out.getvalue()

    # Headers that declare far more data than their members hold (and than memory),
    # with valid CRCs: refused before anything of that size is allocated.
    buf = io.BytesIO()
    np.save(buf, arrays["meta"])
    meta_npy = buf.getvalue()
    width = meta_npy.split(b"'descr': '<U")[1].split(b"'")[0]
    for huge in (b"999999999", b"99999999", b"9" * len(width)):
        patched = meta_npy.replace(b"<U" + width + b"'", b"<U" + huge + b"'", 1)
        patched = patched.replace(b"} " + b" " * (len(huge) - len(width)), b"} ", 1)
        yield f"meta of <U{huge.decode()}", members(meta=patched)
    buf = io.BytesIO()
    np.save(buf, arrays["w1"])
    yield "w1 data cut", members(w1=buf.getvalue()[:-8])
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=method) as z:
            for name, arr in arrays.items():
                buf = io.BytesIO()
                np.save(buf, arr)
                z.writestr(name + ".npy", buf.getvalue())
        yield f"method {method}", out.getvalue()
    del struct


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_damaged_file_loads_or_raises_a_value_error_quickly(tmp_path, dtype):
    import resource
    net = fastbp.Network([6, 5, 3], dtype=dtype, seed=1)
    good_path = tmp_path / "good.npz"
    net.save(good_path)
    good = good_path.read_bytes()
    rng = np.random.default_rng(42)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    path = tmp_path / "mutated.npz"
    outcomes = {"loaded": 0, "refused": 0}
    slowest = 0.0
    for what, blob in zip_mutations(good, rng):
        path.write_bytes(blob)
        start = time.perf_counter()
        try:
            loaded = fastbp.load(path)
        except ValueError as exc:
            assert str(path) in str(exc), (what, exc)
            outcomes["refused"] += 1
        except BaseException as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{what}: {type(exc).__name__}: {exc}")
        else:
            outcomes["loaded"] += 1
            assert loaded.sizes == net.sizes
            assert all(np.isfinite(p).all() for p in loaded.weights + loaded.biases)
        slowest = max(slowest, time.perf_counter() - start)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert outcomes["refused"] > 300 and outcomes["loaded"] > 0, outcomes
    assert slowest < 1.0, slowest
    assert grown < 100_000, f"peak memory grew by {grown} KiB"


def test_load_draws_no_random_parameters(monkeypatch, tmp_path):
    import fastbp.network as network
    small_net().save(tmp_path / "net.npz")

    def refuse(*args, **kwargs):
        raise AssertionError("load drew initial parameters")

    monkeypatch.setattr(network, "_initial_parameters", refuse)
    fastbp.load(tmp_path / "net.npz")


# -- 5. save: links, special files and permissions ----------------------------------

def test_save_follows_a_symlink_and_replaces_its_target(tmp_path):
    import os
    target = tmp_path / "real.npz"
    small_net(seed=1).save(target)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    small_net(seed=2).save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(fastbp.load(target).weights[0],
                                  small_net(seed=2).weights[0])
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "new.npz")
    small_net(seed=3).save(dangling)
    assert dangling.is_symlink()
    np.testing.assert_array_equal(fastbp.load(tmp_path / "new.npz").weights[0],
                                  small_net(seed=3).weights[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["dangling.npz", "link.npz", "new.npz", "real.npz"]


def test_save_refuses_what_is_not_a_regular_file(tmp_path):
    import os
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "dir.npz").mkdir()
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for path in (fifo, tmp_path / "dir.npz", link):
        with pytest.raises(ValueError, match="not a regular file"):
            small_net().save(path)
    import stat
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz", "fifo", "link"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_save_keeps_an_existing_mode_and_gives_new_files_the_umask(tmp_path, umask):
    import os
    old = os.umask(umask)
    try:
        small_net().save(tmp_path / "new.npz")
        assert os.stat(tmp_path / "new.npz").st_mode & 0o777 == 0o666 & ~umask
        existing = tmp_path / "existing.npz"
        existing.write_bytes(b"")
        for mode in (0o640, 0o604, 0o444):
            os.chmod(existing, mode)
            small_net().save(existing)
            assert os.stat(existing).st_mode & 0o777 == mode
    finally:
        os.umask(old)


# -- 6. no silent wrong results -------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_huge_and_tiny_sample_weights_give_the_weighted_mean(dtype):
    X, y = data(24)
    rng = np.random.default_rng(4)
    w = rng.uniform(0.1, 1.0, len(y))
    reference = small_net(dtype=dtype)
    reference.fit(X, y, epochs=2, batch_size=5, learning_rate=0.5, sample_weight=w)
    ref_grad = small_net(dtype=dtype).backprop(X, y, sample_weight=w)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    for scale in (1e300, 1e308 / w.max(), 1e-300, 1e-310):
        net = small_net(dtype=dtype)
        net.fit(X, y, epochs=2, batch_size=5, learning_rate=0.5, sample_weight=w * scale)
        for a, b in zip(net.weights + net.biases, reference.weights + reference.biases):
            np.testing.assert_allclose(a, b, **tol)
        grad = small_net(dtype=dtype).backprop(X, y, sample_weight=w * scale)
        for a, b in zip(grad[0] + grad[1], ref_grad[0] + ref_grad[1]):
            np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("sizes", [{4, 5, 3}, frozenset({4, 3}), {4: 1, 3: 2},
                                   iter([4, 3]), (n for n in [4, 3])])
def test_unordered_sizes_are_refused(sizes):
    with pytest.raises(TypeError, match="sizes"):
        fastbp.Network(sizes)
    fastbp.Network(np.array([4, 3]))
    fastbp.Network(range(4, 1, -1))


def test_evaluate_refuses_targets_that_are_not_one_hot():
    net = small_net()
    X, y = data(10)
    soft = np.full((10, 3), 1 / 3)
    with pytest.raises(ValueError, match="one-hot"):
        net.evaluate(X, soft)
    np.testing.assert_equal(net.evaluate(X, np.eye(3)[y]), net.evaluate(X, y))


def test_parameters_set_to_nan_in_place_are_reported_not_used():
    X, y = data(10)
    rng = np.random.default_rng(6)
    for trial in range(20):
        net = small_net(seed=trial)
        kind = ["weights", "biases"][trial % 2]
        i = int(rng.integers(2))
        arr = getattr(net, kind)[i]
        arr.flat[rng.integers(arr.size)] = [np.nan, np.inf, -np.inf][trial % 3]
        before = [p.copy() for p in net.weights + net.biases]
        for call in (lambda: net.fit(X, y, 1, 4, 0.5), lambda: net.partial_fit(X, y, 4, 0.5),
                     lambda: net.evaluate(X, y), lambda: net.predict(X),
                     lambda: net.total_cost(X, y), lambda: net.backprop(X, y),
                     lambda: net.save("/nonexistent-dir/x.npz")):
            with pytest.raises(ValueError, match=rf"{kind}\[{i}\] contains NaN"):
                call()
        for a, b in zip(net.weights + net.biases, before):
            np.testing.assert_array_equal(a, b)


def test_warm_start_refuses_a_changed_dtype():
    pytest.importorskip("sklearn")
    import warnings
    from fastbp.sklearn import MLPClassifier
    X, y = data(30)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
        clf.set_params(warm_start=True, dtype="float32")
        with pytest.raises(ValueError, match="dtype"):
            clf.fit(X, y)
        with pytest.raises(ValueError, match="dtype"):
            clf.partial_fit(X, y)
        assert clf.network_.dtype == np.float64
        clf.set_params(warm_start=False)
        clf.fit(X, y)
    assert clf.network_.dtype == np.float32


# -- 7. an interrupted fit leaves whole steps -----------------------------------------

@pytest.mark.parametrize("optimizer, extra", [("adam", {}), ("sgd", {"momentum": 0.9})])
def test_ctrl_c_leaves_a_state_of_whole_steps(optimizer, extra):
    """Interrupts at seeded moments of a fit: afterwards the parameters, moments, step
    count, history and random stream are those of the epochs completed, bit for bit
    (a fresh fit of that many epochs gives the same), and training goes on alike."""
    import os
    import signal
    rng = np.random.default_rng(11)
    X = rng.normal(size=(6000, 60))
    y = rng.integers(0, 10, 6000)
    kwargs = dict(batch_size=10, learning_rate=1e-3, optimizer=optimizer, **extra)
    steps_per_epoch = 600
    landed = set()
    for delay in rng.uniform(0.02, 0.4, 6):
        net = fastbp.Network([60, 40, 10], seed=0)
        timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                net.fit(X, y, epochs=10_000, seed=3, **kwargs)
        finally:
            timer.cancel()
        done = len(net.history["train_cost"])
        landed.add(done)
        assert all(len(v) == done for v in net.history.values())
        assert net.training_state.optimizer.step == done * steps_per_epoch
        assert net.training_state.examples_seen == done * len(X)
        twin = fastbp.Network([60, 40, 10], seed=0)
        if done:
            twin.fit(X, y, epochs=done, seed=3, **kwargs)
        for a, b in zip(net.weights + net.biases, twin.weights + twin.biases):
            np.testing.assert_array_equal(a, b)
        if done:
            assert len(net.training_state.optimizer.arrays()) == len(twin.training_state.optimizer.arrays()) > 0
            for a, b in zip(net.training_state.optimizer.arrays(), twin.training_state.optimizer.arrays()):
                np.testing.assert_array_equal(a, b)
        # The interrupted network trains on like one that was never interrupted.
        net.partial_fit(X[:100], y[:100], **kwargs)
        assert net.training_state.optimizer.step == done * steps_per_epoch + 10
    assert len(landed) >= 2, landed  # some in the first epoch, some later


def test_a_refused_regressor_fit_leaves_the_estimator_unchanged():
    pytest.importorskip("sklearn")
    import warnings
    from fastbp.sklearn import MLPRegressor

    rng = np.random.default_rng(8)
    X, _ = data(30)
    y = X @ rng.normal(size=4)
    n = len(y)
    w = rng.integers(-3, 4, n).astype(float)
    w[-1] -= w.sum()  # integers: the sum is exactly 0
    cases = [({}, (X, y, np.zeros(n))), ({}, (X, y, w)),
             ({"max_iter": 2**31}, (X, y, None)),
             ({"early_stopping": True, "validation_fraction": 0.9 / n}, (X, y, None)),
             ({"learning_rate_init": 1e300, "dtype": "float32"}, (X, y, None)),
             ({}, (X, np.where(np.arange(n) == 3, np.inf, y), None))]
    for fitted in (False, True):
        for params, (Xf, yf, sw) in cases:
            reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if fitted:
                    reg.fit(X, y)
                reg.set_params(**params)
                before = estimator_state(reg)
                with pytest.raises((ValueError, TypeError)):
                    reg.fit(Xf, yf, sample_weight=sw)
            assert_same_state(estimator_state(reg), before)


# -- 8. errors blame the right argument and stay within the contract ----------------

def hostile_training_options(rng):
    """(options, dtype, the argument the refusal must name): values the engine's
    arithmetic cannot carry, drawn across their ranges."""
    for _ in range(6):
        yield ({"optimizer": "adam", "epsilon": float(10.0 ** rng.uniform(-320, -46))},
               "float32", "epsilon")
    yield {"optimizer": "adam", "epsilon": 5e-324}, "float32", "epsilon"
    for _ in range(6):
        yield ({"schedule": "invscaling", "power_t": float(10.0 ** rng.uniform(3, 308))},
               rng.choice(["float32", "float64"]), "power_t")
    yield {"schedule": "invscaling", "power_t": 1.7e308}, "float64", "power_t"
    for _ in range(4):
        yield {"l2": float(10.0 ** rng.uniform(40, 308))}, "float32", "l2"


def test_options_the_arithmetic_cannot_carry_are_refused_naming_them():
    rng = np.random.default_rng(81)
    X, y = data()
    X[:, 0] = 0.0  # a parameter whose gradient is 0: Adam divides by epsilon alone
    for options, dtype, name in hostile_training_options(rng):
        net = small_net(dtype=dtype)
        before = [p.copy() for p in net.weights + net.biases]
        history = copy.deepcopy(net.history)
        with pytest.raises(ValueError, match=rf"^{name}=") as info:
            net.fit(X, y, epochs=3, batch_size=10, learning_rate=0.1, **options)
        assert "learning rate" not in str(info.value), (options, info.value)
        for a, b in zip(net.weights + net.biases, before):
            np.testing.assert_array_equal(a, b)
        assert net.history == history


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_divergence_caused_by_l2_blames_l2(dtype):
    """An l2 whose weight decay factor 1 - ηλ/n is below -1 grows the weights at
    every step whatever the gradient: the error names l2, not the learning rate."""
    rng = np.random.default_rng(82)
    X, y = data()
    hi = 30 if dtype == "float32" else 300
    for l2 in [1e300 if dtype == "float64" else 1e30] + \
            list(10.0 ** rng.uniform(8, hi, 4)):
        net = small_net(dtype=dtype)
        with pytest.raises(FloatingPointError, match="l2=") as info:
            net.fit(X, y, epochs=50, batch_size=10, learning_rate=0.1, l2=l2)
        assert str(info.value).split("; ")[1].startswith(f"l2={l2}"), info.value
    # A learning rate that is too high without L2 is still blamed on the rate.
    net = fastbp.Network([4, 5, 3], activation="identity", dtype=dtype, seed=0)
    with pytest.raises(FloatingPointError, match="learning rate"):
        net.fit(X * 100, y, epochs=50, batch_size=10, learning_rate=10.0)


def test_fit_from_its_own_callback_says_so():
    X, y = data()
    for method in ("fit", "partial_fit"):
        net = small_net()
        seen = []

        def callback(n, epoch, history):
            try:
                if method == "fit":
                    n.fit(X, y, epochs=1, batch_size=10, learning_rate=0.1)
                else:
                    n.partial_fit(X, y, batch_size=10, learning_rate=0.1)
            except RuntimeError as exc:
                seen.append(str(exc))
        net.fit(X, y, epochs=2, batch_size=10, learning_rate=0.1, callback=callback)
        assert len(seen) == 2
        assert all("callback" in m and "another thread" not in m for m in seen), seen
        assert len(net.history["train_cost"]) == 2


def test_save_and_load_take_bytes_paths_and_refuse_an_empty_one(tmp_path, monkeypatch):
    import os
    net = small_net(seed=4)
    for path in (os.fsencode(tmp_path / "b.npz"), tmp_path / "p.npz",
                 str(tmp_path / "s.npz")):
        net.save(path)
        np.testing.assert_array_equal(fastbp.load(path).weights[0], net.weights[0])
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for empty in ("", b""):
        for call in (net.save, fastbp.load):
            with pytest.raises(ValueError, match="path"):
                call(empty)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.npz", "p.npz", "s.npz",
                                                          "work"]
    assert list(cwd.iterdir()) == []
    for bad in (3, None, 1.5):
        for call in (net.save, fastbp.load):
            with pytest.raises(TypeError, match="path"):
                call(bad)


def zero_stride_views(rng, n_in):
    """Views that claim 2**31 rows or more in a few bytes (and their labels)."""
    from numpy.lib.stride_tricks import as_strided
    for rows in (2**31, 2**31 + int(rng.integers(1, 2**20)), 2**33):
        X = as_strided(np.zeros(n_in), shape=(rows, n_in), strides=(0, 8))
        y = as_strided(np.zeros(1, np.int64), shape=(rows,), strides=(0,))
        yield X, y


def test_zero_stride_views_of_billions_of_rows_are_a_value_error():
    """Every call that would copy such a view (to make it contiguous, or to one-hot
    its labels) or size its result by it refuses it with a ValueError naming X or y,
    not a MemoryError, and leaves the network as it was. 4,096 features make every
    copy too large for any machine (64 TiB and more)."""
    rng = np.random.default_rng(83)
    n_in = 4096
    net = fastbp.Network([n_in, 5, 3], seed=0)
    before = [p.copy() for p in net.weights + net.biases]
    small_X = np.zeros((3, n_in))
    for X, y in zero_stride_views(rng, n_in):
        calls = {
            "feedforward": lambda: net.feedforward(X),
            "predict": lambda: net.predict(X),
            "evaluate": lambda: net.evaluate(X, y),
            "total_cost": lambda: net.total_cost(X, y),
            "backprop": lambda: net.backprop(X, y),
            "fit": lambda: net.fit(X, y, 1, 10, 0.1),
            "partial_fit": lambda: net.partial_fit(X, y, 10, 0.1),
            "labels": lambda: net.evaluate(small_X, y),
        }
        for what, call in calls.items():
            with pytest.raises(ValueError, match=r"^(X|y) ") as info:
                call()
            assert not isinstance(info.value, MemoryError), what
    for a, b in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(a, b)


def test_zero_stride_views_through_the_estimators_are_a_value_error():
    pytest.importorskip("sklearn")
    import warnings
    from fastbp.sklearn import MLPClassifier, MLPRegressor
    rng = np.random.default_rng(84)
    n_in = 4096
    Xs, ys = rng.random((30, n_in)), np.arange(30) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(Xs, ys)
        reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=1).fit(Xs, ys * 1.0)
    for X, y in zero_stride_views(rng, n_in):
        for call in (lambda: clf.predict(X), lambda: clf.predict_proba(X),
                     lambda: reg.predict(X), lambda: clf.score(X, y),
                     lambda: MLPClassifier().fit(X, y)):
            with pytest.raises(ValueError, match="^X "):
                call()


# A child process that interrupts itself during one long feedforward call. The call
# would take many minutes (a [16, 2000, 2000, 2] network on 400,000 rows: 1.6e12
# multiply-adds), so "interrupted" can only come from a check inside the call; the
# parent's timeout is a generous bound on a hung child, not a timing.
_INTERRUPTED_FEEDFORWARD = r"""
import os, signal, sys, threading
import numpy as np
import fastbp
dtype, kind = sys.argv[1], sys.argv[2]
net = fastbp.Network([16, 2000, 2000, 2], dtype=dtype, seed=0)
X = np.random.default_rng(0).random((400_000, 16)).astype(dtype)
if kind == "converted":
    X = X.astype(np.float64 if dtype == "float32" else np.float32)
small = X[:300].copy()
expected = net.feedforward(small)
calls = {"ready": net.feedforward, "converted": net.feedforward,
         "predict": net.predict, "evaluate": lambda X: net.evaluate(X, np.zeros(len(X), int)),
         "backprop": lambda X: net.backprop(X, np.zeros(len(X), int))}
fired = threading.Event()
def interrupt():
    fired.set()
    os.kill(os.getpid(), signal.SIGINT)
threading.Timer(0.5, interrupt).start()
try:
    calls[kind](X)
except KeyboardInterrupt:
    print("interrupted", fired.is_set())
else:
    print("finished")
# The network works as before the interrupt.
assert np.array_equal(net.feedforward(small), expected)
print("ok")
"""


@pytest.mark.parametrize("dtype, kind", [("float32", "ready"), ("float64", "converted"),
                                         ("float32", "predict"), ("float64", "evaluate"),
                                         ("float32", "backprop"), ("float64", "backprop")])
def test_ctrl_c_interrupts_a_long_feedforward(tmp_path, dtype, kind):
    import os
    import subprocess
    import sys
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent, OPENBLAS_NUM_THREADS="1")
    script = tmp_path / "child.py"
    script.write_text(_INTERRUPTED_FEEDFORWARD)
    try:
        result = subprocess.run([sys.executable, str(script), dtype, kind], env=env,
                                capture_output=True, text=True, timeout=120,
                                cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("Ctrl-C did not interrupt feedforward: the child was still "
                    "computing after 120 s")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["interrupted", "True", "ok"], result.stdout
