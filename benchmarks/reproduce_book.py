"""Reproduce the MNIST accuracies that Nielsen's book reports, with fastbp.Network.

Each experiment is one of the book's runs (chapter 1: network.py; chapter 3:
network2.py), trained here with ``fastbp.Network.fit`` directly (not the compat layer):
50,000 training images, mini-batches of 10, 30 epochs, the accuracy on the book's
evaluation set measured after every epoch. The table gives the book's figure beside
fastbp's best epoch (the book quotes the best epoch in chapter 1: "95.42 percent at its
peak"), the difference, fastbp's last epoch, and the training time per run (including
the per-epoch evaluation).

    python benchmarks/reproduce_book.py                   # all runs, 1 seed each
    python benchmarks/reproduce_book.py --runs 3 --only ch1-quadratic
    python benchmarks/reproduce_book.py --epochs 5        # quick look (not the book's setup)

The book's runs use one unseeded draw each, so a single run differs from its figure by
the run-to-run spread (several tenths of a percent for these networks); ``--runs``
averages over seeds 0..runs-1 and shows their range.
"""
import argparse
import inspect
import os
import sys
import time
from pathlib import Path

import numpy as np

# As in benchmarks/common.py: the repository root goes at the END of sys.path, so an
# installed fastbp wins and an uninstalled checkout (built in place) still works.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

import fastbp  # noqa: E402
from fastbp.datasets import load_mnist  # noqa: E402

# name: (what the book ran, sizes, cost, init, eta, lmbda, evaluation set, book %)
EXPERIMENTS = {
    "ch1-quadratic": (
        "ch.1 network.py: quadratic, N(0,1) init, η=3.0",
        [784, 30, 10], "quadratic", "normal", 3.0, 0.0, "test", 95.42),
    "ch3-cross-entropy": (
        "ch.3 network2.py: cross-entropy, large init, η=0.5",
        [784, 30, 10], "cross_entropy", "normal", 0.5, 0.0, "test", 95.49),
    "ch3-l2": (
        "ch.3 network2.py: cross-entropy, large init, η=0.5, λ=5.0",
        [784, 30, 10], "cross_entropy", "normal", 0.5, 5.0, "test", 96.49),
    "ch3-l2-100": (
        "ch.3 network2.py: [784,100,10], cross-entropy, large init, η=0.5, λ=5.0",
        [784, 100, 10], "cross_entropy", "normal", 0.5, 5.0, "validation", 97.92),
    # Not one of the book's quoted runs: the same λ=5.0 run with network2.py's default
    # N(0, 1/n_in) initialiser (the book's 96.49% used large_weight_initializer()).
    "ch3-l2-scaled": (
        "variant: ch3-l2 with default (scaled) init",
        [784, 30, 10], "cross_entropy", "scaled_normal", 0.5, 5.0, "test", None),
}


def run(name, data, epochs, seed):
    """Train one experiment once; return (per-epoch accuracies in %, seconds)."""
    _, sizes, cost, init, eta, lmbda, which, _ = EXPERIMENTS[name]
    (X, y), validation, test = data
    evaluation = test if which == "test" else validation
    net = fastbp.Network(sizes, activation="sigmoid", cost=cost, init=init, seed=seed)
    extra = {"l2": lmbda} if lmbda else {}
    start = time.perf_counter()
    history = net.fit(X, y, epochs=epochs, batch_size=10, learning_rate=eta,
                      validation_data=evaluation, seed=seed, **extra)
    seconds = time.perf_counter() - start
    return [100.0 * a for a in history["val_accuracy"]], seconds


def _figure(values):
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.2f}%"
    return f"{mean:.2f}% ({min(values):.2f}–{max(values):.2f})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=os.environ.get("FASTBP_MNIST_DIR"),
                        help="directory of the MNIST IDX files (default: $FASTBP_MNIST_DIR)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (book: 30)")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs per experiment, seeds 0..runs-1 (default 1)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only this experiment (repeatable; one of "
                             f"{', '.join(EXPERIMENTS)})")
    args = parser.parse_args(argv)
    if not args.mnist:
        parser.error("no MNIST directory: pass --mnist DIR or set FASTBP_MNIST_DIR")
    names = args.only or list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; choose from {list(EXPERIMENTS)}")
    if args.epochs < 1 or args.runs < 1:
        parser.error("--epochs and --runs must be at least 1")

    needs_l2 = any(EXPERIMENTS[n][5] for n in names)
    if needs_l2 and "l2" not in inspect.signature(fastbp.Network.fit).parameters:
        parser.error(f"the fastbp imported from {os.path.dirname(fastbp.__file__)} has no "
                     f"fit(..., l2=...); reinstall it (pip install .) or put the checkout "
                     f"first: PYTHONPATH=. python benchmarks/reproduce_book.py")
    data = load_mnist(args.mnist)
    rows = []
    for name in names:
        title, sizes, cost, init, eta, lmbda, which, book = EXPERIMENTS[name]
        peaks, finals, times = [], [], []
        for seed in range(args.runs):
            accuracies, seconds = run(name, data, args.epochs, seed)
            best = int(np.argmax(accuracies))
            peaks.append(accuracies[best])
            finals.append(accuracies[-1])
            times.append(seconds)
            print(f"{name} seed {seed}: peak {accuracies[best]:.2f}% (epoch {best}), "
                  f"final {accuracies[-1]:.2f}%, {seconds:.1f} s", file=sys.stderr,
                  flush=True)
        diff = "—" if book is None else f"{np.mean(peaks) - book:+.2f}"
        rows.append((f"`{name}`: {title}, {which} set", "—" if book is None else f"{book:.2f}%",
                     _figure(peaks), diff, _figure(finals), f"{np.mean(times):.1f}"))

    print(f"\nMNIST, [784, n, 10] sigmoid networks, mini-batch 10, {args.epochs} epochs, "
          f"{args.runs} run(s) per experiment (fastbp {fastbp.__version__} from "
          f"{os.path.dirname(fastbp.__file__)}, float64):\n")
    print("| experiment | book | fastbp (best epoch) | difference | fastbp (last epoch) "
          "| seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
