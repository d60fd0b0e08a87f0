"""A sparse text-like job: fastbp's and scikit-learn's MLPClassifier on CSR input.

The data stand in for tf-idf features of documents: 20,000 training rows (and 5,000
test rows) x 50,000 features at 0.2 % density (100 stored values a row), 20 classes,
generated with a fixed seed. Each class has its own 500 "topic" features; a row draws
a tenth of its features from its class's topic and the rest from a vocabulary shared
by all classes (feature f with a frequency falling as 1/sqrt(f)), with log(1 + count)
values scaled to unit length; a tenth of the labels are drawn at random.

Both estimators get the same CSR matrix, hyperparameters and initial weights
(``MLPClassifier(hidden_layer_sizes=(100,), solver="adam", batch_size=200,
max_iter=--epochs, random_state=0)``; scikit-learn's defaults otherwise) on one
thread; neither densifies X. Prints the fit time, the test accuracy and the peak of
the Python heap (tracemalloc) during the fit, which a dense copy of X (8 GB) or of
one mini-batch (80 MB) would show. Run from the repository root:

    python benchmarks/sparse_text.py [--impl fastbp|sklearn|both] [--epochs 3]

Thread limits (OMP/OpenBLAS/MKL_NUM_THREADS=1) are set here before numpy loads.
"""
import argparse
import os
import time
import tracemalloc
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROWS, TEST_ROWS, FEATURES, PER_ROW, CLASSES, TOPIC = 20_000, 5_000, 50_000, 100, 20, 500


def text_like(rows, seed):
    """(X, y): ``rows`` CSR rows of tf-idf-like features and their classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, rows)
    topics = np.random.default_rng(12345).permutation(FEATURES)[:CLASSES * TOPIC] \
        .reshape(CLASSES, TOPIC)
    n_topic = PER_ROW // 10
    # Common words: feature f drawn with a density falling as 1/sqrt(f).
    words = (FEATURES * rng.random((rows, PER_ROW - n_topic)) ** 2).astype(np.int64)
    topic = topics[y[:, None], rng.integers(0, TOPIC, size=(rows, n_topic))]
    cols = np.concatenate([topic, words], axis=1)
    # Repeated words add up (scipy sums duplicates): sorted, canonical CSR.
    X = sp.csr_matrix((np.ones(cols.size), cols.ravel(),
                       np.arange(0, cols.size + 1, PER_ROW)), shape=(rows, FEATURES))
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.csr_matrix(sp.diags(1 / norms) @ X)
    # A tenth of the labels drawn at random: the best accuracy is about 0.9.
    noisy = rng.random(rows) < 0.1
    y[noisy] = rng.integers(0, CLASSES, noisy.sum())
    return X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["fastbp", "sklearn", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    X, y = text_like(ROWS, 0)
    X_test, y_test = text_like(TEST_ROWS, 1)
    print(f"X: {X.shape[0]:,} x {X.shape[1]:,}, {X.nnz / np.prod(X.shape):.3%} stored, "
          f"{CLASSES} classes; max_iter={args.epochs}")
    impls = ["fastbp", "sklearn"] if args.impl == "both" else [args.impl]
    for impl in impls:
        if impl == "fastbp":
            from fastbp.sklearn import MLPClassifier
        else:
            from sklearn.neural_network import MLPClassifier
        clf = MLPClassifier(hidden_layer_sizes=(100,), solver="adam", batch_size=200,
                            max_iter=args.epochs, random_state=0)
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tracemalloc.start()
            start = time.perf_counter()
            clf.fit(X, y)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            accuracy = clf.score(X_test, y_test)
        print(f"{impl}: fit {seconds:.2f} s ({seconds / args.epochs:.2f} s/epoch), "
              f"test accuracy {accuracy:.4f}, heap peak {peak / 2**20:.0f} MiB, "
              f"final loss {clf.loss_:.4f}")


if __name__ == "__main__":
    main()
