"""Fork: a child forked while fastbp's worker threads exist, and while other threads
are inside fastbp's compiled calls that use them, gets a working fastbp and never hangs
in fastbp's own code.

The parent's threads run inference on fastbp's own kernels: one example at a time in
bursts (each product shared with a worker thread) and many rows at once (the rows split
between the pool's threads). Neither calls the BLAS: a thread inside OpenBLAS when
another forks can leave OpenBLAS's allocator lock held in the child, which then hangs
in its first BLAS call (seen here: blas_memory_alloc); that is OpenBLAS's matter, not
fastbp's (docs/guide/threads.md). Every child runs fastbp (inference, and training with
mini-batches of 8, which hands the gathering of the next batch to the child's own pool)
and exits; the parent waits for each with a deadline, so a hang fails the test instead
of stalling the run.
"""
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp import _backprop, _blas

threadpoolctl = pytest.importorskip("threadpoolctl")  # in the test extra

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="os.fork semantics of Linux"),
    # Without them every product the parent's threads compute is OpenBLAS's (above).
    pytest.mark.skipif(not fastbp._blas._own_kernels_available(),
                       reason="the parent's threads need fastbp's own kernels"),
    # Python 3.12+ warns that forking a multi-threaded process may deadlock the child:
    # exactly what this file checks does not happen in fastbp.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

DEADLINE_S = 60


def wait_or_kill(pid):
    """The child's exit status, or a failure if it has not exited by the deadline."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"a forked child was still running after {DEADLINE_S} s: it hung")


def child_work(X, y, expected):
    """What a forked child does: 0 if fastbp works in it, else a distinct code."""
    try:
        net = fastbp.Network([20, 16, 4], seed=3)
        if not np.array_equal(net.feedforward(X), expected):
            return 3
        before = _backprop._batches_gathered_ahead()
        _blas._use_pool_backoff(False)      # a busy machine would keep tasks here
        net.fit(X, y, epochs=2, batch_size=8, learning_rate=0.5, seed=0)
        if not np.all(np.isfinite(net.feedforward(X))):
            return 4
        # The child's own pool served its training too (two threads are allowed).
        return 0 if _backprop._batches_gathered_ahead() > before else 5
    except BaseException:
        return 6


@pytest.mark.parametrize("forks", [24])
def test_children_forked_while_threads_use_the_pool_work_and_never_hang(forks):
    rng = np.random.default_rng(0)
    X = rng.random((400, 20))
    y = rng.integers(0, 4, 400)
    expected = fastbp.Network([20, 16, 4], seed=3).feedforward(X)
    # [784, 48, 10] in float64: its first layer (301 KB) is big enough for the one-example
    # product to be shared with a worker, and 4,096 rows are split between two threads.
    big = fastbp.Network([784, 48, 10], seed=1)
    rows = rng.random((4096, 784))
    stop = threading.Event()
    errors = []

    def serve(x):
        try:
            while not stop.is_set():
                big.feedforward(x)
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)

    with threadpoolctl.threadpool_limits(2):
        if fastbp._blas._kernel_threads() < 2:
            pytest.fail("fastbp's thread limit did not reach 2: the pool would not run")
        before = fastbp._blas._gemv_splits()
        threads = [threading.Thread(target=serve, args=(x,)) for x in (rows[0], rows)]
        for t in threads:
            t.start()
        try:
            end = time.monotonic() + DEADLINE_S
            while fastbp._blas._gemv_splits() == before and not errors:
                if time.monotonic() > end:
                    pytest.fail("no one-example product was shared with fastbp's pool")
                time.sleep(0.001)       # until the pool is in use
            statuses = []
            for _ in range(forks):
                pid = os.fork()
                if pid == 0:            # the child: never return into pytest
                    os._exit(child_work(X, y, expected))
                statuses.append(wait_or_kill(pid))
                time.sleep(0.005)
        finally:
            stop.set()
            for t in threads:
                t.join(DEADLINE_S)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert statuses == [0] * forks, statuses
