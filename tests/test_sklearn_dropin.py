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


# -- lbfgs --------------------------------------------------------------------------

def _lbfgs_case(seed):
    """(kind, X, y, params, sample_weight) generated from ``seed``."""
    rng = np.random.RandomState(seed)
    kind = ["multiclass", "binary", "multilabel", "regressor", "regressor2"][seed % 5]
    if kind == "multiclass":
        X, y = make_classification(90, 6, n_informative=4, n_classes=3, random_state=seed)
    elif kind in ("binary", "multilabel"):
        X, y = _targets(kind, seed, 90)
    else:
        from sklearn.datasets import make_regression
        X, y = make_regression(90, 5, n_targets=1 if kind == "regressor" else 2,
                               random_state=seed)
        y = y / 100
    params = dict(solver="lbfgs", random_state=seed, max_iter=int(rng.choice([5, 15, 30])),
                  hidden_layer_sizes=[(6,), (7, 4)][rng.randint(2)],
                  activation=["relu", "tanh", "logistic", "identity"][rng.randint(4)],
                  alpha=float(rng.choice([0.0, 1e-4, 0.1])),
                  tol=float(rng.choice([1e-4, 1e-2])))
    weights = rng.uniform(0, 2, len(X)) if rng.rand() < 0.3 else None
    return kind, X, y, params, weights


@pytest.mark.parametrize("seed", range(20))
def test_lbfgs_equals_scikit_learn(seed):
    """The same minimisation as scikit-learn's lbfgs: the same loss and gradient at
    every point scipy asks for, so the same iterates (up to the rounding of the
    parameters' order in the flat vector: fastbp's w^l rows, scikit-learn's coefs_)."""
    kind, X, y, params, weights = _lbfgs_case(seed)
    ours, theirs = ((MLPRegressor, sk_nn.MLPRegressor) if kind.startswith("regressor")
                    else (MLPClassifier, sk_nn.MLPClassifier))
    a = ours(**params).fit(X, y, sample_weight=weights)
    b = theirs(**params).fit(X, y, sample_weight=weights)
    assert a.n_iter_ == b.n_iter_
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-6)
    assert not hasattr(a, "loss_curve_") and not hasattr(b, "loss_curve_")
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert p.shape == q.shape
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-7)
    if ours is MLPClassifier:
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5,
                                   atol=1e-8)
    else:
        np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-5, atol=1e-8)


def test_lbfgs_loss_and_gradient_at_any_point_equal_scikit_learns():
    """The objective itself, at random parameters, against scikit-learn's private
    ``_loss_grad_lbfgs`` (read here only as the oracle)."""
    from fastbp import _lbfgs
    for seed in range(10):
        kind, X, y, params, weights = _lbfgs_case(seed)
        ours, theirs = ((MLPRegressor, sk_nn.MLPRegressor) if kind.startswith("regressor")
                        else (MLPClassifier, sk_nn.MLPClassifier))
        params.update(max_iter=1)
        a = ours(**params).fit(X, y, sample_weight=weights)
        b = theirs(**params).fit(X, y, sample_weight=weights)
        rng = np.random.RandomState(seed)
        for p in a.coefs_ + a.intercepts_:
            p[...] = rng.standard_normal(p.shape)
        b.coefs_ = [c.copy() for c in a.coefs_]
        b.intercepts_ = [c.copy() for c in a.intercepts_]
        Y = b._label_binarizer.transform(y) if ours is MLPClassifier else y
        Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
        sizes = [X.shape[1]] + list(np.atleast_1d(params["hidden_layer_sizes"])) + [Y.shape[1]]
        packed = np.hstack([c.ravel() for c in b.coefs_ + b.intercepts_])
        loss_b, grad_b = b._loss_grad_lbfgs(
            packed, X, Y, weights, [X] + [None] * (len(sizes) - 1),
            [None] * (len(sizes) - 1),
            [np.empty((i, o)) for i, o in zip(sizes[:-1], sizes[1:])],
            [np.empty(o) for o in sizes[1:]])
        objective = _lbfgs.Objective(a.network_, np.ascontiguousarray(X), Y, weights,
                                     params["alpha"],
                                     scale=Y.shape[1] if ours is MLPRegressor else 1)
        loss_a, grad_a = objective(objective.pack(a.network_))
        assert loss_a == pytest.approx(loss_b, rel=1e-12)
        # Reorder scikit-learn's flat gradient (coefs_ (n_in, n_out)) as fastbp's
        # (w^l = coefs_[l].T, row-major).
        n_w = sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
        parts, start = [], 0
        for i, o in zip(sizes[:-1], sizes[1:]):
            parts.append(grad_b[start:start + i * o].reshape(i, o).T.ravel())
            start += i * o
        np.testing.assert_allclose(grad_a, np.concatenate(parts + [grad_b[n_w:]]),
                                   rtol=1e-10, atol=1e-13)


def test_lbfgs_max_fun_and_warnings_as_scikit_learn():
    X, y = _targets("binary", 0, 60)
    for max_fun in (1, 5, 20, 15000):
        fits = []
        for Estimator in (MLPClassifier, sk_nn.MLPClassifier):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est = Estimator(solver="lbfgs", max_fun=max_fun, max_iter=40,
                                random_state=0).fit(X, y)
            fits.append((est.n_iter_, [str(w.message) for w in caught
                                       if w.category is ConvergenceWarning]))
        assert fits[0] == fits[1]
        assert fits[0][0] <= max_fun
        assert bool(fits[0][1]) == (max_fun < 20 or fits[0][0] == 40)


