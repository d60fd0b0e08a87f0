"""The book's network.py: one example at a time, column vectors, and an update after
every mini-batch (Nielsen, ch. 1, ``update_mini_batch`` / ``backprop``). Slow on
purpose; it runs W1 and the W4 inference only."""
import numpy as np

from .base import Trainer


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class BookLoop(Trainer):
    name = "book-loop"
    requires = ("numpy",)
    workloads = frozenset({"W1", "W4"})

    def _setup(self, weights, biases):
        self.weights = weights
        self.biases = [b.reshape(-1, 1) for b in biases]

    def set_data(self, X, y):
        super().set_data(X, y)
        # network.py's data: a list of (x (784, 1), y (10, 1)) column vectors.
        self.data = [(x.reshape(-1, 1), t.reshape(-1, 1)) for x, t in zip(self.X, self.Y)]

    def train_epoch(self, seed):
        perm, slices = self.epoch_batches(seed)
        for s in slices:
            self.update_mini_batch([self.data[i] for i in perm[s]], self.learning_rate)

    def update_mini_batch(self, mini_batch, eta):
        """As in network.py: sum the per-example gradients, then one step."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb
                       for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """network.py's backprop for one example (quadratic cost)."""
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, len(self.sizes)):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def feedforward(self, X):
        """network.py's feedforward on column vectors; X (m, n_in) or (n_in,)."""
        X = np.asarray(X, self.dtype)
        a = X.reshape(-1, 1) if X.ndim == 1 else X.T
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a[:, 0] if X.ndim == 1 else a.T

    def parameters(self):
        return [w.copy() for w in self.weights], [b[:, 0].copy() for b in self.biases]
