"""JAX on the CPU: one epoch is one jitted ``lax.scan`` over the full mini-batches
(the gather of each batch happens inside the scan), plus one jitted step for a
shorter last batch. Both are compiled ahead of time by ``compile()``, whose time is
reported apart from the per-epoch times."""
import time

import numpy as np

from .base import Trainer


def _forward(params, x):
    import jax
    a = x
    for W, b in params:
        a = jax.nn.sigmoid(a @ W.T + b)
    return a


def _loss(params, xb, yb):
    """The book's quadratic cost, 1/(2m) sum ||y - a||^2."""
    return 0.5 * ((_forward(params, xb) - yb) ** 2).sum() / xb.shape[0]


def _sgd_step(params, xb, yb, lr):
    import jax
    grads = jax.grad(_loss)(params, xb, yb)
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


def _epoch(params, X, Y, batches, lr):
    """Scan ``_sgd_step`` over the rows of ``batches`` (nb, B) of example indices."""
    from jax import lax

    def body(p, idx):
        return _sgd_step(p, X[idx], Y[idx], lr), None

    params, _ = lax.scan(body, params, batches)
    return params


class JaxScan(Trainer):
    name = "jax"
    requires = ("jax", "jaxlib")
    inference_note = ("includes jnp.asarray of the NumPy input, most of the W4 batch "
                      "time (~80 ms for 10,000x784 float64 here)")

    def _setup(self, weights, biases):
        import jax
        jax.config.update("jax_enable_x64", True)  # float64 workloads need it
        import jax.numpy as jnp
        self.jax, self.jnp = jax, jnp
        self.params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(weights, biases)]
        self._ff = jax.jit(_forward)
        self._epoch_fn = self._step_fn = None

    def set_data(self, X, y):
        super().set_data(X, y)
        self.Xj, self.Yj = self.jnp.asarray(self.X), self.jnp.asarray(self.Y)
        self._epoch_fn = self._step_fn = None

    def _split(self, perm):
        """Full batches as an (nb, B) index array, and the short remainder (or None)."""
        B = self.batch_size
        nb = len(perm) // B
        full = perm[:nb * B].reshape(nb, B).astype(np.int32)
        rest = perm[nb * B:].astype(np.int32)
        return full, (rest if len(rest) else None)

    def compile(self):
        """Compile the epoch scan (and the remainder step) for the current data."""
        jax = self.jax
        lr = self.dtype.type(self.learning_rate)
        full, rest = self._split(np.arange(len(self.y)))
        t0 = time.perf_counter()
        self._epoch_fn = jax.jit(_epoch).lower(
            self.params, self.Xj, self.Yj, full, lr).compile()
        if rest is not None:
            self._step_fn = jax.jit(_sgd_step).lower(
                self.params, self.Xj[rest], self.Yj[rest], lr).compile()
        self._ff(self.params, self.Xj[:1]).block_until_ready()
        return time.perf_counter() - t0

    def train_epoch(self, seed):
        if self._epoch_fn is None:
            self.compile()
        perm, _ = self.epoch_batches(seed)
        full, rest = self._split(perm)
        lr = self.dtype.type(self.learning_rate)
        params = self._epoch_fn(self.params, self.Xj, self.Yj, full, lr)
        if rest is not None:
            params = self._step_fn(params, self.Xj[rest], self.Yj[rest], lr)
        self.params = self.jax.block_until_ready(params)

    def feedforward(self, X):
        return np.asarray(self._ff(self.params, self.jnp.asarray(np.asarray(X, self.dtype))))

    def parameters(self):
        return ([np.array(W) for W, _ in self.params], [np.array(b) for _, b in self.params])
