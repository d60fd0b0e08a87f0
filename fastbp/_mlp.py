"""The fitting code that fastbp.sklearn's two estimators share.

``MLPBase`` checks scikit-learn's parameters, prepares a fit (the network, its
initial parameters drawn as scikit-learn draws them, the held-out split), and
configures ``_training``'s one loop with scikit-learn's schedules, stopping rule and
per-epoch bookkeeping (``_Epochs``), or runs lbfgs (``_lbfgs``). The estimators in
``fastbp.sklearn`` add their outputs, labels and scores through the hooks
``_validate_input``, ``_output_layer``, ``_labels`` and ``_validation_score``.
"""
import copy
import numbers
import warnings

import numpy as np
import scipy
import scipy.optimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _lbfgs, _training
from . import _validation as check
from ._tables import FLOAT_DTYPES, HIDDEN_ACTIVATIONS, SKLEARN_ACTIVATIONS
from .network import Network

# The hidden activations, by scikit-learn's names.
_ACTIVATIONS = {name: ours for name, ours in SKLEARN_ACTIVATIONS.items()
                if ours in HIDDEN_ACTIVATIONS}
_SOLVERS = tuple(_training.OPTIMIZERS)
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
# ... and back, for out_activation_.
_SKLEARN_NAMES = {v: k for k, v in _ACTIVATIONS.items()}
_SCIPY_NO_IPRINT = tuple(int(v) for v in scipy.__version__.split(".")[:2]) >= (1, 15)
# scikit-learn's message for parameters that became NaN or infinite.
_NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain "
              "large values and need to be preprocessed.")
# X's dtypes kept as they are (others become the first, float64), as scikit-learn's
# MLPs: fastbp's float dtypes, widest first.
_X_DTYPES = tuple(sorted(FLOAT_DTYPES, key=lambda dt: -dt.itemsize))
# scikit-learn's "adaptive" schedule stops once the rate has fallen to this value.
_ADAPTIVE_MIN_RATE = 1e-6


def stochastic_solver(estimator):
    """partial_fit's availability: stochastic solvers only, as in scikit-learn."""
    if estimator.solver not in _SOLVERS:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{estimator.solver} is not stochastic.")
    return True


def output_or_none(network, X):
    """a^L on the (checked, finite) validation rows, or None where the parameters of
    a diverging fit give NaN or inf, which ``feedforward`` refuses to hand back."""
    try:
        return network.feedforward(X)
    except ValueError:
        return None


