"""The interfaces of the book's own code, running on fastbp.

Michael Nielsen's *Neural Networks and Deep Learning* trains its networks with three
small modules: ``network.py`` (chapter 1), ``network2.py`` (chapter 3) and
``mnist_loader.py``. This module offers the same classes and functions with the same
arguments, data layout (lists of ``(x, y)`` pairs of column vectors), return values and
printed output, but every forward pass, backward pass and SGD step runs in the compiled
``fastbp.Network`` underneath. A script written for the book runs unchanged once its
imports point here::

    from fastbp.book import mnist_loader, network, network2

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper("mnist/")
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
            monitor_evaluation_accuracy=True)

``fastbp.book.Network`` is network.py's class, ``fastbp.book.Network2`` network2.py's;
the namespaces ``fastbp.book.network``, ``fastbp.book.network2`` and
``fastbp.book.mnist_loader`` hold them under the book's own names (also importable as
``import fastbp.book.network2 as network2``).

What is the same as the book
    * Parameters are drawn like the book draws them: biases first, then weights, from
      NumPy's global random state (``np.random.seed(s)`` before ``Network(sizes)`` gives
      the book's initial parameters, bit for bit), or from ``np.random.RandomState(seed)``
      when the ``seed=`` keyword is given.
    * Each epoch shuffles the training examples with ``random.shuffle`` (Python's global
      ``random`` state, or ``random.Random(seed)``), applied cumulatively to the training
      list exactly as the book's ``random.shuffle(training_data)`` does; the mini-batches
      are consecutive slices of that order and the last one may be shorter. So with the
      same seeds of ``np.random`` and ``random``, the book's code and this module visit
      the same mini-batches and reach the same parameters up to floating-point rounding.
    * Updates: w <- (1 - eta*lmbda/n) w - (eta/m) sum_x dC_x/dw, b <- b - (eta/m) sum_x
      dC_x/db, n = len(training_data), m = len(mini_batch).
    * ``total_cost`` adds 0.5*(lmbda/len(data))*sum ||w||^2 with the size of the data set
      being measured, as network2.py does (also for the evaluation data).
    * ``save``/``load`` use network2.py's JSON format (``sizes``, ``weights``, ``biases``
      as nested lists with (n, 1) biases, ``cost`` as the class name), so files move
      freely between the book's code and this module.

Where it differs (on purpose)
    * ``SGD`` does not shuffle the caller's list in place (the Python 3 ports of the
      book, which start with ``training_data = list(training_data)``, behave the same).
    * A run whose cost becomes NaN or infinite stops with ``FloatingPointError``
      (fastbp's check) instead of carrying on with NaN parameters.
    * ``accuracy``/``evaluate`` and ``total_cost`` accept either form of ``y`` (an integer
      label or a one-hot column) whatever ``convert`` says; the flag is accepted for
      compatibility and does not change the result.
    * ``biases`` returns (n, 1) views of fastbp's (n,) arrays, and ``weights`` the arrays
      themselves: editing their elements in place changes the network, assigning a new
      list to ``net.weights``/``net.biases`` (as the book's code does) copies it in, but
      replacing one element of the returned list does nothing.
"""
import json
import os
import random
import sys
import types

import numpy as np

from . import _training
from .datasets import load_mnist
from ._validation import aligned
from .network import Network as _FastNetwork

__all__ = ["Network", "Network2", "QuadraticCost", "CrossEntropyCost", "load",
           "load_data", "load_data_wrapper", "vectorized_result", "sigmoid",
           "sigmoid_prime", "network", "network2", "mnist_loader"]

# network.py's per-epoch lines. The original prints "Epoch {0}: {1} / {2}"; the widely
# used Python 3 port (and this module) print "Epoch {} : {} / {}".
EPOCH_TEST_FORMAT = "Epoch {} : {} / {}"
EPOCH_DONE_FORMAT = "Epoch {} complete"

_DTYPE = np.dtype(np.float64)


# -- the book's module-level functions ------------------------------------------------

def sigmoid(z):
    """The sigmoid function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


def vectorized_result(j):
    """A (10, 1) unit vector with 1.0 in position j (a digit as the desired output)."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


# -- network2.py's cost classes --------------------------------------------------------

