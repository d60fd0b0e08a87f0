"""fastbp.sklearn against scikit-learn itself on what a scikit-learn user does every
day: two classes as one logistic output, multi-label y, float32 X, and the parameter
ranges of scikit-learn's ``_parameter_constraints``.

Same data, same ``random_state`` (the same initial parameters) and ``shuffle=False``
(fastbp's shuffling stream differs): the same steps, so the same coefficients, loss
curves, stopping epochs and predictions.
"""
import os
import warnings

import numpy as np
import pytest

if os.environ.get("CI") == "true":
    import sklearn  # noqa: F401  (CI installs the extra: fail, don't skip)
else:
    pytest.importorskip("sklearn", minversion="1.6")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.datasets import make_classification, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from fastbp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


def _targets(kind, seed, n):
    """(X, y) of one kind of classification target, generated from ``seed``."""
    if kind == "multilabel":
        X, Y = make_multilabel_classification(n, 6, n_classes=3, random_state=seed)
        return X / 4, Y
    X, y = make_classification(n, 6, n_informative=4, n_classes=2, random_state=seed)
    if kind == "strings":
        return X, np.where(y, "yes", "no")
    if kind == "one_class":
        return X, np.full(n, 7)
    return X, y


def _random_config(seed):
    """A solver, activation, batch size (dividing n = 120), alpha and tol from ``seed``."""
    rng = np.random.RandomState(seed)
    solver = [dict(solver="adam", learning_rate_init=0.01),
              dict(solver="sgd", momentum=0.9, learning_rate_init=0.05),
              dict(solver="sgd", momentum=0.0, learning_rate_init=0.2,
                   learning_rate="invscaling"),
              dict(solver="sgd", momentum=0.5, nesterovs_momentum=False,
                   learning_rate_init=0.1, learning_rate="adaptive")][seed % 4]
    return dict(solver, activation=["relu", "tanh", "logistic", "identity"][rng.randint(4)],
                batch_size=int(rng.choice([20, 40, 120])),
                alpha=float(rng.choice([0.0, 1e-3, 0.1])),
                tol=float(rng.choice([1e-4, 1e-2])), n_iter_no_change=int(rng.randint(1, 5)),
                early_stopping=bool(rng.rand() < 0.3))


def _assert_same_fit(a, b, X, rtol=1e-9):
    assert a.n_iter_ == b.n_iter_
    assert a.out_activation_ == b.out_activation_
    assert a.n_outputs_ == b.n_outputs_
    np.testing.assert_array_equal(a.classes_, b.classes_)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert p.shape == q.shape
        np.testing.assert_allclose(p, q, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    if b.validation_scores_ is not None:
        np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=rtol,
                               atol=1e-12)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", ["binary", "strings", "multilabel", "one_class"])
def test_logistic_outputs_take_scikit_learns_steps(kind, seed):
    """Two classes (one logistic unit), multi-label y (one per label) and one class:
    scikit-learn's binary log-loss, stopping epoch, stratified early-stopping split
    and predictions."""
    X, y = _targets(kind, seed, 120)
    params = dict(_random_config(seed), hidden_layer_sizes=(7, 5), shuffle=False,
                  random_state=seed, max_iter=25)
    if kind == "one_class":
        params["early_stopping"] = False  # scikit-learn cannot stratify one class
    a = MLPClassifier(**params).fit(X, y)
    b = sk_nn.MLPClassifier(**params).fit(X, y)
    _assert_same_fit(a, b, X)
    assert a.coefs_[-1].shape[1] == (3 if kind == "multilabel" else 1)


@pytest.mark.parametrize("kind", ["binary", "multilabel"])
def test_partial_fit_on_logistic_outputs_equals_scikit_learn(kind):
    X, y = _targets(kind, 3, 90)
    classes = np.unique(y) if kind == "binary" else np.arange(y.shape[1])
    params = dict(hidden_layer_sizes=(6,), random_state=2, solver="sgd",
                  learning_rate_init=0.1, batch_size=30, alpha=1e-3)
    a, b = MLPClassifier(**params), sk_nn.MLPClassifier(**params)
    for i in range(4):
        rows = slice(30 * (i % 3), 30 * (i % 3) + 30)
        a.partial_fit(X[rows], y[rows], classes=classes)
        b.partial_fit(X[rows], y[rows], classes=classes)
    assert a.t_ == b.t_
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_multilabel_predictions_threshold_the_sigmoids():
    X, Y = _targets("multilabel", 0, 100)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba > 0) & (proba < 1)).all()
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(Y.dtype))
    np.testing.assert_array_equal(clf.classes_, np.arange(Y.shape[1]))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_float32_x_keeps_float32(Estimator):
    """As scikit-learn: float32 X trains float32 parameters and answers in float32;
    the same fit as scikit-learn's float32 one, to float32 rounding."""
    X, y = _targets("binary", 1, 80)
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(5,), random_state=0, max_iter=10, shuffle=False,
                  batch_size=20)
    a = Estimator(**params).fit(X, y)
    b = getattr(sk_nn, Estimator.__name__)(**params).fit(X, y)
    assert all(p.dtype == np.float32 for p in a.coefs_ + a.intercepts_)
    out = a.predict_proba(X) if Estimator is MLPClassifier else a.predict(X)
    assert out.dtype == np.float32
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)
    # float64 and ints stay float64; dtype= overrides.
    assert Estimator(**params).fit(X.astype(np.int64), y).coefs_[0].dtype == np.float64
    assert Estimator(dtype="float64", **params).fit(X, y).coefs_[0].dtype == np.float64


def test_one_class_predicts_that_class():
    X, y = _targets("one_class", 0, 30)
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), y)
    assert clf.predict_proba(X).shape == (30, 2)


def test_lbfgs_has_no_partial_fit():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit"):
        MLPRegressor(solver="lbfgs").partial_fit
