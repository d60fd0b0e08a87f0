"""scikit-learn's ``MLPClassifier`` with plain SGD (no momentum, constant rate, no L2).

Not the same computation: its output layer is softmax with log-loss, not sigmoid with
the quadratic cost, and it shuffles with its own random state, so its mini-batches
differ. It starts from the shared initial parameters; one ``partial_fit`` is one epoch.
"""
import warnings

import numpy as np

from .base import Trainer


class SklearnMLP(Trainer):
    name = "sklearn"
    requires = ("sklearn",)
    exact = False
    note = "softmax + log-loss output (not quadratic); own shuffling"

    def _setup(self, weights, biases):
        from sklearn.neural_network import MLPClassifier
        self.clf = MLPClassifier(
            hidden_layer_sizes=self.sizes[1:-1], activation="logistic", solver="sgd",
            momentum=0.0, nesterovs_momentum=False, learning_rate="constant",
            learning_rate_init=self.learning_rate, batch_size=self.batch_size,
            alpha=0.0, max_iter=1, shuffle=True, random_state=0, tol=0.0)
        self._init = (weights, biases)

    def set_data(self, X, y):
        super().set_data(X, y)
        self.classes = np.arange(self.sizes[-1])
        # One step on one batch builds the model; then load the shared initial values.
        B = self.batch_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.X[:B], self.y[:B], classes=self.classes)
        weights, biases = self._init
        self.clf.coefs_ = [np.ascontiguousarray(w.T) for w in weights]
        self.clf.intercepts_ = [b.copy() for b in biases]
        # The optimizer holds references to the old parameter arrays: make
        # partial_fit build a new one.
        if hasattr(self.clf, "_optimizer"):
            del self.clf._optimizer

    def train_epoch(self, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.X, self.y)

    def feedforward(self, X):
        X = np.asarray(X, self.dtype)
        proba = self.clf.predict_proba(X.reshape(1, -1) if X.ndim == 1 else X)
        return proba[0] if X.ndim == 1 else proba

    def parameters(self):
        return ([w.T.copy() for w in self.clf.coefs_],
                [b.copy() for b in self.clf.intercepts_])