class QuadraticCost:
    """C_x = 0.5 ||a - y||^2 (fastbp's ``cost="quadratic"``)."""

    fastbp_name = "quadratic"

    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C_x = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (fastbp's ``cost="cross_entropy"``)."""

    fastbp_name = "cross_entropy"

    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


_COST_CLASSES = {cls.__name__: cls for cls in (QuadraticCost, CrossEntropyCost)}


def _fastbp_cost(cost):
    name = getattr(cost, "fastbp_name", None)
    if name is None or _COST_CLASSES.get(getattr(cost, "__name__", None)) is not cost:
        raise ValueError(f"cost must be fastbp.book.QuadraticCost or "
                         f"fastbp.book.CrossEntropyCost, got {cost!r} (a custom cost "
                         f"class cannot run in the compiled engine)")
    return name


# -- data conversion -----------------------------------------------------------------

class _Data:
    """A list of the book's (x, y) pairs as fastbp arrays, converted once.

    X is (n, n_in); Y is either integer labels (n,) (``labels`` True: the book's
    validation/test form) or (n, n_out) targets (the training form).
    """

    __slots__ = ("X", "Y", "labels", "n")

    def __init__(self, data, n_in, n_out, name):
        pairs = data if isinstance(data, list) else list(data)
        n = len(pairs)
        if n == 0:
            raise ValueError(f"{name} is empty")
        X = np.empty((n, n_in), dtype=_DTYPE)
        first_y = pairs[0][1]
        labels = np.ndim(first_y) == 0
        Y = np.empty(n, dtype=np.intp) if labels else np.empty((n, n_out), dtype=_DTYPE)
        try:
            for i, (x, y) in enumerate(pairs):
                X[i] = np.reshape(x, -1)
                if labels:
                    Y[i] = y
                else:
                    Y[i] = np.reshape(y, -1)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name}[{i}] is not an (x, y) pair like the first one: x must hold "
                f"{n_in} values and y {'an integer label' if labels else f'{n_out} values'}"
                f" ({type(exc).__name__}: {exc})") from None
        self.X, self.Y, self.labels, self.n = X, Y, labels, n

    def label_array(self):
        return self.Y if self.labels else self.Y.argmax(axis=1)


def _fit_accepts_l2():
    import inspect
    return "l2" in inspect.signature(_FastNetwork.fit).parameters


# -- network.py ----------------------------------------------------------------------

