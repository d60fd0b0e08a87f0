"""fastbp.sklearn: the scikit-learn estimators (scikit-learn is an optional dependency).

Skipped without scikit-learn on a developer machine; under CI=true a missing
scikit-learn is an error, so the CI job cannot silently skip these tests.
"""
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

if os.environ.get("CI") == "true":
    import sklearn  # noqa: F401  (CI installs the extra: fail, don't skip)
else:
    pytest.importorskip("sklearn", minversion="1.6")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import (GridSearchCV, cross_val_score,  # noqa: E402
                                     train_test_split)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402  (a scikit-learn dependency)

from fastbp.datasets import load_digits  # noqa: E402
from fastbp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def one_blas_thread():
    """These networks are tiny: BLAS threads only add contention (and time) here."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


# -- scikit-learn's estimator checks ---------------------------------------------------

def _expected_failed_checks(estimator):
    """Checks expected to fail, with the reason: none (all of them pass)."""
    return {}


# max_iter=100 as scikit-learn's own test suite sets for its MLPs.
@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)],
                         expected_failed_checks=_expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# -- the same computation as scikit-learn ----------------------------------------------

_PARITY_CONFIGS = [
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate_init=0.05),
    dict(solver="sgd", momentum=0.5, nesterovs_momentum=False, activation="tanh",
         learning_rate="invscaling", power_t=0.3, learning_rate_init=0.1),
    dict(solver="sgd", momentum=0.0, activation="logistic", learning_rate="adaptive",
         tol=0.5, n_iter_no_change=2, learning_rate_init=0.1),
    dict(solver="adam", learning_rate_init=0.01, alpha=1e-2),
    dict(solver="adam", activation="identity", learning_rate_init=0.01),
    dict(solver="adam", early_stopping=True, validation_fraction=0.2,
         learning_rate_init=0.01, n_iter_no_change=3, tol=0.05, max_iter=40),
]


@pytest.mark.parametrize("config", _PARITY_CONFIGS,
                         ids=lambda c: "-".join(str(v) for v in c.values())[:40])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_same_steps_as_scikit_learn(kind, config):
    """Without shuffling, and with batches that divide n, fastbp takes exactly
    scikit-learn's steps: same initial parameters (random_state), same L2 mapping,
    momentum/Nesterov/Adam, schedules, stopping rules, early-stopping split."""
    if kind == "classifier":
        X, y = make_classification(150, 8, n_informative=5, n_classes=3, random_state=0)
        ours, theirs = MLPClassifier, sk_nn.MLPClassifier
    else:
        X, y = make_regression(150, 6, n_targets=2, random_state=0)
        y = y / 100
        ours, theirs = MLPRegressor, sk_nn.MLPRegressor
    params = dict(hidden_layer_sizes=(7, 5), shuffle=False, random_state=3,
                  batch_size=30, max_iter=15, alpha=0.0)
    params.update(config)
    a = ours(**params).fit(X, y)
    b = theirs(**params).fit(X, y)
    assert a.n_iter_ == b.n_iter_
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert p.shape == q.shape
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    # With L2 too: each batch's penalty from the weights before its step.
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
    if params.get("early_stopping"):
        assert a.best_validation_score_ == pytest.approx(b.best_validation_score_)
        np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)
    np.testing.assert_allclose(a.predict_proba(X) if kind == "classifier" else
                               a.predict(X),
                               b.predict_proba(X) if kind == "classifier" else
                               b.predict(X), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_same_steps_as_scikit_learn_with_sample_weight(kind):
    """Full batches: the weighted mean gradient and the L2 term divided by the sum of
    the weights, as scikit-learn."""
    rng = np.random.RandomState(0)
    if kind == "classifier":
        X, y = make_classification(80, 6, n_informative=4, n_classes=3, random_state=0)
        ours, theirs = MLPClassifier, sk_nn.MLPClassifier
    else:
        X, y = make_regression(80, 6, random_state=0)
        y = y / 100
        ours, theirs = MLPRegressor, sk_nn.MLPRegressor
    weights = rng.uniform(0, 3, len(y))
    weights[:10] = 0
    params = dict(hidden_layer_sizes=(6,), random_state=1, batch_size=80, max_iter=12,
                  alpha=0.05, solver="sgd", learning_rate_init=0.05)
    a = ours(**params).fit(X, y, sample_weight=weights)
    b = theirs(**params).fit(X, y, sample_weight=weights)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


# Solvers of the L2 parity tests below: every update rule the estimators implement.
_L2_SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
    "momentum": dict(solver="sgd", momentum=0.7, nesterovs_momentum=False,
                     learning_rate_init=0.05),
    "nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True,
                     learning_rate_init=0.02),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}


def _l2_parity_case(seed):
    """One generated configuration: seed -> (kind, solver, activation, n, batch size,
    alpha). Odd batch sizes, which divide n = 105 and leave a smaller last batch of
    n = 103 (where scikit-learn divides the L2 term by that batch's size)."""
    rng = np.random.RandomState(seed)
    n = [105, 103][(seed // 8) % 2]
    return (["classifier", "regressor"][seed % 2],
            list(_L2_SOLVERS)[(seed // 2) % 4],
            ["relu", "tanh", "logistic", "identity"][rng.randint(4)],
            n, int(rng.choice([7, 15, 21, 35, n], p=[0.25, 0.25, 0.2, 0.2, 0.1])),
            float(rng.choice([1e-4, 1e-2, 0.3])))


def _parity_data(kind, seed, n=105):
    if kind == "classifier":
        X, y = make_classification(n, 6, n_informative=4, n_classes=3,
                                   random_state=seed)
        return X, y, MLPClassifier, sk_nn.MLPClassifier
    X, y = make_regression(n, 5, n_targets=2, random_state=seed)
    return X, y / 100, MLPRegressor, sk_nn.MLPRegressor


@pytest.mark.parametrize("seed", range(16))
def test_loss_curve_with_l2_equals_scikit_learn(seed):
    """With alpha > 0 each batch's loss includes the L2 term of the weights before its
    step, as scikit-learn's _backprop computes it; the epoch's loss is the batches'
    mean weighted by their sizes. So loss_curve_ equals scikit-learn's to rounding,
    and the tol rule stops at the same epoch (n_iter_)."""
    kind, solver, activation, n, batch_size, alpha = _l2_parity_case(seed)
    X, y, ours, theirs = _parity_data(kind, seed, n=n)
    params = dict(hidden_layer_sizes=(6, 5), shuffle=False, random_state=seed,
                  activation=activation, batch_size=batch_size, alpha=alpha,
                  max_iter=40, tol=1e-3, n_iter_no_change=3, **_L2_SOLVERS[solver])
    a = ours(**params).fit(X, y)
    b = theirs(**params).fit(X, y)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-12)
    assert a.best_loss_ == pytest.approx(b.best_loss_, rel=1e-12)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("momentum, tol, n_iter", [(0.9, 1e-3, 20), (0.0, 3e-3, 30)])
def test_l2_loss_stops_at_scikit_learn_epoch(momentum, tol, n_iter):
    """Runs where the L2 term of the end-of-epoch weights had made the tol rule stop
    at another epoch than scikit-learn (26 against 20, 29 against 30): the rule
    compares epochs' losses that differ by little more than tol."""
    X, y, ours, theirs = _parity_data("classifier", 0, n=120)
    params = dict(hidden_layer_sizes=(8,), shuffle=False, random_state=0,
                  solver="sgd", momentum=momentum, learning_rate_init=0.05,
                  batch_size=10, alpha=0.1 if momentum else 1.0, max_iter=200, tol=tol,
                  n_iter_no_change=2)
    a = ours(**params).fit(X, y)
    b = theirs(**params).fit(X, y)
    assert b.n_iter_ == n_iter  # stopped by the tol rule, not max_iter
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_defaults_with_a_smaller_last_batch_equal_scikit_learn(kind):
    """The default path: alpha=1e-4, batch_size="auto" (200) and n = 1,030, so each
    epoch ends with a batch of 30. scikit-learn divides that batch's L2 term by 30,
    in its step as in its loss; so does fastbp (it had decayed it as a batch of 200:
    parameters 6e-4 and losses 6e-6 apart after 30 epochs)."""
    X, y, ours, theirs = _parity_data(kind, 2, n=1030)
    params = dict(hidden_layer_sizes=(10,), shuffle=False, random_state=2, max_iter=12)
    a = ours(**params).fit(X, y)
    b = theirs(**params).fit(X, y)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_l2_loss_in_float32_equals_scikit_learn():
    """float32 (scikit-learn computes in float32 for float32 X): the engine's float32
    path sums each batch's squares too, and loss_curve_ follows scikit-learn's to
    float32 rounding."""
    X, y, ours, theirs = _parity_data("classifier", 5)
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(9,), shuffle=False, random_state=5,
                  batch_size=15, alpha=0.3, max_iter=8, learning_rate_init=0.01)
    a = ours(dtype="float32", **params).fit(X, y)
    b = theirs(**params).fit(X, y)
    assert a.coefs_[0].dtype == b.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_warm_start_invscaling_continues_the_schedule(kind):
    """warm_start with "invscaling": each fit starts a new optimiser (its first epoch
    at learning_rate_init, as scikit-learn), and its later epochs follow the running
    t_, not a count restarted at 0."""
    X, y, ours, theirs = _parity_data(kind, 1)
    params = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=2,
                  solver="sgd", momentum=0.5, learning_rate="invscaling",
                  learning_rate_init=0.2, power_t=0.5, batch_size=21, alpha=1e-3,
                  max_iter=3, warm_start=True)
    a, b = ours(**params), theirs(**params)
    for _ in range(3):
        a.fit(X, y)
        b.fit(X, y)
        assert a.t_ == b.t_ and a.n_iter_ == b.n_iter_
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
        np.testing.assert_allclose(a.predict(X) if kind == "regressor" else
                                   a.predict_proba(X),
                                   b.predict(X) if kind == "regressor" else
                                   b.predict_proba(X), rtol=1e-8, atol=1e-12)
    # partial_fit goes on from the rate the last epoch left (scikit-learn keeps its
    # optimiser between partial_fit calls).
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_partial_fit_attributes_equal_scikit_learn(kind, solver):
    """partial_fit: n_iter_ is 1 after every call (scikit-learn's _fit_stochastic
    resets it and counts the call's one epoch), t_ counts all examples, and
    loss_curve_ and the parameters follow scikit-learn's, with alpha > 0."""
    X, y, ours, theirs = _parity_data(kind, 3)
    params = dict(hidden_layer_sizes=(5,), shuffle=False, random_state=4,
                  batch_size=7, alpha=1e-2, **_L2_SOLVERS[solver])
    if solver == "sgd":
        params.update(learning_rate="invscaling", power_t=0.4)
    a, b = ours(**params), theirs(**params)
    extra = dict(classes=np.unique(y)) if kind == "classifier" else {}
    for start in (0, 35, 70, 0):
        a.partial_fit(X[start:start + 35], y[start:start + 35], **extra)
        b.partial_fit(X[start:start + 35], y[start:start + 35], **extra)
        assert a.n_iter_ == b.n_iter_ == 1
        assert a.t_ == b.t_
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_coefs_are_scikit_learn_layout_views_of_the_network():
    X, y = make_classification(60, 5, n_informative=3, n_classes=3, random_state=1)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(4,), (3,)]
    # A hand-written forward pass with scikit-learn's conventions.
    hidden = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    z = hidden @ clf.coefs_[1] + clf.intercepts_[1]
    proba = np.exp(z - z.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-10)
    np.testing.assert_array_equal(clf.network_.weights[0], clf.coefs_[0].T)
    # Views: editing coefs_ in place edits the network; assignment copies in.
    clf.coefs_[1][:] = 0
    clf.intercepts_[1][:] = 0
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)
    clf.coefs_ = [np.ones((5, 4)), np.eye(4, 3)]
    np.testing.assert_array_equal(clf.network_.weights[0], np.ones((4, 5)))


