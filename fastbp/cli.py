"""The ``fastbp`` command line: ``fastbp train`` trains a network and reports accuracy.

With no data option it trains on the UCI 8x8 digits that ship with the package (a few
seconds); ``--mnist DIR`` trains the book's [784, 30, 10] network on MNIST.
"""
import argparse
import sys
import time

import numpy as np

from . import __version__, datasets
from ._activations import ACTIVATIONS, OUTPUT_ONLY
from ._costs import COSTS
from .network import INITS, Network

# The digits set has no standard split: a fixed shuffle gives 1,197 training,
# 300 validation and 300 test images, the same on every run.
_DIGITS_SPLIT = (1197, 300)


def _digits_split(dtype):
    X, y = datasets.load_digits(dtype=dtype)
    order = np.random.default_rng(0).permutation(len(y))
    n_train, n_val = _DIGITS_SPLIT
    parts = np.split(order, [n_train, n_train + n_val])
    return tuple((X[rows], y[rows]) for rows in parts)


def _widths(text):
    try:
        widths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive layer widths, got {text!r}")
    return widths


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastbp", description="Feed-forward networks trained by backpropagation.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a network and report per-epoch accuracy",
        description="Train a network by mini-batch SGD and report per-epoch validation "
                    "accuracy and the final test accuracy. Without --mnist it uses the "
                    "8x8 digits shipped with fastbp.")
    train.add_argument("--mnist", metavar="DIR",
                       help="directory with the four MNIST IDX files (gzipped or not)")
    train.add_argument("--hidden", type=_widths, default=[30], metavar="N[,N...]",
                       help="hidden layer widths (default: 30)")
    train.add_argument("--activation", default="sigmoid",
                       choices=sorted(set(ACTIVATIONS) - OUTPUT_ONLY))
    train.add_argument("--output-activation", default=None, choices=sorted(ACTIVATIONS),
                       help="default: the hidden activation (softmax for log_likelihood)")
    train.add_argument("--cost", default="quadratic", choices=sorted(COSTS))
    train.add_argument("--init", default="normal", choices=INITS)
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help="default: 30 on the digits, 3 on MNIST")
    train.add_argument("--batch-size", type=_positive_int, default=10)
    train.add_argument("--learning-rate", type=float, default=3.0)
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", metavar="PATH", help="write the trained network here (.npz)")
    return parser


def train(args):
    if args.mnist is not None:
        name = "MNIST"
        (X, y), validation, test = datasets.load_mnist(args.mnist, dtype=args.dtype)
        epochs = 3 if args.epochs is None else args.epochs
    else:
        name = "UCI digits (8x8)"
        (X, y), validation, test = _digits_split(args.dtype)
        epochs = 30 if args.epochs is None else args.epochs
    n_classes = int(max(y.max(), validation[1].max(), test[1].max())) + 1
    net = Network([X.shape[1], *args.hidden, n_classes], activation=args.activation,
                  output_activation=args.output_activation, cost=args.cost,
                  init=args.init, dtype=args.dtype, seed=args.seed)
    print(f"{name}: {len(y)} training, {len(validation[1])} validation, "
          f"{len(test[1])} test examples; network {net.sizes}, {args.dtype}")
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        history = net.fit(X, y, epochs=1, batch_size=args.batch_size,
                          learning_rate=args.learning_rate, validation_data=validation)
        seconds = time.perf_counter() - start
        print(f"epoch {epoch:3d}/{epochs}  cost {history['train_cost'][0]:.4f}  "
              f"validation accuracy {100 * history['val_accuracy'][0]:6.2f}%  "
              f"({seconds:.2f} s)", flush=True)
    print(f"test accuracy {100 * net.evaluate(*test):.2f}%")
    if args.save:
        net.save(args.save)
        print(f"saved to {args.save}")
    return net


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        train(args)
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as exc:
        parser.exit(2, f"fastbp: error: {exc}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
