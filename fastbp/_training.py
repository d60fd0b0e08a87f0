"""The training driver: everything between ``Network.fit`` and the compiled epoch.

``Network.fit`` and ``partial_fit`` check their options (``check_options``) and call
``train``; so do fastbp.sklearn's estimators, the ``fastbp train`` command and
fastbp.book. ``train`` takes the network's training lock, checks the data, holds out
validation data, sets up the optimiser state and runs the only epoch loop
(``_Run.epochs``): one call into the compiled engine per epoch (or per chunk of one),
rollback on bad input, divergence or Ctrl-C, and the history with its monitors.

What differs between its callers are parts the loop calls at fixed points: a
``Schedule`` (the learning rate of each epoch), a ``NoImprovement`` stopping rule and
``Observer`` objects (``fit``'s callback, the CLI's progress bar and lines,
scikit-learn's bookkeeping). The callers only choose and configure them.

This module is the network's training half: it reads and updates the state that
``Network`` keeps for training and hands it (``Network.training_state``, a
``fastbp._state.TrainingState``: random stream, optimiser state, examples seen, and
the locks whose rules that class states).
"""
import math

import numpy as np

from . import _validation as check
from ._backprop import TrainingHyper, all_finite
from ._costs import cost_sum_py as cost_sum
from ._optimizers import OPTIMIZERS as ENGINE_OPTIMIZERS

# The one table of optimisers: each choice of ``fit(optimizer=...)`` and the engine's
# update rules it covers (SGD with momentum > 0 is the engine's "momentum" or
# "nesterov"). The engine's own name -> number table is checked against it below.
OPTIMIZERS = {"sgd": ("sgd", "momentum", "nesterov"), "adam": ("adam",)}
if sorted(kind for kinds in OPTIMIZERS.values() for kind in kinds) != \
        sorted(ENGINE_OPTIMIZERS):
    raise ImportError(f"fastbp's optimisers {OPTIMIZERS} and its engine's "
                      f"{sorted(ENGINE_OPTIMIZERS)} differ: a partial rebuild?")
SCHEDULES = ("constant", "invscaling", "plateau")

# The engine keeps training's work buffers between fits and partial_fit calls (about
# batch_size x the layer widths, a few times over), but not when they are larger than
# this: a batch of a whole large data set would keep a copy of X alive, and at that
# size building them again costs nothing next to an epoch over that many rows.
KEEP_WORKSPACE_BYTES = 64 << 20

# The book's plateau rule stops once the rate has been halved this many times (η0/128).
PLATEAU_HALVINGS = 7


def check_options(*, l2=0.0, optimizer="sgd", momentum=0.0, nesterov=False,
                  beta_1=0.9, beta_2=0.999, epsilon=1e-8, schedule="constant",
                  power_t=0.5, early_stopping=False, n_iter_no_change=10, tol=1e-4,
                  validation_fraction=0.1, dropout=0.0, monitor_training=False,
                  callback=None, l2_per_batch=False, weight_sum_per_batch=False):
    """Validate the training options; return them as a dict (see ``Network.fit``).

    ``l2_per_batch`` (fastbp.sklearn's estimators): scikit-learn's L2 rule. A smaller
    last batch decays by (λ/n)(batch_size/m), its own size m, instead of λ/n; and the
    L2 part of "train_cost" is each batch's term before its step, summed by the
    engine and also kept in history["l2_term"], instead of (λ/2n) Σ‖w‖² at the end
    of the epoch. It also accepts scikit-learn's momentum range, [0, 1].

    ``weight_sum_per_batch`` (the same estimators): scikit-learn's sample weights,
    taken as given (negative ones too) instead of normalised to mean 1; each step
    divides its batch's weighted sums (and, with ``l2_per_batch``, its L2 term) by
    the batch's own sum of weights instead of its size. A batch whose weights sum to
    0 raises ``ZeroWeightSumError``.
    """
    opts = dict(
        l2=check.non_negative(l2, "l2"),
        optimizer=check.check_choice(optimizer, "optimizer", OPTIMIZERS),
        # scikit-learn's estimators accept momentum 1 (undamped velocity).
        momentum=check.fraction(momentum, "momentum", upper_open=not l2_per_batch),
        nesterov=check.flag(nesterov, "nesterov"),
        beta_1=check.fraction(beta_1, "beta_1", upper_open=True),
        beta_2=check.fraction(beta_2, "beta_2", upper_open=True),
        epsilon=check.check_positive_float(epsilon, "epsilon"),
        schedule=_check_schedule(schedule),
        power_t=check.non_negative(power_t, "power_t"),
        early_stopping=check.flag(early_stopping, "early_stopping"),
        n_iter_no_change=check.check_int(n_iter_no_change, "n_iter_no_change"),
        tol=check.non_negative(tol, "tol"),
        validation_fraction=check.fraction(validation_fraction, "validation_fraction",
                                           upper_open=True),
        dropout=check.fraction(dropout, "dropout", upper_open=True),
        monitor_training=check.flag(monitor_training, "monitor_training"),
        callback=callback,
        l2_per_batch=check.flag(l2_per_batch, "l2_per_batch"),
        weight_sum_per_batch=check.flag(weight_sum_per_batch, "weight_sum_per_batch"),
    )
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    if opts["optimizer"] == "adam" and (opts["momentum"] or opts["nesterov"]):
        raise ValueError("momentum and nesterov apply to optimizer='sgd'; Adam keeps "
                         "its own moments (beta_1, beta_2)")
    if opts["nesterov"] and not opts["momentum"]:
        raise ValueError("nesterov=True needs momentum > 0")
    return opts


