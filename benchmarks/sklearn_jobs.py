"""fastbp.sklearn against scikit-learn on the jobs of its drop-in: the lbfgs solver, two
classes (one logistic output) and multi-label targets.

    python benchmarks/sklearn_jobs.py JOB IMPL        # one fit in this process
    python benchmarks/sklearn_jobs.py --all [--repeats 5]

JOB is one of the names in ``JOBS``; IMPL is "fastbp" (fastbp.sklearn) or "sklearn".
One fit prints one JSON line: the fit's wall and CPU seconds (timed in the process,
data loading excluded), n_iter_, and the accuracy on held-out data; for lbfgs also
the fit's loss evaluations and the rate of their products (forward, BP2, BP4) per
CPU second as a share of a 2048^2 dgemm's, timed after the fit in the same process.
``--all`` runs
every job for both, each fit in a fresh process at 1 thread, the two alternating
repeat by repeat, and prints results.md's table (medians, with the fit's process CPU
seconds beside its wall seconds: on a shared machine the wall clock also counts the
other processes' turns). MNIST comes from $FASTBP_MNIST_DIR, as for run.py.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import THREAD_ENV_VARS  # noqa: E402  (does not import BLAS users)

#: name -> (data, estimator parameters). "mnist": the first 50,000 MNIST training
#: images, accuracy on the 10,000 validation images; "digits": scikit-learn's
#: load_digits / 16, accuracy on a stratified quarter held out (random_state=0).
JOBS = {
    "lbfgs digits": ("digits", dict(solver="lbfgs", hidden_layer_sizes=(100,),
                                    max_iter=200)),
    "lbfgs MNIST": ("mnist", dict(solver="lbfgs", hidden_layer_sizes=(100,),
                                  max_iter=10)),
    # W5's defaults (Adam, batch 200, 3 epochs) on two-class and multi-label targets.
    "binary (W5 defaults)": ("mnist-binary", dict(max_iter=3)),
    "multi-label (W5 defaults)": ("mnist-multilabel", dict(max_iter=3)),
}


def _targets(kind, labels):
    """Digit labels -> the job's targets: odd/even (two classes), or three labels
    (odd, >= 5, has a closed loop: 0, 6, 8, 9)."""
    import numpy as np
    if kind == "mnist-binary":
        return labels % 2
    if kind == "mnist-multilabel":
        return np.stack([labels % 2, labels >= 5, np.isin(labels, (0, 6, 8, 9))],
                        axis=1).astype(np.int64)
    return labels


def load(data):
    """(X_train, y_train, X_test, y_test) of a job's data set."""
    import numpy as np
    if data == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X / 16, y, test_size=0.25, random_state=0, stratify=y)
        return np.ascontiguousarray(X_train), y_train, X_test, y_test
    from common import load_mnist
    (X, y), (Xv, yv), _, _ = load_mnist("float64")
    X, y = X[:50_000], y[:50_000]
    return X, _targets(data, y), Xv, _targets(data, yv)


def fit_one(job, impl):
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits
    if impl == "fastbp":
        from fastbp.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    data, params = JOBS[job]
    X, y, X_test, y_test = load(data)
    lbfgs = params.get("solver") == "lbfgs"
    with threadpool_limits(1):
        clf = MLPClassifier(**params, random_state=0)
        with warnings.catch_warnings(), _count_evaluations() as evaluations:
            warnings.simplefilter("ignore", ConvergenceWarning)
            wall, cpu = time.perf_counter(), time.process_time()
            clf.fit(X, y)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        accuracy = float(clf.score(X_test, y_test))
        result = {"job": job, "impl": impl, "wall": wall, "cpu": cpu,
                  "n_iter": clf.n_iter_, "accuracy": accuracy}
        if lbfgs:
            # The fit's rate on its products (forward, BP2, BP4 over all the rows at
            # each loss evaluation) against a large dgemm's on this core, now; both
            # in process CPU seconds (at 1 thread), which the machine's other jobs
            # do not inflate as they do the wall clock.
            sizes = [X.shape[1], *params["hidden_layer_sizes"], len(clf.classes_)]
            flops = evaluations[0] * _gradient_flops(X.shape[0], sizes)
            dgemm = _dgemm_rate()
            result.update(evaluations=evaluations[0], products_gflops=flops / cpu / 1e9,
                          dgemm_gflops=dgemm / 1e9, dgemm_share=flops / cpu / dgemm)
    return result


