"""Scale-out on real engines: joblib's Dask and Ray backends, dask-ml's Incremental,
and memory-mapped training data.

The clusters are real: a ``dask.distributed.LocalCluster`` of two worker processes and
a local Ray instance, on this machine only. Each distributed run must give exactly
what the same work gives serially (fastbp's fits are deterministic for a given
``random_state``). dask, distributed, dask-ml and ray come with the integration extra; a
missing one skips on a developer machine and fails under CI (CI=true).
"""
import importlib
import os
import tempfile
import tracemalloc
import warnings

import numpy as np
import pytest

import fastbp
from fastbp.datasets import load_digits

sklearn = pytest.importorskip("sklearn")  # the estimators need it; the test extra has it
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from fastbp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

IN_CI = os.environ.get("CI") == "true"
GRID = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}


def need(name):
    """Import ``name``: skipped if missing on a developer machine, a failure under CI."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"{name} is not installed ({exc}); pip install '.[integration]'"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:450], y[:450]


def searches(X, y):
    """The searches each backend runs: a classifier's and a regressor's grid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = GridSearchCV(MLPClassifier(hidden_layer_sizes=(16,), max_iter=15,
                                         random_state=0), GRID, cv=3).fit(X, y)
        reg = GridSearchCV(MLPRegressor(hidden_layer_sizes=(8,), max_iter=15,
                                        random_state=1), GRID, cv=3).fit(X, y / 9.0)
    return clf, reg


def assert_same_search(distributed, serial):
    for got, expected in zip(distributed, serial):
        for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
            np.testing.assert_array_equal(got.cv_results_[key], expected.cv_results_[key])
        assert got.best_params_ == expected.best_params_
        for a, b in zip(got.best_estimator_.coefs_, expected.best_estimator_.coefs_):
            np.testing.assert_array_equal(a, b)


def test_grid_search_on_a_dask_cluster_equals_the_serial_one(digits):
    need("dask")
    distributed = need("distributed")
    import joblib
    X, y = digits
    serial = searches(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        workers = client.run(os.getpid)
        assert len(workers) == 2 and os.getpid() not in workers.values()
        with joblib.parallel_backend("dask"):
            on_dask = searches(X, y)
        # The fits ran in the workers: each has imported fastbp's compiled engine.
        imported = client.run(lambda: "fastbp._backprop" in __import__("sys").modules)
        assert all(imported.values()), imported
    assert_same_search(on_dask, serial)


def test_grid_search_on_ray_equals_the_serial_one(digits, tmp_path, monkeypatch):
    ray = need("ray")
    import joblib
    from ray.util.joblib import register_ray
    X, y = digits
    serial = searches(X, y)
    # Ray puts the driver's working directory first on its workers' sys.path; from a
    # source checkout that is a fastbp/ without compiled extensions, shadowing the
    # installed package.
    monkeypatch.chdir(tmp_path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        register_ray()
        with warnings.catch_warnings():
            # Ray's joblib pool ignores joblib's multiprocessing context, and says so.
            warnings.simplefilter("ignore", UserWarning)
            with joblib.parallel_backend("ray"):
                on_ray = searches(X, y)
    finally:
        ray.shutdown()
    assert_same_search(on_ray, serial)


def test_incremental_over_a_chunked_dask_array_equals_partial_fit_chunk_by_chunk(digits):
    da = need("dask.array")
    need("dask_ml")
    from dask_ml.wrappers import Incremental
    X, y = digits
    classes = np.unique(y)
    chunk = 100   # 5 chunks (the last one short): no chunk holds the whole set
    X_dask = da.from_array(X, chunks=(chunk, X.shape[1]))
    y_dask = da.from_array(y, chunks=chunk)
    assert X_dask.numblocks[0] == 5
    incremental = Incremental(MLPClassifier(hidden_layer_sizes=(16,), random_state=0),
                              shuffle_blocks=False)
    incremental.fit(X_dask, y_dask, classes=classes)
    serial = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    for start in range(0, len(X), chunk):
        serial.partial_fit(X[start:start + chunk], y[start:start + chunk], classes=classes)
    fitted = incremental.estimator_
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, serial.coefs_ + serial.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(incremental.predict(X_dask).compute(), serial.predict(X))


@pytest.fixture(scope="module")
def memmapped():
    """A (20000, 200) float64 .npy on disk (32 MB), opened read-only as a memmap."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "X.npy")
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(20000, 200))
        for start in range(0, len(X), 5000):
            X[start:start + 5000] = rng.random((5000, 200))
        X.flush()
        del X
        yield np.load(path, mmap_mode="r"), rng.integers(0, 10, 20000)


def peak_allocation(function):
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fit", ["Network.fit", "MLPClassifier.fit",
                                 "MLPClassifier.partial_fit"])
def test_a_memmap_trains_in_place_without_a_copy(memmapped, fit):
    """fit and partial_fit read a C-contiguous memmap of the network's dtype where it
    lies: NumPy reports every allocation to tracemalloc, and the peak stays far below
    the 32 MB of X. The result is what the same data in memory gives."""
    X, y = memmapped

    def train(data):
        if fit == "Network.fit":
            net = fastbp.Network([200, 10, 10], seed=0)
            net.fit(data, y, epochs=1, batch_size=32, learning_rate=0.1, seed=0)
            return net.weights
        estimator = MLPClassifier(hidden_layer_sizes=(10,), max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if fit == "MLPClassifier.fit":
                estimator.fit(data, y)
            else:
                estimator.partial_fit(data, y, classes=np.arange(10))
        return estimator.coefs_

    from_memmap, peak = peak_allocation(lambda: train(X))
    assert peak < X.nbytes / 8, (peak, X.nbytes)
    for a, b in zip(from_memmap, train(np.array(X))):
        np.testing.assert_array_equal(a, b)