# -- the scikit-learn ecosystem --------------------------------------------------------

def test_pipeline_on_digits_as_accurate_as_scikit_learn(digits):
    X_train, X_test, y_train, y_test = digits
    params = dict(hidden_layer_sizes=(64,), max_iter=40, random_state=0)
    ours = make_pipeline(StandardScaler(), MLPClassifier(**params)).fit(X_train, y_train)
    theirs = make_pipeline(StandardScaler(),
                           sk_nn.MLPClassifier(**params)).fit(X_train, y_train)
    ours_acc, theirs_acc = ours.score(X_test, y_test), theirs.score(X_test, y_test)
    assert ours_acc > 0.9
    assert ours_acc > theirs_acc - 0.03, (ours_acc, theirs_acc)
    assert ours.predict(X_test).dtype == y_test.dtype


def test_grid_search_in_two_processes_and_cross_val_score(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier(hidden_layer_sizes=(32,), max_iter=15,
                                       random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1],
                                 "mlpclassifier__learning_rate_init": [1e-3, 1e-2]},
                          cv=3, n_jobs=2, error_score="raise")
    search.fit(X_train, y_train)
    assert set(search.best_params_) == {"mlpclassifier__alpha",
                                        "mlpclassifier__learning_rate_init"}
    assert search.score(X_test, y_test) > 0.9
    scores = cross_val_score(clone(search.best_estimator_), X_train, y_train, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_grid_search_with_another_joblib_backend(digits):
    """What joblib.parallel_backend("dask") or ("ray") does, with the threading
    backend: each fit releases the GIL and trains its own clone."""
    import joblib
    X_train, _, y_train, _ = digits
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(16,), max_iter=15,
                                        learning_rate_init=0.01, random_state=0),
                          {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2, error_score="raise")
    with joblib.parallel_backend("threading"):
        search.fit(X_train, y_train)
    assert search.best_score_ > 0.8