def _gradient_flops(m, sizes):
    """Flops of one whole-set loss and gradient's products on m rows: the forward
    products and BP4's, 2 m n_l n_{l-1} each, and BP2's for l >= 2."""
    pairs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * m * (2 * sum(pairs) + sum(pairs[1:]))


class _count_evaluations:
    """Counts the loss evaluations of scipy.optimize.minimize's calls within the block
    (result.nfev): both estimators call it through the module attribute."""

    def __enter__(self):
        import scipy.optimize
        self.module, self.minimize, self.count = scipy.optimize, \
            scipy.optimize.minimize, [0]

        def minimize(*args, **kwargs):
            res = self.minimize(*args, **kwargs)
            self.count[0] += res.nfev
            return res
        scipy.optimize.minimize = minimize
        return self.count

    def __exit__(self, *exc):
        self.module.minimize = self.minimize


def _dgemm_rate(n=2048, repeats=3):
    """Flops per CPU second of the best of ``repeats`` n x n dgemms (NumPy's BLAS,
    at the caller's thread limit)."""
    import numpy as np
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    C = np.empty((n, n))
    best = np.inf
    for _ in range(repeats):
        t = time.process_time()
        np.matmul(A, B, out=C)
        best = min(best, time.process_time() - t)
    return 2 * n ** 3 / best


def run_all(repeats, jobs=JOBS):
    env = {**os.environ, **{var: "1" for var in THREAD_ENV_VARS}}
    results = {}
    for job in jobs:
        for r in range(repeats):
            impls = ("fastbp", "sklearn") if r % 2 == 0 else ("sklearn", "fastbp")
            for impl in impls:
                out = subprocess.run([sys.executable, __file__, job, impl], env=env,
                                     capture_output=True, text=True, check=True)
                results.setdefault((job, impl), []).append(json.loads(out.stdout))
                print(f"{job}, {impl}: {out.stdout.strip()}", file=sys.stderr)
    print("| job | fastbp.sklearn s | scikit-learn s | speed-up | fastbp.sklearn CPU s | "
          "scikit-learn CPU s | CPU speed-up | n_iter_ (fastbp / scikit-learn) | "
          "accuracy (fastbp / scikit-learn) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for job in jobs:
        a, b = results[(job, "fastbp")], results[(job, "sklearn")]
        cells = []
        for key in ("wall", "cpu"):
            ta = statistics.median(r[key] for r in a)
            tb = statistics.median(r[key] for r in b)
            cells += [f"{ta:.3f} ({min(r[key] for r in a):.3f}–{max(r[key] for r in a):.3f})",
                      f"{tb:.3f} ({min(r[key] for r in b):.3f}–{max(r[key] for r in b):.3f})",
                      f"{tb / ta:.2f}x"]
        print(f"| {job} | {' | '.join(cells)} | {a[0]['n_iter']} / {b[0]['n_iter']} | "
              f"{100 * a[0]['accuracy']:.2f} % / {100 * b[0]['accuracy']:.2f} % |")
    for job in jobs:
        if "dgemm_share" not in results[(job, "fastbp")][0]:
            continue
        print()
        for impl in ("fastbp", "sklearn"):
            runs = results[(job, impl)]
            print(f"{job}, {impl}: {runs[0]['evaluations']} loss evaluations; the fit "
                  f"runs its products at "
                  f"{statistics.median(r['products_gflops'] for r in runs):.2f} GFLOP/s, "
                  f"{100 * statistics.median(r['dgemm_share'] for r in runs):.0f} % of a "
                  f"2048^2 dgemm's "
                  f"{statistics.median(r['dgemm_gflops'] for r in runs):.2f} GFLOP/s "
                  f"timed in the same process (CPU seconds, medians)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job", nargs="?", choices=JOBS)
    p.add_argument("impl", nargs="?", choices=("fastbp", "sklearn"))
    p.add_argument("--all", action="store_true")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--jobs", default=",".join(JOBS),
                   help="comma-separated subset of the jobs, for --all")
    args = p.parse_args(argv)
    if args.all:
        run_all(args.repeats, [j for j in args.jobs.split(",") if j])
    elif args.job and args.impl:
        print(json.dumps(fit_one(args.job, args.impl)))
    else:
        p.error("give JOB and IMPL, or --all")


if __name__ == "__main__":
    main()
