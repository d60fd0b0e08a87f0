# The C-level API of fastbp's engine, for other Cython code:
#
#     from fastbp._backprop cimport Engine, feedforward_rows
#     cdef Engine engine = net.compiled()      # net: a fastbp.Network
#     with nogil:
#         status = feedforward_rows(&engine.net, m, &X[0, 0], &out[0, 0])
#
# X is (m, n_0) and out (m, n_L), C-contiguous, of the network's dtype (float or double).
# Keep a reference to the engine while calling: it keeps the parameter arrays alive.
from cython cimport floating

from ._activations cimport Activation
from ._costs cimport Cost


cdef struct Layers:
    int L               # number of weight layers
    int* n              # n[l] = n_l, l = 0..L
    void** w            # w[l] -> w^l, (n_l, n_{l-1}) row-major, l = 1..L (w[0] unused)
    void** b            # b[l] -> b^l, (n_l,)
    Activation hidden   # σ for layers 1..L-1
    Activation output   # σ for layer L
    Cost cost


cdef class Engine:
    cdef Layers net
    cdef readonly tuple weights, biases
    cdef int typenum    # NumPy type number of the parameters (NPY_FLOAT32/64)
    cdef object workspace   # training's work buffers, kept between calls (or None)
    cdef tuple grad_buffers  # gradient's A^1..A^L, Δ^1..Δ^L for its chunk (or None)


cdef int feedforward_rows(const Layers* net, int m, const floating* X,
                          floating* out) noexcept nogil
