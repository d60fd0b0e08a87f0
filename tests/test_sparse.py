"""Sparse X (scipy.sparse CSR, CSC and the rest): the same results as the dense path
on the same data, scikit-learn's own MLP on sparse X, bad sparse input refused, and
no dense copy of X."""
import os
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

import fastbp

FORMATS = [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array]


def random_csr(rng, m, n, density, index_dtype=np.int32, dtype=np.float64,
               duplicates=0.0, unsorted=False, empty_rows=0, empty_cols=0):
    """A CSR matrix built by hand from its arrays: ``density`` of its entries stored
    (some columns and rows left empty), a share ``duplicates`` of them stored twice
    (scipy adds them up), columns in random order within a row if ``unsorted``."""
    mask = rng.random((m, n)) < density
    mask[rng.choice(m, size=min(empty_rows, m), replace=False)] = False
    mask[:, rng.choice(n, size=min(empty_cols, n), replace=False)] = False
    indptr, indices = [0], []
    for i in range(m):
        cols = list(np.flatnonzero(mask[i]))
        cols += [c for c in cols if rng.random() < duplicates]
        if unsorted:
            rng.shuffle(cols)
        else:
            cols.sort()
        indices += cols
        indptr.append(len(indices))
    data = rng.normal(size=len(indices)).astype(dtype)
    return sp.csr_matrix((data, np.array(indices, index_dtype),
                          np.array(indptr, index_dtype)), shape=(m, n))


def rel_diff(a, b):
    """The largest difference between a and b relative to b's largest value."""
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-300))


def check_same_training(X, y, sizes, dtype, tol, batch_size, **options):
    """fit on sparse X and on X.toarray(): the same parameters, history and outputs."""
    dense = X.toarray()
    nets = [fastbp.Network(sizes, dtype=dtype, seed=5) for _ in range(2)]
    for net, data in zip(nets, (X, dense)):
        net.fit(data, y, 3, batch_size, 0.3, seed=7, **options)
    for p, q in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert p.dtype == q.dtype == np.dtype(dtype)
        assert rel_diff(p, q) <= tol
    np.testing.assert_allclose(nets[0].history["train_cost"], nets[1].history["train_cost"],
                               rtol=tol * 10)
    assert rel_diff(nets[0].feedforward(X), nets[1].feedforward(dense)) <= tol
    np.testing.assert_array_equal(nets[0].predict(X), nets[0].predict(dense))
    return nets


OPTIONS = [dict(), dict(optimizer="sgd", momentum=0.9, nesterov=True, l2=2.0),
           dict(optimizer="adam", dropout=0.25), dict(optimizer="sgd", momentum=0.5, l2=0.3,
                                                      dropout=0.5)]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