def test_clone_and_pickle_round_trip(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=10, random_state=0,
                        solver="sgd", learning_rate_init=0.05)
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(X_test)
    clf.fit(X_train, y_train)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test),
                                  clf.predict_proba(X_test))
    assert restored.loss_curve_ == clf.loss_curve_
    # The optimiser state travels too: continuing gives the same model.
    clf.partial_fit(X_train, y_train)
    restored.partial_fit(X_train, y_train)
    np.testing.assert_array_equal(restored.predict_proba(X_test),
                                  clf.predict_proba(X_test))
    assert not hasattr(clone(clf), "network_")


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]),
                                    np.array([-3, 10, 42]),
                                    np.array([7, 3, 5], dtype=np.uint8)])
def test_arbitrary_labels(labels):
    X, codes = make_classification(120, 6, n_informative=4, n_classes=3, random_state=2)
    y = labels[codes]
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=200, learning_rate_init=0.01,
                        random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= set(labels)
    assert clf.score(X, y) > 0.8
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)


def test_partial_fit_needs_classes_first():
    X, y = make_classification(90, 5, n_informative=3, n_classes=3, random_state=0)
    labels = np.array(["a", "b", "c"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, labels)
    # The first chunk need not hold every class.
    first = labels != "c"
    clf.partial_fit(X[first], labels[first], classes=["c", "a", "b"])
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    for _ in range(3):
        clf.partial_fit(X, labels)
    # n_iter_ is 1 after each call, as scikit-learn's; loss_curve_ and t_ accumulate.
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 4 and clf.t_ == first.sum() + 270
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(X, labels, classes=["a", "b"])
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:3], ["a", "b", "z"])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, labels, classes=labels)


