"""scikit-learn estimators on the fastbp engine: ``MLPClassifier`` and ``MLPRegressor``.

They follow :class:`sklearn.neural_network.MLPClassifier` and ``MLPRegressor`` with
their three solvers ("sgd", "adam", "lbfgs"): the same parameter names and meanings,
the same initialisation (Glorot uniform, drawn from ``random_state`` in scikit-learn's order),
the same update rules, L2 penalty, learning-rate schedules, stopping rules and fitted
attributes (``coefs_`` in scikit-learn's (n_in, n_out) layout). Every epoch runs in
fastbp's compiled loop (``fastbp.Network.fit``) instead of NumPy.

Needs scikit-learn >= 1.6 (``pip install "fastbp[sklearn]"``); ``import fastbp`` does
not import this module.

Differences from scikit-learn (docs/guide/estimators.md gives the reasons):

- ``solver="lbfgs"`` minimises the same function with scipy's L-BFGS-B, but its flat
  parameter vector holds fastbp's w^l (n_out, n_in) row by row, where scikit-learn's
  holds ``coefs_`` (n_in, n_out): the iterates agree to rounding, not bit for bit;
  and it densifies sparse X (its whole-set gradient runs on dense rows);
- ``sample_weight``: fastbp normalises the weights to mean 1 over the training set and
  divides each step's weighted sum by the batch size; scikit-learn divides each batch
  by its own sum of weights. The same steps for unweighted data and for full batches
  (the L2 term is scaled to match), close otherwise; negative weights are refused;
- the random streams differ: with the same ``random_state`` the initial parameters
  equal scikit-learn's, but the shuffling does not;
- a diverging fit with ``early_stopping`` ends at once (best parameters, a NaN
  validation score), where scikit-learn goes on with NaN scores until it stops;
- float32 parameters answer float64 X in float32.
"""
import copy
import textwrap
import numbers
import warnings
import numpy as np
import scipy
import scipy.optimize

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.validation import validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastbp.sklearn needs scikit-learn >= 1.6: pip install 'fastbp[sklearn]' "
        f"({exc})") from exc
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (check_classification_targets, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import _lbfgs, _training
from . import _validation as check
from ._tables import HIDDEN_ACTIVATIONS, SKLEARN_ACTIVATIONS
from .network import Network

__all__ = ["MLPClassifier", "MLPRegressor"]

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
# X's dtypes kept as they are (others become float64), as scikit-learn's MLPs.
_FLOAT_DTYPES = (np.float64, np.float32)
# scikit-learn's "adaptive" schedule stops once the rate has fallen to this value.
_ADAPTIVE_MIN_RATE = 1e-6


def _stochastic_solver(estimator):
    """partial_fit's availability: stochastic solvers only, as in scikit-learn."""
    if estimator.solver not in _SOLVERS:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{estimator.solver} is not stochastic.")
    return True


def _output_or_none(network, X):
    """a^L on the (checked, finite) validation rows, or None where the parameters of
    a diverging fit give NaN or inf, which ``feedforward`` refuses to hand back."""
    try:
        return network.feedforward(X)
    except ValueError:
        return None


class _BaseMLP(BaseEstimator):
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
        sizes = [_param(check.check_int, s, "hidden_layer_sizes") for s in sizes]
        _param(check.check_choice, self.activation, "activation", tuple(_ACTIVATIONS))
        _param(check.check_choice, self.solver, "solver", _SOLVERS + ("lbfgs",))
        _param(check.check_choice, self.learning_rate, "learning_rate", _LEARNING_RATES)
        _param(check.non_negative, self.alpha, "alpha")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _param(check.check_int, self.batch_size, "batch_size", maximum=None)
        _param(check.check_positive_float, self.learning_rate_init, "learning_rate_init")
        _param(check.non_negative, self.power_t, "power_t")
        _param(check.check_int, self.max_iter, "max_iter")
        _param(check.check_int, self.max_fun, "max_fun")
        if not (isinstance(self.n_iter_no_change, numbers.Real)
                and self.n_iter_no_change == np.inf):  # as scikit-learn: never stop
            _param(check.check_int, self.n_iter_no_change, "n_iter_no_change")
        _param(check.non_negative, self.tol, "tol")
        _param(check.fraction, self.momentum, "momentum")
        _param(check.check_real, self.validation_fraction, "validation_fraction", low=0,
               high=1, high_open=True)
        _param(check.fraction, self.beta_1, "beta_1", upper_open=True)
        _param(check.fraction, self.beta_2, "beta_2", upper_open=True)
        _param(check.check_positive_float, self.epsilon, "epsilon")
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            _param(check.flag, getattr(self, name), name)
        dtype = None if self.dtype is None else _param(check.check_dtype, self.dtype)
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
        X, Y, y_score = self._validate_input(X, y, _FLOAT_DTYPES if dtype is None else dtype,
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
                if not sample_weight.sum() > 0:
                    raise ValueError("sample_weight is zero on the whole training part "
                                     "of the early-stopping split")
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
        # scikit-learn adds 0.5 * alpha * ||W||^2 / (the batch's sum of sample weights)
        # to each batch's loss; fastbp's book-style term is (l2 / 2n) ||W||^2 per step,
        # so l2 = alpha * n / (batch_size * mean weight): exact for unweighted batches
        # (the engine scales a smaller last batch's term by batch_size / its size, see
        # _train), and for full batches whatever the weights.
        if sample_weight is None:
            mean_weight = 1.0
        else:
            mean_weight = float(sample_weight.mean())
            if (sample_weight == sample_weight[0]).all():
                sample_weight = None  # the same steps, without the weighting work
        opts = dict(l2=float(self.alpha) * n / (batch_size * mean_weight),
                    optimizer=self.solver, shuffle=bool(self.shuffle),
                    sample_weight=None if sample_weight is None else
                    np.ascontiguousarray(sample_weight, dtype=self.network_.dtype))
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
        ``_fit_stochastic`` and ``_backprop``): its L2 rule (each batch's term
        divided by that batch's own size, in its step and in its loss, the loss's
        term taken with the weights before the step), rate schedules, stopping rule
        (on the training loss, or on the validation score with ``validation``) and
        bookkeeping (``n_iter_``, ``t_``, ``loss_curve_``, ...).

        Returns True when the stopping rule ended the fit.
        """
        opts = dict(opts)
        shuffle, sample_weight = opts.pop("shuffle"), opts.pop("sample_weight")
        options = _training.check_options(l2_per_batch=True, **opts)
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
        X = _validate_data(self, X, reset=False, dtype=self.network_.dtype, order="C")
        return self.network_.feedforward(X)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by fastbp's compiled backpropagation.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: same parameters, same meaning, same fitted attributes. As in
    scikit-learn, the output layer is a softmax over ``len(classes_)`` units with the
    log-loss for more than two classes, one logistic unit with the binary log-loss for
    two (or one) classes, and one logistic unit per label for a multi-label indicator
    ``y`` (n_samples, n_labels).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Neurons in each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden-layer activation ("logistic" is fastbp's "sigmoid").
    solver : {"sgd", "adam", "lbfgs"}, default="adam"
        "lbfgs": scipy's L-BFGS-B on the whole training set's loss (the mean log-loss
        plus 0.5 * alpha * sum_l ||W_l||^2 / n), its loss and gradient from fastbp's
        compiled forward pass and BP1-BP4; at most ``max_iter`` iterations and
        ``max_fun`` loss evaluations, stopping when the projected gradient is below
        ``tol``, as scikit-learn. It sets ``loss_`` and ``n_iter_``, but no
        ``loss_curve_`` (nor does scikit-learn), and has no ``partial_fit``.
    alpha : float >= 0, default=1e-4
        L2 penalty, exactly as scikit-learn: each mini-batch of m examples adds
        0.5 * alpha * sum_l ||W_l||^2 / m to its loss (weights only, not intercepts),
        taken with the weights before its step. On the engine this is the book's
        ``l2`` with λ = alpha * n / batch_size, n the number of training examples,
        i.e. weight decay w <- (1 - η * alpha / batch_size) w each step (through
        momentum or Adam like any other gradient), and scikit-learn's
        η * alpha / m for a smaller last batch.
        With ``sample_weight``, scikit-learn divides by the batch's sum of weights
        instead of its size; fastbp uses m * mean(sample_weight), the same for full
        batches.
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is min(200, n_samples). Larger than n_samples: clipped
        with a warning.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The schedule for ``solver="sgd"`` (Adam keeps ``learning_rate_init``):
        "invscaling": as scikit-learn, each ``fit`` starts at learning_rate_init and
        each later epoch (or ``partial_fit`` call) takes
        ``learning_rate_init / (t_ + 1) ** power_t``, ``t_`` the examples seen by all
        fits and calls so far (also with ``warm_start``); "adaptive": scikit-learn's
        rule, dividing η by 5 whenever the stopping criterion below is met, and
        stopping once η <= 1e-6 (fastbp's own ``schedule="plateau"`` halves η instead,
        and needs validation data, so it is not used).
    learning_rate_init : float > 0, default=0.001
    power_t : float >= 0, default=0.5
    max_iter : int >= 1, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the training data each epoch.
    random_state : int, RandomState instance or None, default=None
        Draws the initial parameters (the same values as scikit-learn's MLP with the
        same seed), the early-stopping split, and the seed of fastbp's shuffling.
    tol : float >= 0, default=1e-4
        Training stops (or, "adaptive", η is divided by 5) when the training loss has
        not decreased by at least ``tol`` for more than ``n_iter_no_change``
        consecutive epochs (the validation accuracy, with ``early_stopping``).
    verbose : bool, default=False
        Print the loss after each epoch.
    warm_start : bool, default=False
        ``fit`` continues from the fitted parameters (with a fresh optimiser state,
        as scikit-learn).
    momentum : float in [0, 1], default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), stop when
        the validation accuracy has not improved by ``tol`` for more than
        ``n_iter_no_change`` epochs, and keep the best parameters seen.
    validation_fraction : float in [0, 1), default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
    epsilon : float > 0, default=1e-8
        Adam's parameters.
    n_iter_no_change : int >= 1 or np.inf, default=10
    max_fun : int >= 1, default=15000
        "lbfgs" only: the most loss-and-gradient evaluations.
    dtype : {"float64", "float32"} or None, default=None
        fastbp's own: dtype of the parameters and of every computation; X is
        converted to it. None: float32 for float32 X, else float64 (scikit-learn's
        rule); ``partial_fit`` and ``warm_start`` go on in the fitted network's dtype.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (any labels ``np.unique`` can sort: ints, strings).
    network_ : fastbp.Network
        The trained network; ``network_.weights[i]`` is ``coefs_[i].T``.
    coefs_ : list of ndarray
        ``coefs_[i]`` of shape (n_in, n_out), a transposed view of the live weights.
    intercepts_ : list of ndarray
    loss_ : float
        Training loss of the last epoch, as scikit-learn: the mean over its batches,
        weighted by their sizes, of each batch's mean log-loss plus its L2 term
        0.5 * alpha * sum_l ||W_l||^2 / (its size), both taken before its step.
    loss_curve_ : list of float
        Training loss of each epoch (one entry per ``partial_fit`` call).
    best_loss_ : float or None
        Lowest training loss seen (None with ``early_stopping``).
    validation_scores_ : list of float or None
        Validation accuracy of each epoch, with ``early_stopping``.
    best_validation_score_ : float or None
        Best validation accuracy, with ``early_stopping``.
    n_iter_ : int
        Epochs run by the last ``fit``; 1 after a ``partial_fit`` call (as
        scikit-learn, which counts the call's one epoch; ``t_`` and ``loss_curve_``
        accumulate over calls).
    t_ : int
        Training examples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X has string column names (pandas).
    n_layers_, n_outputs_ : int
    out_activation_ : str
        "softmax" (more than two classes) or "logistic" (two classes, multi-label).
    """

    _loss_per_output = False
    _stratify = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dtype=None):
        super().__init__(**{k: v for k, v in locals().items()
                            if k not in ("self", "__class__")})


    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and y: class labels (n_samples,)
        or a multi-label indicator matrix (n_samples, n_labels).

        ``sample_weight`` (n_samples,), optional: non-negative weights.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over X and y, continuing from the current state.

        ``classes`` (all the labels y may ever hold) is required on the first call and
        must not change afterwards. Only for the stochastic solvers ("sgd", "adam"),
        as in scikit-learn.
        """
        if "classes_" not in self.__dict__:
            if classes is None:
                raise ValueError("classes must be passed on the first call to "
                                 "partial_fit.")
        elif classes is not None and not np.array_equal(
                np.asarray(self.classes_), unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {self.classes_!r}")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _output_layer(self):
        """(fastbp output activation, cost): scikit-learn's softmax for more than two
        classes, one logistic unit per label otherwise (two classes: one unit)."""
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "log_likelihood"
        return "sigmoid", "cross_entropy"

    def _validate_input(self, X, y, dtype, incremental, first_pass, classes):
        X, y = _validate_data(self, X, y, reset=first_pass, dtype=dtype, order="C",
                              multi_output=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        # scikit-learn's rules, in its order: a LabelBinarizer fitted on the first
        # fit's y, or on partial_fit's first classes (on y, for multi-label y).
        if incremental and "classes_" not in self.__dict__:
            check_classification_targets(np.asarray(classes))
            binarizer = LabelBinarizer()
            binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
        elif not incremental and (first_pass or "classes_" not in self.__dict__):
            binarizer = LabelBinarizer()
            binarizer.fit(y)
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
        elif self.warm_start and not incremental:
            if set(unique_labels(y)) != set(self.classes_):
                raise ValueError(
                    f"warm_start can only be used where `y` has the same classes as in "
                    f"the previous call to fit. Previously got {self.classes_}, `y` "
                    f"has {unique_labels(y)}")
        unknown = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unknown):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                             f"has {self.classes_}. 'y' has {unknown}.")
        Y = np.ascontiguousarray(self._label_binarizer.transform(y), dtype=X.dtype)
        return X, Y, y

    def _labels(self, A):
        """Class labels (or label indicators) for the network's outputs A."""
        return self._label_binarizer.inverse_transform(
            A.ravel() if A.shape[1] == 1 else A)

    def _validation_score(self, X_val, y_val, sw_val):
        A = _output_or_none(self.network_, X_val)
        if A is None:
            return np.nan
        return float(accuracy_score(y_val, self._labels(A), sample_weight=sw_val))

    def predict(self, X):
        """The predicted class of each row of X (n_samples,); for multi-label y, the
        indicator matrix (n_samples, n_labels), each output thresholded at 0.5."""
        return self._labels(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns ordered as ``classes_``.

        Two classes: (1 - p, p), p the logistic output; multi-label y: each label's
        own probability (n_samples, n_labels), the sigmoid outputs.
        """
        A = self._forward(X)
        if A.shape[1] == 1:
            return np.hstack([1 - A, A])
        return A

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by fastbp's compiled backpropagation.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`: one output unit per
    target column (y may be (n_samples,) or (n_samples, n_outputs)), the identity
    with the squared-error loss, or exp with the Poisson deviance
    (``loss="poisson"``, for counts y >= 0).

    The loss. fastbp's "quadratic" cost is ½‖y − a‖², summed over the outputs;
    scikit-learn's squared loss is ½ mean_outputs (y − a)². scikit-learn nevertheless
    back-propagates δ = a − y, the gradient of the *summed* form, so training with
    fastbp's cost takes exactly scikit-learn's steps. The reported ``loss_``,
    ``loss_curve_`` and ``best_loss_`` (and so the ``tol`` stopping rule) use
    scikit-learn's scale: the data term is divided by n_outputs (the L2 term is not).
    They agree for a single output.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        "poisson": an exp output trained on half the Poisson deviance,
        Σ_j y_j ln(y_j / a_j) - y_j + a_j per example, summed over the outputs (as
        scikit-learn; its gradient is a - y).
    Others : those of :class:`fastbp.sklearn.MLPClassifier`, with one difference:
        ``early_stopping`` monitors the validation R² (``score``), and the held-out
        split is not stratified.

    Attributes
    ----------
    network_, coefs_, intercepts_, loss_, loss_curve_, best_loss_,
    validation_scores_, best_validation_score_, n_iter_, t_, n_features_in_,
    feature_names_in_, n_layers_, n_outputs_ : as for MLPClassifier.
    out_activation_ : str
        "identity", or "exp" for ``loss="poisson"``.
    """

    _stratify = False

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dtype=None):
        super().__init__(**{k: v for k, v in locals().items()
                            if k not in ("self", "__class__")})


    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and targets y (n_samples[, n_outputs]).

        ``sample_weight`` (n_samples,), optional: non-negative weights.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X and y, continuing from the current state (stochastic
        solvers only, as in scikit-learn)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _output_layer(self):
        """(fastbp output activation, cost): scikit-learn's identity output with the
        squared error, or exp output with the Poisson deviance."""
        if self.loss == "poisson":
            return "exp", "poisson"
        return "identity", "quadratic"

    @property
    def _loss_per_output(self):
        # scikit-learn's squared error is a mean over the outputs, its Poisson loss a sum.
        return self.loss == "squared_error"

    def _validate_input(self, X, y, dtype, incremental, first_pass, classes):
        _param(check.check_choice, self.loss, "loss", ("squared_error", "poisson"))
        X, y = _validate_data(self, X, y, reset=first_pass, dtype=dtype, order="C",
                              multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=X.dtype)
        return X, Y, y

    def _validation_score(self, X_val, y_val, sw_val):
        A = _output_or_none(self.network_, X_val)
        if A is None:
            return np.nan
        return float(r2_score(y_val, A.reshape(y_val.shape), sample_weight=sw_val))

    def predict(self, X):
        """Predicted targets: (n_samples,) for one output, else (n_samples, n_outputs)."""
        A = self._forward(X)
        return A.ravel() if A.shape[1] == 1 else A

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


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

