"""Activation functions σ and their derivatives σ', in place on row-major batches.

Derivatives are computed from the activation a = σ(z), not from z (thinc's habit), so
the forward pass never stores z^l: σ' = a(1 - a) for the sigmoid, 1 - a² for tanh,
[a > 0] for ReLU, 1 for the identity.
"""
from cython cimport floating
from libc.math cimport fabs, tanh, tanhf

# Public names of the activations, as accepted by ``fastbp.Network``.
ACTIVATIONS = {
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "identity": IDENTITY,
    "softmax": SOFTMAX,
}
OUTPUT_ONLY = frozenset({"softmax"})


cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* e^x for x <= 0 (NaN passes through), within about 1 ulp. Written without
       branches or libm calls so that loops over it vectorise, which libm's exp()
       does not allow without -ffast-math: the sigmoid and softmax loops spend most of
       their time here. x = k ln2 + r with |r| <= ln2/2 (k by the 1.5 * 2^52 rounding
       trick), e^r by its Taylor series, 2^k built in the exponent bits. */
    static inline double fastbp_exp_nonpos(double x) {
        const double magic = 6755399441055744.0;          /* 1.5 * 2^52 */
        double xc = x < -708.0 ? -708.0 : x;
        double t = xc * 1.4426950408889634 + magic;
        double k = t - magic;
        double r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        int64_t bits, kbits;
        memcpy(&bits, &t, sizeof bits);
        kbits = (bits - 0x4338000000000000LL + 1023) << 52;
        double scale;
        memcpy(&scale, &kbits, sizeof scale);
        double result = p * scale;
        return x < -708.0 ? 0.0 : result;
    }
    static inline float fastbp_expf_nonpos(float x) {
        const float magic = 12582912.0f;                   /* 1.5 * 2^23 */
        float xc = x < -87.0f ? -87.0f : x;
        float t = xc * 1.44269504088896341f + magic;
        float k = t - magic;
        float r = (xc - k * 0.693359375f) - k * -2.12194440e-4f;
        float p = 1.0f / 40320.0f;
        p = p * r + 1.0f / 5040.0f;
        p = p * r + 1.0f / 720.0f;
        p = p * r + 1.0f / 120.0f;
        p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;
        p = p * r + 0.5f;
        p = p * r + 1.0f;
        p = p * r + 1.0f;
        int32_t bits, kbits;
        memcpy(&bits, &t, sizeof bits);
        kbits = (bits - 0x4B400000 + 127) << 23;
        float scale;
        memcpy(&scale, &kbits, sizeof scale);
        float result = p * scale;
        return x < -87.0f ? 0.0f : result;
    }
    """
    double fastbp_exp_nonpos(double x) nogil
    float fastbp_expf_nonpos(float x) nogil


cdef inline floating _exp_nonpos(floating x) noexcept nogil:
    """e^x for x <= 0."""
    if floating is float:
        return fastbp_expf_nonpos(x)
    else:
        return fastbp_exp_nonpos(x)


cdef inline floating _sigmoid(floating z) noexcept nogil:
    # exp() only ever sees -|z| <= 0: no overflow for large |z|, and σ(z) saturates
    # cleanly to 0 or 1. σ(z) = 1/(1+e) for z >= 0, e/(1+e) below: all arithmetic is
    # unconditional and only the factor is selected, so the compiler can vectorise
    # the loop without speculating floating-point operations.
    cdef floating e = _exp_nonpos(-fabs(z))
    cdef floating factor = 1 if z >= 0 else e
    return factor / (1 + e)


cdef void activate(Activation f, floating* Z, const floating* b,
                   Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    """A = σ(Z + b) in place, for Z (m, n) row-major and b (n,) added to every row."""
    cdef Py_ssize_t i, j
    cdef floating* z
    cdef floating v, zmax, total
    for i in range(m):
        z = Z + i * n
        if f == SIGMOID:
            for j in range(n):
                z[j] = _sigmoid(z[j] + b[j])
        elif f == TANH:
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
        else:  # SOFTMAX: subtract the row maximum so exp() cannot overflow.
            zmax = z[0] + b[0]
            for j in range(n):
                z[j] += b[j]
                if z[j] > zmax:
                    zmax = z[j]
            total = 0
            for j in range(n):
                z[j] = _exp_nonpos(z[j] - zmax)
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
        for i in range(size):
            if A[i] <= 0:
                D[i] = 0
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
