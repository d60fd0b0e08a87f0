"""Threads: the compiled passes release the GIL, and concurrent use gives the serial bits.

Inference from many threads on one network, backprop from many threads on one
network, and training of different networks in different threads must give exactly
(bit for bit) what the same calls give one after another.
"""
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp import _blas

DTYPES = ["float64", "float32"]
N_THREADS = 8


@pytest.fixture
def no_pool_backoff():
    """The worker pool without its back-off after a task taken back, for tests that
    count hand-outs: on a busy machine the back-off keeps tasks on the caller."""
    previous = _blas._use_pool_backoff(False)
    yield
    _blas._use_pool_backoff(previous)


def run_in_threads(functions, timeout=120):
    """Start all functions at the same moment (a barrier); return their results in
    order, re-raising the first exception any of them raised."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)
    errors = []

    def runner(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(i, fn), daemon=True)
               for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def assert_threads_equal_serial(calls, rounds=2):
    """Each call, run in threads all at once (``rounds`` times), returns exactly the
    list of arrays it returns when the calls run one after another."""
    serial = [call() for call in calls]
    for _ in range(rounds):
        for got, want in zip(run_in_threads(calls), serial):
            assert len(got) == len(want)
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_feedforward_from_8_threads_on_one_network_equals_serial(dtype):
    net = fastbp.Network([100, 64, 10], seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    # Each thread has its own batch, so a shared buffer would show as crosstalk.
    batches = [rng.normal(size=(2000, 100)).astype(dtype) for _ in range(N_THREADS)]
    serial = [net.feedforward(X) for X in batches]
    rounds = 5

    def work(i):
        out = []
        for r in range(rounds):
            X = batches[(i + r) % N_THREADS]
            out.append(((i + r) % N_THREADS, net.feedforward(X)))
        return out

    for outputs in run_in_threads([lambda i=i: work(i) for i in range(N_THREADS)]):
        for k, A in outputs:
            assert A.dtype == dtype
            np.testing.assert_array_equal(A, serial[k])


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixed_inference_paths_from_threads_equal_serial(dtype):
    """Single examples (GEMV, stack buffers), small and large batches, non-contiguous
    input (converted per call) and predict, all at once."""
    net = fastbp.Network([100, 64, 32, 10], activation="tanh", cost="log_likelihood",
                         seed=2, dtype=dtype)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 100)).astype(dtype)
    calls = [
        lambda: [net.feedforward(X[i]) for i in range(200)],
        lambda: [net.feedforward(X[i:i + 3]) for i in range(0, 600, 3)],
        lambda: [net.feedforward(X) for _ in range(2)],
        lambda: [net.feedforward(np.asfortranarray(X[:1000])) for _ in range(2)],
        lambda: [net.predict(X[::2]) for _ in range(2)],
        lambda: [net.feedforward(X[1000:3000]) for _ in range(2)],
    ] * 2
    assert_threads_equal_serial(calls)


@pytest.mark.skipif(not _blas._own_kernels_available(),
                    reason="without fastbp's own kernels for this CPU the products run on "
                           "the BLAS alone, whose bits depend on its thread count")
@pytest.mark.parametrize("dtype", DTYPES)
def test_feedforward_bits_do_not_depend_on_the_thread_limit(dtype):
    """Large batches through narrow layers are split between threads, as many as the
    BLAS may use: the limit changes who computes each row, not its bits."""
    import threadpoolctl    # a test dependency

    net = fastbp.Network([784, 30, 10], seed=4, dtype=dtype)
    X = np.random.default_rng(5).normal(size=(5001, 784)).astype(dtype)
    outputs = []
    for limit in [1, 2, 4]:
        with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
            outputs.append(net.feedforward(X))
    for A in outputs[1:]:
        np.testing.assert_array_equal(A, outputs[0])


@pytest.mark.skipif(not _blas._own_kernels_available(),
                    reason="without fastbp's own kernels for this CPU the products run on "
                           "the BLAS alone, whose bits depend on its thread count")
@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_bits_do_not_depend_on_the_thread_limit(dtype):
    """Mini-batch products big enough for fastbp's own GEMM to split their columns
    between threads: the limit changes who computes each entry, not its bits."""
    import threadpoolctl    # a test dependency

    rng = np.random.default_rng(8)
    X = rng.normal(size=(512, 300)).astype(dtype)
    y = rng.integers(0, 10, 512)
    results = []
    for limit in [1, 2, 4]:
        net = fastbp.Network([300, 256, 64, 10], seed=4, dtype=dtype)
        with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
            net.fit(X, y, epochs=2, batch_size=128, learning_rate=0.1, seed=9)
        results.append(net.weights + net.biases)
    for params in results[1:]:
        for a, b in zip(params, results[0]):
            np.testing.assert_array_equal(a, b)


def _over_the_gemm_a_limit(dtype, seed):
    """Shapes whose first-layer product has an X of more than 8 MB and a layer of
    several column tiles of fastbp's GEMM (up to 4 vectors of 64 bytes), the products
    the AVX-512 GEMM once left to the BLAS: (rows, sizes), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    itemsize = np.dtype(dtype).itemsize
    n_in = int(rng.integers(200, 800))
    width = int(rng.integers(2 * 256 // itemsize + 1, 180))
    rows = (8 << 20) // (n_in * itemsize) + int(rng.integers(1, 400))
    return rows, [n_in, width, int(rng.integers(2, 12))]


@pytest.mark.skipif(not _blas._own_kernels_available(),
                    reason="without fastbp's own kernels for this CPU the products run on "
                           "the BLAS alone, whose bits depend on its thread count")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(3))
def test_products_of_an_x_over_8_mb_do_not_depend_on_the_thread_limit(dtype, seed):
    """Issue 26: inference on many rows and the whole-set gradient (lbfgs) through a
    first layer of several GEMM column tiles, with X larger than the GEMM keeps in
    cache: the thread limit changes who computes each entry, not its bits."""
    import threadpoolctl    # a test dependency

    rows, sizes = _over_the_gemm_a_limit(dtype, seed)
    rng = np.random.default_rng(seed + 100)
    X = rng.normal(size=(rows, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], rows)]
    net = fastbp.Network(sizes, seed=seed, dtype=dtype)
    engine = net.compiled()
    results = []
    for limit in [1, 2]:
        with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
            nabla_w = [np.empty_like(w) for w in net.weights]
            nabla_b = [np.empty_like(b) for b in net.biases]
            total = engine.gradient(X, Y, None, 1.0 / rows, nabla_w, nabla_b)
            results.append([net.feedforward(X), np.array(total)] + nabla_w + nabla_b)
    for got, want in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, want)


