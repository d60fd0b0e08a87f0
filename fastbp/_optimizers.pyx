"""Parameter updates for momentum, Nesterov momentum and Adam.

Plain SGD never comes here: its update is folded into the GEMM of BP4 (and the sum of
BP3). The others need the gradient g = ∂C/∂p of the batch's mean cost first, then
one element-wise pass over each parameter array p and its state arrays s1, s2.
L2 regularisation adds (λ/n) p to the gradient of the weights (not the biases).
"""
from cython cimport floating
from libc.math cimport pow, sqrt

OPTIMIZERS = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM}


from ._simd cimport bind_simd, simd_variant
bind_simd()     # the element-wise loops follow the kernels' instruction set


def _simd_variant():
    """Which variant of this module's element-wise loops runs now (a test hook)."""
    return simd_variant()


cdef extern from "optimizers.h" nogil:
    # src/optimizers.c: the loops, vectorised (restrict pointers, sqrt without errno)
    void fastbp_momentum_d(Py_ssize_t n, double* p, const double* g, double* v,
                           double eta, double mu, double lam)
    void fastbp_momentum_f(Py_ssize_t n, float* p, const float* g, float* v,
                           float eta, float mu, float lam)
    void fastbp_nesterov_d(Py_ssize_t n, double* p, const double* g, double* v,
                           double eta, double mu, double lam)
    void fastbp_nesterov_f(Py_ssize_t n, float* p, const float* g, float* v,
                           float eta, float mu, float lam)
    void fastbp_adam_d(Py_ssize_t n, double* p, const double* g, double* m, double* v,
                       double eta_t, double b1, double b2, double eps, double lam)
    void fastbp_adam_f(Py_ssize_t n, float* p, const float* g, float* m, float* v,
                       float eta_t, float b1, float b2, float eps, float lam)


cdef void update(const Hyper* h, long step, Py_ssize_t size, floating* p,
                 const floating* g, floating* s1, floating* s2,
                 bint decay) noexcept nogil:
    """Update p (size,) in place from its gradient g, at optimiser step ``step`` >= 1.

    Momentum:  v ← μ v - η g;  p ← p + v                           (s1 = v)
    Nesterov:  v ← μ v - η g;  p ← p + μ v - η g                   (as scikit-learn)
    Adam:      m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;
               p ← p - η_t m / (√v + ε), η_t = η √(1-β2^t) / (1-β1^t)   (s1 = m, s2 = v)

    p, g, s1 and s2 must not overlap.
    """
    cdef floating eta = <floating>h.eta, mu = <floating>h.mu
    cdef floating lam = <floating>h.decay if decay else 0
    cdef floating b1 = <floating>h.beta1, b2 = <floating>h.beta2
    cdef floating eps = <floating>h.epsilon
    cdef floating eta_t
    if h.optimizer == MOMENTUM:
        if floating is float:
            fastbp_momentum_f(size, p, g, s1, eta, mu, lam)
        else:
            fastbp_momentum_d(size, p, g, s1, eta, mu, lam)
    elif h.optimizer == NESTEROV:
        if floating is float:
            fastbp_nesterov_f(size, p, g, s1, eta, mu, lam)
        else:
            fastbp_nesterov_d(size, p, g, s1, eta, mu, lam)
    elif h.optimizer == ADAM:
        eta_t = <floating>(h.eta * sqrt(1 - pow(h.beta2, step)) / (1 - pow(h.beta1, step)))
        if floating is float:
            fastbp_adam_f(size, p, g, s1, s2, eta_t, b1, b2, eps, lam)
        else:
            fastbp_adam_d(size, p, g, s1, s2, eta_t, b1, b2, eps, lam)
