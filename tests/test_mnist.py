"""Training on MNIST: the book's chapter 1 network learns."""
import numpy as np
import pytest

import fastbp
from fastbp.datasets import load_mnist


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_mnist(mnist_dir)


def test_book_network_reaches_93_percent_in_3_epochs(mnist):
    """The book's chapter 1 run. 93% after 3 epochs is at the edge of what this setup
    gives (the book's own run: 93.48%; fastbp over seeds 0-7: 92.4-93.3%, and one seed
    of eight stuck near 75%, as N(0, 1) init sometimes does), so the seed is fixed."""
    (X, y), validation, (X_test, y_test) = mnist
    net = fastbp.Network([784, 30, 10], activation="sigmoid", cost="quadratic",
                         init="normal", seed=0)
    history = net.fit(X, y, epochs=3, batch_size=10, learning_rate=3.0,
                      validation_data=validation)
    assert net.evaluate(X_test, y_test) >= 0.93
    assert history["val_accuracy"][-1] >= 0.93
    assert history["train_cost"][2] < history["train_cost"][0]


def test_float32_network_on_mnist_matches_float64(mnist):
    """A float32 network trains to the same accuracy and keeps float32 throughout."""
    (X, y), _, (X_test, y_test) = mnist
    accuracies = {}
    for dtype in ("float64", "float32"):
        net = fastbp.Network([784, 30, 10], init="normal", dtype=dtype, seed=0)
        net.fit(X[:20000], y[:20000], epochs=1, batch_size=10, learning_rate=3.0, seed=0)
        assert all(p.dtype == np.dtype(dtype) for p in net.weights + net.biases)
        accuracies[dtype] = net.evaluate(X_test, y_test)
    assert accuracies["float32"] > 0.88
    assert abs(accuracies["float32"] - accuracies["float64"]) < 0.02
