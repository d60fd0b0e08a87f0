"""``from_sklearn`` on tampered estimators: a ValueError, or a network equal to it.

Fitted scikit-learn MLPs get one fitted attribute changed at random (seeded); each is
either refused with ValueError naming the estimator, or converted to a network whose
outputs equal the tampered estimator's own (so a truncated network never passes).
"""
import copy

import numpy as np
import pytest

import fastbp
from test_interop import need

need("sklearn")
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402


def fitted(rng):
    X = rng.standard_normal((40, 3))
    return X, [
        MLPClassifier(hidden_layer_sizes=(4, 3), max_iter=5, random_state=0).fit(X, rng.integers(0, 3, 40)),
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=1).fit(X, rng.integers(0, 2, 40)),
        MLPRegressor(hidden_layer_sizes=(5,), max_iter=5, activation="tanh", random_state=2).fit(
            X, rng.standard_normal(40)),
    ]


def pick(rng, values):
    return values[int(rng.integers(len(values)))]


def tamper(est, rng):
    kind = int(rng.integers(11))
    L = len(est.coefs_)
    i = int(rng.integers(L))
    if kind == 0:
        est.intercepts_ = est.intercepts_[:-1]
    elif kind == 1:
        est.coefs_ = est.coefs_[:-1]
    elif kind == 2:
        est.coefs_[i] = est.coefs_[i].T
    elif kind == 3:
        est.intercepts_[i] = est.intercepts_[i][None, :]
    elif kind == 4:
        setattr(est, str(rng.choice(["coefs_", "intercepts_"])),
                pick(rng, [None, 3, "abc", (), [[1, 2], [3]]])
                if rng.random() < 0.8 else [])
    elif kind == 5:
        est.activation = pick(rng, [None, ["relu"], "softmax", "bogus", 1.5])
    elif kind == 6:
        del est.out_activation_
    elif kind == 7:
        est.out_activation_ = pick(rng, ["exp", None, {"a": 1}, "tanh"])
    elif kind == 8:
        est.coefs_[i] = est.coefs_[i].astype(str)
    elif kind == 9:
        est.intercepts_[i] = est.intercepts_[i][:-1] if len(est.intercepts_[i]) > 1 \
            else np.zeros(3)
    else:
        est.coefs_[i] = np.full_like(est.coefs_[i], np.nan)
    return kind


def sklearn_outputs(est, X):
    """The tampered estimator's own outputs, or None where it cannot compute them."""
    try:
        if isinstance(est, MLPClassifier):
            return est.predict_proba(X)
        return est.predict(X).reshape(len(X), -1)
    except Exception:  # the tampered estimator fails in its own way
        return None


def test_tampered_estimators_are_refused_or_converted_exactly():
    rng = np.random.default_rng(11)
    X, estimators = fitted(rng)
    counts = {"refused": 0, "equal": 0}
    for trial in range(150):
        est = copy.deepcopy(estimators[trial % 3])
        kind = tamper(est, rng)
        try:
            net = fastbp.Network.from_sklearn(est)
        except ValueError as exc:
            assert type(est).__name__ in str(exc), exc
            counts["refused"] += 1
            continue
        theirs = sklearn_outputs(est, X)
        assert theirs is not None, f"trial {trial} (tampering {kind}): converted, " \
            f"but the estimator itself cannot compute"
        np.testing.assert_allclose(net.feedforward(X), theirs, rtol=1e-12, atol=1e-14)
        counts["equal"] += 1
    assert counts["refused"] > 80, counts