def _check_schedule(schedule):
    """One of SCHEDULES, or an object with a ``rate(run)`` method (see Schedule)."""
    if isinstance(schedule, str) or not callable(getattr(schedule, "rate", None)):
        if not isinstance(schedule, str):
            raise TypeError(f"schedule must be one of {list(SCHEDULES)} or an object with "
                            f"a rate(run) method, got {type(schedule).__name__}")
        return check.check_choice(schedule, "schedule", SCHEDULES)
    return schedule


def engine_optimizer(opts):
    """The engine's optimiser name for these options."""
    if opts["optimizer"] == "adam":
        return "adam"
    if opts["momentum"] > 0:
        return "nesterov" if opts["nesterov"] else "momentum"
    return "sgd"


def l2_term(weights, l2, n):
    """The book's regularisation term (λ/2n) Σ_l ‖w^l‖², summed in float64."""
    if not l2:
        return 0.0
    with np.errstate(over="ignore"):    # weights near float64's limit: the term is inf
        return 0.5 * l2 / n * sum(float(np.square(w, dtype=np.float64).sum())
                                  for w in weights)


def mean_cost(cost, A, Y):
    """Mean cost (the cost named ``cost``) of outputs A against targets Y, (m, n_L)."""
    return cost_sum(cost, A, Y) / A.shape[0]


def forward(engine, X, n_out, dtype):
    """a^L of checked rows X through ``engine``; parameters that are no longer
    finite (edited in place) raise ValueError instead of a wrong result."""
    try:
        A = np.empty((X.shape[0], n_out), dtype=dtype)
        engine.feedforward(X, A)
    except MemoryError as exc:
        raise check.too_large("X", exc) from None
    if not all_finite(A):
        check_finite_parameters(engine)
    return A


def check_finite_parameters(engine):
    """Raise ValueError naming the first parameter array holding NaN or inf
    (arrays edited in place are not checked when they change)."""
    for kind, arrays in (("weights", engine.weights), ("biases", engine.biases)):
        for i, arr in enumerate(arrays):
            if not all_finite(arr):
                raise ValueError(f"{kind}[{i}] contains NaN or infinite values "
                                 f"(set in place); fix the parameters first")


class Monitor:
    """Evaluates a network on a data set after each epoch (cost with the L2 term)."""

    def __init__(self, net, engine, X, Y, classify, l2, n_train):
        self.net, self.engine, self.X, self.Y, self.classify = net, engine, X, Y, classify
        self.labels = None  # found on first use: fit builds a monitor it may not call
        self.l2, self.n_train = l2, n_train

    def __call__(self):
        """Return (cost, accuracy or None)."""
        net = self.net
        A = forward(self.engine, self.X, net.sizes[-1], net.dtype)
        cost = mean_cost(net.cost, A, self.Y) + l2_term(net.weights, self.l2,
                                                         self.n_train)
        if not self.classify:
            return cost, None
        if self.labels is None:
            self.labels = self.Y.argmax(axis=1)
        return cost, float(np.mean(A.argmax(axis=1) == self.labels))


