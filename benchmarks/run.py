"""Benchmark fastbp against NumPy, the book's loop, PyTorch, scikit-learn and JAX.

    python benchmarks/run.py [--quick] [--workloads W1,W2,...] [--threads 1,2]
                             [--output benchmarks/results.md] [--check]

Every (implementation, thread count) runs in a fresh subprocess (worker.py) whose
thread variables are set before anything is imported. See benchmarks/README.md.
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
from common import ALL_WORKLOADS, Sizes, machine_info, thread_env  # noqa: E402
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
    p.add_argument("--output", default=str(HERE / "results.md"))
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


def collect(args):
    """Run every job and gather the results for the report."""
    sizes = Sizes.for_run(args.quick, args.repeats)
    avail = availability(args.impls)
    results = {"gemm": {}, "rows": [], "errors": [], "threadpools": {}, "memory": [],
               "gil": [], "available": avail, "loader": None}
    timed = [w for w in args.workloads if w in ("W1", "W2", "W3", "W4", "scaling")]
    for t in args.threads:
        g = run_worker("gemm", t, [], f"GEMM rate, {t} thread(s)")
        if "error" in g:
            results["errors"].append(("gemm", t, g["error"]))
        else:
            results["gemm"][t] = g["rates"]
        for impl in args.impls:
            if not avail[impl][0] or not timed:
                continue
            if not set(timed) & peers.get(impl).workloads:
                continue
            extra = ["--impl", impl, "--workloads", ",".join(timed),
                     "--repeats", str(args.repeats)] + (["--quick"] if args.quick else [])
            r = run_worker("bench", t, extra, f"{impl}, {t} thread(s)")
            if "error" in r:
                results["errors"].append((impl, t, r["error"]))
                continue
            results["rows"] += r["rows"]
            results["threadpools"][f"{impl} x{t}"] = r["threadpools"]
            results["loader"] = r.get("loader") or results["loader"]
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
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.check:
        import check
        return check.main()
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
