"""The ``fastbp`` command line.

``fastbp train`` trains a network and reports per-epoch progress and the final test
accuracy; ``fastbp predict MODEL DATA`` applies a saved network. ``fastbp COMMAND --help``
documents each. (The benchmark suite is not part of the installed package: in a source
checkout, run ``python benchmarks/run.py``.)

Exit status: 0 on success; 2 for bad arguments or unusable input (a missing, damaged
or malformed file, data or a network too large for this machine's memory, a learning
rate that makes training diverge); 1 when the command cannot run here (a download that
failed, a full disk); 130 when interrupted. Every error is one line on standard error
(``fastbp: error: ...``, or ``fastbp train: error: ...`` for a bad argument), never a
traceback: ``main`` translates every exception (see ``_error``).
"""
import argparse
import inspect
import math
import os
import sys
import time

import numpy as np

from . import datasets
from . import _cli_text, _io, _threadpool, _training
from . import _validation as check
from ._activations import ACTIVATIONS, OUTPUT_ONLY
from ._costs import COSTS
from ._progress import NoBar, ProgressBar
from ._version import __version__
from .network import INITS, Network, load

# An epoch is trained in chunks (so that a progress bar can advance within it) when
# examples x weights reaches this: about a second on one core in float64 with
# mini-batches of 10 ([784, 30, 10] on the 50,000 MNIST images is 1.2e9, a quarter of a
# second). It depends on the sizes only, never on the terminal or the clock, so a run
# gives the same network whether its output goes to a terminal or to a file. Chunking
# costs a few per cent (one extra gather of the rows, per-call checks).
_CHUNK_WORK = 4e9
_CHUNKS_PER_EPOCH = 50

# Network's own defaults (init), so that `fastbp train` trains what Network(sizes, ...)
# trains with the same arguments.
_NETWORK_DEFAULTS = {name: p.default for name, p in
                     inspect.signature(Network.__init__).parameters.items()
                     if p.default is not inspect.Parameter.empty}

# Epochs of `fastbp train --mnist` unless --epochs says otherwise: the book's ch. 1
# network [784, 30, 10] (batch 10, eta 3.0) passes 95% test accuracy by then for every
# seed tried (tests/test_cli.py checks seeds 0-7), in a few seconds.
_MNIST_EPOCHS = 10


class UsageError(Exception):
    """A bad argument or unusable input: exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other error of the
    command (argparse prints the whole usage first, a dozen lines for ``train``)."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {' '.join(message.split())} "
                         f"(see `{self.prog} --help`)\n")
        sys.exit(2)


# -- argument types ---------------------------------------------------------------

def _widths(text):
    parts = text.split(",")
    if any(not part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r} "
                                         f"(an empty width)")
    try:
        widths = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive layer widths, got {text!r}")
    return widths


def _argument_type(parse, check_value, **bounds):
    """An argparse ``type``: the text read by ``parse`` (int or float), then checked by
    ``check_value`` (a check of ``_validation``); either failure is argparse's error."""
    def convert(text):
        try:
            return check_value(parse(text), "the value", **bounds)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return convert


_positive_int = _argument_type(int, check.check_int)
_positive_float = _argument_type(float, check.check_positive_float)
_non_negative_int = _argument_type(int, check.check_int, minimum=0, maximum=None)
_non_negative_float = _argument_type(float, check.non_negative)
_fraction = _argument_type(float, check.fraction, upper_open=True)


# -- the parser -------------------------------------------------------------------