def test_same_as_dense_on_generated_matrices(options):
    """Seeded loop over densities 0..1, empty rows and columns, unsorted and duplicate
    entries, int32/int64 indices, one to three layers, sample weights."""
    rng = np.random.default_rng(list(options.values()).__len__())
    for trial in range(12):
        m, n = int(rng.integers(1, 60)), int(rng.integers(1, 30))
        X = random_csr(rng, m, n, density=[0, 0.02, 0.3, 1][trial % 4],
                       index_dtype=[np.int32, np.int64][trial % 2],
                       duplicates=0.3 * (trial % 3 == 1), unsorted=trial % 3 == 2,
                       empty_rows=trial % 5, empty_cols=trial % 4)
        sizes = [n] + [int(k) for k in rng.integers(1, 9, size=trial % 3)] + [4]
        y = rng.integers(0, 4, m)
        weights = rng.random(m) if trial % 2 else None
        check_same_training(X, y, sizes, np.float64, 1e-12, int(rng.integers(1, m + 1)),
                            sample_weight=weights, **options)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 25), st.floats(0, 1), st.integers(1, 50),
       st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_same_as_dense_hypothesis(m, n, density, batch_size, int64, unsorted, seed):
    rng = np.random.default_rng(seed)
    X = random_csr(rng, m, n, density, np.int64 if int64 else np.int32,
                   duplicates=0.2, unsorted=unsorted, empty_rows=m // 4, empty_cols=n // 4)
    y = rng.normal(size=(m, 3))
    nets = [fastbp.Network([n, 6, 3], activation="tanh", output_activation="identity",
                           cost="quadratic", seed=seed % 1000) for _ in range(2)]
    for net, data in zip(nets, (X, X.toarray())):
        net.fit(data, y, 2, batch_size, 0.05, seed=1, optimizer="adam", l2=0.1)
    for p, q in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert rel_diff(p, q) <= 1e-12


def test_float32():
    rng = np.random.default_rng(3)
    X = random_csr(rng, 80, 30, 0.2, dtype=np.float32, duplicates=0.2, unsorted=True)
    y = rng.integers(0, 4, 80)
    # float32 rounds differently in another summation order; 3 epochs stay close.
    check_same_training(X, y, [30, 10, 4], np.float32, 1e-4, 16, optimizer="adam")


@pytest.mark.parametrize("fmt", FORMATS + [sp.coo_matrix, sp.lil_matrix, sp.coo_array,
                                           sp.dok_matrix, sp.bsr_matrix])
def test_every_format_gives_the_csr_result(fmt):
    rng = np.random.default_rng(4)
    X = random_csr(rng, 50, 12, 0.3)
    y = rng.integers(0, 3, 50)
    nets = [fastbp.Network([12, 5, 3], seed=2) for _ in range(2)]
    nets[0].fit(X, y, 2, 10, 0.5, seed=3)
    nets[1].fit(fmt(X), y, 2, 10, 0.5, seed=3)
    for p, q in zip(nets[0].weights, nets[1].weights):
        np.testing.assert_array_equal(p, q)
    net = nets[0]
    np.testing.assert_array_equal(net.feedforward(fmt(X)), net.feedforward(X))
    np.testing.assert_array_equal(net.predict(fmt(X)), net.predict(X.toarray()))
    assert net.evaluate(fmt(X), y) == net.evaluate(X.toarray(), y)
    assert net.total_cost(fmt(X), y) == pytest.approx(net.total_cost(X.toarray(), y),
                                                       rel=1e-12)


def test_partial_fit_early_stopping_and_validation_data():
    rng = np.random.default_rng(5)
    X = random_csr(rng, 120, 20, 0.15)
    y = rng.integers(0, 3, 120)
    dense = X.toarray()
    a, b = (fastbp.Network([20, 8, 3], seed=1) for _ in range(2))
    for net, data in ((a, X), (b, dense)):
        net.partial_fit(data, y, 16, 0.5, seed=2)
        net.fit(data, y, 4, 16, 0.5, seed=3, early_stopping=True, n_iter_no_change=2,
                validation_fraction=0.25, tol=0)
        net.fit(data[:90], y[:90], 2, 16, 0.5, seed=3, validation_data=(data[90:], y[90:]))
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        assert rel_diff(p, q) <= 1e-12
    np.testing.assert_allclose(a.history["val_accuracy"], b.history["val_accuracy"])


def test_backprop_gradient_equals_dense():
    """Network.backprop on sparse X: the dense gradient, in chunks of many rows too."""
    rng = np.random.default_rng(13)
    for m, sizes in ((30, [15, 6, 3]), (3000, [15, 3]), (70_000, [15, 2, 3])):
        X = random_csr(rng, m, 15, 0.2, duplicates=0.1, empty_cols=3) if m < 5000 else \
            sp.random(m, 15, density=0.1, format="csr", random_state=1)
        y = rng.integers(0, 3, m)
        weights = rng.random(m)
        net = fastbp.Network(sizes, seed=3)
        for got, want in zip(net.backprop(X, y, sample_weight=weights),
                             net.backprop(X.toarray(), y, sample_weight=weights)):
            for g, w in zip(got, want):
                assert rel_diff(g, w) <= 1e-12


def test_inference_in_chunks_of_many_rows():
    """Inference gathers 1,024 rows at a time: more rows than that, some empty."""
    rng = np.random.default_rng(6)
    X = random_csr(rng, 2500, 40, 0.05, empty_rows=300)
    for sizes in ([40, 3], [40, 7, 5, 3]):
        net = fastbp.Network(sizes, seed=1)
        assert rel_diff(net.feedforward(X), net.feedforward(X.toarray())) <= 1e-13


def test_training_data_is_never_densified():
    """2,000 rows x 300,000 columns: 4.8 GB dense, one batch of 200 rows 480 MB. The
    fit and predictions allocate far less than one dense batch."""
    rng = np.random.default_rng(7)
    m, n = 2000, 300_000
    nnz_per_row = 20
    indices = rng.integers(0, n, size=m * nnz_per_row).astype(np.int32)
    X = sp.csr_matrix((rng.random(m * nnz_per_row), indices,
                       np.arange(0, m * nnz_per_row + 1, nnz_per_row)), shape=(m, n))
    y = rng.integers(0, 2, m)
    net = fastbp.Network([n, 4, 2], seed=0)
    tracemalloc.start()
    try:
        net.fit(X, y, 1, 200, 0.1, optimizer="adam")
        net.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The parameters with Adam's moments and gradient: about 4 x 9.6 MB.
    assert peak < 100e6


@pytest.mark.parametrize("make, error, match", [
    (lambda X: X[:, :9], ValueError, "X has 9 features"),
    (lambda X: sp.csr_matrix((0, 10)), ValueError, "X is empty"),
    (lambda X: X.astype(bool), TypeError, "X has dtype bool"),
    (lambda X: X.astype(np.complex128), TypeError, "X must hold real numbers"),
])
def test_bad_sparse_input_is_refused(make, error, match):
    X = random_csr(np.random.default_rng(8), 30, 10, 0.3)
    net = fastbp.Network([10, 4, 2], seed=0)
    before = [w.copy() for w in net.weights]
    with pytest.raises(error, match=match):
        net.fit(make(X), np.zeros(30, int) if make(X).shape[0] == 30 else [], 1, 5, 0.1)
    with pytest.raises(error, match=match):
        net.feedforward(make(X))
    for w, old in zip(net.weights, before):
        np.testing.assert_array_equal(w, old)


def _hand_built(fmt, data, indices, indptr, shape):
    """A compressed matrix whose arrays are set after construction (scipy's
    constructor would refuse some of them)."""
    X = fmt((np.ones(1), np.zeros(1, np.int32), np.array([0] + [1] * shape[0 if fmt is
                                                                     sp.csr_matrix else 1],
                                                            np.int32)), shape=shape)
    X.data, X.indices, X.indptr = data, indices, indptr
    return X


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix])
@pytest.mark.parametrize("case, match", [
    ("index too large", "indices outside"),
    ("negative index", "indices outside"),
    ("indptr decreasing", "indptr must start at 0"),
    ("indptr past the entries", "indptr must start at 0"),
    ("indptr too short", "indptr has"),
])
def test_malformed_compressed_matrix_is_refused(fmt, case, match):
    shape = (4, 5)
    major, minor = shape if fmt is sp.csr_matrix else shape[::-1]
    indptr = np.minimum(np.arange(major + 1), 4).astype(np.int64)
    indices = np.zeros(4, np.int64)
    if case == "index too large":
        indices[2] = minor
    elif case == "negative index":
        indices[1] = -1
    elif case == "indptr decreasing":
        indptr[2] = 0
    elif case == "indptr past the entries":
        indptr[-1] = 9
    else:
        indptr = indptr[:-1]
    X = _hand_built(fmt, np.ones(4), indices, indptr, shape)
    net = fastbp.Network([5, 3, 2], seed=0)
    before = [w.copy() for w in net.weights]
    for call in (lambda: net.fit(X, np.zeros(4, int), 1, 2, 0.1),
                 lambda: net.predict(X), lambda: net.evaluate(X, np.zeros(4, int))):
        with pytest.raises(ValueError, match="^X.*" + match):
            call()
    for w, old in zip(net.weights, before):
        np.testing.assert_array_equal(w, old)


