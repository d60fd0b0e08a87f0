"""scikit-learn estimators on the fastbp engine: ``MLPClassifier`` and ``MLPRegressor``.

They follow :class:`sklearn.neural_network.MLPClassifier` and ``MLPRegressor`` with
their three solvers ("sgd", "adam", "lbfgs"): the same parameter names and meanings,
the same initialisation (Glorot uniform, drawn from ``random_state`` in scikit-learn's order),
the same update rules, L2 penalty, learning-rate schedules, stopping rules and fitted
attributes (``coefs_`` in scikit-learn's (n_in, n_out) layout). Every epoch runs in
fastbp's compiled loop (``fastbp.Network.fit``) instead of NumPy.

Needs scikit-learn >= 1.6 (``pip install "scikit-learn>=1.6"``); ``import fastbp`` does
not import this module.

Sample weights are taken as scikit-learn takes them (negative ones too, not all zero):
each mini-batch's loss and gradient are its weighted mean, divided by the batch's own
sum of weights, and so is its L2 term (see ``alpha``); a batch whose weights sum to 0
raises a ValueError that is also scikit-learn's ZeroDivisionError, and the fit is
undone.

Differences from scikit-learn (docs/guide/estimators.md gives the reasons):

- ``solver="lbfgs"`` minimises the same function with scipy's L-BFGS-B, but its flat
  parameter vector holds fastbp's w^l (n_out, n_in) row by row, where scikit-learn's
  holds ``coefs_`` (n_in, n_out): the iterates agree to rounding, not bit for bit;
  and it densifies sparse X (its whole-set gradient runs on dense rows);
- a mini-batch whose weights sum to 0 undoes the whole fit (scikit-learn's
  ZeroDivisionError leaves the steps before it);
- the random streams differ: with the same ``random_state`` the initial parameters
  equal scikit-learn's, but the shuffling does not;
- a diverging fit with ``early_stopping`` ends at once (best parameters, a NaN
  validation score), where scikit-learn goes on with NaN scores until it stops;
- float32 parameters answer float64 X in float32.
"""
import textwrap

import numpy as np

try:
    from sklearn.base import ClassifierMixin, RegressorMixin
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastbp.sklearn needs scikit-learn >= 1.6: pip install 'scikit-learn>=1.6' "
        f"({exc})") from exc
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (check_classification_targets, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import column_or_1d

from . import _validation as check
from ._mlp import MLPBase, as_value_error, checked_data, output_or_none, stochastic_solver

__all__ = ["MLPClassifier", "MLPRegressor"]


class MLPClassifier(ClassifierMixin, MLPBase):
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
        With ``sample_weight``, the batch's sum of weights W replaces m here and in
        the batch's weighted mean loss and gradient, as in scikit-learn.
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

        ``sample_weight`` (n_samples,) or a scalar, optional: as scikit-learn takes
        them, negative ones too (see the module's notes on sample weights).
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(stochastic_solver)
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
        X, y = checked_data(self, X, y, reset=first_pass, dtype=dtype, order="C",
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
        A = output_or_none(self.network_, X_val)
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


class MLPRegressor(RegressorMixin, MLPBase):
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

        ``sample_weight`` (n_samples,) or a scalar, optional: as scikit-learn takes
        them, negative ones too (see the module's notes on sample weights).
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(stochastic_solver)
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
        as_value_error(check.check_choice, self.loss, "loss", ("squared_error", "poisson"))
        X, y = checked_data(self, X, y, reset=first_pass, dtype=dtype, order="C",
                              multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=X.dtype)
        return X, Y, y

    def _validation_score(self, X_val, y_val, sw_val):
        A = output_or_none(self.network_, X_val)
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


# The classes list the module's differences from scikit-learn too (python -OO has no
# docstrings).
if __doc__ and MLPClassifier.__doc__:
    _NOTES = ("\n    Notes\n    -----\n    Differences from scikit-learn (their reasons: "
              "docs/guide/estimators.md):\n\n"
              + textwrap.indent(__doc__[__doc__.index("- ``solver=\"lbfgs\"``"):], "    "))
    MLPClassifier.__doc__ += _NOTES
    MLPRegressor.__doc__ += _NOTES