def test_lbfgs_refusal_leaves_the_estimator_as_it_was():
    X, y = _targets("binary", 0, 40)
    clf = MLPClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    before = [p.copy() for p in clf.coefs_ + clf.intercepts_]
    clf.set_params(warm_start=True)
    with pytest.raises(ValueError):
        clf.fit(X[:, :3], y)
    for p, q in zip(clf.coefs_ + clf.intercepts_, before):
        np.testing.assert_array_equal(p, q)


def test_n_iter_no_change_inf_never_stops():
    X, y = _targets("binary", 2, 40)
    for solver in ("sgd", "adam"):
        params = dict(solver=solver, n_iter_no_change=np.inf, max_iter=30, tol=10.0,
                      random_state=0, shuffle=False)
        a = MLPClassifier(**params).fit(X, y)
        assert a.n_iter_ == 30 == sk_nn.MLPClassifier(**params).fit(X, y).n_iter_


# -- divergence -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_divergence_as_scikit_learn(seed):
    """A diverging fit: scikit-learn's ValueError without early stopping (the
    estimator keeps finite parameters); with it, the fit ends on a NaN validation
    score with the best parameters, the same as scikit-learn's."""
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=20, activation="identity", solver="sgd",
                  learning_rate_init=[1.0, 0.5, 2.0, 1.5][seed], max_iter=20,
                  shuffle=False, random_state=seed, batch_size=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
            MLPRegressor(**params).fit(X, y)
        with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
            sk_nn.MLPRegressor(**params).fit(X, y)
        a = MLPRegressor(early_stopping=True, **params).fit(X, y)
        b = sk_nn.MLPRegressor(early_stopping=True, **params).fit(X, y)
    assert np.isnan(a.validation_scores_[-1]) and np.isnan(b.validation_scores_[-1])
    n = len(a.validation_scores_) - 1
    np.testing.assert_allclose(a.validation_scores_[:n], b.validation_scores_[:n])
    assert a.best_validation_score_ == pytest.approx(b.best_validation_score_)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


# -- parameters as scikit-learn's _parameter_constraints -------------------------------

def test_parameter_edges_scikit_learn_accepts():
    """momentum=1.0 and validation_fraction=0.0 (without early stopping) train as in
    scikit-learn; a configuration read from scikit-learn's get_params() ports."""
    X, y = _targets("binary", 4, 60)
    for params in (dict(solver="sgd", momentum=1.0, learning_rate_init=0.01),
                   dict(validation_fraction=0.0)):
        params.update(hidden_layer_sizes=(4,), max_iter=5, shuffle=False, random_state=0)
        a = MLPClassifier(**params).fit(X, y)
        b = sk_nn.MLPClassifier(**params).fit(X, y)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    for sk_est, ours in ((sk_nn.MLPClassifier(solver="lbfgs", max_fun=50, alpha=0.1),
                          MLPClassifier),
                         (sk_nn.MLPRegressor(loss="squared_error", momentum=1.0),
                          MLPRegressor)):
        assert ours(**sk_est.get_params()).get_params() == {
            **sk_est.get_params(), "dtype": None}


def test_errors_name_the_public_class():
    with pytest.raises(TypeError, match=r"^MLPClassifier\.__init__\(\)"):
        MLPClassifier(loss="squared_error")
    with pytest.raises(TypeError, match=r"^MLPRegressor\.__init__\(\)"):
        MLPRegressor(colour="red")


# -- MLPRegressor(loss="poisson") ----------------------------------------------------

@pytest.mark.parametrize("seed", range(8))
def test_poisson_loss_equals_scikit_learn(seed):
    """An exp output with the Poisson deviance: the same steps and loss curve as
    scikit-learn (sgd, adam: shuffle=False), the same lbfgs minimisation."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, (80, 4))
    rate = np.exp(X @ rng.uniform(-1, 1, (4, 1 + seed % 2)))
    y = rng.poisson(rate).astype(float)
    y = y.ravel() if y.shape[1] == 1 else y
    solver = [dict(solver="sgd", learning_rate_init=0.01, momentum=0.5),
              dict(solver="adam", learning_rate_init=0.01),
              dict(solver="lbfgs", max_iter=15)][seed % 3]
    params = dict(solver, loss="poisson", hidden_layer_sizes=(5,), random_state=seed,
                  shuffle=False, batch_size=20, alpha=[0.0, 1e-3][seed % 2],
                  activation=["tanh", "relu", "logistic"][seed % 3])
    params.setdefault("max_iter", 10)
    a = MLPRegressor(**params).fit(X, y)
    b = sk_nn.MLPRegressor(**params).fit(X, y)
    assert a.out_activation_ == b.out_activation_ == "exp"
    assert a.n_iter_ == b.n_iter_
    rtol = 1e-5 if solver["solver"] == "lbfgs" else 1e-9
    assert a.loss_ == pytest.approx(b.loss_, rel=rtol)
    if solver["solver"] != "lbfgs":
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=rtol)


def test_lbfgs_on_sparse_x_equals_dense():
    """lbfgs densifies sparse X: the same fit as on the dense array, bit for bit."""
    import scipy.sparse as sp
    rng = np.random.RandomState(0)
    X = rng.rand(60, 8) * (rng.rand(60, 8) < 0.3)
    y = rng.randint(0, 3, 60)
    for container in (sp.csr_matrix, sp.csc_array):
        params = dict(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=20, random_state=0)
        a = MLPClassifier(**params).fit(container(X), y)
        b = MLPClassifier(**params).fit(X, y)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_array_equal(p, q)
        # (Sparse prediction runs its own first-layer kernel: equal to rounding.)
        np.testing.assert_allclose(a.predict_proba(container(X)), b.predict_proba(X),
                                   rtol=1e-12)