# -- the loop's parts ---------------------------------------------------------------
#
# The epoch loop (``_Run.epochs``) calls these at fixed points, as scikit-learn's
# ``_fit_stochastic`` calls its optimiser's ``iteration_ends`` and
# ``trigger_stopping``. Each gets the run (``_Run``): ``run.net``, ``run.epoch``
# (1, 2, ... in this call), ``run.history``, ``run.eta0`` (fit's learning_rate),
# ``run.hyper.eta`` (this epoch's rate), ``run.score`` (this epoch's validation
# score, or None), ``run.examples_seen``, ``run.rng`` (the stream of shuffling and
# dropout, which an observer may replace at ``epoch_start``). A user's schedule
# (``fit(schedule=obj)``) and callback see ``run.net``, ``run.epoch``,
# ``run.eta0``, ``run.history`` and ``run.examples_seen``.

class Schedule:
    """The learning rate of each epoch.

    ``rate(run)`` before each epoch gives its rate; ``epoch_end(run)`` after it;
    ``plateau(run)`` when the stopping rule finds no improvement: lower the rate and
    return True to go on, or return False to stop (this base class stops).
    """

    def rate(self, run):
        raise NotImplementedError

    def epoch_end(self, run):
        pass

    def plateau(self, run):
        return False


class Constant(Schedule):
    """The same rate ``eta`` for every epoch."""

    def __init__(self, eta):
        self.eta = eta

    def rate(self, run):
        return self.eta


class InvScaling(Schedule):
    """``eta0 / (t + 1) ** power_t``, t the examples the network has trained on
    before the epoch (or ``seen(run)``); ``eta``: the first epoch's rate instead
    (scikit-learn's, which restarts each fit at its initial rate)."""

    def __init__(self, eta0, power_t, eta=None, seen=None):
        self.eta0, self.power_t, self.eta = eta0, power_t, eta
        self.seen = (lambda run: run.examples_seen) if seen is None else seen

    def rate(self, run):
        if self.eta is None:
            self.epoch_end(run)
        return self.eta

    def epoch_end(self, run):
        self.eta = self.eta0 / (self.seen(run) + 1) ** self.power_t


class Plateau(Schedule):
    """Divide the rate by ``factor`` on each plateau; stop instead once it was
    divided ``max_drops`` - 1 times (``max_drops``, fastbp's rule) or has fallen to
    ``min_rate`` (scikit-learn's "adaptive")."""

    def __init__(self, eta, factor, max_drops=None, min_rate=None):
        self.eta, self.factor, self.max_drops, self.min_rate = eta, factor, max_drops, \
            min_rate
        self.drops = 0

    def rate(self, run):
        return self.eta

    def plateau(self, run):
        if self.max_drops is not None and self.drops + 1 >= self.max_drops:
            return False
        if self.min_rate is not None and not self.eta > self.min_rate:
            return False
        self.eta /= self.factor
        self.drops += 1
        return True


class NoImprovement:
    """Counts the epochs whose score (higher is better) did not improve by ``tol``.

    ``score(run)`` gives the epoch's score, called once per epoch after its
    history is recorded (inside the epoch: Ctrl-C undoes it). ``update(run)`` after each epoch returns
    True when the count has reached ``patience`` (the loop then asks the schedule to
    lower the rate, or stops; with ``final``, it stops). ``rule``: "fastbp" counts an
    epoch unless its score beats the best by more than ``tol``, and keeps that score
    as the best; "scikit-learn" counts it when its score is below best + ``tol``,
    keeps any higher score as the best, and stalls after more than ``patience``
    counted epochs. ``keep_best``: copy the parameters of each new best score and
    put them back when the loop ends. ``best`` and ``count`` carry over calls.
    """

    def __init__(self, score, tol, patience, rule="fastbp", final=False,
                 keep_best=False, best=-np.inf, count=0):
        self.score, self.tol, self.patience, self.rule = score, tol, patience, rule
        self.final, self.keep_best, self.best, self.count = final, keep_best, best, count
        self.best_params, self.stopped = None, False

    def update(self, run):
        score = self.score(run)
        if self.rule == "fastbp":
            better = score > self.best + self.tol
            if better:
                self.best, self.count = score, 0
            else:
                self.count += 1
            if better and self.keep_best:
                self.best_params = [p.copy() for p in run.params()]
            return self.count >= self.patience
        if score < self.best + self.tol:
            self.count += 1
        else:
            self.count = 0
        if score > self.best:
            self.best = score
            if self.keep_best:
                self.best_params = [p.copy() for p in run.params()]
        return self.count > self.patience

    def restart(self):
        """The schedule lowered the rate: count again from 0."""
        self.count = 0

    def finish(self, run):
        """The loop has ended: put back the best parameters (``keep_best``)."""
        if self.best_params is not None:
            for p, best in zip(run.params(), self.best_params):
                np.copyto(p, best)
            self.best_params = None


