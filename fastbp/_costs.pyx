"""Cost functions, summed over a batch: Σ_x C_x for outputs A (m, n) and targets Y (m, n).

The network's cost is the mean C = (1/n) Σ_x C_x; callers divide. The gradient side of
each cost lives in BP1 (``_backprop.bp1_output_error``), where the pairing with the
output activation decides the formula.
"""
from cython cimport floating
from libc.float cimport DBL_EPSILON, FLT_EPSILON
from libc.math cimport log

# Public names of the costs, as accepted by ``fastbp.Network``.
COSTS = {
    "quadratic": QUADRATIC,
    "cross_entropy": CROSS_ENTROPY,
    "log_likelihood": LOG_LIKELIHOOD,
    "poisson": POISSON,
}


cdef inline double _safe_log(double a, double eps) noexcept nogil:
    # A saturated output can be exactly 0 or 1; clipping to [eps, 1 - eps] (as
    # scikit-learn's log_loss does) turns log(0) = -inf into a large finite cost.
    if a < eps:
        a = eps
    elif a > 1 - eps:
        a = 1 - eps
    return log(a)


cdef double _row_cost(Cost c, const floating* a, const floating* y, Py_ssize_t n,
                      double eps) noexcept nogil:
    cdef Py_ssize_t j
    cdef double total = 0, d, yj
    if c == QUADRATIC:
        for j in range(n):
            d = <double>y[j] - <double>a[j]
            total += d * d
        return 0.5 * total
    if c == POISSON:
        # scikit-learn's poisson_loss: y ln(y/a) - y + a, with 0 ln 0 = 0.
        for j in range(n):
            yj = y[j]
            if yj != 0:
                total += yj * (log(yj) - log(<double>a[j]))
            total += <double>a[j] - yj
        return total
    for j in range(n):
        yj = y[j]
        # Terms with a zero coefficient are skipped, so 0 · ln 0 never makes a NaN.
        if yj != 0:
            total -= yj * _safe_log(a[j], eps)
        if c == CROSS_ENTROPY and yj != 1:
            total -= (1 - yj) * _safe_log(1 - <double>a[j], eps)
    return total


cdef double cost_sum(Cost c, const floating* A, const floating* Y, const floating* s,
                     Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    """Return Σ_x s_x C_x over the m rows of A and Y (both (m, n) row-major), in double.

    ``s`` holds one weight per row, or is NULL for weights of 1.
    """
    cdef Py_ssize_t i
    cdef double total = 0
    cdef double eps = FLT_EPSILON if floating is float else DBL_EPSILON
    for i in range(m):
        if s == NULL:
            total += _row_cost(c, A + i * n, Y + i * n, n, eps)
        else:
            total += s[i] * _row_cost(c, A + i * n, Y + i * n, n, eps)
    return total


def cost_sum_py(str name, const floating[:, ::1] A, const floating[:, ::1] Y):
    """Σ_x C_x for the cost called ``name``, outputs A and targets Y both (m, n_L)."""
    if A.shape[0] != Y.shape[0] or A.shape[1] != Y.shape[1]:
        raise ValueError("A and Y must have the same shape")
    cdef Cost c = COSTS[name]
    cdef double total = 0
    if A.shape[0] == 0:
        return total
    with nogil:
        total = cost_sum(c, &A[0, 0], &Y[0, 0], <floating*>NULL, A.shape[0], A.shape[1])
    return total
