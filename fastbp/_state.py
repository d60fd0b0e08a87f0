"""A network's training state and its locks: the one place that states who may read,
train, copy or replace a network's parameters, and when.

``Network`` owns one ``TrainingState`` (``Network.training_state``) and hands it to
the training driver (fastbp._training), which alone changes what it holds.
"""
import collections
import contextlib
import copy
import threading

from ._backprop import OptimizerState


class TrainingState:
    """What a ``Network`` keeps for training, and the one statement of its locks.

    Attributes
    ----------
    rng : numpy.random.Generator
        The network's random stream: initial parameters, shuffling, dropout, the
        held-out validation rows (unless ``fit`` gets a ``seed``).
    optimizer : OptimizerState or None
        Momentum or Adam's moments and step count, kept across ``fit`` and
        ``partial_fit`` calls while the optimiser stays the same (the training
        driver alone changes it).
    examples_seen : int
        The examples trained on by all calls (invscaling's t).

    The rules, for ``Network`` and fastbp.sklearn's estimators alike:

    - One training at a time: a second ``fit``/``partial_fit`` (from another thread,
      or from fit's own callback) is refused with RuntimeError.
    - Readers and training exclude each other, so every answer comes whole from one
      set of parameters. Training that starts waits for the readers in flight
      (``feedforward``, ``predict``, ``backprop``, ...) to finish; a reader that
      starts in another thread while training runs is refused with RuntimeError.
      Fit's own thread (its callback) reads whole epochs and goes ahead.
    - A copy (pickle, ``copy.deepcopy``, ``save``) is refused while another thread
      trains, and training is refused while a copy is under way.
    - Parameter arrays cannot be replaced (``net.weights = ...``) while training
      runs, from any thread.
    """

    def __init__(self, rng, optimizer=None, examples_seen=0):
        self.rng, self.optimizer, self.examples_seen = rng, optimizer, examples_seen
        self._lock = threading.Lock()  # guards the counts and the trainer below
        self._idle = threading.Condition(self._lock)  # no reader left
        self._train_lock = threading.Lock()
        self.trainer = None  # the thread id of the training under way, or None
        self.readers = collections.deque()  # one item per reader in flight
        self._snapshots = 0  # copies under way

    def optimizer_for(self, kind, weights, biases):
        """The optimiser state of ``kind``; a new one (zeros) if the kind changed."""
        if self.optimizer is None or self.optimizer.kind != kind:
            self.optimizer = OptimizerState.zeros(kind, weights, biases)
        return self.optimizer

    def copy(self):
        """An independent copy (the rng, the optimiser arrays), without the locks."""
        with self.snapshot("copied or pickled"):
            return TrainingState(copy.deepcopy(self.rng),
                                 None if self.optimizer is None else self.optimizer.copy(),
                                 self.examples_seen)

    @contextlib.contextmanager
    def training(self):
        """Hold the training lock for a fit (see the rules above)."""
        me = threading.get_ident()
        if self.trainer == me:
            # The lock is not re-entrant; its message would blame another thread.
            raise RuntimeError("fit or partial_fit was called from inside this network's "
                               "own fit (from its callback); a callback may stop "
                               "training by returning True, then train again after "
                               "fit returns")
        if not self._train_lock.acquire(blocking=False):
            raise RuntimeError("this network is already being trained in another thread")
        try:
            with self._lock:
                if self._snapshots:
                    raise RuntimeError("this network is being copied or saved in "
                                       "another thread; train it once that returns")
                self.trainer = me  # new readers are refused from here on
                while self.readers:  # the readers in flight finish first
                    self._idle.wait(0.05)
            yield
        finally:
            with self._lock:
                self.trainer = None
            self._train_lock.release()

    # Reading. A reader appends an item to ``readers`` first and reads ``trainer``
    # second; training sets ``trainer`` first and looks at ``readers`` second
    # (deque's append and pop are atomic): either training sees the reader and
    # waits, or the reader sees training and is refused. No lock on the way in or
    # out unless training is under way: single-example latency. ``feedforward``
    # does these steps inline; other readers use ``reading()``.

    def check_reader(self):
        """Called by a reader that found ``trainer`` set: refuse it unless it is the
        training thread itself (fit's callback)."""
        if self.trainer is not None and self.trainer != threading.get_ident():
            raise RuntimeError("this network is being trained in another thread; use "
                               "it once fit returns, or predict with a copy taken "
                               "before fit or in its callback (copy.deepcopy(net))")

    def reader_left(self):
        """Called by a reader that left (popped its item) and found ``trainer``
        set: the training may be waiting for it."""
        with self._lock:
            self._idle.notify_all()

    @contextlib.contextmanager
    def reading(self):
        """The reader's steps around a block."""
        self.readers.append(None)
        try:
            if self.trainer is not None:
                self.check_reader()
            yield
        finally:
            self.readers.pop()
            if self.trainer is not None:
                self.reader_left()

    @contextlib.contextmanager
    def snapshot(self, what):
        """A copy of the network is under way: training does not start meanwhile,
        and the copy is refused while another thread trains. Inside fit's own thread
        (a callback) the epoch is whole: it goes ahead."""
        with self._lock:
            if self.trainer is not None and self.trainer != threading.get_ident():
                raise RuntimeError(
                    f"this network cannot be {what} while it is being trained in "
                    f"another thread; do it once fit returns, or from fit's callback")
            self._snapshots += 1
        try:
            yield
        finally:
            with self._lock:
                self._snapshots -= 1

    @contextlib.contextmanager
    def replacing(self):
        """Parameter arrays are being replaced: refused while training runs."""
        with self._lock:
            if self.trainer is not None:
                raise RuntimeError(
                    "the network's parameters cannot be replaced while fit runs "
                    "(edit them in place, e.g. net.weights[0][...] = w, or assign "
                    "them once fit returns)")
            yield
