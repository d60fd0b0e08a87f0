"""The whole training set's loss and gradient over one flat parameter vector, for
``scipy.optimize.minimize(method="L-BFGS-B")`` (``fastbp.sklearn``'s solver "lbfgs").

The forward pass and BP1–BP4 over all the rows run in the compiled engine with the
GIL released (``Engine.gradient``); per call, Python only copies scipy's vector into
the parameters, adds the L2 term over the weights as one block, and hands scipy a
float64 copy of the gradient (scipy keeps the arrays it is given).
"""
import numpy as np

from ._backprop import Engine, aligned_empty


class Objective:
    """f(θ) and ∇f(θ) for θ a network's parameters flattened: the weights w^1..w^L
    (each (n_l, n_{l-1}), row-major), then the biases b^1..b^L.

    f(θ) = Σ_x s_x C_x / (S · scale) + alpha / (2 S) · Σ_l ‖w^l‖², S = Σ_x s_x,
    and the gradient is (Σ_x s_x ∇C_x + alpha w) / S: not divided by ``scale``, as in
    scikit-learn, whose squared error is averaged over the outputs (scale =
    n_outputs) while its gradient is the summed form's.

    Parameters
    ----------
    network : fastbp.Network
        Gives the layer sizes, activations, cost and dtype; its own parameters are
        read by ``pack`` and written by ``unpack`` only.
    X : ndarray (n, n_0), Y : ndarray (n, n_L)
        C-contiguous, of the network's dtype.
    sample_weight : ndarray (n,) or None
    alpha : float
        scikit-learn's L2 penalty.
    scale : float
        Divides the cost part of f (see above).
    """

    def __init__(self, network, X, Y, sample_weight, alpha, scale=1.0):
        dtype = network.dtype
        sizes = network.sizes
        shapes = list(zip(sizes[1:], sizes[:-1]))
        self.n_weights = sum(a * b for a, b in shapes)
        size = self.n_weights + sum(sizes[1:])
        self._theta = aligned_empty(size, dtype)
        self._grad = aligned_empty(size, dtype)
        self._weights, self._biases = _views(self._theta, shapes)
        self._grad_w, self._grad_b = _views(self._grad, shapes)
        self._engine = Engine(self._weights, self._biases, network.activation,
                              network.output_activation, network.cost)
        self._X, self._Y = X, Y
        self._S = None if sample_weight is None else np.ascontiguousarray(
            sample_weight, dtype=dtype)
        self._total_weight = float(X.shape[0] if sample_weight is None
                                   else np.sum(sample_weight, dtype=np.float64))
        self._alpha = float(alpha)
        self._scale = float(scale)
        self.calls = 0

    def pack(self, network):
        """θ of ``network``'s current parameters, as a new float64 vector."""
        for dst, src in zip(self._weights + self._biases,
                            network.weights + network.biases):
            np.copyto(dst, src)
        return self._theta.astype(np.float64)

    def unpack(self, theta, network):
        """Copy θ into ``network``'s parameters, in place."""
        self._theta[...] = theta
        for dst, src in zip(network.weights + network.biases,
                            self._weights + self._biases):
            np.copyto(dst, src)

    def __call__(self, theta):
        """(f(θ), ∇f(θ) as a new float64 vector)."""
        self.calls += 1
        self._theta[...] = theta
        inv = 1.0 / self._total_weight
        total = self._engine.gradient(self._X, self._Y, self._S, inv, self._grad_w,
                                      self._grad_b, keep=True)
        w = self._theta[:self.n_weights]
        loss = total * inv / self._scale
        if self._alpha > 0:
            # ∇ += alpha/S · w over all the weights at once; f += alpha/(2S) ‖w‖².
            self._grad[:self.n_weights] += (self._alpha * inv) * w
            loss += 0.5 * self._alpha * inv * float(np.dot(w, w))
        return loss, self._grad.astype(np.float64)


def _views(flat, shapes):
    """Weight views (n_l, n_{l-1}) and bias views (n_l,) into one flat vector."""
    weights, biases, start = [], [], 0
    for rows, cols in shapes:
        weights.append(flat[start:start + rows * cols].reshape(rows, cols))
        start += rows * cols
    for rows, _ in shapes:
        biases.append(flat[start:start + rows])
        start += rows
    return weights, biases
