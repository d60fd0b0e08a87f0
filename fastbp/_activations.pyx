"""Activation functions σ and their derivatives σ', in place on row-major batches.

Derivatives are computed from the activation a = σ(z), not from z (thinc's habit), so
the forward pass never stores z^l: σ' = a(1 - a) for the sigmoid, 1 - a² for tanh,
[a > 0] for ReLU, 1 for the identity.
"""
from cython cimport floating
from libc.math cimport tanh, tanhf

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

    /* The element-wise loops that call them, compiled for AVX-512, AVX2 and baseline
       x86-64, picked at load time by the CPU (GCC function multiversioning), since a
       distributable build cannot assume -march=native. Elsewhere: one portable build. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    /* noinline: inlined into a caller, the clones' dispatch would be bypassed. */
    #define FASTBP_SIMD_CLONES __attribute__((noinline, \
        target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define FASTBP_SIMD_CLONES
    #endif

    /* z[i, j] = sigma(z[i, j] + b[j]) for z (m, n), with exp() seeing only -|.|.
       A row of n elements that is not a whole number of vectors leaves a scalar
       tail in every row (10 neurons: 2 of every 10 elements, twice the time per
       element). So for short rows, FASTBP_SIGMOID_BLOCK rows at a time are run as
       one flat loop against b repeated that many times: a whole number of vectors
       of any width up to 16 lanes. */
    #define FASTBP_SIGMOID_BLOCK 16
    #define FASTBP_SIGMOID_MAX_N 128          /* bb: 16 KB of stack in float64 */
    #define FASTBP_SIGMOID_LOOP(T, EXP, z, b, count)                             \
        for (ptrdiff_t j = 0; j < (count); j++) {                                \
            T v = (z)[j] + (b)[j];                                               \
            T e = EXP(-(v < 0 ? -v : v));                                        \
            T factor = v >= 0 ? (T)1 : e;                                        \
            (z)[j] = factor / (1 + e);                                           \
        }
    #define FASTBP_SIGMOID_ROWS(NAME, T, EXP)                                    \
    FASTBP_SIMD_CLONES static void NAME(T* z, const T* b, ptrdiff_t m, ptrdiff_t n) { \
        ptrdiff_t i = 0;                                                         \
        if (n % FASTBP_SIGMOID_BLOCK && n <= FASTBP_SIGMOID_MAX_N                \
                && m >= FASTBP_SIGMOID_BLOCK) {                                  \
            T bb[FASTBP_SIGMOID_BLOCK * FASTBP_SIGMOID_MAX_N];                   \
            const ptrdiff_t len = FASTBP_SIGMOID_BLOCK * n;                      \
            for (int r = 0; r < FASTBP_SIGMOID_BLOCK; r++)                       \
                memcpy(bb + r * n, b, n * sizeof(T));                            \
            for (; i + FASTBP_SIGMOID_BLOCK <= m; i += FASTBP_SIGMOID_BLOCK) {   \
                T* block = z + i * n;                                            \
                FASTBP_SIGMOID_LOOP(T, EXP, block, bb, len)                      \
            }                                                                    \
        }                                                                        \
        for (; i < m; i++) {                                                     \
            T* row = z + i * n;                                                  \
            FASTBP_SIGMOID_LOOP(T, EXP, row, b, n)                               \
        }                                                                        \
    }
    FASTBP_SIGMOID_ROWS(fastbp_sigmoid_rows_d, double, fastbp_exp_nonpos)
    FASTBP_SIGMOID_ROWS(fastbp_sigmoid_rows_f, float, fastbp_expf_nonpos)

    /* x[j] = exp(x[j]) for x[j] <= 0 */
    #define FASTBP_EXP_INPLACE(NAME, T, EXP)                                     \
    FASTBP_SIMD_CLONES static void NAME(T* x, ptrdiff_t n) {                    \
        for (ptrdiff_t j = 0; j < n; j++) x[j] = EXP(x[j]);                      \
    }
    FASTBP_EXP_INPLACE(fastbp_exp_nonpos_inplace_d, double, fastbp_exp_nonpos)
    FASTBP_EXP_INPLACE(fastbp_exp_nonpos_inplace_f, float, fastbp_expf_nonpos)
    """
    void fastbp_sigmoid_rows_d(double* z, const double* b, Py_ssize_t m, Py_ssize_t n) nogil
    void fastbp_sigmoid_rows_f(float* z, const float* b, Py_ssize_t m, Py_ssize_t n) nogil
    void fastbp_exp_nonpos_inplace_d(double* x, Py_ssize_t n) nogil
    void fastbp_exp_nonpos_inplace_f(float* x, Py_ssize_t n) nogil


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
