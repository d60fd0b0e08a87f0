"""Memory: repeated calls do not leak, and training allocates nothing per step.

Resident memory is read from /proc/self/statm (Linux; no extra dependency). Python-side
allocations (including NumPy's array data, which NumPy reports to tracemalloc) are
measured with tracemalloc.
"""
import gc
import os
import tracemalloc

import numpy as np
import pytest

import fastbp

MB = 1 << 20
SLACK = 10 * MB

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="needs /proc/self/statm (Linux)")


def rss():
    """Resident set size of this process in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(call, repeats, warmup=300):
    """RSS after ``repeats`` more calls minus RSS after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    gc.collect()
    before = rss()
    for _ in range(repeats):
        call()
    gc.collect()
    return rss() - before


def _setup(dtype):
    # Sizes chosen so that a leak of any per-call buffer is large: the work buffers of
    # one call are tens of kB, so leaking them 3,000 times would cost well over 10 MB.
    rng = np.random.default_rng(0)
    net = fastbp.Network([64, 48, 32, 10], seed=0, dtype=dtype)
    X = rng.normal(size=(100, 64)).astype(dtype)
    y = rng.integers(0, 10, 100)
    return net, X, y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_repeated_calls_do_not_grow_resident_memory(dtype):
    net, X, y = _setup(dtype)
    Y = np.eye(10, dtype=dtype)[y]
    bad_X = X.copy()
    bad_X[3, 3] = np.nan
    calls = {
        "feedforward": lambda: net.feedforward(X),
        "feedforward one example": lambda: net.feedforward(X[0]),
        "feedforward converted input": lambda: net.feedforward(X.astype(">f8")),
        "predict": lambda: net.predict(X),
        "backprop": lambda: net.backprop(X, y),
        "total_cost": lambda: net.total_cost(X, Y),
        "evaluate": lambda: net.evaluate(X, y),
        "fit": lambda: net.fit(X, y, epochs=1, batch_size=50, learning_rate=0.01),
        "fit with validation": lambda: net.fit(X, y, epochs=1, batch_size=50,
                                               learning_rate=0.01,
                                               validation_data=(X[:20], y[:20])),
    }
    for name, call in calls.items():
        grew = growth(call, repeats=3000)
        assert grew < SLACK, f"{name}: resident memory grew by {grew / MB:.1f} MB"

    def refused():
        with pytest.raises(ValueError):
            net.backprop(bad_X, y)
    grew = growth(refused, repeats=3000)
    assert grew < SLACK, f"refused backprop: resident memory grew by {grew / MB:.1f} MB"


def test_diverging_fit_does_not_leak():
    """The error path of a diverged epoch frees its work buffers too."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 64)) * 100
    Y = rng.normal(size=(200, 10))
    nets = [fastbp.Network([64, 48, 10], activation="identity", init="normal", seed=s)
            for s in range(4)]

    def diverge():
        for net in nets:
            try:
                net.fit(X, Y, epochs=3, batch_size=100, learning_rate=1e6)
            except FloatingPointError:
                pass
    grew = growth(diverge, repeats=800, warmup=50)
    assert grew < SLACK, f"diverging fit: resident memory grew by {grew / MB:.1f} MB"


def _fit_peak(net, X, Y, **kwargs):
    """Peak of tracemalloc-traced memory during one fit call, above what was live
    before it."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        net.fit(X, Y, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_allocates_nothing_per_step(dtype, shuffle):
    """Traced memory of a fit (after a first one) does not grow with the steps.

    Data are passed already C-contiguous in the network's dtype, with 2-d targets, so
    fit has nothing to convert. Two comparisons:

    * the same 10,000 rows in batches of 10 and of 100 (1,000 vs 100 steps; everything
      that is O(rows) is the same): anything kept per step, even one Python float
      (32 bytes), would add 900 * 32 B = 28.8 kB; allowed: 4 kB.
    * 1,000 vs 10,000 rows in batches of 10 (100 vs 1,000 steps): O(rows) bookkeeping
      (the epoch order, labels, a mask: a few bytes per row) is allowed, up to 64 bytes
      per row; a batch-sized array kept per step would cost over 1.7 kB per step,
      170 bytes per row.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, 20)).astype(dtype)
    Y = np.eye(5, dtype=dtype)[rng.integers(0, 5, 10_000)]
    net = fastbp.Network([20, 16, 5], seed=0, dtype=dtype)
    kwargs = dict(epochs=2, learning_rate=0.1, shuffle=shuffle, seed=0)
    net.fit(X[:1000], Y[:1000], batch_size=10, **kwargs)  # first call: engine, caches
    net.fit(X, Y, batch_size=10, **kwargs)

    many_steps = _fit_peak(net, X, Y, batch_size=10, **kwargs)
    few_steps = _fit_peak(net, X, Y, batch_size=100, **kwargs)
    assert many_steps - few_steps <= 4096, (
        f"1,000 steps peaked {many_steps - few_steps} bytes above 100 steps over the "
        f"same rows ({few_steps} -> {many_steps})")

    small = _fit_peak(net, X[:1000], Y[:1000], batch_size=10, **kwargs)
    assert many_steps - small <= 64 * 9000, (
        f"10x the rows peaked {many_steps - small} bytes higher ({small} -> "
        f"{many_steps}): more than 64 bytes per extra row")
    # and the peak itself is some copies of the parameters and O(rows) index arrays,
    # not a copy of X
    assert many_steps < X.nbytes / 2, \
        f"fit peaked at {many_steps} traced bytes for {X.nbytes} bytes of X"


def test_feedforward_and_backprop_allocate_only_their_results():
    """Traced memory after many calls returns to where it was (no cached growth)."""
    net, X, y = _setup("float64")
    Y = np.eye(10)[y]
    for _ in range(50):
        net.feedforward(X)
        net.backprop(X, Y)
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(2000):
            net.feedforward(X)
            net.backprop(X, Y)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - base < 64 * 1024, f"traced memory grew by {after - base} bytes"