def test_warm_start_continues():
    X, y = make_classification(100, 5, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=4, warm_start=True,
                        random_state=0).fit(X, y)
    before = [c.copy() for c in clf.coefs_]
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 8 and clf.n_iter_ == 4
    cold = MLPClassifier(hidden_layer_sizes=(6,), max_iter=4, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], before[0])
    assert not np.array_equal(clf.coefs_[0], before[0])


def test_convergence_and_max_iter():
    X, y = make_classification(100, 5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=500, tol=10.0,
                            n_iter_no_change=2, random_state=0).fit(X, y)
    # The first epoch improves on best_loss_ = inf; then n_iter_no_change + 1 epochs
    # without an improvement by tol (as scikit-learn).
    assert clf.n_iter_ == 1 + 2 + 1
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_regressor_multi_output_and_loss_scale():
    X, y = make_regression(200, 5, n_targets=3, noise=0.1, random_state=0)
    y = y / y.std(axis=0)
    reg = MLPRegressor(hidden_layer_sizes=(30,), max_iter=300, learning_rate_init=0.01,
                       random_state=0, alpha=0.0).fit(X, y)
    assert reg.predict(X).shape == (200, 3)
    assert reg.score(X, y) > 0.95
    assert reg.out_activation_ == "identity"
    # loss_ is scikit-learn's: the mean over the outputs of ½ (y − ŷ)², which is
    # fastbp's quadratic cost (summed over outputs) divided by n_outputs.
    final = reg.network_.total_cost(X, y) / 3
    assert reg.loss_ == pytest.approx(final, rel=0.2)
    one = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(
        X, y[:, 0])
    assert one.predict(X).shape == (200,)


