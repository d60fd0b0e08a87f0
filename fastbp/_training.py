"""The training driver behind ``Network.fit`` and ``Network.partial_fit``.

Everything per step runs in the compiled engine (one call per epoch); this module does
what happens between epochs: checking options, learning-rate schedules, validation and
monitoring, early stopping and callbacks.
"""
import numpy as np

from . import _validation as check

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "invscaling", "plateau")

# The book's plateau rule stops once the rate has been halved this many times (η0/128).
PLATEAU_HALVINGS = 7


def check_options(*, l2=0.0, optimizer="sgd", momentum=0.0, nesterov=False,
                  beta_1=0.9, beta_2=0.999, epsilon=1e-8, schedule="constant",
                  power_t=0.5, early_stopping=False, n_iter_no_change=10, tol=1e-4,
                  validation_fraction=0.1, dropout=0.0, monitor_training=False,
                  callback=None):
    """Validate the training options; return them as a dict (see ``Network.fit``)."""
    opts = dict(
        l2=_non_negative(l2, "l2"),
        optimizer=check.check_choice(optimizer, "optimizer", OPTIMIZERS),
        momentum=_fraction(momentum, "momentum", upper_open=True),
        nesterov=_flag(nesterov, "nesterov"),
        beta_1=_fraction(beta_1, "beta_1", upper_open=True),
        beta_2=_fraction(beta_2, "beta_2", upper_open=True),
        epsilon=check.check_positive_float(epsilon, "epsilon"),
        schedule=check.check_choice(schedule, "schedule", SCHEDULES),
        power_t=_non_negative(power_t, "power_t"),
        early_stopping=_flag(early_stopping, "early_stopping"),
        n_iter_no_change=check.check_int(n_iter_no_change, "n_iter_no_change"),
        tol=_non_negative(tol, "tol"),
        validation_fraction=_fraction(validation_fraction, "validation_fraction",
                                      upper_open=True),
        dropout=_fraction(dropout, "dropout", upper_open=True),
        monitor_training=_flag(monitor_training, "monitor_training"),
        callback=callback,
    )
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    if opts["optimizer"] == "adam" and (opts["momentum"] or opts["nesterov"]):
        raise ValueError("momentum and nesterov apply to optimizer='sgd'; Adam keeps "
                         "its own moments (beta_1, beta_2)")
    if opts["nesterov"] and not opts["momentum"]:
        raise ValueError("nesterov=True needs momentum > 0")
    return opts


def engine_optimizer(opts):
    """The engine's optimiser name for these options."""
    if opts["optimizer"] == "adam":
        return "adam"
    if opts["momentum"] > 0:
        return "nesterov" if opts["nesterov"] else "momentum"
    return "sgd"


class Monitor:
    """Evaluates a network on a data set after each epoch (cost with the L2 term)."""

    def __init__(self, net, X, Y, classify, l2, n_train):
        self.net, self.X, self.Y, self.classify = net, X, Y, classify
        self.labels = None  # found on first use: fit builds a monitor it may not call
        self.l2, self.n_train = l2, n_train

    def __call__(self):
        """Return (cost, accuracy or None)."""
        A = self.net._forward_checked(self.X)
        cost = self.net._mean_cost(A, self.Y) + self.net._l2_term(self.l2, self.n_train)
        if not self.classify:
            return cost, None
        if self.labels is None:
            self.labels = self.Y.argmax(axis=1)
        return cost, float(np.mean(A.argmax(axis=1) == self.labels))


def _non_negative(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def _fraction(value, name, upper_open=False):
    value = _non_negative(value, name)
    if value > 1 or (upper_open and value == 1):
        raise ValueError(f"{name} must be in [0, 1{')' if upper_open else ']'}, got {value}")
    return value


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
