# Cost functions C_x of one example's output a^L and target y.
from cython cimport floating

cdef enum Cost:
    QUADRATIC = 0        # C_x = ½‖y - a‖²
    CROSS_ENTROPY = 1    # C_x = -Σ_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)], sigmoid output
    LOG_LIKELIHOOD = 2   # C_x = -Σ_j y_j ln a_j, softmax output
    POISSON = 3          # C_x = Σ_j [y_j ln(y_j / a_j) - y_j + a_j] (half the deviance), exp output

cdef double cost_sum(Cost c, const floating* A, const floating* Y, const floating* s,
                     Py_ssize_t m, Py_ssize_t n) noexcept nogil
