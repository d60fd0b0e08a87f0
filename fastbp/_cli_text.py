"""Texts of the command line: the longer parts of ``fastbp --help``, and the words
that turn messages of the Python API into messages about options."""
import re

PLOT_HINT = 'pip install matplotlib'

TRAIN_EPILOG = """\
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

PREDICT_EPILOG = """\
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


# The datasets module's messages name its own arguments; the command has options.
_OPTION_WORDS = (("pass download=True", "add --download"),
                 ("with download=True", "with --download"),
                 ("download=True", "--download"))


def option_words(message):
    for words, option in _OPTION_WORDS:
        message = message.replace(words, option)
    return message


# Keyword arguments of Network and fit that `fastbp train` sets from an option.
_OPTION_NAMES = ("learning_rate", "batch_size", "output_activation", "activation", "cost",
                 "init", "optimizer", "momentum", "nesterov", "dropout", "l2", "dtype")


def option_names(message):
    """An argument check's message with the keyword arguments it names written as
    the options that set them (``nesterov=True needs momentum > 0`` becomes
    ``--nesterov needs --momentum > 0``)."""
    for name in _OPTION_NAMES:
        option, word = "--" + name.replace("_", "-"), rf"(?<![\w-]){name}"
        message = re.sub(rf"{word}=True\b", option, message)
        message = re.sub(rf"{word}='([^']*)'", rf"{option} \1", message)
        message = re.sub(rf"{word}=", f"{option} ", message)
        if "_" in name or name in ("momentum", "nesterov", "dropout", "optimizer"):
            message = re.sub(rf"{word}\b", option, message)
    return message