# A first layer of at least 256 KB (the planner's gemv_share_bytes: 256 KB on AVX-512,
# 128 KB on AVX2): one example's product with w^1 is shared with a worker thread during
# a burst of calls. Worker rows: 24-47 of 48, 64-99 of 100, 8 of 9, 112-199 of 200.
SPLIT_SETUPS = [([784, 48, 10], "float64"), ([784, 100, 10], "float32"),
                ([4096, 9, 10], "float64"), ([1024, 200, 300, 10], "float32")]


def _burst_until_shared(net, X, want, seconds=60):
    """Feed the rows of X one at a time, in bursts, until a worker has computed part of
    one product (or `seconds` pass), checking every output against ``want``; returns
    how many products a worker shared."""
    from fastbp import _blas

    before = _blas._gemv_splits()
    deadline = time.monotonic() + seconds
    while True:
        # A pause first: the worker falls asleep, and the burst must wake it without
        # waiting for it (calls meanwhile run on one thread).
        time.sleep(0.002)
        for x, w in zip(X, want):
            np.testing.assert_array_equal(net.feedforward(x), w)
        if _blas._gemv_splits() > before or time.monotonic() > deadline:
            return _blas._gemv_splits() - before


@pytest.mark.parametrize("sizes, dtype", SPLIT_SETUPS)
def test_one_example_shared_with_a_worker_changes_no_bit(sizes, dtype):
    """With a second thread allowed, a burst of one-example calls shares each product
    with a large w^1 with a worker, which computes the second half of the rows; each
    row is one dot product computed by the same code on either thread."""
    import threadpoolctl
    from fastbp import _blas

    net = fastbp.Network(sizes, seed=6, dtype=dtype)
    X = np.random.default_rng(7).normal(size=(200, sizes[0])).astype(dtype)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        want = [net.feedforward(x) for x in X]
        assert _burst_until_shared(net, X, want, seconds=0) == 0
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        previous = _blas._use_gemv_split(False)
        try:
            assert _burst_until_shared(net, X, want, seconds=0) == 0
        finally:
            _blas._use_gemv_split(previous)
        # Without fastbp's own kernels (no AVX-512) there is nothing to share.
        own = _blas._own_kernels_available()
        shared = _burst_until_shared(net, X, want, seconds=60 if own else 0)
    assert (shared > 0) == own