class Network:
    """network.py's ``Network``: sigmoid neurons, quadratic cost, N(0, 1) parameters.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input first.
    seed : int or None, keyword only
        None (the book's behaviour) draws the initial parameters from NumPy's global
        random state and shuffles with Python's global ``random``; an int uses
        ``np.random.RandomState(seed)`` and ``random.Random(seed)`` of this network's own.
    """

    _cost_class = QuadraticCost

    def __init__(self, sizes, *, seed=None):
        self.num_layers = len(sizes)
        self.sizes = sizes
        if seed is None:
            self._np_random, self._random = np.random, random
        else:
            self._np_random = np.random.RandomState(seed)
            self._random = random.Random(seed)
        self._net = _FastNetwork(sizes, activation="sigmoid",
                                 cost=_fastbp_cost(self._cost_class), init="normal",
                                 dtype="float64", seed=0)
        self._draw_parameters(scaled=False)

    # -- parameters in the book's shapes ----------------------------------------------

    def _draw_parameters(self, scaled):
        """The book's draws, in its order: all biases, then all weights."""
        rs = self._np_random
        biases = [rs.randn(y, 1) for y in self.sizes[1:]]
        weights = [rs.randn(y, x) / (np.sqrt(x) if scaled else 1.0)
                   for x, y in zip(self.sizes[:-1], self.sizes[1:])]
        self.biases = biases
        self.weights = weights

    @property
    def weights(self):
        """w^l, shape (n_l, n_{l-1}): fastbp's live arrays."""
        return list(self._net.weights)

    @weights.setter
    def weights(self, value):
        value = [aligned(w, _DTYPE) for w in value]
        self._net.weights = value

    @property
    def biases(self):
        """b^l as the book's (n_l, 1) column vectors (views of fastbp's arrays)."""
        return [b.reshape(-1, 1) for b in self._net.biases]

    @biases.setter
    def biases(self, value):
        value = list(value)
        converted = []
        for l, (b, n) in enumerate(zip(value, self.sizes[1:])):
            b = aligned(b, _DTYPE)
            if b.shape not in ((n, 1), (n,)):
                raise ValueError(f"biases[{l}] must have shape ({n}, 1), got {b.shape}")
            converted.append(b.reshape(n))
        if len(value) != len(self.sizes) - 1:
            raise ValueError(f"biases: the network has {len(self.sizes) - 1} layers of "
                             f"parameters, got {len(value)} arrays")
        self._net.biases = converted

    @property
    def fastbp_network(self):
        """The ``fastbp.Network`` doing the work (shares the parameters)."""
        return self._net

    # -- the book's methods --------------------------------------------------------------

    def feedforward(self, a):
        """Return the output for input ``a``: a column vector (n_0, 1) gives (n_L, 1);
        a matrix (n_0, m) of m column examples gives (n_L, m)."""
        a = np.asarray(a, dtype=_DTYPE)
        if a.ndim == 1:
            return self._net.feedforward(a).reshape(-1, 1)
        if a.ndim != 2:
            raise ValueError(f"a must be a column vector (n_0, 1) or a matrix (n_0, m), "
                             f"got shape {a.shape}")
        if a.shape[1] == 1:
            return self._net.feedforward(a[:, 0]).reshape(-1, 1)
        return self._net.feedforward(a.T).T

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, *,
            seed=None):
        """Train by mini-batch SGD, printing a line per epoch as network.py does.

        ``training_data`` is a list (or iterable) of (x, y) pairs, x (n_0, 1) and y
        (n_L, 1); ``test_data`` pairs have integer labels y. ``seed`` (keyword only)
        seeds this call's shuffling with ``random.Random(seed)``.
        """
        training = _Data(training_data, self.sizes[0], self.sizes[-1], "training_data")
        test = None
        if test_data is not None:
            test_data = test_data if isinstance(test_data, list) else list(test_data)
            if test_data:
                test = _Data(test_data, self.sizes[0], self.sizes[-1], "test_data")
        rng = self._random if seed is None else random.Random(seed)

        def each(j):
            if test is not None:
                print(EPOCH_TEST_FORMAT.format(j, self._correct(test), test.n))
            else:
                print(EPOCH_DONE_FORMAT.format(j))
        self._epochs(training, epochs, mini_batch_size, eta, 0.0, rng, each)

    def update_mini_batch(self, mini_batch, eta):
        """One gradient step on ``mini_batch`` (a list of (x, y) pairs)."""
        self._step(mini_batch, eta, 0.0, 1)

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of C_x for one example, in the
        shapes of ``biases`` ((n_l, 1)) and ``weights``."""
        X = np.asarray(x, dtype=_DTYPE).reshape(1, -1)
        if np.ndim(y) == 0:
            Y = np.array([y], dtype=np.intp)
        else:
            Y = np.asarray(y, dtype=_DTYPE).reshape(1, -1)
        nabla_b, nabla_w = self._net.backprop(X, Y)
        return [nb.reshape(-1, 1) for nb in nabla_b], nabla_w

    def evaluate(self, test_data):
        """Return how many examples of ``test_data`` the network classifies correctly."""
        return self._correct(_Data(test_data, self.sizes[0], self.sizes[-1], "test_data"))

    def cost_derivative(self, output_activations, y):
        """dC_x/da for the quadratic cost."""
        return output_activations - y

    def __repr__(self):
        return f"{type(self).__name__}({self.sizes!r})"

    # -- internals -------------------------------------------------------------------

    def _correct(self, data):
        return int(np.count_nonzero(self._net.predict(data.X) == data.label_array()))

    def _step(self, mini_batch, eta, lmbda, n):
        data = _Data(mini_batch, self.sizes[0], self.sizes[-1], "mini_batch")
        nabla_b, nabla_w = self._net.backprop(data.X, data.Y)  # mean over the batch
        decay = 1.0 - eta * (lmbda / n) if lmbda else 1.0
        for w, nw in zip(self._net.weights, nabla_w):
            if decay != 1.0:
                w *= decay
            w -= eta * nw
        for b, nb in zip(self._net.biases, nabla_b):
            b -= eta * nb

    def _epochs(self, training, epochs, mini_batch_size, eta, lmbda, rng, each):
        """Run ``epochs`` epochs in the book's order, calling ``each(j)`` after epoch
        j; a True answer stops.

        The book shuffles its training list in place every epoch; ``random.shuffle``
        applied to ``list(range(n))`` makes the same swaps, so composing those index
        permutations gives the book's order, which fastbp's loop trains on.
        """
        n = training.n
        extra = {}
        if lmbda:
            if not _fit_accepts_l2():
                raise NotImplementedError(
                    "lmbda > 0 needs fastbp.Network.fit(..., l2=...), which this build "
                    "of fastbp does not have")
            extra["l2"] = float(lmbda)
        epochs = len(range(epochs))
        if not epochs:
            return
        order = np.arange(n, dtype=np.intp)

        def book_order(_):
            nonlocal order
            perm = list(range(n))
            rng.shuffle(perm)
            order = order[np.asarray(perm, dtype=np.intp)]
            return order

        _training.train(self._net, training.X, training.Y, epochs, mini_batch_size, eta,
                        options=_training.check_options(
                            callback=lambda net, epoch, history: each(epoch - 1),
                            **extra),
                        order=book_order)


# -- network2.py ---------------------------------------------------------------------

class Network2(Network):
    """network2.py's ``Network``: choice of cost, L2 regularisation, monitoring, JSON
    save/load, and N(0, 1/n_in) weights by default.

    Parameters
    ----------
    sizes : list of int
    cost : QuadraticCost or CrossEntropyCost (the classes, as in the book)
    seed : int or None, keyword only
        As for ``Network``.
    """

    def __init__(self, sizes, cost=CrossEntropyCost, *, seed=None):
        self._cost_class = cost
        _fastbp_cost(cost)
        self.num_layers = len(sizes)
        self.sizes = sizes
        if seed is None:
            self._np_random, self._random = np.random, random
        else:
            self._np_random = np.random.RandomState(seed)
            self._random = random.Random(seed)
        self._net = _FastNetwork(sizes, activation="sigmoid", cost=_fastbp_cost(cost),
                                 init="scaled_normal", dtype="float64", seed=0)
        self.default_weight_initializer()

    @property
    def cost(self):
        """The cost class; assigning another one keeps the parameters."""
        return self._cost_class

    @cost.setter
    def cost(self, cost):
        name = _fastbp_cost(cost)
        if name != self._net.cost:
            weights, biases = self._net.weights, self._net.biases
            self._net = _FastNetwork(self.sizes, activation="sigmoid", cost=name,
                                     init=self._net.init, dtype="float64", seed=0)
            self._net.weights, self._net.biases = weights, biases
        self._cost_class = cost

    def default_weight_initializer(self):
        """Weights from N(0, 1/n_in), biases from N(0, 1) (network2.py's default)."""
        self._draw_parameters(scaled=True)

    def large_weight_initializer(self):
        """Weights and biases from N(0, 1), as in chapter 1."""
        self._draw_parameters(scaled=False)

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False, monitor_training_cost=False,
            monitor_training_accuracy=False, early_stopping_n=0, *, seed=None):
        """Train by mini-batch SGD with L2 regularisation ``lmbda``, as network2.py does.

        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``: per-epoch lists (costs as floats, accuracies as counts of
        correct examples), empty unless their monitor flag is set. ``early_stopping_n``
        (from the book's later network2.py) stops after that many epochs without a new
        best evaluation accuracy; 0 turns it off.
        """
        training = _Data(training_data, self.sizes[0], self.sizes[-1], "training_data")
        evaluation = None
        if evaluation_data is not None:
            evaluation_data = (evaluation_data if isinstance(evaluation_data, list)
                               else list(evaluation_data))
            if evaluation_data:
                evaluation = _Data(evaluation_data, self.sizes[0], self.sizes[-1],
                                   "evaluation_data")
        if evaluation is None and (monitor_evaluation_cost or monitor_evaluation_accuracy
                                   or early_stopping_n):
            raise ValueError("monitoring the evaluation data (or early stopping) needs "
                             "evaluation_data")
        if early_stopping_n and not monitor_evaluation_accuracy:
            raise ValueError("early_stopping_n needs monitor_evaluation_accuracy=True")
        n = training.n
        rng = self._random if seed is None else random.Random(seed)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        stale = {"best": 0, "epochs": 0}

        def each(j):
            print("Epoch %s training complete" % j)
            if monitor_training_cost:
                cost = self._total_cost(training, lmbda)
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                accuracy = self._correct(training)
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost:
                cost = self._total_cost(evaluation, lmbda)
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(cost))
            if monitor_evaluation_accuracy:
                accuracy = self._correct(evaluation)
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(accuracy, evaluation.n))
            print()
            if early_stopping_n > 0:
                if evaluation_accuracy[-1] > stale["best"]:
                    stale["best"], stale["epochs"] = evaluation_accuracy[-1], 0
                else:
                    stale["epochs"] += 1
                return stale["epochs"] == early_stopping_n
            return False
        self._epochs(training, epochs, mini_batch_size, eta, lmbda, rng, each)
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step on ``mini_batch`` with weight decay (1 - eta*lmbda/n)."""
        self._step(mini_batch, eta, lmbda, n)

    def accuracy(self, data, convert=False):
        """Number of examples in ``data`` classified correctly. ``y`` may be a label or
        a one-hot column (``convert`` is accepted for compatibility)."""
        return self._correct(_Data(data, self.sizes[0], self.sizes[-1], "data"))

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus 0.5*(lmbda/len(data))*sum ||w||^2."""
        return self._total_cost(_Data(data, self.sizes[0], self.sizes[-1], "data"), lmbda)

    def save(self, filename):
        """Write network2.py's JSON file (readable by the book's ``network2.load``)."""
        data = {"sizes": list(self.sizes),
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": str(self._cost_class.__name__)}
        with open(filename, "w") as f:
            json.dump(data, f)

    def _total_cost(self, data, lmbda):
        return float(self._net.total_cost(data.X, data.Y, l2=lmbda))


def load(filename):
    """Read a network written by ``Network2.save`` or by the book's network2.py."""
    with open(filename) as f:
        data = json.load(f)
    try:
        cost = _COST_CLASSES[data["cost"]]
    except KeyError:
        raise ValueError(f"{filename!r}: unknown cost {data.get('cost')!r}") from None
    net = Network2(data["sizes"], cost=cost, seed=0)
    net.weights = [np.array(w) for w in data["weights"]]
    net.biases = [np.array(b) for b in data["biases"]]
    return net


# -- mnist_loader.py -----------------------------------------------------------------

def _mnist_path(path):
    """``path``, else ``$FASTBP_MNIST_DIR``, else None: the download cache that
    ``fastbp.datasets.load_mnist`` (and ``fastbp train --mnist --download``) uses,
    ``~/.cache/fastbp/mnist`` (or ``$FASTBP_DATA/mnist``)."""
    if path is None:
        path = os.environ.get("FASTBP_MNIST_DIR") or None
    return path


def load_data(path=None):
    """mnist_loader.load_data: ((X, y) training, validation, test), X rows of 784
    pixels in [0, 1] and y integer digits, split 50,000 / 10,000 / 10,000.

    From the IDX files in ``path``; by default in ``$FASTBP_MNIST_DIR``, or when that
    is not set in the download cache, ``~/.cache/fastbp/mnist`` (``$FASTBP_DATA/mnist``)
    where ``fastbp train --mnist --download`` puts them. A missing file raises
    ``FileNotFoundError`` naming the folder."""
    return load_mnist(_mnist_path(path))


def load_data_wrapper(path=None):
    """mnist_loader.load_data_wrapper from the IDX files in ``path`` (default
    ``$FASTBP_MNIST_DIR``, else the download cache ~/.cache/fastbp/mnist, see
    ``load_data``): ``(training_data, validation_data, test_data)`` as lists of
    (x, y) pairs, x a (784, 1) column; training y a (10, 1) one-hot column, validation
    and test y the integer digit. The columns are views of one array per set."""
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = load_data(path)
    one_hot = np.eye(10)[y_tr]
    training_data = list(zip((x.reshape(784, 1) for x in X_tr),
                             (t.reshape(10, 1) for t in one_hot)))
    validation_data = list(zip((x.reshape(784, 1) for x in X_va), y_va))
    test_data = list(zip((x.reshape(784, 1) for x in X_te), y_te))
    return training_data, validation_data, test_data


# -- the book's module names ---------------------------------------------------------

def _namespace(name, doc, **members):
    module = types.ModuleType(f"{__name__}.{name}", doc)
    module.__dict__.update(members)
    sys.modules[module.__name__] = module
    return module


network = _namespace("network", "network.py's names, on fastbp.",
                     Network=Network, sigmoid=sigmoid, sigmoid_prime=sigmoid_prime)
network2 = _namespace("network2", "network2.py's names, on fastbp.",
                      Network=Network2, QuadraticCost=QuadraticCost,
                      CrossEntropyCost=CrossEntropyCost, load=load,
                      vectorized_result=vectorized_result, sigmoid=sigmoid,
                      sigmoid_prime=sigmoid_prime)
mnist_loader = _namespace("mnist_loader", "mnist_loader.py's names, on fastbp.",
                          load_data=load_data, load_data_wrapper=load_data_wrapper,
                          vectorized_result=vectorized_result)