def build_parser():
    parser = _Parser(
        prog="fastbp", description="Feed-forward networks trained by backpropagation.",
        epilog="Run `fastbp COMMAND --help` for the options of each command.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a network and report per-epoch accuracy",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_cli_text.TRAIN_EPILOG,
        description="Train a network by mini-batch gradient descent and report per-epoch\n"
                    "validation accuracy and the final test accuracy. Without --mnist or\n"
                    "--data it uses the 8x8 digits shipped with fastbp.")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--mnist", metavar="DIR", nargs="?", const="",
                        help="MNIST from the four IDX files in DIR (gzipped or not); "
                             "without DIR, from the download cache (~/.cache/fastbp or "
                             "$FASTBP_DATA)")
    source.add_argument("--data", metavar="FILE",
                        help="a .npz or .csv file of features and labels (see below)")
    train.add_argument("--download", action="store_true",
                       help="with --mnist: fetch missing MNIST files (SHA-256 checked)")
    train.add_argument("--hidden", type=_widths, default=[30], metavar="N[,N...]",
                       help="hidden layer widths (default: 30); the input and output "
                            "widths come from the data")
    train.add_argument("--activation", default="sigmoid",
                       choices=sorted(set(ACTIVATIONS) - OUTPUT_ONLY),
                       help="hidden activation (default: sigmoid)")
    train.add_argument("--output-activation", default=None, choices=sorted(ACTIVATIONS),
                       help="default: the hidden activation (softmax for log_likelihood)")
    train.add_argument("--cost", default="quadratic", choices=sorted(COSTS),
                       help="default: quadratic")
    train.add_argument("--init", default=_NETWORK_DEFAULTS["init"], choices=INITS,
                       help=f"default: {_NETWORK_DEFAULTS['init']}, as for Network "
                            f"(normal is N(0, 1), the book's network.py)")
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help=f"default: 30, or {_MNIST_EPOCHS} with --mnist")
    train.add_argument("--batch-size", type=_positive_int, default=10,
                       help="mini-batch size m (default: 10)")
    train.add_argument("--learning-rate", type=_positive_float, default=3.0,
                       help="eta (default: 3.0)")
    train.add_argument("--l2", type=_non_negative_float, default=0.0, metavar="LAMBDA",
                       help="L2 regularisation lambda (default: 0)")
    train.add_argument("--optimizer", default="sgd", choices=_training.OPTIMIZERS,
                       help="default: sgd")
    train.add_argument("--momentum", type=_fraction, default=0.0, metavar="MU",
                       help="momentum for sgd, in [0, 1) (default: 0)")
    train.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    train.add_argument("--dropout", type=_fraction, default=0.0, metavar="P",
                       help="dropout probability of hidden neurons (default: 0)")
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seeds initialisation, shuffling and dropout (default: 0)")
    train.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                       help="BLAS threads (default: the library's own choice)")
    train.add_argument("--save", metavar="PATH", help="write the trained network here (.npz)")
    train.add_argument("--plot", metavar="PATH",
                       help="write the learning curves as an image, in the format of "
                            "PATH's suffix: .png, .pdf, .svg, .jpg, ... (needs matplotlib: "
                            f"{_cli_text.PLOT_HINT})")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="print only the test accuracy")

    predict = commands.add_parser(
        "predict", help="predict classes with a saved network",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_cli_text.PREDICT_EPILOG,
        description="Apply a network saved by `fastbp train --save` (or Network.save) to\n"
                    "the examples in DATA.")
    predict.add_argument("model", metavar="MODEL", help="a saved network (.npz)")
    predict.add_argument("data", metavar="DATA", help="features: .npy, .npz or .csv")
    shown = predict.add_mutually_exclusive_group()
    shown.add_argument("--proba", action="store_true",
                       help="print class probabilities (rows sum to 1) instead of classes")
    shown.add_argument("--outputs", action="store_true",
                       help="print the output activations a^L instead of classes")
    predict.add_argument("--output", "-o", metavar="FILE",
                         help="write to FILE instead of standard output")
    predict.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                         help="BLAS threads (see `fastbp train --help`)")

    parser.commands = {"train": train, "predict": predict}
    return parser


# -- data -------------------------------------------------------------------------

def _digits_split(dtype):
    X, y = datasets.load_digits(dtype=dtype)
    return _split(X, y, validation=True, test=True)


def _split(X, y, validation, test):
    """Split off a validation and/or a test set: a fixed shuffle, one sixth of rows each.

    The digits set has no standard split: this gives it 1,197 training, 300
    validation and 300 test images, the same on every run.

    Returns (train, validation or None, test or None), each an (X, y) pair, training
    rows first in the shuffled order (for the digits: 1,197 / 300 / 300).
    """
    n = len(y)
    held = max(1, int(n / 6 + 0.5))
    n_train = n - held * (validation + test)
    if n_train < 1:
        raise UsageError(f"{n} examples are too few to split off validation and test "
                         f"sets; give more, or X_val/y_val and X_test/y_test")
    order = np.random.default_rng(0).permutation(n)
    bounds = [n_train, n_train + held * validation]
    rows = np.split(order, bounds)
    parts = [(X[r], y[r]) for r in rows]
    return parts[0], parts[1] if validation else None, parts[2] if test else None


def _load_data_file(path, dtype, hidden):
    """Train, validation and test sets from a .npz or .csv file (see --help)."""
    try:
        given = _io.read_data_sets(path, dtype, hidden[0])
    except _io.DataFileError as exc:
        raise UsageError(f"--data {exc}") from None
    train, validation, test = _split(
        *given[""], validation="_val" not in given, test="_test" not in given)
    return train, given.get("_val", validation), given.get("_test", test)


