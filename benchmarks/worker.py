"""One benchmark job in a fresh process: run.py starts it with the thread variables
already in its environment, so every runtime is capped before it loads.

    python benchmarks/worker.py gemm   --threads T --out FILE
    python benchmarks/worker.py bench  --impl NAME --threads T --workloads W1,W4 [--quick]
    python benchmarks/worker.py serve  --impl NAME --threads T [--quick]   (run.py's)
    python benchmarks/worker.py memory --impl NAME --n N --out FILE
    python benchmarks/worker.py gil    --impl NAME --n N --out FILE
    python benchmarks/worker.py w5     --impl fastbp|sklearn --config NAME --n N --epochs E --out FILE
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import resource
import sys
import threading
import time
import tracemalloc

import numpy as np

import peers
from common import (TRAIN_WORKLOADS, W5_CONFIGS, Sizes, Timer, forward_flops_per_example,
                    initial_parameters, limit_threads_in_process, load_mnist, measure,
                    summarize, threadpool_summary, train_flops_per_example)

W1 = TRAIN_WORKLOADS["W1"]
W1_FLOAT32 = dataclasses.replace(W1, dtype="float32")


def log(msg):
    """Progress on stderr (run.py passes it through)."""
    print(msg, file=sys.stderr, flush=True)


def configure_threads(impl, threads):
    """Cap runtimes that ignore the environment: torch's intra-op pool, JAX (whose
    XLA CPU runtime sizes its pool from the CPUs it may run on and ignores XLA_FLAGS
    here, so it is confined to ``threads`` CPUs before it loads), and every loaded
    BLAS via threadpoolctl. Returns the threadpoolctl limiter."""
    if impl == "jax":
        cpus = sorted(os.sched_getaffinity(0))
        if threads < len(cpus):
            os.sched_setaffinity(0, cpus[:threads])
    if impl == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    if impl == "onnxruntime":
        # onnxruntime sizes its pools per session, from the session's options.
        peers.get(impl).intra_op_threads = threads
    return limit_threads_in_process(threads)


class Data:
    """MNIST loaded once per process, per dtype."""

    def __init__(self):
        self._cache, self.loader = {}, None

    def get(self, dtype):
        if dtype not in self._cache:
            train, val, _, self.loader = load_mnist(dtype)
            self._cache[dtype] = (train, val)
        return self._cache[dtype]


def make_trainer(impl, spec, X, y):
    """A trainer of ``impl`` for ``spec`` with the shared initial parameters and data."""
    W0, b0 = initial_parameters(spec.sizes, spec.dtype, seed=0)
    trainer = peers.get(impl)(spec.sizes, spec.dtype, W0, b0, spec.batch_size,
                              spec.learning_rate)
    trainer.set_data(X, y)
    return trainer


def row(workload, impl, threads, unit, timing, flops, dtype, n, **extra):
    """One result row; ``flops`` is the work of one timed call."""
    return {"workload": workload, "impl": impl, "threads": threads, "unit": unit,
            "median": timing["median"], "min": timing["min"], "max": timing["max"],
            "cpu_util": timing["cpu_util"], "flops": flops, "dtype": dtype, "n": n,
            **extra}


class TrainingJob:
    """One training workload of one implementation, timed an epoch at a time.

    Built with its trainer and one untimed warm-up epoch (seed 1); each ``repeat()``
    then times one epoch with the next seed, so every implementation sees the same
    mini-batches in the same repeat, and ``rows()`` summarises the epochs timed so far
    (one row).
    """

    def __init__(self, impl, threads, spec, n, data, workload=None):
        (X, y), _ = data.get(spec.dtype)
        self.impl, self.threads, self.spec, self.n = impl, threads, spec, n
        self.workload = workload or spec.name
        self.trainer = make_trainer(impl, spec, X[:n], y[:n])
        self.compile_s = self.trainer.compile()
        self.seeds = itertools.count(1)
        self.trainer.train_epoch(next(self.seeds))
        self.walls, self.utils = [], []

    def repeat(self):
        """Time one epoch; return its wall time in seconds."""
        with Timer() as t:
            self.trainer.train_epoch(next(self.seeds))
        self.walls.append(t.wall)
        self.utils.append(t.cpu_util)
        return t.wall

    def rows(self):
        extra = {"compile_s": self.compile_s} if self.compile_s is not None else {}
        return [row(self.workload, self.impl, self.threads, "s/epoch",
                    summarize(self.walls, self.utils),
                    train_flops_per_example(self.spec.sizes) * self.n, self.spec.dtype,
                    self.n, **extra)]


def bench_training(impl, threads, spec, n, data, repeats, workload=None):
    """Seconds per epoch of ``spec`` on the first n training examples, the repeats
    back to back (run.py interleaves the implementations instead: ``task_serve``)."""
    job = TrainingJob(impl, threads, spec, n, data, workload)
    for _ in range(repeats):
        job.repeat()
    return job.rows()[0]


class InferenceJob:
    """W4 for one implementation: the W1 network's feedforward, one example per call
    and 10,000 at once, in float64 and in float32.

    Built with one untimed warm-up of each case; each ``repeat()`` then times every
    case once (a single-example case is a loop over ``sizes.single_calls`` examples,
    reported per call), and ``rows()`` summarises the repeats so far.
    """

    def __init__(self, impl, threads, data, sizes):
        self.impl, self.threads, self.cases = impl, threads, []
        fpe = forward_flops_per_example(W1.sizes)
        for spec, name in ((W1, "W4 single"), (W1_FLOAT32, "W4 single float32")):
            (X, y), (Xv, _) = data.get(spec.dtype)
            trainer = make_trainer(impl, spec, X[:1000], y[:1000])
            xs = list(Xv[:sizes.single_calls])

            def single_calls(trainer=trainer, xs=xs):
                for x in xs:
                    trainer.feedforward(x)

            self.cases.append((name, single_calls, len(xs), "us/call", fpe, spec.dtype,
                               1, {"calls": len(xs)}))
        for spec, name in ((W1, "W4 batch"), (W1_FLOAT32, "W4 batch float32")):
            (X, y), (Xv, _) = data.get(spec.dtype)
            trainer = make_trainer(impl, spec, X[:1000], y[:1000])
            Xb = np.ascontiguousarray(Xv[:10_000])
            self.cases.append((name, lambda trainer=trainer, Xb=Xb: trainer.feedforward(Xb),
                               1, "ms/call", fpe * len(Xb), spec.dtype, len(Xb), {}))
        for case in self.cases:
            case[1]()
        self.samples = [([], []) for _ in self.cases]

    def repeat(self):
        """Time every case once; return the seconds they took together."""
        total = 0.0
        for (_, fn, calls, *_), (walls, utils) in zip(self.cases, self.samples):
            with Timer() as t:
                fn()
            walls.append(t.wall / calls)
            utils.append(t.cpu_util)
            total += t.wall
        return total

    def rows(self):
        return [row(name, self.impl, self.threads, unit, summarize(walls, utils), flops,
                    dtype, n, **extra)
                for (name, _, _, unit, flops, dtype, n, extra), (walls, utils)
                in zip(self.cases, self.samples)]


def bench_inference(impl, threads, data, sizes):
    """The W4 rows, their repeats back to back (run.py interleaves the
    implementations instead: ``task_serve``)."""
    job = InferenceJob(impl, threads, data, sizes)
    for _ in range(max(5, sizes.repeats)):
        job.repeat()
    return job.rows()


def task_bench(args):
    """All requested workloads for one (implementation, thread count)."""
    limiter = configure_threads(args.impl, args.threads)  # noqa: F841 (kept alive)
    sizes = Sizes.for_run(args.quick, args.repeats)
    cls, data, rows = peers.get(args.impl), Data(), []
    wanted = args.workloads.split(",")
    for name, spec in TRAIN_WORKLOADS.items():
        if name in wanted and name in cls.workloads:
            log(f"  {args.impl} x{args.threads}: {name}")
            rows.append(bench_training(args.impl, args.threads, spec, sizes.n_train,
                                       data, sizes.repeats))
    if "W4" in wanted and "W4" in cls.workloads:
        log(f"  {args.impl} x{args.threads}: W4")
        rows += bench_inference(args.impl, args.threads, data, sizes)
    if "scaling" in wanted and "scaling" in cls.workloads and args.threads == 1:
        for n in sizes.scaling:
            log(f"  {args.impl} x{args.threads}: scaling n={n}")
            rows.append(bench_training(args.impl, args.threads, W1, n, data,
                                       sizes.repeats, workload="scaling"))
    return {"rows": rows, "threadpools": threadpool_summary(), "loader": data.loader}


def task_serve(args):
    """Serve run.py's requests for one (implementation, thread count), one JSON object
    per line on stdin, each answered by one line on stdout, until stdin closes.

    run.py keeps one such process per implementation and sends the timed repeats to
    them in turn, so a slow minute on the shared machine lands on every
    implementation's samples instead of on whichever ran then. Requests:

    - ``{"op": "prepare", "workload": "W1", "n": 50000, "label": null}``: a new
      ``TrainingJob`` (set-up, compile, warm-up epoch), replacing the previous job;
    - ``{"op": "prepare", "workload": "W4"}``: a new ``InferenceJob`` likewise;
    - ``{"op": "repeat"}``: one timed repeat of the job (an epoch, or W4's three
      cases once), answered with its wall time; ``{"op": "rows"}``: its result rows;
    - ``{"op": "info"}``: the thread pools and the MNIST loader.
    """
    # Answers go to the real stdout; anything a library prints goes to stderr.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    limiter = configure_threads(args.impl, args.threads)  # noqa: F841 (kept alive)
    sizes = Sizes.for_run(args.quick, args.repeats)
    data, job = Data(), None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "prepare":
            job = None  # free the previous job's memory first
            label = request.get("label") or request["workload"]
            log(f"  {args.impl} x{args.threads}: {label}"
                + (f" n={request['n']}" if "n" in request else ""))
            if request["workload"] == "W4":
                job = InferenceJob(args.impl, args.threads, data, sizes)
            else:
                job = TrainingJob(args.impl, args.threads,
                                  TRAIN_WORKLOADS[request["workload"]], request["n"],
                                  data, request.get("label"))
            answer = {}
        elif op == "repeat":
            answer = {"wall": job.repeat()}
        elif op == "rows":
            answer = {"rows": job.rows()}
        elif op == "info":
            answer = {"threadpools": threadpool_summary(), "loader": data.loader}
        else:
            raise ValueError(f"unknown request {op!r}")
        answers.write(json.dumps(answer, default=float) + "\n")
        answers.flush()
    return None


def gemm_rate(dtype, n=2048, repeats=5):
    """GFLOP/s of an (n, n) @ (n, n) product with NumPy and with SciPy's BLAS: the
    best of ``repeats`` (the machine's capability; other jobs only slow it down)."""
    from scipy.linalg import blas
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    fa, fb = np.asfortranarray(a), np.asfortranarray(b)
    scipy_gemm = blas.dgemm if np.dtype(dtype) == np.float64 else blas.sgemm
    flops = 2.0 * n ** 3
    t_np = measure(lambda: np.matmul(a, b, out=out), repeats)
    t_sp = measure(lambda: scipy_gemm(1.0, fa, fb), repeats)
    return {"numpy": flops / t_np["min"] / 1e9, "scipy": flops / t_sp["min"] / 1e9,
            "numpy_cpu_util": t_np["cpu_util"], "scipy_cpu_util": t_sp["cpu_util"]}


def task_gemm(args):
    limiter = configure_threads("numpy", args.threads)  # noqa: F841
    return {"threads": args.threads,
            "rates": {dt: gemm_rate(dt) for dt in ("float64", "float32")},
            "threadpools": threadpool_summary()}


def current_rss():
    """Resident set size now, in bytes (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss


def task_memory(args):
    """Peak RSS of a W1 training run, and what its second epoch allocates."""
    limiter = configure_threads(args.impl, 1)  # noqa: F841
    (X, y), _ = Data().get(W1.dtype)
    trainer = make_trainer(args.impl, W1, X[:args.n], y[:args.n])
    rss_ready = current_rss()
    trainer.train_epoch(1)
    rss_epoch1 = current_rss()
    tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    trainer.train_epoch(2)
    end, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_epoch2 = current_rss()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth = (rss_epoch2 - rss_epoch1) if rss_epoch1 is not None else None
    return {"impl": args.impl, "n": args.n, "steps": -(-args.n // W1.batch_size),
            "maxrss_bytes": maxrss_kib * 1024, "rss_ready": rss_ready,
            "rss_growth_epoch2": growth, "traced_net_epoch2": end - start,
            "traced_peak_epoch2": peak - start}


def concurrent(fns):
    """Wall time of running each callable in its own thread, all at once."""
    threads = [threading.Thread(target=f) for f in fns]
    with Timer() as t:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    return t.wall, t.cpu_util


def gil_ratio(one, two, repeats):
    """Median over repeats of time(two concurrent calls) / time(one call)."""
    one(); two[0](); two[1]()  # warm-up
    ratios, utils = [], []
    for _ in range(repeats):
        with Timer() as t1:
            one()
        t2, util = concurrent(two)
        ratios.append(t2 / t1.wall)
        utils.append(util)
    return {"ratio": float(np.median(ratios)), "cpu_util_two": float(np.median(utils)),
            "ratios": ratios}


def task_gil(args):
    """Two threads, each with its own network, against one thread with one."""
    limiter = configure_threads(args.impl, 1)  # noqa: F841
    (X, y), (Xv, _) = Data().get(W1.dtype)
    nets = [make_trainer(args.impl, W1, X[:args.n], y[:args.n]) for _ in range(2)]
    seeds = itertools.count(1)
    train = [lambda t=t: t.train_epoch(next(seeds)) for t in nets]
    Xb = np.ascontiguousarray(Xv[:10_000])
    infer = [lambda t=t: [t.feedforward(Xb) for _ in range(20)] for t in nets]
    return {"impl": args.impl, "n": args.n,
            "train": gil_ratio(train[0], train, args.repeats),
            "feedforward": gil_ratio(infer[0], infer, args.repeats)}


def task_w5(args):
    """One W5 fit: the MLPClassifier of ``args.impl`` ("fastbp" for fastbp.sklearn,
    "sklearn" for scikit-learn's own) with the W5 configuration ``args.config``, on the
    first ``args.n`` MNIST training images for ``args.epochs`` epochs; the fit is
    timed, then scored on the 10,000 validation images (untimed)."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    if args.impl == "fastbp":
        from fastbp.sklearn import MLPClassifier
    elif args.impl == "sklearn":
        from sklearn.neural_network import MLPClassifier
    else:
        raise ValueError(f"W5 compares fastbp and sklearn, not {args.impl!r}")
    limiter = configure_threads(args.impl, args.threads)  # noqa: F841
    (X, y), (Xv, yv) = Data().get("float64")
    X, y = X[:args.n], y[:args.n]
    clf = MLPClassifier(**W5_CONFIGS[args.config], max_iter=args.epochs, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with Timer() as t:
            clf.fit(X, y)
    return {"impl": args.impl, "config": args.config, "threads": args.threads,
            "n": args.n, "epochs": clf.n_iter_, "wall": t.wall, "cpu_util": t.cpu_util,
            "accuracy": float(clf.score(Xv, yv))}


TASKS = {"bench": task_bench, "serve": task_serve, "gemm": task_gemm,
         "memory": task_memory, "gil": task_gil, "w5": task_w5}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=TASKS)
    p.add_argument("--impl", default="numpy-matrix", choices=peers.REGISTRY)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workloads", default="W1,W2,W3,W4,scaling")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--config", default="defaults", choices=W5_CONFIGS)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", help="where to write the JSON result (not for serve)")
    args = p.parse_args(argv)
    if args.task != "serve" and not args.out:
        p.error("--out is required")
    t0 = time.perf_counter()
    result = TASKS[args.task](args)
    if result is None:
        return
    result["elapsed_s"] = time.perf_counter() - t0
    with open(args.out, "w") as f:
        json.dump(result, f, default=float)


if __name__ == "__main__":
    main()