def test_one_example_calls_from_threads_while_others_train_equal_serial():
    """Two threads each in bursts of one-example calls on a network whose w^1 is shared
    with the worker (one of them gets it at a time), while a third trains with small
    batches (it gathers ahead on the same worker) and a fourth runs a large batch."""
    import threadpoolctl

    rng = np.random.default_rng(11)
    big = fastbp.Network([784, 48, 10], seed=12)     # w^1 of 301 KB: shared
    X = rng.normal(size=(3000, 784))
    y = rng.integers(0, 10, 3000)
    singles = [X[i] for i in range(300)]

    def trained():
        net = fastbp.Network([784, 30, 10], seed=13)
        net.fit(X, y, epochs=1, batch_size=10, learning_rate=0.5, seed=14)
        return net.weights + net.biases

    calls = [lambda: [big.feedforward(x) for x in singles],
             lambda: [big.feedforward(x) for x in singles[::-1]],
             trained,
             lambda: [big.feedforward(X)]]
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert_threads_equal_serial(calls)


GATHER_SETUPS = {
    # Batches of 1 (one example: GEMV), 10 and 31, a shorter last batch, sample
    # weights, dropout (its draws stay on the training thread), momentum and Adam.
    "sgd": (dict(sizes=[40, 24, 10]), dict(batch_size=10, learning_rate=0.5)),
    "one": (dict(sizes=[40, 24, 10]), dict(batch_size=1, learning_rate=0.1)),
    "weights+l2": (dict(sizes=[40, 24, 10], cost="cross_entropy"),
                   dict(batch_size=31, learning_rate=0.5, l2=0.1, sample_weight=True)),
    "dropout+momentum": (dict(sizes=[40, 30, 20, 10]),
                         dict(batch_size=7, learning_rate=0.5, dropout=0.3,
                              optimizer="sgd", momentum=0.9)),
    "adam": (dict(sizes=[40, 24, 10], activation="relu",
                  cost="log_likelihood"),
             dict(batch_size=10, learning_rate=0.01, optimizer="adam")),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("setup", GATHER_SETUPS)
def test_gathering_the_next_batch_on_a_worker_changes_no_bit(dtype, setup, no_pool_backoff):
    """With a second thread, training gathers each next mini-batch on a worker while
    the current one runs: the copies are the same, and so must every bit be."""
    import threadpoolctl
    from fastbp import _backprop

    net_kwargs, fit_kwargs = GATHER_SETUPS[setup]
    fit_kwargs = dict(fit_kwargs)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(1003, 40)).astype(dtype)
    y = rng.integers(0, 10, 1003)
    if fit_kwargs.pop("sample_weight", False):
        fit_kwargs["sample_weight"] = rng.uniform(0, 2, 1003)
    results, gathered = [], []
    for limit, ahead in [(1, True), (2, False), (2, True)]:
        net = fastbp.Network(**net_kwargs, seed=4, dtype=dtype)
        previous = _backprop._use_gather_ahead(ahead)
        before = _backprop._batches_gathered_ahead()
        try:
            with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
                history = net.fit(X, y, epochs=2, seed=9, **fit_kwargs)
        finally:
            _backprop._use_gather_ahead(previous)
        gathered.append(_backprop._batches_gathered_ahead() - before)
        results.append((net.weights + net.biases, history["train_cost"]))
    # With two threads, each epoch's batches after the first were gathered ahead;
    # with one thread or the switch off, none.
    batches = -(-1003 // fit_kwargs["batch_size"])
    assert gathered == [0, 0, 2 * (batches - 1)]
    for params, costs in results[1:]:
        assert costs == results[0][1]
        for a, b in zip(params, results[0][0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("hidden", [30, 60, 80, 100])
def test_training_leaves_the_second_core_to_a_threaded_blas(hidden, no_pool_backoff):
    """Below the planner's gemm_min_batch rows BLAS runs the step's small products; one large
    enough for OpenBLAS to split over two threads (whose last bits then depend on the
    thread count) goes to fastbp's own GEMM, and the pool's worker does not gather
    ahead. Where the own kernels run, the bits do not depend on the thread count."""
    import threadpoolctl
    from fastbp import _backprop, _blas

    batch = 10
    rng = np.random.default_rng(21)
    X = rng.normal(size=(205, 784))
    y = rng.integers(0, 10, 205)
    results, gathered = [], []
    for limit in (1, 2):
        net = fastbp.Network([784, hidden, 10], seed=3)
        before = _backprop._batches_gathered_ahead()
        with threadpoolctl.threadpool_limits(limits=limit, user_api="blas"):
            net.fit(X, y, epochs=1, batch_size=batch, learning_rate=0.5, seed=1)
        gathered.append(_backprop._batches_gathered_ahead() - before)
        results.append(net.weights + net.biases)
    # The step's largest product: batch x hidden x 784 multiply-adds.
    blas_threads = batch * hidden * 784 >= 524288
    assert gathered == [0, 0 if blas_threads else -(-205 // batch) - 1]
    if _blas._own_kernels_available() or not blas_threads:
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad_row", [0, 9, 10, 995, 1002])
def test_a_nonfinite_row_found_while_gathering_ahead_leaves_the_network_unchanged(
        dtype, bad_row):
    """The row check runs on the worker for every batch after the first; fit must still
    stop before that batch's step and restore the parameters."""
    import threadpoolctl

    rng = np.random.default_rng(13)
    X = rng.normal(size=(1003, 40)).astype(dtype)
    y = rng.integers(0, 10, 1003)
    X[bad_row, 17] = np.nan
    net = fastbp.Network([40, 24, 10], seed=4, dtype=dtype)
    before = [p.copy() for p in net.weights + net.biases]
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(ValueError, match="X contains NaN or infinite values"):
            net.fit(X, y, epochs=1, batch_size=10, learning_rate=0.5, shuffle=False)
    for a, b in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backprop_from_threads_on_one_network_equals_serial(dtype):
    net = fastbp.Network([100, 64, 10], seed=4, dtype=dtype)
    rng = np.random.default_rng(5)
    data = [(rng.normal(size=(1000, 100)).astype(dtype), rng.integers(0, 10, 1000))
            for _ in range(4)]
    serial = [net.backprop(X, y) for X, y in data]
    calls = [lambda X=X, y=y: [net.backprop(X, y) for _ in range(3)] for X, y in data]
    for results, (want_b, want_w) in zip(run_in_threads(calls), serial):
        for got_b, got_w in results:
            for a, b in zip(got_b + got_w, want_b + want_w):
                np.testing.assert_array_equal(a, b)


def _training_setups(dtype):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 30)).astype(dtype)
    y = rng.integers(0, 10, 3000)
    return [
        (dict(sizes=[30, 40, 10], seed=7, dtype=dtype),
         X, y, dict(epochs=5, batch_size=10, learning_rate=0.5, seed=11)),
        (dict(sizes=[30, 20, 20, 10], activation="tanh", cost="log_likelihood",
              seed=8, dtype=dtype),
         X[::-1], y[::-1], dict(epochs=5, batch_size=7, learning_rate=0.1, seed=12)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_of_two_networks_in_two_threads_is_bit_identical_to_serial(dtype):
    setups = _training_setups(dtype)

    def train(setup):
        kwargs, X, y, fit_kwargs = setup
        net = fastbp.Network(**kwargs)
        history = net.fit(X, y, **fit_kwargs)
        return [p.copy() for p in net.weights + net.biases], history["train_cost"]

    serial = [train(s) for s in setups]
    for _ in range(2):
        threaded = run_in_threads([lambda s=s: train(s) for s in setups])
        for (params, costs), (want_params, want_costs) in zip(threaded, serial):
            assert costs == want_costs
            for a, b in zip(params, want_params):
                assert a.dtype == dtype
                np.testing.assert_array_equal(a, b)


def _max_gap_while(call, setup_seconds=0.0):
    """Run ``call`` in a worker thread while this thread ticks every ~1 ms; return
    (duration of the call, longest stretch of it in which this thread could not run
    Python code)."""
    window = {}
    done = threading.Event()

    def worker():
        try:
            window["start"] = time.perf_counter()
            call()
            window["end"] = time.perf_counter()
        finally:
            done.set()

    ticks = []
    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    thread.join()
    assert "end" in window, "the call failed"
    start, end = window["start"], window["end"]
    inside = [start] + [t for t in ticks if start < t < end] + [end]
    return end - start, max(b - a for a, b in zip(inside, inside[1:]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_feedforward_and_fit_release_the_gil(dtype):
    """While one long compiled call runs, another thread keeps running Python code."""
    rng = np.random.default_rng(9)
    net = fastbp.Network([100, 256, 256, 10], seed=0, dtype=dtype)
    # Enough rows that one feedforward call lasts well over the 0.05 s it takes to tell.
    X = rng.normal(size=(80000, 100)).astype(dtype)
    y = rng.integers(0, 10, 80000)
    net.feedforward(X[:10])  # build the engine outside the measured window
    for name, call in [
        ("feedforward", lambda: net.feedforward(X)),
        # All 80,000 rows: with the own small-product kernels 20,000 took under 0.05 s.
        ("fit", lambda: net.fit(X, y, epochs=1, batch_size=10, learning_rate=0.1,
                                seed=0)),
    ]:
        # Holding the GIL through the compiled part would make the gap nearly the
        # whole call, every time; on a busy machine one attempt may be starved of CPU.
        attempts = []
        for _ in range(3):
            duration, gap = _max_gap_while(call)
            attempts.append((round(duration, 3), round(gap, 3)))
            assert duration > 0.05, f"{name}: too short to tell ({duration:.3f} s)"
            if gap < 0.5 * duration:
                break
        else:
            pytest.fail(f"{name} held the GIL: (call seconds, longest stretch without "
                        f"Python in another thread) = {attempts}")


# -- readers in flight and training exclude each other ---------------------------------

def _reader_paths(net):
    """Ways to read a Network, each returning an array computed from its parameters."""
    return {
        "feedforward": lambda X: net.feedforward(X),
        "predict": lambda X: net.predict(X),
        "total_cost": lambda X: np.array(net.total_cost(X, np.zeros(len(X), int))),
        "backprop": lambda X: np.concatenate(
            [g.ravel() for g in net.backprop(X[:200], np.zeros(200, int))[1]]),
    }


def _race(read, train, X, delay, start_first):
    """Start ``read(X)`` in a thread and ``train()`` in this one: after the reader says
    it is about to call (an event), after ``delay`` seconds, or (``start_first``)
    before the reader starts. Returns the reader's result or its exception."""
    about_to_read, go = threading.Event(), threading.Event()
    out = {}

    def reader():
        about_to_read.set()
        go.wait()
        try:
            out["value"] = read(X)
        except RuntimeError as exc:
            out["error"] = exc

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    about_to_read.wait()
    if start_first:
        # Training runs first; the reader is let go from inside it (the callback).
        train(lambda: go.set())
    else:
        go.set()
        if delay:
            time.sleep(delay)
        train(lambda: None)
    t.join(120)
    assert not t.is_alive()
    return out


@pytest.mark.parametrize("path", ["feedforward", "predict", "total_cost", "backprop"])
def test_a_read_in_flight_when_training_starts_comes_whole_from_one_set_of_parameters(
        path):
    """Generated schedules (seeded delays, events): every answer equals the one the
    parameters before training give, or the one after it, bit for bit; a read that
    starts while another thread trains is refused with RuntimeError. Never a mix."""
    rng = np.random.default_rng(sum(map(ord, path)))
    X = rng.random((3000, 256))
    outcomes = {"before": 0, "after": 0, "refused": 0}
    for trial in range(12):
        net = fastbp.Network([256, 512, 512, 10], seed=trial)
        read = _reader_paths(net)[path]
        before = read(X)
        start_first = trial % 4 == 3
        delay = 0 if start_first else float(rng.choice([0, 0, 1e-4, 1e-3, 5e-3]))

        def train(during):
            def callback(_net, epoch, history):
                during()
                time.sleep(0.01)  # the reader, if let go, tries while training runs
                return False
            net.fit(X[:64], rng.integers(0, 10, 64), epochs=2, batch_size=8,
                    learning_rate=3.0, callback=callback)

        out = _race(read, train, X, delay, start_first)
        after = read(X)
        if "error" in out:
            assert "being trained in another thread" in str(out["error"])
            outcomes["refused"] += 1
            continue
        got = out["value"]
        if np.array_equal(got, before):
            outcomes["before"] += 1
        else:
            assert np.array_equal(got, after), (
                f"trial {trial}: a read in flight came back from a mix of the "
                f"parameters before and after training")
            outcomes["after"] += 1
    assert outcomes["refused"] >= 3  # the schedules with training first


def test_training_waits_for_the_readers_in_flight():
    """A fit that starts while feedforward runs in another thread starts its first
    step only after that read returns (readers in flight finish first)."""
    net = fastbp.Network([256, 1024, 1024, 10], seed=0)
    X = np.random.default_rng(0).random((4000, 256))
    events = []
    entered = threading.Event()
    original = net._engine

    def engine():
        entered.set()  # the reader is counted and about to compute
        return original()

    net._engine = engine
    t = threading.Thread(target=lambda: (net.feedforward(X), events.append("read")))
    t.start()
    entered.wait()
    del net._engine
    net.fit(X[:8], np.zeros(8, int), epochs=1, batch_size=8, learning_rate=0.1,
            callback=lambda *a: events.append("epoch"))
    t.join()
    assert events == ["read", "epoch"]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_an_estimator_predict_in_flight_when_partial_fit_starts_is_whole(kind):
    sk = pytest.importorskip("fastbp.sklearn")
    rng = np.random.default_rng(7 if kind == "classifier" else 8)
    X = rng.random((3000, 200))
    y = rng.integers(0, 5, 3000) if kind == "classifier" else rng.random(3000)
    for trial in range(6):
        est = (sk.MLPClassifier if kind == "classifier" else sk.MLPRegressor)(
            hidden_layer_sizes=(512, 512), max_iter=1, random_state=trial)
        kw = {"classes": np.arange(5)} if kind == "classifier" else {}
        est.partial_fit(X[:50], y[:50], **kw)
        read = est.predict_proba if kind == "classifier" else est.predict
        before = read(X)
        delay = float(rng.choice([0, 1e-4, 1e-3, 3e-3]))

        def train(during):
            est.partial_fit(X[:40], y[:40])

        out = _race(read, train, X, delay, False)
        if "error" in out:
            assert "being trained in another thread" in str(out["error"])
            continue
        assert np.array_equal(out["value"], before) or np.array_equal(
            out["value"], read(X)), f"trial {trial}: a torn prediction"


def test_a_crowded_machine_keeps_the_hand_outs_on_the_caller():
    """With as many CPU-bound processes as processors already running, a fit at two
    threads gathers no batch ahead on a worker: the pool sees them in the run queue
    at once (the load average would show them only a minute later), and a worker
    would only take time from the caller's share of a core."""
    import os
    import subprocess
    import sys

    import threadpoolctl
    from fastbp import _backprop

    if not os.path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg: the pool reads the run queue on Linux only")
    cpus = os.cpu_count()
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1000, 784))
    y = rng.integers(0, 10, 1000)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(cpus)]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/loadavg") as f:
                runnable = int(f.read().split()[3].split("/")[0])
            if runnable > cpus:
                break
            time.sleep(0.05)
        assert runnable > cpus, "the spinning processes never showed in the run queue"
        time.sleep(0.25)    # the pool's last look at the machine is older than 0.1 s
        net = fastbp.Network([784, 30, 10], seed=0)
        before = _backprop._batches_gathered_ahead()
        with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
            net.fit(X, y, epochs=3, batch_size=10, learning_rate=0.5, seed=0)
        assert _backprop._batches_gathered_ahead() - before == 0
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()