def _load_training_data(args):
    """(name, train, validation, test, default epochs) for ``fastbp train``."""
    if args.mnist is not None:
        try:
            train, validation, test = datasets.load_mnist(
                args.mnist or None, download=args.download, dtype=args.dtype)
        except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
            raise UsageError(f"--mnist: {_cli_text.option_words(str(exc))}") from None
        return "MNIST", train, validation, test, _MNIST_EPOCHS
    if args.data is not None:
        train, validation, test = _load_data_file(args.data, args.dtype, args.hidden)
        return os.path.basename(args.data), train, validation, test, 30
    return ("UCI digits (8x8)", *_digits_split(args.dtype), 30)


# -- memory -----------------------------------------------------------------------

def _check_network_size(sizes, dtype, optimizer, momentum, hint=""):
    """Refuse a network that training could not hold in memory, before it is built."""
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    # The parameters, the copy fit keeps of an epoch's start (to undo it on Ctrl-C)
    # and the initialisation's temporaries, plus the optimiser's moments.
    copies = 3 + (2 if optimizer == "adam" else 1 if momentum else 0)
    _io.check_memory(n_params * np.dtype(dtype).itemsize * copies,
                     f"training the network {list(sizes)} ({n_params:,} parameters)", hint)


# -- training ---------------------------------------------------------------------

def _check_writable(path, option):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")
    try:
        _io.writable_target(path)   # a FIFO or device: refused now, not after training
    except ValueError:
        raise UsageError(f"{option} {path}: exists and is not a regular file") from None


