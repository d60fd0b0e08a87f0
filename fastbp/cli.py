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
import contextlib
import gzip
import inspect
import math
import os
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np

from . import __version__, datasets
from . import _training
from . import _validation as check
from ._activations import ACTIVATIONS, OUTPUT_ONLY
from ._costs import COSTS
from ._progress import NoBar, ProgressBar
from .network import INITS, Network, load

# The digits set has no standard split: a fixed shuffle (``_split``) gives 1,197
# training, 300 validation and 300 test images, the same on every run.

# An epoch is trained in chunks (so that a progress bar can advance within it) when
# examples x weights reaches this: about a second on one core in float64 with
# mini-batches of 10 ([784, 30, 10] on the 50,000 MNIST images is 1.2e9, a quarter of a
# second). It depends on the sizes only, never on the terminal or the clock, so a run
# gives the same network whether its output goes to a terminal or to a file. Chunking
# costs a few per cent (one extra gather of the rows, per-call checks).
_CHUNK_WORK = 4e9
_CHUNKS_PER_EPOCH = 50

# Thread-count variables of the BLAS libraries NumPy and SciPy may be built with. They
# are read when the library loads, and the library loads as soon as fastbp is imported.
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "BLIS_NUM_THREADS")

_PLOT_HINT = 'pip install "fastbp[plot]"'

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
_non_negative_int = _argument_type(int, check.check_int, minimum=0, maximum=None)
_non_negative_float = _argument_type(float, check.non_negative)
_fraction = _argument_type(float, check.fraction, upper_open=True)


# -- the parser -------------------------------------------------------------------

_TRAIN_EPILOG = """\
data:
  Without --mnist or --data, trains on the UCI 8x8 digits shipped with fastbp.
  --data FILE.npz   arrays X (n, n_features) and y (n,) of integer class labels
                    0..K-1; optionally X_val/y_val and X_test/y_test.
  --data FILE.csv   one example per row, comma-separated numbers, the integer class
                    label in the last column; a first line that is not numeric is
                    taken as a header and skipped (.csv.gz is read too).
  Features are used as given: scale them to about [0, 1] as for the digits and MNIST.
  A missing validation or test set is split off the training rows by a fixed shuffle
  (seed 0, whatever --seed is): one sixth of the rows each, as for the digits.

training:
  --l2 is the book's lambda, with n the number of training examples: the cost gains
  (lambda/2n) sum w^2 and each step decays w by (1 - eta lambda/n).
  The run trains exactly what fastbp.Network(SIZES, ..., init=INIT, seed=SEED)
  .fit(X, y, EPOCHS, BATCH_SIZE, LEARNING_RATE, l2=..., ...) trains, one compiled call
  per epoch.
  Epochs of at least 4e9 examples x weights (about a second or more) are trained in
  50 chunks of whole mini-batches instead, so that a progress bar can advance within
  them on a terminal. The chunking depends on the sizes only, not on the terminal, and
  keeps the shuffled order, the mini-batches, the L2 decay (up to the last bit of
  1 - eta lambda/n) and the momentum and Adam state of an unchunked epoch; only
  --dropout draws its masks per chunk, so they differ from an unchunked run's.

threads:
  --threads N limits the BLAS library to N threads: through threadpoolctl when it is
  installed, otherwise by running the command again in a child process with
  OPENBLAS_NUM_THREADS=N (and OMP_, MKL_, BLIS_NUM_THREADS), since the BLAS library
  reads those only when it loads, and it loads as soon as fastbp is imported.

output:
  One line per epoch (training cost, validation accuracy, time), a progress bar within
  long epochs when standard output is a terminal, then the test accuracy. With --plot,
  the training cost and accuracy are measured over the whole training set after each
  epoch, like the validation ones, and the line shows the training accuracy too.
"""