@pytest.mark.parametrize("fmt", [sp.coo_matrix, sp.coo_array])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("value", [-1, 9])
def test_malformed_coo_matrix_is_refused(fmt, axis, value):
    X = fmt(random_csr(np.random.default_rng(15), 9, 9, 0.3))
    (X.row, X.col)[axis][2] = value
    net = fastbp.Network([9, 3, 2], seed=0)
    with pytest.raises(ValueError, match=f"^X has {('row', 'column')[axis]} indices outside"):
        net.fit(X, np.zeros(9, int), 1, 2, 0.1)
    with pytest.raises(ValueError, match="indices outside"):
        net.predict(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad):
    rng = np.random.default_rng(9)
    X = random_csr(rng, 40, 10, 0.3)
    X.data[len(X.data) // 2] = bad
    y = rng.integers(0, 2, 40)
    net = fastbp.Network([10, 4, 2], seed=0)
    before = [w.copy() for w in net.weights + net.biases]
    for kwargs in (dict(), dict(early_stopping=True), dict(optimizer="adam")):
        with pytest.raises(ValueError, match="X contains NaN or infinite"):
            net.fit(X, y, 2, 4, 0.1, **kwargs)
        for w, old in zip(net.weights + net.biases, before):
            np.testing.assert_array_equal(w, old)
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        net.predict(X)
    # float64 values too large for float32 become inf there.
    X.data[len(X.data) // 2] = 1e300
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        fastbp.Network([10, 4, 2], dtype="float32").predict(X)


# -- the scikit-learn estimators ----------------------------------------------------

sklearn = pytest.importorskip("sklearn") if os.environ.get("CI") != "true" else \
    __import__("sklearn")
CONVERGENCE = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@CONVERGENCE
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_estimators_same_as_dense(fmt, solver):
    from fastbp.sklearn import MLPClassifier, MLPRegressor
    rng = np.random.default_rng(10)
    X = random_csr(rng, 90, 25, 0.1, duplicates=0.1, unsorted=True)
    y = rng.integers(0, 3, 90)
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=5, batch_size=20,
                  random_state=0, learning_rate_init=0.05, alpha=1e-3)
    for est, target in ((MLPClassifier, y), (MLPRegressor, rng.normal(size=(90, 2)))):
        a = est(**params).fit(fmt(X), target)
        b = est(**params).fit(X.toarray(), target)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            assert rel_diff(p, q) <= 1e-12
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
        a.partial_fit(fmt(X), target)
        b.partial_fit(X.toarray(), target)
        for p, q in zip(a.coefs_, b.coefs_):
            assert rel_diff(p, q) <= 1e-12
        assert a.score(fmt(X), target) == pytest.approx(b.score(X.toarray(), target),
                                                        rel=1e-12)
        if est is MLPClassifier:
            np.testing.assert_array_equal(a.predict(fmt(X)), b.predict(X.toarray()))
            assert rel_diff(a.predict_proba(fmt(X)), b.predict_proba(X.toarray())) < 1e-12
        else:
            assert rel_diff(a.predict(fmt(X)), b.predict(X.toarray())) < 1e-12


@CONVERGENCE
def test_estimator_early_stopping_and_sample_weight_same_as_dense():
    from fastbp.sklearn import MLPClassifier
    rng = np.random.default_rng(14)
    X = random_csr(rng, 150, 30, 0.1)
    y = rng.integers(0, 3, 150)
    weights = rng.uniform(0, 2, 150)
    params = dict(hidden_layer_sizes=(8, 4), max_iter=12, batch_size=25, random_state=2,
                  early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                  learning_rate_init=0.05)
    a = MLPClassifier(**params).fit(X.tocsc(), y, sample_weight=weights)
    b = MLPClassifier(**params).fit(X.toarray(), y, sample_weight=weights)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert rel_diff(p, q) <= 1e-12


@CONVERGENCE
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_estimators_same_steps_as_scikit_learn_on_sparse_x(kind, solver):
    """Without shuffling and with batches that divide n, the same steps as
    scikit-learn's own MLP on the same sparse X."""
    from sklearn import neural_network as sk_nn
    from fastbp.sklearn import MLPClassifier, MLPRegressor
    rng = np.random.default_rng(11)
    X = random_csr(rng, 120, 40, 0.08)
    if kind == "classifier":
        y = rng.integers(0, 3, 120)
        ours, theirs = MLPClassifier, sk_nn.MLPClassifier
    else:
        y = rng.normal(size=120)
        ours, theirs = MLPRegressor, sk_nn.MLPRegressor
    params = dict(hidden_layer_sizes=(7, 5), shuffle=False, random_state=3, batch_size=30,
                  max_iter=8, alpha=1e-3, solver=solver, learning_rate_init=0.02)
    a = ours(**params).fit(X, y)
    b = theirs(**params).fit(X, y)
    assert a.n_iter_ == b.n_iter_
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
    predict = "predict_proba" if kind == "classifier" else "predict"
    np.testing.assert_allclose(getattr(a, predict)(X.tocsc()), getattr(b, predict)(X),
                               rtol=1e-8, atol=1e-12)


@CONVERGENCE
def test_estimator_refuses_bad_sparse_input():
    from fastbp.sklearn import MLPClassifier
    rng = np.random.default_rng(12)
    X = random_csr(rng, 40, 10, 0.3)
    y = rng.integers(0, 2, 40)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 9 features"):
        clf.predict(X[:, :9])
    X.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(X)
