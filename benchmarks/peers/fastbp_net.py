"""fastbp itself, through its public API: ``Network.fit`` trains whole epochs in
compiled code; ``fit(..., epochs=1, shuffle=True, seed=s)`` draws the epoch order as
``np.random.default_rng(s).permutation(n)``, the same order the peers use."""
import numpy as np

from .base import Trainer


class FastbpNet(Trainer):
    name = "fastbp"
    requires = ("fastbp",)

    @classmethod
    def available(cls):
        """fastbp counts as installed only when its compiled core imports."""
        try:
            import fastbp  # noqa: F401
            from fastbp.datasets import load_mnist  # noqa: F401
        except Exception:
            return False
        return True

    @classmethod
    def versions(cls):
        try:
            import fastbp
            return {"fastbp": getattr(fastbp, "__version__", "?")}
        except Exception:
            return {"fastbp": "not importable"}

    def _setup(self, weights, biases):
        import fastbp
        self.net = fastbp.Network(sizes=list(self.sizes), activation="sigmoid",
                                  cost="quadratic", init="normal",
                                  dtype=self.dtype.name, seed=0)
        # Copied into the network's own (cache-line aligned) arrays, as a user
        # setting values would; assigning the lists would make these the live arrays.
        for own, given in zip(self.net.weights + self.net.biases, weights + biases):
            own[...] = given

    def set_data(self, X, y):
        self.X = np.ascontiguousarray(X, self.dtype)
        self.y = np.asarray(y, np.int64)

    def train_epoch(self, seed):
        self.net.fit(self.X, self.y, epochs=1, batch_size=self.batch_size,
                     learning_rate=self.learning_rate, shuffle=True, seed=seed)

    def feedforward(self, X):
        return self.net.feedforward(X)

    def parameters(self):
        return ([np.array(w) for w in self.net.weights],
                [np.array(b) for b in self.net.biases])
