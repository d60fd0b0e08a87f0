"""Benchmark fastbp against NumPy, the book's loop, PyTorch, scikit-learn and JAX.

    python benchmarks/run.py [--quick] [--workloads W1,W2,...] [--threads 1,2]
                             [--output FILE.md] [--check]

MNIST comes from $FASTBP_MNIST_DIR, else from ~/.cache/fastbp/mnist (or
$FASTBP_DATA/mnist), where `fastbp train --mnist --download` puts it. Without it the
benchmarks run on seeded synthetic data of MNIST's shapes, and say so (on stderr and
in the results); a FASTBP_MNIST_DIR that lacks the files is an error (exit status 1). The results go to --output, or to a new file
benchmark-results-YYYYMMDD-HHMMSS.md in the current directory (never over an existing
one); the committed benchmarks/results.md is rewritten only when named.

Every (implementation, thread count) runs in a fresh subprocess (worker.py) whose
thread variables are set before anything is imported; the implementations' timed
repeats (training epochs, W4's calls) take turns, round by round. See
benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402
from common import (ALL_WORKLOADS, W5_CONFIGS, Sizes, machine_info, missing_mnist,  # noqa: E402
                    synthetic_instead_of_mnist, thread_env)
from report import render  # noqa: E402

#: Implementations whose GIL behaviour and memory are measured (fastbp, plus
#: references that show what the numbers look like for ordinary code).
GIL_IMPLS = ("fastbp", "numpy-matrix", "torch")
MEMORY_IMPLS = ("fastbp", "numpy-matrix")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="5,000 training examples instead of 50,000 (a few minutes)")
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                   help=f"comma-separated subset of {','.join(ALL_WORKLOADS)}")
    p.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    p.add_argument("--impls", default=",".join(peers.REGISTRY),
                   help="comma-separated subset of " + ",".join(peers.REGISTRY))
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (>= 3)")
    p.add_argument("--output", default=None, metavar="FILE.md",
                   help="write the results here (default: a new "
                        "benchmark-results-YYYYMMDD-HHMMSS.md in the current directory)")
    p.add_argument("--check", action="store_true",
                   help="only check that the peers compute the same SGD, then exit")
    args = p.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(args.workloads) - set(ALL_WORKLOADS)
    if unknown:
        p.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    args.threads = [int(t) for t in args.threads.split(",")]
    args.impls = [i for i in args.impls.split(",") if i]
    if args.repeats < 3:
        p.error("--repeats must be at least 3")
    return args


def run_worker(task, threads, extra, label):
    """Run one worker job with ``threads`` threads; return its JSON, or an error dict."""
    env = {**os.environ, **thread_env(threads)}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, str(HERE / "worker.py"), task, "--threads", str(threads),
           "--out", out, *extra]
    print(f"[{time.strftime('%H:%M:%S')}] {label}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    try:
        if proc.returncode != 0:
            tail = [l for l in proc.stderr.strip().splitlines() if l.strip()][-1:]
            return {"error": tail[0] if tail else f"exit code {proc.returncode}"}
        sys.stderr.write(proc.stderr)
        with open(out) as f:
            return json.load(f)
    finally:
        os.unlink(out)


def availability(names):
    """name -> (available, versions) for each implementation asked for."""
    return {n: (peers.get(n).available(), peers.get(n).versions()) for n in names}


class Server:
    """A ``worker.py serve`` process for one (implementation, thread count)."""

    def __init__(self, impl, threads, quick, repeats):
        self.impl, self.error = impl, None
        cmd = [sys.executable, str(HERE / "worker.py"), "serve", "--impl", impl,
               "--threads", str(threads), "--repeats", str(repeats)]
        self.proc = subprocess.Popen(cmd + (["--quick"] if quick else []),
                                     env={**os.environ, **thread_env(threads)},
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def ask(self, op, **request):
        """Send one request; return the answer, or None once the process has failed."""
        if self.error is not None:
            return None
        try:
            self.proc.stdin.write(json.dumps({"op": op, **request}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except OSError as exc:
            line, self.error = "", str(exc)
        if not line:
            self.error = self.error or f"worker stopped (exit code {self.proc.wait()})"
            return None
        return json.loads(line)

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()


#: Pause before each timed request: another process's BLAS or OpenMP threads spin for
#: a while after their last call (OpenBLAS's for ~0.1 s) and would steal the core.
SETTLE_S = 0.3


def interleaved(servers, jobs, repeats, results):
    """Time ``repeats`` repeats (training epochs, or W4's calls) of each job, taking
    the servers in turn.

    ``jobs`` maps each server to its prepare request. Round r times repeat r of
    every implementation, starting one further along the list each round, so
    neither the machine's slow minutes nor the position in a round favour one.
    """
    ready = [s for s in servers if s in jobs and s.ask("prepare", **jobs[s]) is not None]
    for r in range(repeats):
        first = r % max(1, len(ready))
        for s in ready[first:] + ready[:first]:
            time.sleep(SETTLE_S)
            s.ask("repeat")
    for s in ready:
        answer = s.ask("rows")
        if answer is not None:
            results["rows"] += answer["rows"]


def bench_all(args, t, sizes, avail, results):
    """The timed workloads for thread count t: one server per implementation."""
    timed = [w for w in args.workloads if w in ("W1", "W2", "W3", "W4", "scaling")]
    impls = [i for i in args.impls
             if avail[i][0] and set(timed) & peers.get(i).workloads]
    print(f"[{time.strftime('%H:%M:%S')}] {', '.join(impls) or 'nothing'}, "
          f"{t} thread(s)", file=sys.stderr, flush=True)
    servers = [Server(i, t, args.quick, args.repeats) for i in impls]
    try:
        for name in ("W1", "W2", "W3"):
            if name in timed:
                jobs = {s: {"workload": name, "n": sizes.n_train} for s in servers
                        if name in peers.get(s.impl).workloads}
                interleaved(servers, jobs, args.repeats, results)
        if "W4" in timed:
            jobs = {s: {"workload": "W4"} for s in servers
                    if "W4" in peers.get(s.impl).workloads}
            interleaved(servers, jobs, max(5, args.repeats), results)
        if "scaling" in timed and t == 1:
            for n in sizes.scaling:
                jobs = {s: {"workload": "W1", "n": n, "label": "scaling"}
                        for s in servers if "scaling" in peers.get(s.impl).workloads}
                interleaved(servers, jobs, args.repeats, results)
        for s in servers:
            info = s.ask("info")
            if info is not None:
                results["threadpools"][f"{s.impl} x{t}"] = info["threadpools"]
                results["loader"] = info["loader"] or results["loader"]
    finally:
        for s in servers:
            s.close()
            if s.error is not None:
                results["errors"].append((s.impl, t, s.error))


def collect(args):
    """Run every job and gather the results for the report."""
    sizes = Sizes.for_run(args.quick, args.repeats)
    avail = availability(args.impls)
    results = {"gemm": {}, "rows": [], "errors": [], "threadpools": {}, "memory": [],
               "gil": [], "w5": [], "available": avail, "loader": None}
    for t in args.threads:
        # The rate is measured before and after the timed workloads, the higher kept:
        # a busy neighbour only ever lowers it, and a low reference would flatter
        # every "% reached" of that thread count.
        before = run_worker("gemm", t, [], f"GEMM rate, {t} thread(s)")
        bench_all(args, t, sizes, avail, results)
        after = run_worker("gemm", t, [], f"GEMM rate again, {t} thread(s)")
        rates = [g["rates"] for g in (before, after) if "error" not in g]
        if not rates:
            results["errors"].append(("gemm", t, before["error"]))
        else:
            results["gemm"][t] = {dt: max((r[dt] for r in rates), key=lambda x: x["numpy"])
                                  for dt in rates[0]}
    for task, impls, ns, key in (("memory", MEMORY_IMPLS, sizes.memory, "memory"),
                                 ("gil", GIL_IMPLS, (sizes.gil_n,), "gil")):
        if task not in args.workloads:
            continue
        for impl in impls:
            if impl not in args.impls or not avail[impl][0]:
                continue
            for n in ns:
                r = run_worker(task, 1, ["--impl", impl, "--n", str(n),
                                         "--repeats", str(args.repeats)],
                               f"{task}: {impl}, n={n}")
                if "error" in r:
                    results["errors"].append((f"{task} {impl} n={n}", 1, r["error"]))
                else:
                    results[key].append(r)
    if "W5" in args.workloads:
        run_w5(args, sizes, avail, results)
    return results


def run_w5(args, sizes, avail, results):
    """W5: fastbp.sklearn's and scikit-learn's MLPClassifier, each fit in a fresh
    process, the two taking turns repeat by repeat (as the rounds of the other
    workloads do), for each configuration and thread count."""
    impls = [i for i in ("fastbp", "sklearn") if i in args.impls and avail[i][0]]
    if len(impls) < 2:
        results["errors"].append(("W5", 0, "needs both fastbp and sklearn"))
        return
    epochs = 1 if args.quick else 3
    for t in args.threads:
        for config in W5_CONFIGS:
            for r in range(args.repeats):
                for impl in impls[r % 2:] + impls[:r % 2]:
                    out = run_worker("w5", t, ["--impl", impl, "--config", config,
                                               "--n", str(sizes.n_train),
                                               "--epochs", str(epochs)],
                                     f"W5 {config}: {impl}, repeat {r + 1}")
                    if "error" in out:
                        results["errors"].append((f"W5 {config} {impl}", t, out["error"]))
                    else:
                        results["w5"].append(out)


def fresh_output_path(directory=".") -> Path:
    """A results file name in ``directory`` that does not exist yet."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = Path(directory) / f"benchmark-results-{stamp}{f'-{n}' if n else ''}.md"
        if not path.exists():
            return path
    raise FileExistsError(f"no free benchmark-results-{stamp}-N.md in {directory}")


def fail(message) -> int:
    """Print one ``run.py: error:`` line to stderr; return exit status 1."""
    print(f"run.py: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 1


def main(argv=None):
    args = parse_args(argv)
    missing = missing_mnist()
    if missing and not synthetic_instead_of_mnist():
        return fail(missing)
    if missing:
        print(f"run.py: note: {missing}. Running on synthetic data of MNIST's shapes "
              f"instead (50,000/10,000/10,000 rows of 784 pixels, 10 classes): the "
              f"times are comparable with MNIST's, the accuracies are not.",
              file=sys.stderr)
    if args.check:
        import check
        return check.main()
    if args.output is None:
        args.output = str(fresh_output_path())
    elif not Path(args.output).resolve().parent.is_dir():
        return fail(f"--output {args.output}: its directory does not exist")
    t0, load_start = time.perf_counter(), os.getloadavg()
    results = collect(args)
    results["meta"] = {"machine": machine_info(), "args": args,
                       "elapsed_s": time.perf_counter() - t0,
                       "load": (load_start, os.getloadavg()),
                       "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                       "command": "python benchmarks/run.py " + " ".join(sys.argv[1:])}
    text = render(results)
    print(text)
    Path(args.output).write_text(text)
    print(f"\nwritten to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