class MLPBase(BaseEstimator):
    """Shared fitting code; see MLPClassifier and MLPRegressor."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True   # CSR (CSC and the rest converted to it)
        return tags

    def __init__(self, **params):
        # The public classes' __init__ name every parameter (scikit-learn's get_params
        # reads their signatures) and pass them here.
        for name, value in params.items():
            setattr(self, name, value)

    # -- scikit-learn layout of the parameters ------------------------------------

    @property
    def coefs_(self):
        """Weight matrices in scikit-learn's layout: ``coefs_[i]`` is (n_in, n_out).

        Each is a transposed *view* of fastbp's w^{i+1} (``network_.weights[i]``), so
        editing it in place edits the network. Assigning a list copies it in.
        """
        if "network_" not in self.__dict__:
            raise AttributeError("coefs_: this estimator is not fitted yet")
        return [w.T for w in self.network_.weights]

    @coefs_.setter
    def coefs_(self, value):
        net = self.network_
        net.weights = [np.array(np.asarray(c).T, dtype=net.dtype, order="C")
                       for c in value]

    @property
    def intercepts_(self):
        """Bias vectors: ``intercepts_[i]`` is fastbp's b^{i+1} (live), shape (n_out,)."""
        if "network_" not in self.__dict__:
            raise AttributeError("intercepts_: this estimator is not fitted yet")
        return list(self.network_.biases)

    @intercepts_.setter
    def intercepts_(self, value):
        net = self.network_
        net.biases = [np.array(b, dtype=net.dtype, order="C") for b in value]

    def __sklearn_is_fitted__(self):
        return "network_" in self.__dict__

    def __setstate__(self, state):
        super().__setstate__(state)
        # Unpickled from a read-only memory map (joblib's mmap_mode="r"), the
        # arrays are read-only, which the engine refuses: deepcopy makes them writeable
        # (parameters and optimiser state alike).
        net = self.__dict__.get("network_")
        if net is not None and not all(p.flags.writeable
                                       for p in net.weights + net.biases):
            self.network_ = copy.deepcopy(net)

    # -- parameter checks ---------------------------------------------------------

    def _checked_params(self):
        """Validate the constructor parameters (at fit time, as scikit-learn does)."""
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = [as_value_error(check.check_int, s, "hidden_layer_sizes") for s in sizes]
        as_value_error(check.check_choice, self.activation, "activation", tuple(_ACTIVATIONS))
        as_value_error(check.check_choice, self.solver, "solver", _SOLVERS + ("lbfgs",))
        as_value_error(check.check_choice, self.learning_rate, "learning_rate", _LEARNING_RATES)
        as_value_error(check.non_negative, self.alpha, "alpha")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            as_value_error(check.check_int, self.batch_size, "batch_size", maximum=None)
        as_value_error(check.check_positive_float, self.learning_rate_init, "learning_rate_init")
        as_value_error(check.non_negative, self.power_t, "power_t")
        as_value_error(check.check_int, self.max_iter, "max_iter")
        as_value_error(check.check_int, self.max_fun, "max_fun")
        if not (isinstance(self.n_iter_no_change, numbers.Real)
                and self.n_iter_no_change == np.inf):  # as scikit-learn: never stop
            as_value_error(check.check_int, self.n_iter_no_change, "n_iter_no_change")
        as_value_error(check.non_negative, self.tol, "tol")
        as_value_error(check.fraction, self.momentum, "momentum")
        as_value_error(check.check_real, self.validation_fraction, "validation_fraction", low=0,
               high=1, high_open=True)
        as_value_error(check.fraction, self.beta_1, "beta_1", upper_open=True)
        as_value_error(check.fraction, self.beta_2, "beta_2", upper_open=True)
        as_value_error(check.check_positive_float, self.epsilon, "epsilon")
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            as_value_error(check.flag, getattr(self, name), name)
        dtype = None if self.dtype is None else as_value_error(check.check_dtype, self.dtype)
        return sizes, dtype

    # -- fitting ------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        # Everything up to the first epoch only checks and prepares: a refused fit
        # (any exception before training starts) leaves the estimator as it was.
        # The network refuses arguments the same way (ValueError or TypeError before
        # its first epoch changes anything); such a refusal restores the estimator too.
        saved = self.__dict__.copy()
        epochs_before = None
        try:
            run = self._prepare_fit(X, y, sample_weight, incremental, classes)
            epochs_before = len(self.__dict__.get("loss_curve_", ()))
            run()
        except BaseException as exc:
            # lbfgs writes the network once, at its end: any refusal restores.
            if epochs_before is None or (isinstance(exc, (ValueError, TypeError)) and len(
                    self.__dict__.get("loss_curve_", ())) == epochs_before):
                self.__dict__.clear()
                self.__dict__.update(saved)
            raise
        return self

    def _prepare_fit(self, X, y, sample_weight, incremental, classes):
        """Check the arguments and set up the fit; return the call that trains."""
        hidden, dtype = self._checked_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = "network_" not in self.__dict__ or (
            not self.warm_start and not incremental)
        if not first_pass and dtype is not None and self.network_.dtype != dtype:
            raise ValueError(
                f"dtype={self.dtype!r}, but the fitted network is "
                f"{self.network_.dtype.name}: {'partial_fit' if incremental else 'warm_start'}"
                f" continues in the network's dtype; set dtype back, or fit anew "
                f"(warm_start=False)")
        if not first_pass:
            dtype = self.network_.dtype
        X, Y, y_score = self._validate_input(X, y, _X_DTYPES if dtype is None else dtype,
                                             incremental, first_pass, classes)
        dtype = X.dtype
        n = X.shape[0]
        sample_weight = _check_sample_weight(sample_weight, n)

        rs = check_random_state(self.random_state)
        sizes = [X.shape[1]] + hidden + [Y.shape[1]]
        if first_pass:
            self._initialize(sizes, dtype, rs)
        elif self.network_.sizes != sizes:
            raise ValueError(f"the data need a network of layer sizes {sizes}, but the "
                             f"fitted one has {self.network_.sizes}")
        elif not incremental and self.solver != "lbfgs":
            # warm_start: keep the parameters, start a new optimiser (as scikit-learn;
            # the loop starts it once the fit is accepted).
            self._current_learning_rate = float(self.learning_rate_init)
        if self.solver == "lbfgs":
            # lbfgs's whole-set gradient runs on dense rows: sparse X is densified here
            # (the stochastic solvers keep it sparse).
            X = X.toarray() if check.is_sparse(X) else X
            X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
            sample_weight = check.check_signed_sample_weight(sample_weight, n, dtype)
            if sample_weight is not None and sample_weight.sum(dtype=np.float64) == 0:
                # scikit-learn: numpy.average's ZeroDivisionError at the first call.
                raise _training.ZeroWeightSumError(
                    "the sample weights sum to 0: the weighted mean loss is undefined "
                    "(Weights sum to zero, can't be normalized)")
            return lambda: self._fit_lbfgs(X, Y, sample_weight)

        if self.early_stopping:
            # As scikit-learn: stratified on the one logistic output's targets (two
            # classes) only, not on indicator columns (multiclass, multi-label).
            stratify = Y.astype(bool) if self._stratify and self.n_outputs_ == 1 else None
            parts = train_test_split(X, Y, y_score, *([] if sample_weight is None else
                                                      [sample_weight]),
                                     random_state=rs, test_size=self.validation_fraction,
                                     stratify=stratify)
            X, X_val, Y, _, _, y_val = parts[:6]
            sw_val = None
            if sample_weight is not None:
                sample_weight, sw_val = parts[6:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            validation = (X_val, y_val, sw_val)
        else:
            validation = None
        X = X if check.is_sparse(X) else np.ascontiguousarray(X)
        Y = np.ascontiguousarray(Y)
        n = X.shape[0]
        batch_size = self._batch_size(n)

        if incremental:
            return lambda: self._partial_pass(X, Y, sample_weight, batch_size, rs)
        return lambda: self._fit_epochs(X, Y, sample_weight, batch_size, validation, rs,
                                        not first_pass)

    def _fit_lbfgs(self, X, Y, sample_weight):
        """scikit-learn's ``_fit_lbfgs``: L-BFGS-B over the flattened parameters, on
        the whole training set's loss and gradient (``_lbfgs.Objective``)."""
        net = self.network_
        objective = _lbfgs.Objective(net, X, Y, sample_weight, self.alpha,
                                     scale=self.n_outputs_ if self._loss_per_output else 1)
        # scipy >= 1.15 deprecates iprint (scikit-learn passes it to older ones only).
        iprint = {} if _SCIPY_NO_IPRINT else {"iprint": 1 if self.verbose else -1}
        result = scipy.optimize.minimize(
            objective, objective.pack(net), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                     **iprint})
        self.n_iter_ = min(result.nit, self.max_iter)
        if result.status != 0:
            message = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                       f"(status={result.status}):\n{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += (f"\nIncrease the number of iterations to improve the "
                            f"convergence (max_iter={self.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        if not np.isfinite(result.x).all():
            raise ValueError(_NONFINITE)
        objective.unpack(result.x, net)
        self.loss_ = float(result.fun)

    def _initialize(self, sizes, dtype, rs):
        """A new network with scikit-learn's initial parameters (Glorot uniform)."""
        activation = _ACTIVATIONS[self.activation]
        output, cost = self._output_layer()
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights, biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = rs.uniform(-bound, bound, (fan_in, fan_out))
            intercept = rs.uniform(-bound, bound, fan_out)
            weights.append(np.ascontiguousarray(coef.T, dtype=dtype))
            biases.append(np.ascontiguousarray(intercept, dtype=dtype))
        net = Network(sizes, activation=activation,
                      output_activation=output, cost=cost, init="xavier", dtype=dtype,
                      seed=0)
        net.weights, net.biases = weights, biases
        self.network_ = net
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = _SKLEARN_NAMES.get(output, output)
        self.n_iter_ = 0
        self.t_ = 0
        if self.solver == "lbfgs":
            return  # as scikit-learn: no loss curve nor stopping state for lbfgs
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._current_learning_rate = float(self.learning_rate_init)
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _batch_size(self, n):
        if isinstance(self.batch_size, str):  # "auto"
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
        return int(np.clip(self.batch_size, 1, n))

    def _options(self, n, batch_size, sample_weight):
        """Keyword arguments of Network.fit/partial_fit for n training examples."""
        # scikit-learn divides each batch's weighted loss, its gradient and its
        # 0.5 * alpha * ||W||^2 by the batch's sum of sample weights W (its size
        # without weights); fastbp's book-style decay is l2/n per step, so
        # l2 = alpha * n / batch_size, which the engine scales by batch_size / W
        # for each batch (weight_sum_per_batch, see _train).
        if sample_weight is not None and (sample_weight == 1).all():
            sample_weight = None  # the same steps, without the weighting work
        opts = dict(l2=float(self.alpha) * n / batch_size,
                    optimizer=self.solver, shuffle=bool(self.shuffle),
                    sample_weight=sample_weight)  # the loop casts it to the dtype
        if self.solver == "adam":
            opts.update(beta_1=float(self.beta_1), beta_2=float(self.beta_2),
                        epsilon=float(self.epsilon))
        else:
            momentum = float(self.momentum)
            opts.update(momentum=momentum,
                        nesterov=bool(self.nesterovs_momentum) and momentum > 0)
        return opts

    def _train(self, X, Y, epochs, batch_size, rs, opts, validation, incremental,
               new_optimizer=False):
        """Train ``network_`` in fastbp's loop with scikit-learn's rules (its
        ``_fit_stochastic`` and ``_backprop``): its weighting and L2 rule (each
        batch's weighted sums and L2 term divided by that batch's own sum of sample
        weights, or its size, in its step and in its loss, the loss's term taken
        with the weights before the step), rate schedules, stopping rule
        (on the training loss, or on the validation score with ``validation``) and
        bookkeeping (``n_iter_``, ``t_``, ``loss_curve_``, ...).

        Returns True when the stopping rule ended the fit.
        """
        opts = dict(opts)
        shuffle, sample_weight = opts.pop("shuffle"), opts.pop("sample_weight")
        options = _training.check_options(l2_per_batch=True, weight_sum_per_batch=True,
                                          **opts)
        rate = self._current_learning_rate
        if self._invscaling:
            schedule = _training.InvScaling(float(self.learning_rate_init),
                                            float(self.power_t), eta=rate,
                                            seen=lambda run: self.t_)
        elif self.solver == "sgd" and self.learning_rate == "adaptive":
            schedule = _training.Plateau(rate, 5.0, min_rate=_ADAPTIVE_MIN_RATE)
        else:
            schedule = _training.Constant(rate)
        if self.verbose:
            _say_plateaus(schedule, "Validation score" if self.early_stopping
                          else "Training loss", self.tol, self.n_iter_no_change)
        epochs = _Epochs(self, schedule, validation, X.shape[0], rs, incremental)
        stopping = epochs.stopping = _training.NoImprovement(
            epochs.score, float(self.tol), float(self.n_iter_no_change),  # np.inf too
            rule="scikit-learn", keep_best=validation is not None,
            best=-self.best_loss_ if validation is None else self.best_validation_score_,
            count=self._no_improvement_count)
        # Without a better epoch, a diverged fit with early stopping ends where it
        # started (scikit-learn's best parameters start as the initial ones).
        start = None if validation is None else [
            p.copy() for p in self.network_.weights + self.network_.biases]
        try:
            _training.train(
                self.network_, X, Y, epochs.n_epochs, batch_size, rate, None, shuffle,
                int(rs.randint(np.iinfo(np.int32).max)), sample_weight, options,
                append=incremental, schedule=schedule, stopping=stopping,
                observers=[epochs], new_optimizer=new_optimizer)
        except FloatingPointError:
            # The loop went back to the diverged epoch's start. scikit-learn raises
            # its ValueError; with early stopping it ends with the best parameters,
            # after a NaN validation score (it goes on with NaN scores until its
            # stopping rule ends it; here the fit ends at once).
            if validation is None:
                raise ValueError(_NONFINITE) from None
            self.validation_scores_.append(np.nan)
            net = self.network_
            best = stopping.best_params if stopping.best_params is not None else start
            for p, saved in zip(net.weights + net.biases, best):
                np.copyto(p, saved)
            return True
        finally:
            epochs.store()
        return stopping.stopped

    def _record_loss(self, history):
        """Append the last epoch's training loss (scikit-learn's scale) to loss_curve_.

        ``history``: the network's, whose "train_cost" includes the L2 term
        "l2_term" accumulated batch by batch (see ``_train``).
        """
        cost = history["train_cost"][-1]
        if self._loss_per_output and self.n_outputs_ > 1:
            penalty = history["l2_term"][-1]
            cost = (cost - penalty) / self.n_outputs_ + penalty
        self.loss_ = float(cost)
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")

    def _fit_epochs(self, X, Y, sample_weight, batch_size, validation, rs, warm):
        """Up to max_iter epochs, in one run of fastbp's loop (``warm``: from the
        fitted parameters, with a new optimiser state)."""
        opts = self._options(X.shape[0], batch_size, sample_weight)
        self.n_iter_ = 0
        if not self._train(X, Y, self.max_iter, batch_size, rs, opts, validation,
                           False, new_optimizer=warm):
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                          f"reached and the optimization hasn't converged yet.",
                          ConvergenceWarning)

    @property
    def _invscaling(self):
        return self.solver == "sgd" and self.learning_rate == "invscaling"

    def _partial_pass(self, X, Y, sample_weight, batch_size, rs):
        """One epoch over X (partial_fit), with scikit-learn's rate schedules."""
        opts = self._options(X.shape[0], batch_size, sample_weight)
        self._train(X, Y, 1, batch_size, rs, opts, None, True)


    # -- prediction -----------------------------------------------------------------

    def _forward(self, X):
        check_is_fitted(self)
        X = checked_data(self, X, reset=False, dtype=self.network_.dtype, order="C")
        return self.network_.feedforward(X)


