"""fastbp.book: the book's network.py / network2.py / mnist_loader interfaces on fastbp.

The oracle for "the book's semantics" is ``_BookReference`` below: a compact NumPy
transcription of the algorithm in network.py and network2.py (column vectors, one
example at a time, random.shuffle of the training list every epoch, the update
w <- (1 - eta*lmbda/n) w - (eta/m) sum grad). With the same np.random and random seeds
the compat layer must reach the same parameters up to rounding, and it must be
bit-for-bit equal to fastbp.Network.fit run over the same mini-batch order.
"""
import inspect
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp import book
from fastbp.book import CrossEntropyCost, Network, Network2, QuadraticCost


# -- the book's algorithm, written out in NumPy ---------------------------------------

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class _BookReference:
    """network.py (cost=QuadraticCost, lmbda=0) and network2.py, column vectors."""

    def __init__(self, sizes, cost=QuadraticCost, scaled=False):
        self.sizes, self.cost = sizes, cost
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) / (np.sqrt(x) if scaled else 1.0)
                        for x, y in zip(sizes[:-1], sizes[1:])]

    def SGD(self, training_data, epochs, m, eta, lmbda=0.0):
        training_data = list(training_data)
        n = len(training_data)
        for _ in range(epochs):
            random.shuffle(training_data)
            for k in range(0, n, m):
                self.update_mini_batch(training_data[k:k + m], eta, lmbda, n)

    def update_mini_batch(self, batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in batch:
            db, dw = self.backprop(x, y)
            nabla_b = [nb + d for nb, d in zip(nabla_b, db)]
            nabla_w = [nw + d for nw, d in zip(nabla_w, dw)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b
            zs.append(z)
            activation = _sigmoid(z)
            activations.append(activation)
        a = activations[-1]
        if self.cost is QuadraticCost:
            delta = (a - y) * a * (1 - a)
        else:
            delta = a - y
        nabla_b, nabla_w = [None] * len(self.biases), [None] * len(self.weights)
        nabla_b[-1], nabla_w[-1] = delta, delta @ activations[-2].T
        for l in range(2, len(self.sizes)):
            s = _sigmoid(zs[-l])
            delta = (self.weights[-l + 1].T @ delta) * s * (1 - s)
            nabla_b[-l], nabla_w[-l] = delta, delta @ activations[-l - 1].T
        return nabla_b, nabla_w


# -- data -----------------------------------------------------------------------------

SIZES = [6, 5, 4, 3]


def _problem(n, seed, sizes=SIZES, labels=False):
    """n book-style pairs: x (n_0, 1) and y a one-hot (n_L, 1) column or an int label."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]))
    y = (X[:, :sizes[-1]].argmax(axis=1) + (X[:, -1] > 0.7)) % sizes[-1]
    if labels:
        return [(x.reshape(-1, 1), int(t)) for x, t in zip(X, y)]
    return [(x.reshape(-1, 1), np.eye(sizes[-1])[t].reshape(-1, 1)) for x, t in zip(X, y)]


def _arrays(pairs):
    X = np.array([np.ravel(x) for x, _ in pairs])
    Y = np.array([np.ravel(y) for _, y in pairs])
    return X, Y


def _book_orders(n, epochs, seed):
    """The example order of each epoch when the book shuffles its list in place."""
    rng, current, orders = random.Random(seed), list(range(n)), []
    for _ in range(epochs):
        rng.shuffle(current)
        orders.append(np.array(current))
    return orders


def _fastbp_copy(compat, cost):
    """A fastbp.Network with the compat network's current parameters (copied)."""
    net = fastbp.Network(compat.sizes, cost=cost, init="normal", seed=0)
    net.weights = [w.copy() for w in compat.weights]
    net.biases = [b.ravel().copy() for b in compat.biases]
    return net


def _assert_params_close(compat, ref, rtol=1e-10, atol=1e-12):
    for a, b in zip(compat.weights + compat.biases, ref.weights + ref.biases):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# -- shapes and initialisation ----------------------------------------------------------

@pytest.mark.parametrize("cls", [Network, Network2])
def test_parameters_and_outputs_have_the_books_shapes(cls):
    net = cls(SIZES, seed=0)
    assert net.num_layers == 4 and net.sizes == SIZES
    assert [w.shape for w in net.weights] == [(5, 6), (4, 5), (3, 4)]
    assert [b.shape for b in net.biases] == [(5, 1), (4, 1), (3, 1)]
    x = np.linspace(0, 1, 6).reshape(6, 1)
    out = net.feedforward(x)
    assert out.shape == (3, 1)
    # A matrix of column examples gives a matrix of column outputs, column by column.
    M = np.random.default_rng(0).random((6, 7))
    outs = net.feedforward(M)
    assert outs.shape == (3, 7)
    np.testing.assert_allclose(outs[:, [2]], net.feedforward(M[:, [2]]), rtol=1e-12)
    # The book's own formula on the compat parameters gives the same output.
    a = x
    for b, w in zip(net.biases, net.weights):
        a = _sigmoid(w @ a + b)
    np.testing.assert_allclose(out, a, rtol=1e-12)


def test_initial_parameters_are_the_books_draws():
    """np.random.seed(s) then Network(sizes) draws what the book's code draws, and the
    seed= keyword gives the same values without touching the global state."""
    np.random.seed(7)
    ref = _BookReference(SIZES)
    np.random.seed(7)
    net = Network(SIZES)
    _assert_params_close(net, ref, rtol=0, atol=0)
    _assert_params_close(Network(SIZES, seed=7), ref, rtol=0, atol=0)

    # network2: Network(sizes) draws the default (scaled) parameters, and a later
    # large_weight_initializer() continues the same random stream.
    np.random.seed(8)
    ref2 = _BookReference(SIZES, CrossEntropyCost, scaled=True)
    ref_large = _BookReference(SIZES, CrossEntropyCost)
    net2 = Network2(SIZES, seed=8)
    _assert_params_close(net2, ref2, rtol=0, atol=0)
    net2.large_weight_initializer()
    _assert_params_close(net2, ref_large, rtol=0, atol=0)


def test_biases_are_live_views_and_assignment_copies_in():
    net = Network2(SIZES, seed=0)
    inner = net.fastbp_network
    net.biases[0][2, 0] = 5.0            # an element edit reaches the engine's array
    assert inner.biases[0][2] == 5.0
    new_w = [np.ones_like(w) for w in net.weights]
    net.weights = new_w                  # the book's style: assign a new list
    new_w[0][0, 0] = 9.0                 # ...which is copied in
    assert inner.weights[0][0, 0] == 1.0
    net.biases = [np.zeros((n, 1)) for n in SIZES[1:]]
    assert all((b == 0).all() for b in inner.biases)
    with pytest.raises(ValueError, match="biases"):
        net.biases = [np.zeros((n, 2)) for n in SIZES[1:]]


# -- backprop -------------------------------------------------------------------------

@pytest.mark.parametrize("cls, cost", [(Network, "quadratic"),
                                       (Network2, "cross_entropy")])
def test_backprop_is_fastbps_on_one_example_in_the_books_shapes(cls, cost):
    net = cls(SIZES, seed=1)
    x, y = _problem(1, seed=2)[0]
    nabla_b, nabla_w = net.backprop(x, y)
    assert [nb.shape for nb in nabla_b] == [b.shape for b in net.biases]
    assert [nw.shape for nw in nabla_w] == [w.shape for w in net.weights]
    fast_b, fast_w = _fastbp_copy(net, cost).backprop(x.reshape(1, -1), y.reshape(1, -1))
    for got, want in zip(nabla_b, fast_b):
        np.testing.assert_array_equal(got, want.reshape(-1, 1))
    for got, want in zip(nabla_w, fast_w):
        np.testing.assert_array_equal(got, want)
    # ...and the book's backprop agrees.
    ref = _BookReference(SIZES, QuadraticCost if cost == "quadratic" else CrossEntropyCost)
    ref.weights, ref.biases = net.weights, net.biases
    ref_b, ref_w = ref.backprop(x, y)
    for got, want in zip(nabla_b + nabla_w, ref_b + ref_w):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    # An integer label means the one-hot target.
    label_b, _ = net.backprop(x, int(np.argmax(y)))
    np.testing.assert_array_equal(label_b[0], nabla_b[0])


# -- SGD ------------------------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(40, 10), (23, 5)])   # 23/5: a short last mini-batch
def test_sgd_equals_fastbp_fit_over_the_books_order(n, m):
    """SGD(seed=s) visits the examples in the order the book's random.shuffle gives
    with random.Random(s); fastbp.Network.fit without shuffling over that order reaches
    bit-for-bit the same parameters."""
    data = _problem(n, seed=3)
    net = Network(SIZES, seed=4)
    fast = _fastbp_copy(net, "quadratic")
    net.SGD(data, 3, m, 2.0, seed=11)
    X, Y = _arrays(data)
    for order in _book_orders(n, 3, seed=11):
        fast.fit(X[order], Y[order], epochs=1, batch_size=m, learning_rate=2.0,
                 shuffle=False)
    for a, b in zip(net.weights, fast.weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(net.biases, fast.biases):
        np.testing.assert_array_equal(a, b.reshape(-1, 1))


def test_network_sgd_matches_the_books_code_with_the_same_global_seeds():
    data = _problem(37, seed=5)
    np.random.seed(21)
    ref = _BookReference(SIZES)
    np.random.seed(21)
    net = Network(SIZES)
    random.seed(99)
    ref.SGD(data, 4, 8, 3.0)
    random.seed(99)
    net.SGD(data, 4, 8, 3.0)
    _assert_params_close(net, ref)


def test_network2_sgd_with_lmbda_matches_the_books_code():
    data = _problem(45, seed=6)
    np.random.seed(5)
    ref = _BookReference(SIZES, CrossEntropyCost, scaled=True)
    net = Network2(SIZES, seed=5)
    random.seed(3)
    ref.SGD(data, 3, 10, 0.5, lmbda=5.0)
    net.SGD(data, 3, 10, 0.5, lmbda=5.0, seed=3)
    _assert_params_close(net, ref)


def test_sgd_takes_zip_iterators_and_leaves_the_callers_list_alone():
    data = _problem(20, seed=7)
    before = [id(pair) for pair in data]
    a, b = Network(SIZES, seed=1), Network(SIZES, seed=1)
    a.SGD(data, 2, 4, 1.0, seed=2)
    xs, ys = zip(*data)
    b.SGD(zip(xs, ys), 2, 4, 1.0, seed=2)
    assert [id(pair) for pair in data] == before
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)


def test_l2_decays_weights_exactly_as_the_books_update():
    """One epoch of Network2.SGD with lmbda against the update written out with
    fastbp.Network.backprop: w <- (1 - eta*lmbda/n) w - (eta/m) sum grad, biases
    undecayed, n = len(training_data)."""
    n, m, eta, lmbda = 12, 4, 0.5, 3.0
    data = _problem(n, seed=8)
    net = Network2(SIZES, seed=9)
    fast = _fastbp_copy(net, "cross_entropy")
    W = [w.copy() for w in fast.weights]
    B = [b.copy() for b in fast.biases]
    X, Y = _arrays(data)
    (order,) = _book_orders(n, 1, seed=4)
    for k in range(0, n, m):
        rows = order[k:k + m]
        fast.weights, fast.biases = [w.copy() for w in W], [b.copy() for b in B]
        nabla_b, nabla_w = fast.backprop(X[rows], Y[rows])   # mean over the batch
        W = [(1 - eta * lmbda / n) * w - eta * nw for w, nw in zip(W, nabla_w)]
        B = [b - eta * nb for b, nb in zip(B, nabla_b)]
    plain = Network2(SIZES, seed=9)
    net.SGD(data, 1, m, eta, lmbda=lmbda, seed=4)
    plain.SGD(data, 1, m, eta, seed=4)
    for got, want in zip(net.weights, W):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for got, want in zip(net.biases, B):
        np.testing.assert_allclose(got, want.reshape(-1, 1), rtol=1e-12, atol=1e-14)
    assert sum(np.linalg.norm(w) for w in net.weights) < \
        sum(np.linalg.norm(w) for w in plain.weights)


def test_update_mini_batch_is_one_book_step():
    batch = _problem(5, seed=10)
    net = Network2(SIZES, QuadraticCost, seed=2)
    ref = _BookReference(SIZES, QuadraticCost)
    ref.weights, ref.biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    net.update_mini_batch(batch, 0.7, 2.0, 50)
    ref.update_mini_batch(batch, 0.7, 2.0, 50)
    _assert_params_close(net, ref)
    net1 = Network(SIZES, seed=2)
    ref.weights, ref.biases = [w.copy() for w in net1.weights], [b.copy() for b in net1.biases]
    net1.update_mini_batch(batch, 0.7)
    ref.update_mini_batch(batch, 0.7, 0.0, 50)
    _assert_params_close(net1, ref)


# -- printed output -------------------------------------------------------------------

def test_network_sgd_prints_like_network_py(capsys):
    data, test = _problem(30, seed=11), _problem(9, seed=12, labels=True)
    net = Network(SIZES, seed=0)
    net.SGD(data, 3, 5, 1.0, test_data=test, seed=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for j, line in enumerate(lines):
        match = re.fullmatch(r"Epoch (\d+) : (\d+) / 9", line)
        assert match and int(match.group(1)) == j
    assert lines[-1] == f"Epoch 2 : {net.evaluate(test)} / 9"
    net.SGD(data, 2, 5, 1.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"


def test_network2_sgd_prints_like_network2_py_and_returns_its_lists(capsys):
    data, evaluation = _problem(30, seed=13), _problem(11, seed=14, labels=True)
    net = Network2(SIZES, seed=0)
    result = net.SGD(data, 3, 5, 0.5, lmbda=1.0, evaluation_data=evaluation,
                     monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                     monitor_training_cost=True, monitor_training_accuracy=True)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = result
    for costs in (evaluation_cost, training_cost):
        assert len(costs) == 3 and all(type(c) is float and c > 0 for c in costs)
    for counts, n in ((evaluation_accuracy, 11), (training_accuracy, 30)):
        assert len(counts) == 3 and all(type(c) is int and 0 <= c <= n for c in counts)
    # The last entries are the network's state after training.
    assert evaluation_cost[-1] == pytest.approx(net.total_cost(evaluation, 1.0, convert=True))
    assert training_cost[-1] == pytest.approx(net.total_cost(data, 1.0))
    assert evaluation_accuracy[-1] == net.accuracy(evaluation)
    assert training_accuracy[-1] == net.accuracy(data, convert=True)
    out = capsys.readouterr().out
    expected = "".join(
        f"Epoch {j} training complete\n"
        f"Cost on training data: {training_cost[j]}\n"
        f"Accuracy on training data: {training_accuracy[j]} / 30\n"
        f"Cost on evaluation data: {evaluation_cost[j]}\n"
        f"Accuracy on evaluation data: {evaluation_accuracy[j]} / 11\n\n"
        for j in range(3))
    assert out == expected


def test_network2_monitor_lists_are_empty_unless_asked_for(capsys):
    result = Network2(SIZES, seed=0).SGD(_problem(10, seed=15), 2, 5, 0.5)
    assert result == ([], [], [], [])
    assert capsys.readouterr().out == ("Epoch 0 training complete\n\n"
                                       "Epoch 1 training complete\n\n")
    with pytest.raises(ValueError, match="evaluation_data"):
        Network2(SIZES, seed=0).SGD(_problem(10, seed=15), 1, 5, 0.5,
                                    monitor_evaluation_accuracy=True)


# -- costs, accuracy, persistence -----------------------------------------------------

def test_total_cost_and_accuracy_follow_network2():
    data, labelled = _problem(25, seed=16), _problem(25, seed=16, labels=True)
    for cost in (QuadraticCost, CrossEntropyCost):
        net = Network2(SIZES, cost=cost, seed=3)
        expected = sum(cost.fn(net.feedforward(x), y) for x, y in data) / 25
        penalty = 0.5 * (2.0 / 25) * sum(np.linalg.norm(w) ** 2 for w in net.weights)
        assert net.total_cost(data, 0.0) == pytest.approx(expected, rel=1e-10)
        assert net.total_cost(data, 2.0) == pytest.approx(expected + penalty, rel=1e-10)
        assert net.total_cost(labelled, 2.0, convert=True) == \
            pytest.approx(expected + penalty, rel=1e-10)
        correct = sum(int(np.argmax(net.feedforward(x)) == y) for x, y in labelled)
        assert net.accuracy(labelled) == correct == net.accuracy(data, convert=True)
        assert net.evaluate(labelled) == correct


def test_save_and_load_use_network2_json(tmp_path):
    net = Network2(SIZES, cost=QuadraticCost, seed=4)
    path = tmp_path / "net.json"
    net.save(path)
    data = json.loads(path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"}
    assert data["cost"] == "QuadraticCost" and data["sizes"] == SIZES
    assert np.array(data["biases"][0]).shape == (5, 1)
    loaded = book.load(path)
    assert isinstance(loaded, Network2) and loaded.cost is QuadraticCost
    _assert_params_close(loaded, net, rtol=0, atol=0)
    x = _problem(1, seed=0)[0][0]
    np.testing.assert_array_equal(loaded.feedforward(x), net.feedforward(x))


def test_cost_is_a_class_and_can_be_swapped():
    net = Network2(SIZES, seed=0)
    assert net.cost is CrossEntropyCost
    before = [w.copy() for w in net.weights]
    net.cost = QuadraticCost
    assert net.fastbp_network.cost == "quadratic"
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)

    class MyCost:
        @staticmethod
        def fn(a, y):
            return 0.0

    with pytest.raises(ValueError, match="cost"):
        Network2(SIZES, cost=MyCost)


def test_book_module_names():
    import fastbp.book.network2 as network2
    assert network2.Network is Network2 and book.network.Network is Network
    assert book.mnist_loader.vectorized_result(3).shape == (10, 1)
    assert "l2" in inspect.signature(fastbp.Network.fit).parameters


# -- MNIST ----------------------------------------------------------------------------

def test_mnist_smoke_one_epoch_on_10000_examples(mnist_dir, capsys):
    """network2's chapter 3 setup (cross-entropy, default initialiser, eta = 0.5) on
    10,000 training images for one epoch: about 90% on the test set. (network.py's
    N(0, 1) quadratic network needs the full epoch to pass 85%: ~70-76% here.)"""
    training_data, validation_data, test_data = book.load_data_wrapper(mnist_dir)
    assert (len(training_data), len(validation_data), len(test_data)) == \
        (50000, 10000, 10000)
    x, y = training_data[0]
    assert x.shape == (784, 1) and y.shape == (10, 1) and y.sum() == 1
    assert np.ndim(test_data[0][1]) == 0
    net = Network2([784, 30, 10], cost=CrossEntropyCost, seed=0)
    _, accuracy, _, _ = net.SGD(training_data[:10000], 1, 10, 0.5,
                                evaluation_data=test_data, monitor_evaluation_accuracy=True)
    assert accuracy[0] > 8500
    assert f"Accuracy on evaluation data: {accuracy[0]} / 10000" in capsys.readouterr().out


def test_mnist_loader_defaults_to_the_download_cache(tmp_path, monkeypatch):
    """Without a path or FASTBP_MNIST_DIR, mnist_loader looks where `fastbp train
    --mnist --download` puts MNIST: the mnist folder of $FASTBP_DATA or ~/.cache/fastbp."""
    monkeypatch.delenv("FASTBP_MNIST_DIR", raising=False)
    monkeypatch.setenv("FASTBP_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "mnist")):
        book.mnist_loader.load_data_wrapper()
    monkeypatch.setenv("FASTBP_MNIST_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        book.mnist_loader.load_data()


# -- the user guide's reproduction of the book's figures -----------------------------

BOOK_PAGE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "book.md"
ROOT = BOOK_PAGE.parent.parent.parent


def _page_rows():
    """The page's table: (fastbp's best-epoch figure, its last-epoch figure) per row,
    in order, and the page's command."""
    text = BOOK_PAGE.read_text(encoding="utf-8")
    command = re.search(r"`(python benchmarks/reproduce_book\.py [^`]+)`", text).group(1)
    rows = [line.split("|")[1:-1] for line in text.splitlines()
            if line.startswith("| ch. ")]
    return [(r[2].strip(), r[4].strip()) for r in rows], command, text


@pytest.mark.slow
def test_the_guides_reproduction_of_the_book_gives_the_pages_figures(mnist_dir):
    """The page's command, as written (DIR: the MNIST folder), prints the figures of
    the page's table: the results do not depend on the machine's thread count."""
    import shlex
    import subprocess
    import sys
    rows, command, text = _page_rows()
    assert len(rows) == 4
    args = [mnist_dir if a == "DIR" else a for a in shlex.split(command)]
    assert args[0] == "python"
    out = subprocess.run([sys.executable, *args[1:]], cwd=ROOT, capture_output=True,
                         text=True, timeout=3600, check=True).stdout
    printed = [line.split("|")[1:-1] for line in out.splitlines()
               if line.startswith("| `")]
    # The page gives the last epoch's mean alone.
    book_rows = [(r[2].strip(), r[4].split()[0]) for r in printed if r[1].strip() != "—"]
    assert book_rows == rows
    # The variant with the scaled initialisation, which the prose quotes.
    variant = [r[2].strip() for r in printed if r[1].strip() == "—"]
    assert len(variant) == 1
    assert f"third experiment gives {variant[0].split(' ')[0]}" in text.replace("\n", " ")
