"""Parameter updates for momentum, Nesterov momentum and Adam.

Plain SGD never comes here: its update is folded into the GEMM of BP4 (and the sum of
BP3). The others need the gradient g = ∂C/∂p of the batch's mean cost first, then
one element-wise pass over each parameter array p and its state arrays s1, s2.
L2 regularisation adds (λ/n) p to the gradient of the weights (not the biases).
"""
from cython cimport floating
from libc.math cimport pow, sqrt

OPTIMIZERS = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM}


cdef void update(const Hyper* h, long step, Py_ssize_t size, floating* p,
                 const floating* g, floating* s1, floating* s2,
                 bint decay) noexcept nogil:
    """Update p (size,) in place from its gradient g, at optimiser step ``step`` >= 1.

    Momentum:  v ← μ v - η g;  p ← p + v                           (s1 = v)
    Nesterov:  v ← μ v - η g;  p ← p + μ v - η g                   (as scikit-learn)
    Adam:      m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;
               p ← p - η_t m / (√v + ε), η_t = η √(1-β2^t) / (1-β1^t)   (s1 = m, s2 = v)
    """
    cdef Py_ssize_t i
    cdef floating gi
    cdef floating eta = <floating>h.eta, mu = <floating>h.mu
    cdef floating lam = <floating>h.decay if decay else 0
    cdef floating b1 = <floating>h.beta1, b2 = <floating>h.beta2
    cdef floating eps = <floating>h.epsilon
    cdef floating eta_t
    if h.optimizer == MOMENTUM:
        for i in range(size):
            gi = g[i] + lam * p[i]
            s1[i] = mu * s1[i] - eta * gi
            p[i] += s1[i]
    elif h.optimizer == NESTEROV:
        for i in range(size):
            gi = g[i] + lam * p[i]
            s1[i] = mu * s1[i] - eta * gi
            p[i] += mu * s1[i] - eta * gi
    elif h.optimizer == ADAM:
        eta_t = <floating>(h.eta * sqrt(1 - pow(h.beta2, step)) / (1 - pow(h.beta1, step)))
        for i in range(size):
            gi = g[i] + lam * p[i]
            s1[i] = b1 * s1[i] + (1 - b1) * gi
            s2[i] = b2 * s2[i] + (1 - b2) * gi * gi
            p[i] -= eta_t * s1[i] / (sqrt(s2[i]) + eps)
