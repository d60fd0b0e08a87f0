"""Activation functions σ and their derivatives σ', in place on row-major batches.

Derivatives are computed from the activation a = σ(z), not from z (thinc's habit), so
the forward pass never stores z^l: σ' = a(1 - a) for the sigmoid, 1 - a² for tanh,
[a > 0] for ReLU, 1 for the identity, a for exp.
"""
from cython cimport floating
from libc.math cimport exp, expf, tanh, tanhf

# Public names of the activations, as accepted by ``fastbp.Network``.
ACTIVATIONS = {
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "identity": IDENTITY,
    "softmax": SOFTMAX,
    "exp": EXP,
}
OUTPUT_ONLY = frozenset({"softmax", "exp"})


from ._simd cimport bind_simd, simd_variant
bind_simd()     # the element-wise loops follow the kernels' instruction set


def _simd_variant():
    """Which variant of this module's element-wise loops runs now (a test hook)."""
    return simd_variant()


cdef extern from "activations.h" nogil:
    # src/activations.c: the sigmoid and exp loops, vectorised without -ffast-math
    void fastbp_sigmoid_rows_d(double* z, const double* b, Py_ssize_t m, Py_ssize_t n)
    void fastbp_sigmoid_rows_f(float* z, const float* b, Py_ssize_t m, Py_ssize_t n)
    void fastbp_exp_nonpos_inplace_d(double* x, Py_ssize_t n)
    void fastbp_exp_nonpos_inplace_f(float* x, Py_ssize_t n)


cdef inline void _sigmoid_rows(floating* Z, const floating* b, Py_ssize_t m,
                               Py_ssize_t n) noexcept nogil:
    if floating is float:
        fastbp_sigmoid_rows_f(Z, b, m, n)
    else:
        fastbp_sigmoid_rows_d(Z, b, m, n)


cdef inline void _exp_nonpos_inplace(floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fastbp_exp_nonpos_inplace_f(x, n)
    else:
        fastbp_exp_nonpos_inplace_d(x, n)


cdef void activate(Activation f, floating* Z, const floating* b,
                   Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    """A = σ(Z + b) in place, for Z (m, n) row-major and b (n,) added to every row."""
    cdef Py_ssize_t i, j
    cdef floating* z
    cdef floating v, zmax, total
    if f == SIGMOID:
        _sigmoid_rows(Z, b, m, n)
        return
    for i in range(m):
        z = Z + i * n
        if f == TANH:
            for j in range(n):
                if floating is float:
                    z[j] = tanhf(z[j] + b[j])
                else:
                    z[j] = tanh(z[j] + b[j])
        elif f == RELU:
            for j in range(n):
                v = z[j] + b[j]
                z[j] = v if v > 0 else 0
        elif f == IDENTITY:
            for j in range(n):
                z[j] += b[j]
        elif f == EXP:
            for j in range(n):
                if floating is float:
                    z[j] = expf(z[j] + b[j])
                else:
                    z[j] = exp(z[j] + b[j])
        else:  # SOFTMAX: subtract the row maximum so exp() cannot overflow.
            zmax = z[0] + b[0]
            for j in range(n):
                z[j] += b[j]
                if z[j] > zmax:
                    zmax = z[j]
            for j in range(n):
                z[j] -= zmax
            _exp_nonpos_inplace(z, n)
            total = 0
            for j in range(n):
                total += z[j]
            for j in range(n):
                z[j] /= total


cdef void scale_by_derivative(Activation f, floating* D, const floating* A,
                              Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    """D := D ⊙ σ'(z), given A = σ(z); D and A are (m, n) row-major.

    For the softmax σ' is a Jacobian, J = diag(a) - a aᵀ (symmetric), and each row of D
    becomes J d = a ⊙ (d - (d · a)).
    """
    cdef Py_ssize_t i, j, size = m * n
    cdef floating s
    if f == SIGMOID:
        for i in range(size):
            D[i] *= A[i] * (1 - A[i])
    elif f == TANH:
        for i in range(size):
            D[i] *= 1 - A[i] * A[i]
    elif f == RELU:
        # A select, not a branch: the compiler vectorises it, and a branch on the
        # sign of a^l mispredicts on about every other element.
        for i in range(size):
            D[i] = 0 if A[i] <= 0 else D[i]
    elif f == EXP:
        for i in range(size):
            D[i] *= A[i]
    elif f == SOFTMAX:
        for i in range(m):
            s = 0
            for j in range(n):
                s += D[i * n + j] * A[i * n + j]
            for j in range(n):
                D[i * n + j] = A[i * n + j] * (D[i * n + j] - s)
    # IDENTITY: σ' = 1, nothing to do.


# ---------------------------------------------------------------------------------
# Test hooks.

def _activate_test(str name, floating[:, ::1] Z, const floating[::1] b):
    """Z[...] = σ(Z + b) for the activation called ``name``."""
    activate(<Activation>ACTIVATIONS[name], &Z[0, 0], &b[0], Z.shape[0], Z.shape[1])


def _derivative_test(str name, floating[:, ::1] D, const floating[:, ::1] A):
    """D[...] = D ⊙ σ'(z) given A = σ(z), for the activation called ``name``."""
    scale_by_derivative(<Activation>ACTIVATIONS[name], &D[0, 0], &A[0, 0],
                        D.shape[0], D.shape[1])