_PREDICT_EPILOG = """\
DATA is a .npy array, a .npz file (its array X, or its only array) or a .csv file of
comma-separated numbers (a first line that is not numeric is skipped as a header). Rows
are examples; a .csv or .npz row with one column more than the network has inputs is
taken to end with a label, which is ignored, so a file made for `fastbp train --data`
works as it is. Features are cast to the network's dtype.
Prints one predicted class (argmax of the output) per line; or with --proba one row of
class probabilities per example, as scikit-learn's predict_proba gives them (a softmax
output as it is; sigmoid outputs, one-vs-rest, divided by their sum so that each row sums
to 1; other output activations are refused); or with --outputs the output activations
a^L themselves. Rows are comma-separated, with enough digits to round-trip.
"""

def build_parser():
    parser = _Parser(
        prog="fastbp", description="Feed-forward networks trained by backpropagation.",
        epilog="Run `fastbp COMMAND --help` for the options of each command.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a network and report per-epoch accuracy",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_TRAIN_EPILOG,
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
    train.add_argument("--learning-rate", type=float, default=3.0,
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
                            f"{_PLOT_HINT})")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="print only the test accuracy")

    predict = commands.add_parser(
        "predict", help="predict classes with a saved network",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_PREDICT_EPILOG,
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


def _is_header(line):
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return True
    return False


def _read_csv(path):
    """The numbers of a .csv or .csv.gz file as a 2-D float64 array (see --help)."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    with _reading(path, "CSV file"):
        try:
            with opener(path, "rt") as f:
                first = f.readline()
            if not first.strip():
                raise UsageError(f"{path}: empty file")
            header = _is_header(first)
            try:
                table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64,
                                   skiprows=1 if header else 0)
            except ValueError as exc:
                if isinstance(exc, UnicodeDecodeError):
                    raise
                # NumPy counts rows from 0 after the header and blank lines: name the line.
                where = _first_bad_line(path, opener, header) or str(exc)
                raise UsageError(f"{path}: not a table of comma-separated numbers ({where})")
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # A truncated or damaged .gz, or a file named .gz that is not gzip.
            raise UsageError(f"{path}: not a readable gzip file ({exc})") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path}: not a text file of comma-separated numbers "
                             f"({exc.reason} at byte {exc.start})") from None
    if table.size == 0:
        raise UsageError(f"{path}: no rows of data")
    return table


def _first_bad_line(path, opener, header):
    """'line N: ...' for the first line of a CSV file that np.loadtxt cannot read, or None.

    Lines are numbered from 1, as an editor shows them, the header included."""
    width = None
    with opener(path, "rt") as f:
        for number, line in enumerate(f, start=1):
            text = line.split("#", 1)[0].strip()
            if (header and number == 1) or not text:
                continue
            fields = text.split(",")
            for column, field in enumerate(fields, start=1):
                try:
                    float(field)
                except ValueError:
                    return f"line {number}, column {column}: {field.strip()!r} is not a number"
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                return f"line {number}: {len(fields)} columns where the first row has {width}"
    return None


def _labels(values, where):
    values = np.asarray(values)
    if values.ndim != 1:
        raise UsageError(f"{where}: labels must be one-dimensional, got shape {values.shape}")
    if values.dtype.kind == "f":
        if not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise UsageError(f"{where}: labels must be integers (class indices 0..K-1)")
    elif values.dtype.kind not in "iub":
        raise UsageError(f"{where}: labels must be integers, got dtype {values.dtype}")
    if len(values) and values.min() < 0:
        raise UsageError(f"{where}: labels must be class indices >= 0, got {values.min():g}")
    # A layer has fewer than 2**31 neurons; larger floats would not even cast to int64.
    if len(values) and values.max() >= 2**31 - 1:
        raise UsageError(f"{where}: labels must be class indices below 2**31 - 1 (one "
                         f"output per class), got {values.max():g}")
    return values.astype(np.int64)


def _features(values, where, dtype):
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] < 1 or values.shape[0] < 1:
        raise UsageError(f"{where}: features must be a non-empty 2-D array, got shape "
                         f"{values.shape}")
    if values.dtype.kind not in "fiub":
        raise UsageError(f"{where}: features must be numbers, got dtype {values.dtype}")
    values = np.ascontiguousarray(values, dtype=dtype)
    if not np.isfinite(values).all():
        raise UsageError(f"{where}: features contain NaN or infinite values")
    return values


def _npy_array(f, available, where):
    """Read the .npy array at ``f``'s position, where ``available`` bytes remain (the
    size of the file, or of the zip member, magic string and header included).

    The header's shape and dtype are checked before anything of their size is
    allocated: an array of Python objects is refused (fastbp never unpickles data),
    and so is one that declares more bytes than the file holds or than this machine's
    memory.
    """
    begin = f.tell()
    try:
        shape, fortran, dtype = check.read_npy_header(f)
    except check.NpyHeaderError as exc:
        raise UsageError(f"{where}: not a readable .npy array ({exc})") from None
    nbytes = math.prod(shape) * dtype.itemsize
    held = available - (f.tell() - begin)  # what the magic string and header leave
    if nbytes > held:
        raise UsageError(f"{where}: declares shape {shape} of {dtype} ({nbytes:,} "
                         f"bytes), but holds {max(held, 0):,} bytes: truncated or damaged")
    _check_memory(nbytes, f"{where}: an array of shape {shape}")
    data = np.empty(math.prod(shape), dtype=dtype)
    done = check.read_into(f, data, nbytes)
    if done < nbytes:
        raise UsageError(f"{where}: truncated ({done:,} of {nbytes:,} bytes of data)")
    return data.reshape(shape, order="F" if fortran else "C")


@contextlib.contextmanager
def _reading(path, kind):
    """Any failure while reading the file ``path`` becomes a UsageError naming it:
    a damaged file can fail in more ways than a list of exceptions foresees
    (zipfile alone raises BadZipFile, NotImplementedError, RuntimeError, EOFError,
    zlib.error, struct.error)."""
    try:
        yield
    except UsageError:
        raise
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        detail = " ".join(str(exc).split())
        if not isinstance(exc, (ValueError, OSError)):
            detail = f"{type(exc).__name__}: {detail}"
        raise UsageError(f"{path}: not a readable {kind} ({detail})") from None


def _load_npy(path):
    with _reading(path, ".npy file"), open(path, "rb") as f:
        return _npy_array(f, os.path.getsize(path), path)


def _load_npz(path):
    with _reading(path, ".npz file"):
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for info in archive.infolist():
                name = info.filename
                if not name.endswith(".npy") or name[:-4] in arrays:
                    continue
                problem = check.zip_member_problem(info)
                if problem:
                    raise UsageError(f"{path}: member {name} {problem}")
                with archive.open(info) as f:
                    arrays[name[:-4]] = _npy_array(f, info.file_size,
                                                   f"{path}: {name[:-4]}")
            return arrays


def _load_data_file(path, dtype):
    """Train, validation and test sets from a .npz or .csv file (see --help)."""
    if not os.path.isfile(path):
        raise UsageError(f"--data {path}: no such file")
    lower = path.lower()
    given = {}
    if lower.endswith(".npz"):
        arrays = _load_npz(path)
        if "X" not in arrays or "y" not in arrays:
            raise UsageError(f"--data {path}: needs arrays X and y, found "
                             f"{', '.join(sorted(arrays)) or 'none'}")
        for suffix in ("", "_val", "_test"):
            xk, yk = "X" + suffix, "y" + suffix
            if (xk in arrays) != (yk in arrays):
                raise UsageError(f"--data {path}: has {xk if xk in arrays else yk} "
                                 f"without {yk if xk in arrays else xk}")
            if xk in arrays:
                X = _features(arrays[xk], f"{path}: {xk}", dtype)
                y = _labels(arrays[yk], f"{path}: {yk}")
                if len(X) != len(y):
                    raise UsageError(f"{path}: {xk} has {len(X)} rows but {yk} has "
                                     f"{len(y)} labels")
                given[suffix] = (X, y)
    elif lower.endswith((".csv", ".csv.gz")):
        table = _read_csv(path)
        if table.shape[1] < 2:
            raise UsageError(f"--data {path}: needs at least two columns (features, "
                             f"then the label)")
        given[""] = (_features(table[:, :-1], path, dtype),
                     _labels(table[:, -1], f"{path}: last column"))
    else:
        raise UsageError(f"--data {path}: expected a .npz or .csv file")
    widths = {X.shape[1] for X, _ in given.values()}
    if len(widths) > 1:
        raise UsageError(f"--data {path}: the sets have different numbers of features "
                         f"{sorted(widths)}")
    train, validation, test = _split(*given[""], validation="_val" not in given,
                                     test="_test" not in given)
    return train, given.get("_val", validation), given.get("_test", test)


def _load_training_data(args):
    """(name, train, validation, test, default epochs) for ``fastbp train``."""
    if args.mnist is not None:
        try:
            train, validation, test = datasets.load_mnist(
                args.mnist or None, download=args.download, dtype=args.dtype)
        except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
            raise UsageError(f"--mnist: {_option_words(str(exc))}") from None
        return "MNIST", train, validation, test, _MNIST_EPOCHS
    if args.data is not None:
        train, validation, test = _load_data_file(args.data, args.dtype)
        return os.path.basename(args.data), train, validation, test, 30
    return ("UCI digits (8x8)", *_digits_split(args.dtype), 30)


# The datasets module's messages name its own arguments; the command has options.
_OPTION_WORDS = (("pass download=True", "add --download"),
                 ("with download=True", "with --download"),
                 ("download=True", "--download"))


def _option_words(message):
    for words, option in _OPTION_WORDS:
        message = message.replace(words, option)
    return message


def _read_features(path, n_inputs, dtype):
    """Rows of features for ``fastbp predict`` (see its --help)."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file")
    lower = path.lower()
    if lower.endswith(".npy"):
        X = _load_npy(path)
        if X.ndim == 1:
            X = X[None, :]
    elif lower.endswith(".npz"):
        arrays = _load_npz(path)
        if "X" in arrays:
            X = arrays["X"]
        elif len(arrays) == 1:
            X = next(iter(arrays.values()))
        else:
            raise UsageError(f"{path}: no array X among {', '.join(sorted(arrays)) or 'none'}")
    elif lower.endswith((".csv", ".csv.gz")):
        X = _read_csv(path)
    else:
        raise UsageError(f"{path}: expected a .npy, .npz or .csv file")
    if X.ndim == 2 and X.shape[1] == n_inputs + 1 and not lower.endswith(".npy"):
        X = X[:, :-1]  # a trailing label column, as `fastbp train --data` reads
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise UsageError(f"{path}: the network takes {n_inputs} features per row, the file "
                         f"has shape {X.shape}")
    return _features(X, path, dtype)