def _validate_data(estimator, X, *args, **kwargs):
    """scikit-learn's ``validate_data``, with the copy it makes of a huge X (a
    zero-stride view, say) refused as a ValueError rather than a MemoryError.
    Sparse X is kept sparse (CSC and other formats converted to CSR)."""
    try:
        return validate_data(estimator, X, *args, accept_sparse="csr", **kwargs)
    except MemoryError as exc:
        raise check.too_large("X", exc) from None


def _param(check_value, value, *args, **kwargs):
    """``check_value(value, ...)``, a check of ``_validation``, with its TypeError
    raised as ValueError: scikit-learn's estimators refuse any bad parameter so."""
    try:
        return check_value(value, *args, **kwargs)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def _check_sample_weight(sample_weight, n):
    """None, or non-negative finite float64 weights (n,) with a positive sum; a scalar
    stands for n equal weights (as in scikit-learn)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n, sample_weight, dtype=np.float64)
    return _param(check.check_weights, sample_weight, n)


# The classes list the module's differences from scikit-learn too (python -OO has no
# docstrings).
if __doc__ and MLPClassifier.__doc__:
    _NOTES = ("\n    Notes\n    -----\n    Differences from scikit-learn (their reasons: "
              "docs/guide/estimators.md):\n\n"
              + textwrap.indent(__doc__[__doc__.index("- ``solver=\"lbfgs\"``"):], "    "))
    MLPClassifier.__doc__ += _NOTES
    MLPRegressor.__doc__ += _NOTES
