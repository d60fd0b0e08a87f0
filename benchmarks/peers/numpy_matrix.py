"""NumPy, matrix form: a whole mini-batch at once, one example per row.

Z^l = A^{l-1} W_l^T + b_l. Tuned to be as fast as NumPy allows: every buffer is
allocated once, every operation writes into it with ``out=``, and the factor
eta/m is folded into delta^L once (BP2 is linear in delta, so every layer's gradient
comes out already scaled) instead of scaling each weight gradient.
"""
import numpy as np

from .base import Trainer


def sigmoid_inplace(Z):
    """Z <- 1 / (1 + exp(-Z)), without temporaries."""
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    np.reciprocal(Z, out=Z)
    return Z


class NumpyMatrix(Trainer):
    name = "numpy-matrix"
    requires = ("numpy",)

    def _setup(self, weights, biases):
        self.W, self.b = weights, biases
        B, dt = self.batch_size, self.dtype
        self._A = [np.empty((B, n), dt) for n in self.sizes]          # activations
        self._D = [np.empty((B, n), dt) for n in self.sizes]          # deltas
        self._S = [np.empty((B, n), dt) for n in self.sizes]          # sigma' scratch
        self._gW = [np.empty_like(w) for w in self.W]
        self._gb = [np.empty_like(b) for b in self.b]

    def _forward(self, A):
        """Forward pass into the list of activation views ``A`` (A[0] is the input)."""
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            np.matmul(A[l], W.T, out=A[l + 1])
            A[l + 1] += b
            sigmoid_inplace(A[l + 1])

    def _step(self, m):
        """One SGD step on the mini-batch already gathered into the first m rows."""
        A = [a[:m] for a in self._A]
        D = [d[:m] for d in self._D]
        S = [s[:m] for s in self._S]
        self._forward(A)
        L = len(self.W)
        # BP1, scaled by eta/m: D^L = (eta/m) (A^L - Y) * A^L (1 - A^L)
        np.subtract(A[L], self._Yb[:m], out=D[L])
        self._sigma_prime(A[L], S[L])
        D[L] *= S[L]
        D[L] *= self.learning_rate / m
        for l in range(L, 0, -1):
            # BP4 / BP3 (scaled): dW = D^l^T A^{l-1}, db = sum over rows of D^l
            np.matmul(D[l].T, A[l - 1], out=self._gW[l - 1])
            np.sum(D[l], axis=0, out=self._gb[l - 1])
            if l > 1:  # BP2 with the weights before this step's update
                np.matmul(D[l], self.W[l - 1], out=D[l - 1])
                self._sigma_prime(A[l - 1], S[l - 1])
                D[l - 1] *= S[l - 1]
            self.W[l - 1] -= self._gW[l - 1]
            self.b[l - 1] -= self._gb[l - 1]

    @staticmethod
    def _sigma_prime(A, out):
        """sigma'(z) = a (1 - a), into ``out``."""
        np.subtract(1, A, out=out)
        out *= A

    def set_data(self, X, y):
        super().set_data(X, y)
        self._Yb = np.empty((self.batch_size, self.sizes[-1]), self.dtype)

    def train_epoch(self, seed):
        perm, slices = self.epoch_batches(seed)
        X0 = self._A[0]
        for s in slices:
            idx = perm[s]
            m = len(idx)
            np.take(self.X, idx, axis=0, out=X0[:m])
            np.take(self.Y, idx, axis=0, out=self._Yb[:m])
            self._step(m)

    def feedforward(self, X):
        a = np.asarray(X, self.dtype)
        for W, b in zip(self.W, self.b):
            z = a @ W.T
            z += b
            a = sigmoid_inplace(z)
        return a

    def parameters(self):
        return [w.copy() for w in self.W], [b.copy() for b in self.b]