class Observer:
    """Per-epoch hooks of the loop: ``epoch_start(run, epoch)`` before an epoch
    trains, ``progress(run, done)`` after each chunk of a chunked epoch (``done``
    examples of it trained), ``epoch_end(run, epoch)`` once the epoch is recorded:
    True stops the loop."""

    def epoch_start(self, run, epoch):
        pass

    def progress(self, run, done):
        pass

    def epoch_end(self, run, epoch):
        return False


class Callback(Observer):
    """``fit(callback=...)``: ``callback(net, epoch, history)``, True stops."""

    def __init__(self, callback):
        self.callback = callback

    def epoch_end(self, run, epoch):
        return self.callback(run.net, epoch, run.history)


class _UserSchedule(Schedule):
    """A schedule given to ``fit``: its own ``rate``, checked; the base class's
    ``epoch_end`` and ``plateau`` unless it has them."""

    def __init__(self, schedule):
        self.schedule = schedule

    def rate(self, run):
        eta = self.schedule.rate(run)
        if isinstance(eta, (bool, np.bool_)) or not isinstance(eta, (int, float,
                                                                     np.number)):
            raise TypeError(f"schedule.rate must return a number, got "
                            f"{type(eta).__name__} in epoch {run.epoch}")
        with np.errstate(over="ignore"):
            if not (eta > 0 and np.isfinite(run.net.dtype.type(eta))):
                raise ValueError(f"schedule.rate returned {eta} in epoch {run.epoch}: a "
                                 f"learning rate must be a finite number > 0 in "
                                 f"{run.net.dtype}")
        return float(eta)

    def epoch_end(self, run):
        if hasattr(self.schedule, "epoch_end"):
            self.schedule.epoch_end(run)

    def plateau(self, run):
        return bool(self.schedule.plateau(run)) if hasattr(self.schedule, "plateau") \
            else False


def network_schedule(opts, eta0):
    """The schedule ``Network.fit``'s options name."""
    if not isinstance(opts["schedule"], str):
        return _UserSchedule(opts["schedule"])
    if opts["schedule"] == "invscaling":
        return InvScaling(eta0, opts["power_t"])
    if opts["schedule"] == "plateau":
        return Plateau(eta0, 2, max_drops=PLATEAU_HALVINGS)
    return Constant(eta0)


def network_stopping(opts):
    """``Network.fit``'s rule on the validation score, or None: early stopping
    (stops, and keeps the best parameters), or the plateau schedule's trigger."""
    if not (opts["early_stopping"] or opts["schedule"] == "plateau"):
        return None
    return NoImprovement(lambda run: run.score, opts["tol"], opts["n_iter_no_change"],
                         final=opts["early_stopping"],
                         keep_best=opts["early_stopping"])


# -- the driver ---------------------------------------------------------------------

def train(net, X, y, epochs, batch_size, learning_rate, validation_data=None,
          shuffle=True, seed=None, sample_weight=None, options=None, append=False,
          chunk=None, *, schedule=None, stopping=None, observers=(), order=None,
          new_optimizer=False):
    """Train ``net`` in place: ``Network.fit`` (``append``: ``partial_fit``).

    Parameters
    ----------
    net : Network
    X, y, epochs, batch_size, learning_rate, validation_data, shuffle, seed, sample_weight
        As ``Network.fit``.
    options : dict
        From ``check_options``.
    append : bool
        Append to ``net.history`` (partial_fit) instead of starting a new one.
    chunk : int or None
        Train each epoch in calls of this many examples (rounded up to whole
        mini-batches) instead of one; the steps and the results are the same.
        Observers hear of each chunk (``Observer.progress``).
    schedule : Schedule or None
        The learning rate of each epoch; None: the one ``options`` name
        (``network_schedule``).
    stopping : NoImprovement or None
        The rule that counts epochs without improvement; None: the one ``options``
        name (``network_stopping``: early stopping or the plateau schedule, on the
        validation score).
    observers : sequence of Observer
        Called at fixed points of each epoch, after the history and ``options``'
        callback (see ``Observer``).
    order : callable or None
        ``order(n)``: the rows of each epoch, in place of ``shuffle``'s
        permutation (the book's order).
    new_optimizer : bool
        Start a new optimiser state (zeros) instead of going on with the network's
        (scikit-learn's warm start); a refused call keeps the old one.

    Returns
    -------
    history : dict of lists (see ``Network.fit``), also ``net.history``.
    """
    options = check_options() if options is None else options
    with net.training_state.training():
        run = _Run(net, X, y, epochs, batch_size, learning_rate, validation_data,
                   shuffle, seed, sample_weight, options, append, chunk,
                   new_optimizer)
        run.plug_in(schedule, stopping, observers, order)
        try:
            return run.epochs()
        finally:
            run.engine.drop_workspace(larger_than=KEEP_WORKSPACE_BYTES)