def test_early_stopping_keeps_the_best_parameters(digits):
    X_train, _, y_train, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True,
                        n_iter_no_change=2, max_iter=200, random_state=0,
                        learning_rate_init=0.01)
    clf.fit(X_train, y_train)
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_float32():
    X, y = load_digits("float32")
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, dtype="float32",
                        random_state=0).fit(X, y)
    assert clf.predict_proba(X[:5]).dtype == np.float32
    assert clf.coefs_[0].dtype == np.float32
    assert clf.score(X, y) > 0.9


def test_sample_weight_is_used():
    X, y = make_classification(200, 5, random_state=0)
    weights = np.where(y == 1, 10.0, 0.1)
    plain = MLPClassifier(hidden_layer_sizes=(5,), max_iter=30, random_state=0)
    weighted = clone(plain).fit(X, y, sample_weight=weights)
    plain.fit(X, y)
    assert (weighted.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()


@pytest.mark.parametrize("params, match", [
    (dict(solver="newton"), "solver"),
    (dict(max_fun=0), "max_fun"),
    (dict(n_iter_no_change=-np.inf), "n_iter_no_change"),
    (dict(activation="softmax"), "activation"),
    (dict(hidden_layer_sizes=(3, 0)), "hidden_layer_sizes"),
    (dict(batch_size=0), "batch_size"),
    (dict(learning_rate="plateau"), "learning_rate"),
    (dict(momentum=1.5), "momentum"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(dtype="float16"), "dtype"),
])
def test_bad_parameters(params, match):
    X, y = make_classification(30, 4, random_state=0)
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_import_fastbp_does_not_import_sklearn(tmp_path):
    code = ("import sys, fastbp; fastbp.Network([2, 2]); "
            "assert not any(m == 'sklearn' or m.startswith('sklearn.') "
            "for m in sys.modules), 'sklearn imported'")
    import fastbp
    # Run outside the checkout so the fastbp under test (installed or built
    # in place) is the one imported, never a source tree without extensions.
    env = dict(os.environ,
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(
                   fastbp.__file__))))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                   env=env)
