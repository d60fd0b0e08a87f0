"""``sample_weight`` in fastbp.sklearn's estimators against scikit-learn itself: each
mini-batch's weighted loss, gradient and L2 term divided by the batch's own sum of
weights, negative weights, and batches whose weights sum to zero."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.datasets import (make_classification,  # noqa: E402
                              make_multilabel_classification, make_regression)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastbp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

KINDS = ["binary", "multiclass", "multilabel", "squared_error", "poisson"]


def _data(kind, seed, n):
    """(ours, theirs, X, y, extra params) of one kind of problem."""
    if kind == "multilabel":
        X, y = make_multilabel_classification(n, 6, n_classes=3, random_state=seed)
        return MLPClassifier, sk_nn.MLPClassifier, X / 4, y, {}
    if kind in ("binary", "multiclass"):
        X, y = make_classification(n, 6, n_informative=4,
                                   n_classes=2 if kind == "binary" else 3,
                                   random_state=seed)
        return MLPClassifier, sk_nn.MLPClassifier, X, y, {}
    X, y = make_regression(n, 5, n_targets=1 + seed % 2, random_state=seed)
    if kind == "poisson":
        y = np.exp(np.clip(y / 200, -2, 2))
        return MLPRegressor, sk_nn.MLPRegressor, X / 2, y, {"loss": "poisson"}
    return MLPRegressor, sk_nn.MLPRegressor, X, y / 100, {}


def _weights(rng, n, signed):
    """Weights of mixed scales with zeros, and negative ones when ``signed``; no
    batch of theirs sums to 0 (with probability 1)."""
    w = rng.uniform(0, 3, n) * rng.choice([0.1, 1, 10])
    w[rng.rand(n) < 0.2] = 0
    if signed:
        w[rng.rand(n) < 0.15] *= -0.3
    return w


def _case(seed):
    rng = np.random.RandomState(seed)
    kind = KINDS[seed % len(KINDS)]
    n = int(rng.choice([60, 67, 83]))
    ours, theirs, X, y, extra = _data(kind, seed, n)
    solver = [dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
              dict(solver="sgd", momentum=0.9, learning_rate_init=0.02),
              dict(solver="adam", learning_rate_init=0.01)][seed % 3]
    # Sizes that divide n or not (a last partial batch), one row, all of them.
    batch_size = int(rng.choice([1, 7, 16, 30, n]))
    params = dict(hidden_layer_sizes=[(6,), (5, 4)][rng.randint(2)], random_state=seed,
                  shuffle=False, batch_size=batch_size, max_iter=4,
                  alpha=float(rng.choice([0.0, 1e-3, 0.3])),
                  activation=["relu", "tanh", "logistic"][rng.randint(3)], tol=0.0,
                  **solver, **extra)
    # Negative weights can make squared error or the Poisson deviance unbounded
    # below: steps that diverge are another question than the weighting.
    signed = kind not in ("poisson",) and rng.rand() < 0.5
    return ours, theirs, X, y, params, _weights(rng, n, signed)


def _fit_both(ours, theirs, X, y, params, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = ours(**params).fit(X, y, sample_weight=weights)
        b = theirs(**params).fit(X, y, sample_weight=weights)
    return a, b


def _assert_same_fit(a, b, rtol=1e-9):
    assert a.n_iter_ == b.n_iter_
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert p.shape == q.shape
        np.testing.assert_allclose(p, q, rtol=rtol, atol=1e-11)


@pytest.mark.parametrize("seed", range(30))
def test_stochastic_steps_equal_scikit_learn(seed):
    """sgd, momentum and adam at batch sizes with a last partial batch, one-row
    batches and full batches, weights with zeros and negatives: the same parameters
    and loss curve as scikit-learn after a few epochs."""
    ours, theirs, X, y, params, weights = _case(seed)
    if params["batch_size"] == 1:
        weights[weights == 0] = 0.5  # a one-row batch of weight 0 is refused (below)
    a, b = _fit_both(ours, theirs, X, y, params, weights)
    _assert_same_fit(a, b)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_partial_fit_equals_scikit_learn(seed):
    ours, theirs, X, y, params, weights = _case(seed)
    params.pop("max_iter")
    a, b = ours(**params), theirs(**params)
    classes = {}
    if theirs is sk_nn.MLPClassifier:
        classes["classes"] = np.unique(y) if np.ndim(y) == 1 else np.arange(y.shape[1])
    weights[weights == 0] = 1.0
    for _ in range(3):
        a.partial_fit(X, y, sample_weight=weights, **classes)
        b.partial_fit(X, y, sample_weight=weights, **classes)
    _assert_same_fit(a, b)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_lbfgs_with_signed_weights_equals_scikit_learn(seed):
    ours, theirs, X, y, params, weights = _case(seed)
    for key in ("batch_size", "shuffle", "momentum", "learning_rate_init"):
        params.pop(key, None)
    params.update(solver="lbfgs", max_iter=15)
    a, b = _fit_both(ours, theirs, X, y, params, weights)
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-6)
    _assert_same_fit(a, b, rtol=1e-5)


def test_scaling_the_weights_changes_only_the_l2_share():
    """Each batch divides by its own sum of weights: weights times c give the
    steps of alpha / c (scikit-learn's rule; fastbp's old mean-1 normalisation
    would ignore c)."""
    ours, theirs, X, y, params, weights = _case(1)
    params.update(alpha=0.2, batch_size=16)
    weights = np.abs(weights) + 0.1
    a = ours(**params).fit(X, y, sample_weight=3 * weights)
    b = ours(**dict(params, alpha=0.2 / 3)).fit(X, y, sample_weight=weights)
    c = theirs(**params).fit(X, y, sample_weight=3 * weights)
    _assert_same_fit(a, c)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_early_stopping_with_weights_equals_scikit_learn():
    """The split carries the weights; the validation score is weighted."""
    for seed in range(4):
        ours, theirs, X, y, params, weights = _case(seed)
        if np.ndim(y) > 1:
            continue
        weights = np.abs(weights) + 0.05
        params.update(early_stopping=True, validation_fraction=0.2, max_iter=6,
                      n_iter_no_change=2)
        a, b = _fit_both(ours, theirs, X, y, params, weights)
        _assert_same_fit(a, b)
        np.testing.assert_allclose(a.validation_scores_, b.validation_scores_,
                                   rtol=1e-9)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_batch_whose_weights_sum_to_zero_raises_as_scikit_learn(solver):
    """scikit-learn raises numpy.average's ZeroDivisionError; fastbp raises an error
    that is both that and a ValueError, and leaves the estimator as it was."""
    X, y = make_classification(40, 5, random_state=0)
    weights = np.ones(40)
    weights[20:30] = [1, -1] * 5  # the third batch of 10 sums to zero
    params = dict(hidden_layer_sizes=(4,), solver=solver, batch_size=10,
                  shuffle=False, random_state=0, max_iter=3)
    with pytest.raises(ZeroDivisionError):
        sk_nn.MLPClassifier(**params).fit(X, y, sample_weight=weights)
    est = MLPClassifier(**params).fit(X, y)
    before = [p.copy() for p in est.coefs_ + est.intercepts_]
    curve = list(est.loss_curve_)
    for call in (lambda: est.fit(X, y, sample_weight=weights),
                 lambda: est.partial_fit(X, y, sample_weight=weights)):
        with pytest.raises(ZeroDivisionError, match="sum to 0") as info:
            call()
        assert isinstance(info.value, ValueError)
        for p, q in zip(est.coefs_ + est.intercepts_, before):
            np.testing.assert_array_equal(p, q)
        assert est.loss_curve_ == curve and est.n_iter_ == len(curve)
    fresh = MLPClassifier(**params)
    with pytest.raises(ZeroDivisionError):
        fresh.fit(X, y, sample_weight=weights)
    assert not hasattr(fresh, "coefs_")


def test_zero_sum_in_a_later_shuffled_epoch_undoes_the_call():
    """With shuffling the batches change each epoch: a zero sum found in any epoch
    undoes the whole call (no NaN, no half-trained estimator)."""
    X, y = make_regression(12, 3, random_state=0)
    weights = np.ones(12)
    weights[:2] = [1, -1]
    est = MLPRegressor(hidden_layer_sizes=(3,), batch_size=2, max_iter=200,
                       random_state=0, tol=0, n_iter_no_change=1000)
    # some permutation pairs the two rows in one batch sooner or later
    with pytest.raises(ZeroDivisionError):
        est.fit(X, y, sample_weight=weights)
    assert not hasattr(est, "coefs_") and not hasattr(est, "loss_curve_")


def test_lbfgs_weights_summing_to_zero_raise_as_scikit_learn():
    X, y = make_regression(20, 3, random_state=0)
    weights = np.r_[np.ones(10), -np.ones(10)]
    with pytest.raises(ZeroDivisionError):
        sk_nn.MLPRegressor(solver="lbfgs").fit(X, y, sample_weight=weights)
    with pytest.raises(ZeroDivisionError) as info:
        MLPRegressor(solver="lbfgs").fit(X, y, sample_weight=weights)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [np.zeros(20), np.r_[np.nan, np.ones(19)],
                                 np.r_[np.inf, np.ones(19)], np.ones(19),
                                 np.ones((20, 1)), 0.0])
def test_refused_weights_as_scikit_learn(bad):
    """Refused by both with a ValueError (all zero, not finite, wrong shape);
    negative weights are accepted by both."""
    X, y = make_classification(20, 4, random_state=0)
    with pytest.raises(ValueError):
        sk_nn.MLPClassifier(max_iter=2).fit(X, y, sample_weight=bad)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier(max_iter=2).fit(X, y, sample_weight=bad)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_weights_beyond_float32_are_refused_in_float32(solver):
    X, y = make_classification(20, 4, random_state=0)
    weights = np.ones(20)
    weights[3] = 1e300
    est = MLPClassifier(dtype="float32", max_iter=2, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way to the refusal
        with pytest.raises(ValueError, match="sample_weight.*float32"):
            est.fit(X, y, sample_weight=weights)
    assert not hasattr(est, "coefs_")