class _Run:
    """One call of ``train``: the checked arguments, then the epoch loop.

    ``__init__`` only checks and prepares (a refused call changes nothing);
    ``epochs`` trains.
    """

    def __init__(self, net, X, y, epochs, batch_size, learning_rate, validation_data,
                 shuffle, seed, sample_weight, opts, append, chunk, new_optimizer):
        sizes, dtype = net.sizes, net.dtype
        # X's values are checked by the engine as the first epoch gathers its rows,
        # which saves a pass over all of X; a bad row undoes that epoch (see below).
        X, _ = check.check_features(X, "X", sizes[0], dtype, finite=False)
        Y = check.check_targets(y, "y", sizes[-1], X.shape[0], dtype)
        n = X.shape[0]
        self.classify = check.is_classification(y, Y)
        if opts["weight_sum_per_batch"]:
            S = check.check_signed_sample_weight(sample_weight, n, dtype)
        else:
            S = check.check_sample_weight(sample_weight, n, dtype)
            if S is not None:  # at most 1 each, the largest 1: the sum cannot overflow
                S = np.ascontiguousarray(S * (n / S.sum(dtype=np.float64)), dtype=dtype)
        self.n_epochs = check.check_int(epochs, "epochs")
        batch_size = min(check.check_int(batch_size, "batch_size"), n)
        if chunk is not None:  # whole mini-batches
            chunk = math.ceil(check.check_int(chunk, "chunk") / batch_size) * batch_size
        eta0 = check.check_positive_float(learning_rate, "learning_rate")
        with np.errstate(over="ignore"):
            if not np.isfinite(dtype.type(eta0)):
                raise ValueError(f"learning_rate={eta0} does not fit in {dtype}")
        self.training_state = tstate = net.training_state
        _check_step_options(opts, eta0, n, self.n_epochs, tstate.examples_seen, dtype)
        self.shuffle = check.flag(shuffle, "shuffle")
        rng = tstate.rng if seed is None else np.random.default_rng(
            check.check_int(seed, "seed", minimum=0))
        rng_state = rng.bit_generator.state
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (X_val, y_val)")
            X_val, _ = check.check_features(validation_data[0], "validation_data[0]",
                                            sizes[0], dtype)
            Y_val = check.check_targets(validation_data[1], "validation_data[1]",
                                        sizes[-1], X_val.shape[0], dtype)
        elif opts["early_stopping"] or opts["schedule"] == "plateau":
            n_val = int(round(opts["validation_fraction"] * n))
            if not 1 <= n_val < n:
                raise ValueError(
                    f"validation_fraction={opts['validation_fraction']} leaves no "
                    f"validation or no training examples out of {n}; pass "
                    f"validation_data or change validation_fraction")
            # (the held-out rows never reach the engine's check)
            if not all_finite(X.data if check.is_sparse(X) else X):
                raise ValueError("X contains NaN or infinite values")
            rows = rng.permutation(n)
            X_val, Y_val = X[rows[:n_val]], Y[rows[:n_val]]
            X, Y = X[rows[n_val:]], Y[rows[n_val:]]
            S = None if S is None else np.ascontiguousarray(S[rows[n_val:]])
            n -= n_val
        else:
            X_val = None
        self.engine = engine = net.compiled()
        check_finite_parameters(engine)
        # All arguments are valid: from here on the network changes.
        self.net, self.opts, self.rng, self.rng_state = net, opts, rng, rng_state
        self.X, self.Y, self.S, self.n, self.batch_size = X, Y, S, n, batch_size
        self.eta0 = eta0
        self.chunk = n if chunk is None else min(chunk, n)
        self.old_state, self.old_history = tstate.optimizer, net.history
        if new_optimizer:
            tstate.optimizer = None
        self.state = state = tstate.optimizer_for(engine_optimizer(opts), engine.weights,
                                                  engine.biases)
        sklearn_l2 = opts["l2_per_batch"]
        self.per_batch = per_batch = sklearn_l2 and not opts["monitor_training"]
        # Typed once here; only the learning rate changes between epochs.
        self.hyper = TrainingHyper(
            state.kind, eta0, decay=opts["l2"] / n, mu=opts["momentum"],
            beta1=opts["beta_1"], beta2=opts["beta_2"], epsilon=opts["epsilon"],
            dropout=opts["dropout"], l2_cost=per_batch, l2_by_batch=sklearn_l2,
            by_weight_sum=opts["weight_sum_per_batch"])
        self.train_monitor = Monitor(net, engine, X, Y, self.classify, opts["l2"], n)
        self.val_monitor = None if X_val is None else Monitor(
            net, engine, X_val, Y_val, check.is_classification(None, Y_val), opts["l2"], n)
        history = net.history if append and net.history else {}
        for key in ["train_cost", "learning_rate"] + (["l2_term"] if per_batch else []) + \
                (["train_accuracy"] if opts["monitor_training"] and self.classify
                 else []) + \
                ([] if self.val_monitor is None else
                 ["val_cost"] + (["val_accuracy"] if self.val_monitor.classify else [])):
            history.setdefault(key, [])
        self.history = net.history = history
        self.history_start = len(history["train_cost"])

    def plug_in(self, schedule, stopping, observers, order):
        """Set the loop's parts: ``options``' own unless given."""
        opts = self.opts
        self.schedule = network_schedule(opts, self.eta0) if schedule is None \
            else schedule
        if stopping is None and self.val_monitor is not None:
            stopping = network_stopping(opts)
        self.stopping = stopping
        callback = opts["callback"]
        self.observers = ([] if callback is None else [Callback(callback)]) + \
            list(observers)
        self.order = order

    @property
    def epochs_done(self):
        """Epochs of this call whose training the network holds (fewer than were run
        when divergence or Ctrl-C put some back)."""
        return len(self.history["train_cost"]) - self.history_start

    @property
    def examples_seen(self):
        """Examples the network has trained on, all calls together (this epoch's
        once it is done)."""
        return self.training_state.examples_seen

    def epochs(self):
        """The epoch loop: the one place that runs a network's epochs.

        Each epoch: the schedule's rate, the observers' ``epoch_start``, the epoch in
        the engine, the history (with the monitors), the stopping rule's count;
        then the observers' ``epoch_end`` (any True stops), the schedule's
        ``epoch_end``, and when the rule says the score stalled, the schedule's
        ``plateau`` (False stops). Ctrl-C before the stopping rule's count puts back
        the epoch's start.
        """
        net, hyper = self.net, self.hyper
        schedule, stopping, observers = self.schedule, self.stopping, self.observers
        self.rows = np.arange(self.n, dtype=np.intp)
        for epoch in range(1, self.n_epochs + 1):
            self.epoch = epoch
            try:
                hyper.eta = schedule.rate(self)
            except Exception:
                if epoch == 1:  # a refused first rate changes nothing
                    self.training_state.optimizer = self.old_state
                    net.history = self.old_history
                raise
            for observer in observers:
                observer.epoch_start(self, epoch)
            # Ctrl-C (or any interrupt) before the epoch's bookkeeping is done puts
            # back the state of the epoch's start: parameters, optimiser moments and
            # step count, random stream, history and examples seen all describe the
            # same whole steps.
            epoch_start = self._epoch_state()
            if epoch == 1:
                self.call_start = epoch_start
            try:
                self._train_epoch(epoch, epoch_start)
                self.score = self._record()
                stalled = stopping is not None and stopping.update(self)
            except KeyboardInterrupt:
                self._restore_epoch_state(epoch_start)
                raise
            stop = False
            for observer in observers:
                stop = observer.epoch_end(self, epoch) or stop
                if stop:
                    break
            if stop:
                break
            schedule.epoch_end(self)
            if stalled:
                if stopping.final or not schedule.plateau(self):
                    stopping.stopped = True
                    break
                stopping.restart()
        if stopping is not None:
            stopping.finish(self)
        return self.history

    def params(self):
        """The parameter arrays the engine updates: w^1..w^L, then b^1..b^L."""
        return self.engine.weights + self.engine.biases

    def _train_epoch(self, epoch, start_state):
        """One epoch in the engine, in calls of ``chunk`` examples; raises ValueError
        (everything put back as before the call) for a row of X that is not finite,
        ZeroWeightSumError (likewise) for a batch whose weights sum to 0,
        FloatingPointError when training diverges. ``start_state``: the epoch's
        ``_epoch_state``."""
        hyper, state, rng = self.hyper, self.state, self.rng
        n = self.n
        if self.order is not None:
            self.rows = np.asarray(self.order(n), dtype=np.intp)
        elif self.shuffle:
            self.rows = rng.permutation(n).astype(np.intp, copy=False)
        total = penalty_total = 0.0
        # Dropout draws its seed only when used, so the shuffling stays
        # rng.permutation(n) per epoch, reproducible by other implementations; the
        # chunks of an epoch go on from the RNG state where the last one stopped.
        dropout_seed = int(rng.integers(2**63)) if hyper.dropout else 0
        for start in range(0, n, self.chunk):
            rows = self.rows[start:start + self.chunk]
            status, cost, penalty, dropout_seed = self.engine.train_epoch(
                self.X, self.Y, self.S, rows, self.batch_size, hyper, state,
                dropout_seed, check_input=epoch == 1)
            if status == 2:
                self._undo_call(start_state)
                raise ValueError("X contains NaN or infinite values")
            if status == 3:
                # Any epoch may meet it (the batches change with the shuffling): the
                # whole call is undone, as a refused call changes nothing.
                self._restore_epoch_state(self.call_start)
                self._undo_call(self.call_start)
                raise ZeroWeightSumError(
                    f"the sample weights of a mini-batch sum to 0 in epoch {epoch}: "
                    f"its weighted mean is undefined (Weights sum to zero, can't be "
                    f"normalized)")
            # A non-finite batch cost stops the epoch before its update; an update
            # that overflows shows in the parameters.
            if status != 0 or not all(all_finite(p) for p in self.params()):
                what = f"a mini-batch cost became {cost}" if status != 0 else \
                    "an update overflowed the parameters"
                kept = self._keep_finite_state(epoch, start_state)
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: {what}; "
                    f"{_divergence_cause(hyper, self.opts['l2'])}. {kept}")
            if self.chunk >= n:  # one call: its mean as it is
                self.cost, self.penalty = cost, penalty
            else:
                total += len(rows) * cost
                penalty_total += len(rows) * penalty
                self.cost, self.penalty = total / n, penalty_total / n
            if self.chunk < n:
                for observer in self.observers:
                    observer.progress(self, start + len(rows))
        self.training_state.examples_seen += n

    def _keep_finite_state(self, epoch, start_state):
        """After divergence: go back to the last whole state whose outputs and cost
        on the training rows are finite, the epoch's start or else the call's (a
        finite batch cost says nothing of the other rows: parameters grown huge
        overflow on them). Parameters, optimiser state, random stream, examples
        seen and history go back together. Returns the sentence that says which."""
        self._restore_epoch_state(start_state)
        if epoch > 1 and self._finite_on_training_rows():
            return (f"The network keeps the parameters of the end of epoch {epoch - 1}, "
                    f"the last whose outputs and cost on the training data are finite.")
        self._undo_call(self.call_start)
        self.training_state.examples_seen = self.call_start["seen"]
        if self._finite_on_training_rows():
            return ("The network keeps the parameters it had before this call: those "
                    "of each later epoch give non-finite outputs or cost on the training "
                    "data.")
        return ("The network keeps the parameters it had before this call; they too "
                "give non-finite outputs or cost on the training data.")

    def _finite_on_training_rows(self):
        net = self.net
        A = np.empty((self.n, net.sizes[-1]), dtype=net.dtype)
        self.engine.feedforward(self.X, A)
        if not all_finite(A):
            return False
        with np.errstate(all="ignore"):
            return bool(np.isfinite(mean_cost(net.cost, A, self.Y)))

    def _undo_call(self, start_state):
        """Put everything back as before this call of ``train``. Only the first
        epoch checks X's rows, so its ``_epoch_state`` holds the call's parameters
        and optimiser state."""
        net = self.net
        for p, saved in zip(self.params(), start_state["params"]):
            np.copyto(p, saved)
        self.state.restore(start_state["optimizer"])
        self.training_state.optimizer, net.history = self.old_state, self.old_history
        self.rng.bit_generator.state = self.rng_state

    def _record(self):
        """Append the epoch's records to the history; return its validation score
        (accuracy, or minus the cost for other targets), None without validation."""
        net, opts, history = self.net, self.opts, self.history
        history["learning_rate"].append(self.hyper.eta)
        if opts["monitor_training"]:
            cost, accuracy = self.train_monitor()
            if self.classify:
                history["train_accuracy"].append(accuracy)
            history["train_cost"].append(cost)
        elif self.per_batch:
            history["l2_term"].append(self.penalty)
            history["train_cost"].append(self.cost + self.penalty)
        else:
            history["train_cost"].append(
                self.cost + l2_term(net.weights, opts["l2"], self.n))
        if self.val_monitor is None:
            return None
        val_cost, val_accuracy = self.val_monitor()
        history["val_cost"].append(val_cost)
        if self.val_monitor.classify:
            history["val_accuracy"].append(val_accuracy)
        return val_accuracy if self.val_monitor.classify else -val_cost

    def _epoch_state(self):
        """What one epoch changes, copied (see ``_restore_epoch_state``)."""
        return {"params": [p.copy() for p in self.params()],
                "optimizer": self.state.copy(), "rng": self.rng.bit_generator.state,
                "seen": self.training_state.examples_seen,
                "history": {k: len(v) for k, v in self.history.items()}}

    def _restore_epoch_state(self, saved):
        for p, old in zip(self.params(), saved["params"]):
            np.copyto(p, old)
        self.state.restore(saved["optimizer"])
        self.rng.bit_generator.state = saved["rng"]
        self.training_state.examples_seen = saved["seen"]
        for key, length in saved["history"].items():
            del self.history[key][length:]


