# Activation functions σ and their derivatives, applied in place to row-major batches.
from cython cimport floating

cdef enum Activation:
    SIGMOID = 0
    TANH = 1
    RELU = 2
    IDENTITY = 3
    SOFTMAX = 4      # output layer only: normalises each row (example)
    EXP = 5          # output layer only: a = e^z, the mean of a Poisson count

cdef void activate(Activation f, floating* Z, const floating* b,
                   Py_ssize_t m, Py_ssize_t n) noexcept nogil

cdef void scale_by_derivative(Activation f, floating* D, const floating* A,
                              Py_ssize_t m, Py_ssize_t n) noexcept nogil