# -- memory -----------------------------------------------------------------------

# Where Linux tells a process its cgroup and the cgroup's memory limit (v2 and v1).
_PROC_CGROUP = "/proc/self/cgroup"
_CGROUP_ROOT = "/sys/fs/cgroup"
# cgroup v1 writes "no limit" as a number near 2**63.
_NO_CGROUP_LIMIT = 1 << 60


def _memory_bytes():
    """The memory this process may fill, in bytes: the machine's physical memory, or
    its cgroup's limit where that is lower (in a container the kernel kills the
    process at the container's limit, not the host's RAM); None where neither can be
    told."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        physical = None
    limits = [m for m in (physical, _cgroup_memory_limit()) if m]
    return min(limits) if limits else None


def _cgroup_memory_limit():
    """The smallest memory limit of this process's cgroup and the cgroup root as the
    process sees them (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), or None."""
    candidates = []
    try:
        with open(_PROC_CGROUP) as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1].split(","), parts[2].lstrip("/")
        if parts[0] == "0" and parts[1] == "":
            candidates += [os.path.join(_CGROUP_ROOT, path, "memory.max"),
                           os.path.join(_CGROUP_ROOT, "memory.max")]
        elif "memory" in controllers:
            base = os.path.join(_CGROUP_ROOT, "memory")
            candidates += [os.path.join(base, path, "memory.limit_in_bytes"),
                           os.path.join(base, "memory.limit_in_bytes")]
    limits = []
    for candidate in candidates:
        try:
            with open(candidate) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < _NO_CGROUP_LIMIT:
            limits.append(int(text))
    return min(limits) if limits else None


def _check_memory(nbytes, what, hint=""):
    """Refuse, before allocating it, what needs more than all of the machine's memory:
    NumPy would raise MemoryError, or the kernel kill the process as it filled pages."""
    memory = _memory_bytes()
    if memory is not None and nbytes > memory:
        raise UsageError(f"{what} needs {nbytes / 2**30:,.1f} GiB, more than this "
                         f"machine's {memory / 2**30:,.1f} GiB of memory{hint}")


def _check_network_size(sizes, dtype, optimizer, momentum, hint=""):
    """Refuse a network that training could not hold in memory, before it is built."""
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    # The parameters, the copy fit keeps of an epoch's start (to undo it on Ctrl-C)
    # and the initialisation's temporaries, plus the optimiser's moments.
    copies = 3 + (2 if optimizer == "adam" else 1 if momentum else 0)
    _check_memory(n_params * np.dtype(dtype).itemsize * copies,
                  f"training the network {list(sizes)} ({n_params:,} parameters)", hint)


# -- training ---------------------------------------------------------------------

def _check_writable(path, option):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")


def _check_plot_path(path):
    """The image format for ``--plot PATH``: its suffix, if matplotlib can write it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(f"--plot needs matplotlib: {_PLOT_HINT}")
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