class ZeroWeightSumError(ValueError, ZeroDivisionError):
    """A mini-batch's sample weights sum to 0 (``weight_sum_per_batch``): a
    ValueError, and the ZeroDivisionError that scikit-learn's estimators raise there
    (from ``numpy.average``)."""


def _check_step_options(opts, eta0, n, epochs, examples_seen, dtype):
    """Refuse options whose values the engine's ``dtype`` arithmetic cannot carry:
    they would only show later as a diverged fit blaming the learning rate, or as an
    OverflowError from the schedule."""
    info = np.finfo(dtype)
    with np.errstate(over="ignore", under="ignore"):
        if opts["epsilon"] and dtype.type(opts["epsilon"]) == 0:
            # Adam then divides 0 by 0 for every parameter whose gradient is 0.
            raise ValueError(f"epsilon={opts['epsilon']} rounds to 0 in {dtype}; use at "
                             f"least {info.tiny:.3g}")
        factor = 1.0 - eta0 * opts["l2"] / n
        if not np.isfinite(dtype.type(factor)):
            raise ValueError(f"l2={opts['l2']} is too large: the weight decay factor "
                             f"1 - learning_rate*l2/n = {factor:.3g} does not fit in "
                             f"{dtype}")
    if opts["schedule"] == "invscaling":
        # The last epoch's rate η/(t+1)^power_t, in logarithms: the power overflows
        # a float long before the rate stops being representable.
        t = examples_seen + (epochs - 1) * n
        log_eta = math.log(eta0) - opts["power_t"] * math.log1p(t)  # inf, not raising
        if not log_eta >= math.log(info.tiny):
            raise ValueError(f"power_t={opts['power_t']} makes the invscaling rate "
                             f"learning_rate/(t+1)**power_t underflow to 0 in {dtype} "
                             f"by epoch {epochs} (t = {t} examples seen); use a smaller "
                             f"power_t or fewer epochs")


def _divergence_cause(hyper, l2):
    """What to blame for a diverged fit: the L2 decay when it alone grows the
    weights (|1 - ηλ/n| > 1), else the learning rate."""
    shrink = hyper.eta * hyper.decay
    if shrink > 2:
        return (f"l2={l2} is too large for this learning rate ({hyper.eta}): the "
                f"weight decay factor 1 - learning_rate*l2/n = {1 - shrink:.3g} makes "
                f"the weights grow at every step; lower l2 or the learning rate")
    return f"the learning rate ({hyper.eta}) is probably too high"