def _check_plot_path(path):
    """The image format for ``--plot PATH``: its suffix, if matplotlib can write it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(f"--plot needs matplotlib: {_cli_text.PLOT_HINT}")
    suffix = os.path.splitext(path)[1][1:].lower()
    formats = Figure().canvas.get_supported_filetypes()
    if suffix not in formats:
        raise UsageError(f"--plot {path}: name the image format by the suffix, one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    return suffix


def _chunk_size(sizes, n, batch_size):
    """Examples per fit call within an epoch: n, or whole mini-batches for long epochs."""
    work = n * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    batch_size = min(batch_size, n)
    if work < _CHUNK_WORK:
        return n
    batches = math.ceil(n / batch_size)
    return min(n, math.ceil(batches / _CHUNKS_PER_EPOCH) * batch_size)




def train(args):
    """``fastbp train``: returns the trained network (its ``history`` is the run's)."""
    if args.download and args.mnist is None:
        raise UsageError("--download needs --mnist")
    # Check everything that does not need the data before loading it.
    options = dict(batch_size=args.batch_size, learning_rate=args.learning_rate,
                   l2=args.l2, optimizer=args.optimizer, momentum=args.momentum,
                   nesterov=args.nesterov, dropout=args.dropout)
    try:
        _training.check_options(**{k: v for k, v in options.items()
                                   if k not in ("batch_size", "learning_rate")})
        _check_network_size([1, *args.hidden, 2], args.dtype, args.optimizer,
                            args.momentum, "; use narrower --hidden layers")
        Network([1, *args.hidden, 2], activation=args.activation,
                output_activation=args.output_activation, cost=args.cost,
                init=args.init, dtype=args.dtype)
    except (TypeError, ValueError) as exc:
        raise UsageError(_cli_text.option_names(str(exc))) from None
    for path, option in ((args.save, "--save"), (args.plot, "--plot")):
        if path:
            _check_writable(path, option)
    if args.plot:
        _check_plot_path(args.plot)

    name, (X, y), validation, test, epochs = _load_training_data(args)
    epochs = epochs if args.epochs is None else args.epochs
    n_classes = int(max(y.max(), validation[1].max(), test[1].max())) + 1
    sizes = [X.shape[1], *args.hidden, n_classes]
    _check_network_size(sizes, args.dtype, args.optimizer, args.momentum,
                        f"; {name}: its largest label, {n_classes - 1}, asks for "
                        f"{n_classes:,} outputs, one per class 0..{n_classes - 1}"
                        if n_classes > max(sizes[:-1]) else "; use narrower --hidden layers")
    net = Network([X.shape[1], *args.hidden, n_classes], activation=args.activation,
                  output_activation=args.output_activation, cost=args.cost,
                  init=args.init, dtype=args.dtype, seed=args.seed)
    say = (lambda *a, **k: None) if args.quiet else print
    threads = "" if args.threads is None else \
        f", {args.threads} BLAS thread{'s' * (args.threads > 1)}"
    say(f"{name}: {len(y)} training, {len(validation[1])} validation, "
        f"{len(test[1])} test examples; network {net.sizes}, {args.dtype}{threads}",
        flush=True)
    show_bar = not args.quiet and _is_terminal(sys.stdout)
    lines = _EpochLines(epochs, show_bar, args.plot, say)
    chunk = _chunk_size(net.sizes, len(y), options["batch_size"])
    rest = {k: v for k, v in options.items() if k not in ("batch_size", "learning_rate")}
    # Ctrl-C leaves the network as after the last whole epoch, with its history (the
    # loop puts back an interrupted epoch).
    try:
        try:
            _training.train(net, X, y, epochs, options["batch_size"],
                            options["learning_rate"], validation_data=validation,
                            options=_training.check_options(
                                monitor_training=bool(args.plot), **rest),
                            chunk=chunk if chunk < len(y) else None, observers=[lines])
        finally:
            lines.close()
            net.history = {key: net.history.get(key, []) for key in
                           ["train_cost", "val_cost", "val_accuracy"]
                           + (["train_accuracy"] if args.plot else [])}
        print(f"test accuracy {100 * net.evaluate(*test):.2f}%", flush=True)
    except KeyboardInterrupt:
        raise _Interrupted(net, name, len(net.history["train_cost"]), epochs,
                           args) from None
    for line in _write_outputs(net, name, args):
        say(line)
    _warn_if_constant(net.history["val_accuracy"][-1], validation[1])
    return net


def _warn_if_constant(accuracy, labels):
    """Warn when the validation accuracy is no better than always answering the most
    frequent class: what a learning rate too large gives when the neurons saturate
    (the cost stays finite, so the driver does not report divergence)."""
    common = np.bincount(labels).max() / len(labels)
    if accuracy <= common:
        _fail(0, f"validation accuracy {100 * accuracy:.2f}% is no better than always "
                 f"answering the most frequent class ({100 * common:.2f}%); a "
                 f"--learning-rate too large saturates the neurons", "fastbp: warning: ")



class _EpochLines(_training.Observer):
    """The progress bar of each epoch and the line that reports it."""

    def __init__(self, epochs, show_bar, plot, say):
        self.epochs, self.show_bar, self.plot, self.say = epochs, show_bar, plot, say
        self.bar = NoBar()

    def epoch_start(self, run, epoch):
        self.start = time.perf_counter()
        self.bar = ProgressBar(run.n, sys.stdout,
                               prefix=f"epoch {epoch:3d}/{self.epochs}") \
            if self.show_bar else NoBar()

    def progress(self, run, done):
        self.bar.update(done)

    def close(self):
        self.bar.close()

    def epoch_end(self, run, epoch):
        self.close()
        seconds = time.perf_counter() - self.start
        history = run.history
        self.say(f"epoch {epoch:3d}/{self.epochs}  cost {history['train_cost'][-1]:.4f}  "
                 + (f"training accuracy {100 * history['train_accuracy'][-1]:6.2f}%  "
                    if self.plot else "")
                 + f"validation accuracy {100 * history['val_accuracy'][-1]:6.2f}%  "
                 f"({seconds:.2f} s)", flush=True)
        return False


def _write_outputs(net, name, args):
    """Write --save and --plot; return the lines that say so."""
    lines = []
    if args.save:
        net.save(args.save)
        lines.append(f"saved to {args.save}")
    if args.plot:
        _io.write_curves(net.history, args.plot, _check_plot_path(args.plot),
                         f"{name}: network {net.sizes}", args.cost)
        lines.append(f"learning curves in {args.plot}")
    return lines


class _Interrupted(Exception):
    """Ctrl-C during ``fastbp train``: the network as after its last whole epoch."""

    def __init__(self, net, name, done, epochs, args):
        super().__init__(f"interrupted after {done} of {epochs} epochs")
        # Not self.args: BaseException keeps its own arguments there.
        self.net, self.name, self.done, self.options = net, name, done, args

    def finish(self):
        """Write what was trained so far (if anything, and asked for); the message."""
        message = str(self)
        args = self.options
        if not (args.save or args.plot):
            return message
        if not self.done:
            return f"{message}; nothing written to {args.save or args.plot}"
        # A second Ctrl-C while writing leaves no partial file: save is atomic.
        written = _write_outputs(self.net, self.name, args)
        return f"{message}; the network after epoch {self.done}: " + "; ".join(written)


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- predict ----------------------------------------------------------------------

def predict(args):
    """``fastbp predict``: classes (or outputs) of a saved network, one row per line."""
    if args.output:
        _check_writable(args.output, "--output")
    try:
        net = load(args.model)
    except FileNotFoundError:
        raise UsageError(f"MODEL {args.model}: no such file") from None
    except ValueError as exc:
        if _is_network_file(args.data):
            raise UsageError(f"MODEL {args.model} is not a fastbp network file, but DATA "
                             f"{args.data} is: swapped? The network comes first: "
                             f"`fastbp predict MODEL DATA`") from None
        raise UsageError("MODEL " + str(exc).removeprefix("path: ")) from None
    X = _io.read_features(args.data, net.sizes[0], net.dtype)
    if args.proba or args.outputs:
        rows = net.feedforward(X)
        if args.proba:
            rows = _probabilities(rows, net.output_activation)
        digits = 17 if net.dtype == np.float64 else 9
        text = "".join(",".join(f"{v:.{digits}g}" for v in row) + "\n" for row in rows)
    else:
        text = "".join(f"{c}\n" for c in net.predict(X))
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _is_network_file(path):
    """Whether ``path`` names a network file ``fastbp.load`` reads."""
    try:
        return load(path) is not None
    except (ValueError, TypeError, OSError, MemoryError):
        return False


def _probabilities(outputs, output_activation):
    """Class probabilities from a^L, as scikit-learn's predict_proba gives them.

    A softmax output already sums to 1. Sigmoid outputs are one-vs-rest probabilities,
    normalised to sum to 1 as scikit-learn does for one-vs-rest classifiers (such as
    LogisticRegression(multi_class="ovr")); an all-zero row gives equal probabilities.
    Other output activations are not probabilities at all."""
    if output_activation == "softmax":
        return outputs
    if output_activation != "sigmoid":
        raise UsageError(f"--proba needs a sigmoid or softmax output layer, this network's "
                         f"is {output_activation}; --outputs prints a^L as it is")
    total = outputs.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        proba = outputs / total
    proba[(total == 0).ravel()] = 1.0 / outputs.shape[1]
    return proba


# -- threads and main -------------------------------------------------------------

def _run(args):
    if args.command == "train":
        train(args)
    else:
        predict(args)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # argparse would blame `fastbp`, not the command they were given to
            parser.commands[args.command].error(
                f"unrecognized arguments: {' '.join(extra)}")
        if args.threads is None:
            return _run(args)
        limits = _threadpool.blas_limits(args.threads)
        if limits is None:
            status = _threadpool.rerun_with_thread_variables(argv, args.threads)
            return _run(args) if status is None else status
        with limits:
            return _run(args)
    except BrokenPipeError:  # pragma: no cover - `fastbp predict ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except _Interrupted as interrupted:
        try:
            message = interrupted.finish()
        except KeyboardInterrupt:
            message = f"{interrupted}; interrupted again while writing the outputs"
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            message = f"{interrupted}; could not write the outputs: {_error(exc)[1]}"
        return _fail(130, message, "fastbp: ")
    except KeyboardInterrupt:
        return _fail(130, "interrupted", "fastbp: ")
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        return _fail(*_error(exc))


# Errors that mean the command cannot run here, rather than that its input is unusable.
_ENVIRONMENT_ERRORS = (OSError,)
_INPUT_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError,
                    PermissionError)


def _error(exc):
    """(exit status, one-line message) for an exception that ends a command.

    The one place errors become exit statuses: 2 for bad arguments and unusable input
    (whatever the exception, a file that fails in an unforeseen way included), 1 when
    the command cannot run here (a failed download, a full disk).
    """
    if isinstance(exc, (UsageError, ValueError, TypeError, FloatingPointError)) or \
            isinstance(exc, _INPUT_OS_ERRORS):
        return 2, str(exc)
    if isinstance(exc, _ENVIRONMENT_ERRORS):
        return 1, str(exc)
    if isinstance(exc, MemoryError):
        return 2, f"not enough memory ({exc or 'MemoryError'})"
    if isinstance(exc, RecursionError):
        return 2, f"input nested too deeply to read ({exc})"
    # Unforeseen: name the exception, whose message alone may not make sense.
    return 2, f"{type(exc).__name__}: {exc}"


def _fail(status, message, prefix="fastbp: error: "):
    message = " ".join(str(message).split())
    sys.stdout.flush()
    sys.stderr.write(f"{prefix}{message}\n")
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
