"""Fork: a child forked while fastbp's worker threads exist, and while other threads
are inside fastbp's compiled calls, gets a working fastbp and never hangs in fastbp's
own code.

The parent's threads train with mini-batches of fewer than 32 rows, so each step hands
the gathering of the next mini-batch to fastbp's worker pool; the BLAS is limited to one
thread, so OpenBLAS has no threads of its own whose pre-fork handler could wait (that
is OpenBLAS's matter, not fastbp's; see docs/guide/threads.md). Every child runs
fastbp (inference, and training, which starts its own workers) and exits; the parent
waits for each with a deadline, so a hang fails the test instead of stalling the run.
"""
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp import _backprop

threadpoolctl = pytest.importorskip("threadpoolctl")  # in the test extra

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="os.fork semantics of Linux"),
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
        net.fit(X, y, epochs=2, batch_size=8, learning_rate=0.5, seed=0)
        if not np.all(np.isfinite(net.feedforward(X))):
            return 4
        # The child's own pool served its training too (two threads are allowed).
        return 0 if _backprop._batches_gathered_ahead() > before else 5
    except BaseException:
        return 6


@pytest.mark.parametrize("forks", [12])
def test_children_forked_while_threads_train_work_and_never_hang(forks):
    rng = np.random.default_rng(0)
    X = rng.random((400, 20))
    y = rng.integers(0, 4, 400)
    expected = fastbp.Network([20, 16, 4], seed=3).feedforward(X)
    stop = threading.Event()
    errors = []

    def train(seed):
        try:
            net = fastbp.Network([20, 16, 4], seed=seed)
            while not stop.is_set():
                net.fit(X, y, epochs=1, batch_size=8, learning_rate=0.1, seed=seed)
                net.feedforward(X)
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)

    with threadpoolctl.threadpool_limits(1, user_api="blas"), \
            threadpoolctl.threadpool_limits(2, user_api="fastbp"):
        if fastbp._blas._get_num_threads() < 2:
            pytest.fail("fastbp's thread limit did not reach 2: the pool would not run")
        before = _backprop._batches_gathered_ahead()
        threads = [threading.Thread(target=train, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        try:
            while _backprop._batches_gathered_ahead() == before and not errors:
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
