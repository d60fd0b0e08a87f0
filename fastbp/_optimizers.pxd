# Parameter updates that need more than the fused SGD step of BP3/BP4.
from cython cimport floating

cdef enum Optimizer:
    SGD = 0          # w ← (1 - ηλ/n) w - η g: fused into BP3/BP4, never calls ``update``
    MOMENTUM = 1
    NESTEROV = 2
    ADAM = 3

cdef struct Hyper:
    Optimizer optimizer
    double eta       # learning rate η
    double decay     # λ/n: L2 weight decay (weights only)
    double mu        # momentum μ
    double beta1, beta2, epsilon   # Adam
    double dropout   # probability of dropping a hidden neuron in training

cdef void update(const Hyper* h, long step, Py_ssize_t size, floating* p,
                 const floating* g, floating* s1, floating* s2,
                 bint decay) noexcept nogil