# -- the loop's parts ---------------------------------------------------------------

def _say_plateaus(schedule, what, tol, n_iter_no_change):
    """Print scikit-learn's verbose lines when ``schedule`` meets a plateau."""
    plateau = schedule.plateau

    def said(run):
        lowered = plateau(run)
        msg = (f"{what} did not improve more than tol={tol:f} for "
               f"{n_iter_no_change} consecutive epochs.")
        print(f"{msg} Setting learning rate to {schedule.eta:f}" if lowered
              else f"{msg} Stopping.")
        return lowered
    schedule.plateau = said


class _Epochs(_training.Observer):
    """scikit-learn's per-epoch bookkeeping in fastbp's loop: ``n_iter_``, ``t_``,
    ``loss_curve_``, the validation scores, the verbose lines; and its random
    stream, which starts anew (a seed drawn from ``random_state``) each time the
    rate changes, as scikit-learn's estimators did when each rate was a call."""

    def __init__(self, est, schedule, validation, n, rs, incremental):
        self.est, self.schedule, self.stopping = est, schedule, None
        self.validation, self.n, self.rs = validation, n, rs
        self.incremental = incremental
        self.n_epochs = 1 if incremental else est.max_iter
        self.rate, self.run, self.starts = None, None, []
        self.n_iter = est.n_iter_

    def epoch_start(self, run, epoch):
        if self.rate is not None and (isinstance(self.schedule, _training.InvScaling)
                                      or run.hyper.eta != self.rate):
            run.rng = np.random.default_rng(int(self.rs.randint(np.iinfo(np.int32).max)))
        self.rate, self.run = run.hyper.eta, run
        # What the stopping rule and the schedule were at the epoch's start: a
        # diverged fit goes back to the start of an earlier epoch (see store).
        self.starts.append((self.stopping.best, self.stopping.count, run.hyper.eta))

    def score(self, run):
        """The epoch's bookkeeping; the stopping rule's score: minus the training
        loss, or the validation score."""
        est = self.est
        # scikit-learn's _fit_stochastic sets n_iter_ = 0 for partial_fit and counts
        # the call's one epoch: n_iter_ is 1 after any partial_fit (t_ counts all the
        # examples).
        est.n_iter_ = 1 if self.incremental else est.n_iter_ + 1
        est.t_ += self.n
        est._record_loss(run.history)
        if self.validation is not None:
            score = est._validation_score(*self.validation)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            return score
        return -est.loss_

    def store(self):
        """Keep the rule's and the schedule's state for the next call; after
        divergence, only the epochs whose training the network kept."""
        est, stopping = self.est, self.stopping
        best, count, rate = stopping.best, stopping.count, self.schedule.eta
        undone = 0 if self.run is None else len(self.starts) - self.run.epochs_done
        if undone > 0:  # the last epoch was not scored, the others are
            best, count, rate = self.starts[self.run.epochs_done]
            scored = len(self.starts) - 1
            drop = scored - self.run.epochs_done
            if drop:
                del est.loss_curve_[len(est.loss_curve_) - drop:]
                if self.validation is not None:
                    del est.validation_scores_[len(est.validation_scores_) - drop:]
                est.t_ -= drop * self.n
                est.n_iter_ = self.n_iter if self.incremental else est.n_iter_ - drop
                if est.loss_curve_:
                    est.loss_ = est.loss_curve_[-1]
        est._no_improvement_count = count
        if self.validation is None:
            est.best_loss_ = -best
        else:
            est.best_validation_score_ = best
        est._current_learning_rate = rate


# -- argument checks ----------------------------------------------------------------

def checked_data(estimator, X, *args, **kwargs):
    """scikit-learn's ``validate_data``, with the copy it makes of a huge X (a
    zero-stride view, say) refused as a ValueError rather than a MemoryError.
    Sparse X is kept sparse (CSC and other formats converted to CSR)."""
    try:
        return validate_data(estimator, X, *args, accept_sparse="csr", **kwargs)
    except MemoryError as exc:
        raise check.too_large("X", exc) from None


def as_value_error(check_value, value, *args, **kwargs):
    """``check_value(value, ...)``, a check of ``_validation``, with its TypeError
    raised as ValueError: scikit-learn's estimators refuse any bad parameter so."""
    try:
        return check_value(value, *args, **kwargs)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def _check_sample_weight(sample_weight, n):
    """None, or finite float64 weights (n,), not all zero, negative ones too; a scalar
    stands for n equal weights (as scikit-learn's ``_check_sample_weight``)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n, sample_weight, dtype=np.float64)
    return as_value_error(check.check_weights, sample_weight, n, signed=True)