def _plot(history, path, title, cost_name):
    """Write an image with two panels, cost and accuracy per epoch, in the format its
    suffix names (.png, .pdf, .svg, .jpg, ...); return the Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax_cost, ax_accuracy = fig.subplots(1, 2)
    epochs = np.arange(1, len(history["train_cost"]) + 1)
    ax_cost.plot(epochs, history["train_cost"], marker=".", label="training")
    ax_cost.plot(epochs, history["val_cost"], marker=".", label="validation")
    ax_cost.set(xlabel="epoch", ylabel=f"cost ({cost_name})", title="Cost")
    ax_accuracy.plot(epochs, 100 * np.asarray(history["train_accuracy"]), marker=".",
                     label="training")
    ax_accuracy.plot(epochs, 100 * np.asarray(history["val_accuracy"]), marker=".",
                     label="validation")
    ax_accuracy.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_cost, ax_accuracy):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format=_check_plot_path(path), dpi=100)
    return fig


def train(args):
    """``fastbp train``: returns the trained network (its ``history`` is the run's)."""
    if args.download and args.mnist is None:
        raise UsageError("--download needs --mnist")
    # Check everything that does not need the data before loading it.
    check.check_positive_float(args.learning_rate, "learning_rate")
    options = dict(batch_size=args.batch_size, learning_rate=args.learning_rate,
                   l2=args.l2, optimizer=args.optimizer, momentum=args.momentum,
                   nesterov=args.nesterov, dropout=args.dropout)
    _training.check_options(**{k: v for k, v in options.items()
                               if k not in ("batch_size", "learning_rate")})
    _check_network_size([1, *args.hidden, 2], args.dtype, args.optimizer, args.momentum,
                        "; use narrower --hidden layers")
    Network([1, *args.hidden, 2], activation=args.activation,
            output_activation=args.output_activation, cost=args.cost, init=args.init,
            dtype=args.dtype)
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
    return net


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
        _plot(net.history, args.plot, f"{name}: network {net.sizes}", args.cost)
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
        raise UsageError(f"{args.model}: no such file")
    X = _read_features(args.data, net.sizes[0], net.dtype)
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

def _rerun_with_thread_variables(argv, threads):
    """Run the command again in a child whose BLAS reads ``threads`` at load time.

    Returns its exit status, or None when the variables are already in effect here.
    """
    if all(os.environ.get(name) == str(threads) for name in _THREAD_VARIABLES):
        return None
    env = dict(os.environ, **{name: str(threads) for name in _THREAD_VARIABLES})
    # Not `python -m fastbp`: that would import whatever fastbp the current directory
    # holds (an unbuilt source tree, say), not necessarily this one.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from fastbp.cli import main; sys.exit(main())")
    return subprocess.call([sys.executable, "-c", code, package_parent, *argv], env=env)


def _blas_limits(threads):
    """A context manager limiting BLAS to ``threads`` threads, or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


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
        limits = _blas_limits(args.threads)
        if limits is None:
            status = _rerun_with_thread_variables(argv, args.threads)
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
