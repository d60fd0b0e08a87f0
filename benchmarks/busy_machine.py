"""fastbp on a busy machine: a fit at the default thread count against the same fit at
1 thread, while other CPU-bound processes take the cores.

    python benchmarks/busy_machine.py [--others N] [--pairs 3] [--settle 150]

Starts ``--others`` processes that spin (default: as many as the cores, so every core
is contended), waits until the 1-minute load average shows them (within a quarter; at
most ``--settle`` seconds: the average rises over about a minute), then times one
epoch of W1 ([784, 30, 10], sigmoid, quadratic, batch 10, lr 3.0, float64) on MNIST
(or on data of its shapes without it, as ``run.py``) in fresh processes, the default
thread count and 1 thread alternated ``--pairs`` times. At 1 thread fastbp's pool and
every BLAS are limited to one thread. Prints each fit's time and a markdown row with
the medians and their ratio. The default may use a second thread where the cores are
free; with them taken it should cost at most what 1 thread costs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import limit_threads_in_process, load_mnist, thread_env  # noqa: E402


def fit(threads, rows):
    """One W1 epoch in this process; prints {"threads", "wall", "cpu"} as JSON."""
    import fastbp
    limiter = limit_threads_in_process(threads) if threads else None  # noqa: F841
    (X, y), _, _, loader = load_mnist("float64")
    X, y = X[:rows], y[:rows]
    net = fastbp.Network([784, 30, 10], seed=0)
    wall, cpu = time.perf_counter(), time.process_time()
    net.fit(X, y, epochs=1, batch_size=10, learning_rate=3.0, seed=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"threads": threads, "wall": wall, "cpu": cpu, "data": loader}))


def run_fit(threads, rows):
    """Time one fit in a fresh process (threads 0: the default count)."""
    env = dict(os.environ, **(thread_env(threads) if threads else {}))
    out = subprocess.run([sys.executable, __file__, "--fit", str(threads),
                          "--rows", str(rows)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--others", type=int, default=os.cpu_count(),
                   help="CPU-bound processes to run beside the fits")
    p.add_argument("--pairs", type=int, default=3, help="fits of each kind, alternated")
    p.add_argument("--settle", type=float, default=150,
                   help="most seconds to wait for the load average to show the others")
    p.add_argument("--rows", type=int, default=50_000, help="training rows (W1: 50,000)")
    p.add_argument("--fit", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.fit is not None:
        fit(args.fit, args.rows)
        return 0
    if args.others < 0 or args.pairs < 1 or args.rows < 10:
        p.error("--others must be >= 0, --pairs >= 1 and --rows >= 10")
    spin = "while True: pass"
    others = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(args.others)]
    try:
        cores = os.cpu_count()
        deadline = time.monotonic() + args.settle
        while os.getloadavg()[0] < args.others - 0.25 and time.monotonic() < deadline:
            time.sleep(1)
        load_before = os.getloadavg()[0]
        fits = {0: [], 1: []}
        for _ in range(args.pairs):
            for threads in (0, 1):
                result = run_fit(threads, args.rows)
                fits[threads].append(result["wall"])
                print(f"{'default' if threads == 0 else '1 thread'}: {result['wall']:.3f} s "
                      f"wall, {result['cpu']:.3f} s CPU", flush=True)
        load_after = os.getloadavg()[0]
    finally:
        for proc in others:
            proc.kill()
            proc.wait()
    default, single = statistics.median(fits[0]), statistics.median(fits[1])
    print(f"\ndata: {result['data']}; {args.others} spinning processes on {cores} cores; "
          f"1-minute load average {load_before:.1f} before the fits, {load_after:.1f} after")
    print("\n| job | default threads, s | 1 thread, s | default / 1 thread |")
    print("|---|---|---|---|")
    print(f"| W1, one epoch of {args.rows:,} rows, {args.others} other CPU-bound processes "
          f"| {default:.3f} ({min(fits[0]):.3f}–{max(fits[0]):.3f}) "
          f"| {single:.3f} ({min(fits[1]):.3f}–{max(fits[1]):.3f}) "
          f"| {default / single:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
