"""The backpropagation core: forward pass, BP1–BP4 and mini-batch SGD.

Notation (Nielsen, *Neural Networks and Deep Learning*, ch. 2): layer l = 1..L has
weights w^l of shape (n_l, n_{l-1}) and biases b^l of shape (n_l,);
z^l = w^l a^{l-1} + b^l and a^l = σ(z^l). A batch holds one example per row, so for m
examples Z^l = A^{l-1} (w^l)^T + b^l is (m, n_l), and Δ^l (m, n_l) stacks the errors
δ^l of its examples. The cost is the mean C = (1/m) Σ_x C_x.

Two tiers, as in thinc's ops: ``Engine`` methods take typed memoryviews that the
Python API (``fastbp.network``) has already validated, allocate work buffers once,
and call the ``noexcept nogil`` kernels below with the GIL released.
"""
from cython cimport floating
from libc.math cimport isfinite
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport uint32_t, uint64_t
cimport numpy as cnp

cnp.import_array()

from ._activations cimport Activation, activate, scale_by_derivative
from ._activations import ACTIVATIONS
from ._blas cimport gemm, gemv
from ._costs cimport Cost, QUADRATIC, cost_sum
from ._costs import COSTS

# Between two checks for Ctrl-C, an epoch does about this many multiply-adds: a few
# milliseconds of work, so an interrupt lands quickly without costing a GIL round
# trip per step.
cdef double SIGNAL_CHECK_WORK = 1 << 24

# Single-example inference keeps hidden activations on the stack up to this size.
cdef enum:
    MAX_STACK_LAYERS = 16
    STACK_ELEMENTS = 2048


cdef struct Layers:
    int L               # number of weight layers
    int* n              # n[l] = n_l, l = 0..L
    void** w            # w[l] -> w^l, (n_l, n_{l-1}) row-major, l = 1..L (w[0] unused)
    void** b            # b[l] -> b^l, (n_l,)
    Activation hidden   # σ for layers 1..L-1
    Activation output   # σ for layer L
    Cost cost


cdef inline Activation _activation(const Layers* net, int l) noexcept nogil:
    return net.output if l == net.L else net.hidden


# ---------------------------------------------------------------------------------
# The forward pass and the four equations.

cdef void forward(const Layers* net, int m, floating** A) noexcept nogil:
    """Forward pass: A^l = σ(A^{l-1} (w^l)^T + b^l) for l = 1..L.

    A[0] holds the input batch (m, n_0); A[l] receives a^l for every example, (m, n_l).
    z^l is not kept: BP1 and BP2 take σ'(z^l) from a^l.
    """
    cdef int l
    cdef const int* n = net.n
    for l in range(1, net.L + 1):
        if m == 1:
            # One example is a matrix-vector product, which BLAS does with less
            # set-up than a GEMM: a[l] = w[l] @ a[l-1]
            gemv(False, n[l], n[l - 1], <floating>1, <floating*>net.w[l], n[l - 1],
                 A[l - 1], 1, <floating>0, A[l], 1)
        else:
            # A[l] = A[l-1] @ w[l].T
            gemm(False, True, m, n[l], n[l - 1], <floating>1, A[l - 1], n[l - 1],
                 <floating*>net.w[l], n[l - 1], <floating>0, A[l], n[l])
        activate(_activation(net, l), A[l], <floating*>net.b[l], m, n[l])


cdef void bp1_output_error(const Layers* net, int m, const floating* AL,
                           const floating* Y, floating* DL) noexcept nogil:
    """BP1: δ^L = ∇_a C ⊙ σ'(z^L), for each of the m rows of A^L and Y, (m, n_L).

    Quadratic cost: ∇_a C_x = a^L - y, times σ'(z^L) (for a softmax output, the
    Jacobian product). Cross-entropy with a sigmoid output and log-likelihood with a
    softmax output: σ' cancels and δ^L = a^L - y exactly (book, ch. 3), which stays
    accurate where the output saturates. The Python API allows no other pairing.
    """
    cdef Py_ssize_t i, size = <Py_ssize_t>m * net.n[net.L]
    for i in range(size):
        DL[i] = AL[i] - Y[i]
    if net.cost == QUADRATIC:
        scale_by_derivative(net.output, DL, AL, m, net.n[net.L])


cdef void bp2_hidden_error(int m, int n_l, int n_next, const floating* w_next,
                           const floating* D_next, const floating* A_l,
                           Activation f, floating* D_l) noexcept nogil:
    """BP2: δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ σ'(z^l).

    With examples as rows: Δ^l = (Δ^{l+1} w^{l+1}) ⊙ σ'(Z^l), for Δ^{l+1} (m, n_{l+1}),
    w^{l+1} (n_{l+1}, n_l), and A_l = a^l (m, n_l) supplying σ'(z^l).
    """
    # D_l = D_next @ w_next
    gemm(False, False, m, n_l, n_next, <floating>1, D_next, n_next, w_next, n_l,
         <floating>0, D_l, n_l)
    scale_by_derivative(f, D_l, A_l, m, n_l)


cdef void bp3_bias_gradient(int m, int n_l, const floating* D, floating alpha,
                            floating beta, floating* out) noexcept nogil:
    """BP3: ∂C/∂b^l_j = δ^l_j.

    Summed over the batch: out := alpha * Σ_x δ^l + beta * out, for Δ^l (m, n_l) and
    out (n_l,). alpha = 1/m, beta = 0 gives ∂C/∂b^l of the mean cost; out = b^l,
    alpha = -η/m, beta = 1 is the SGD update of b^l.
    """
    cdef Py_ssize_t i, j
    if beta == 0:
        for j in range(n_l):
            out[j] = 0
    elif beta != 1:
        for j in range(n_l):
            out[j] *= beta
    # Row by row, so D is read in memory order.
    for i in range(m):
        for j in range(n_l):
            out[j] += alpha * D[i * n_l + j]


cdef void bp4_weight_gradient(int m, int n_l, int n_prev, const floating* D,
                              const floating* A_prev, floating alpha, floating beta,
                              floating* out) noexcept nogil:
    """BP4: ∂C/∂w^l_jk = a^{l-1}_k δ^l_j.

    Summed over the batch: out := alpha * (Δ^l)^T A^{l-1} + beta * out, for Δ^l (m, n_l),
    A^{l-1} (m, n_{l-1}) and out (n_l, n_{l-1}). With out = w^l, alpha = -η/m and
    beta = 1, the gradient and the SGD update are one GEMM.
    """
    # out = alpha * D.T @ A_prev + beta * out
    gemm(True, False, n_l, n_prev, m, alpha, D, n_l, A_prev, n_prev, beta, out, n_prev)


cdef void backward(const Layers* net, int m, floating** A, const floating* Y,
                   floating** D, floating alpha, floating beta,
                   floating** out_w, floating** out_b) noexcept nogil:
    """BP1, then BP2–BP4 from layer L down to 1, after ``forward`` filled A.

    For l = 1..L: out_w[l] := alpha * Σ_x ∂C_x/∂w^l + beta * out_w[l], and the same for
    out_b[l]. D[l] (m, n_l) is scratch for Δ^l. ``out_w`` may be the network's own
    weights: δ^{l-1} (BP2) is computed before w^l is overwritten (BP4), so every error
    uses the parameters the forward pass saw.
    """
    cdef int l
    cdef const int* n = net.n
    bp1_output_error(net, m, A[net.L], Y, D[net.L])
    for l in range(net.L, 0, -1):
        if l > 1:
            bp2_hidden_error(m, n[l - 1], n[l], <floating*>net.w[l], D[l], A[l - 1],
                             net.hidden, D[l - 1])
        bp3_bias_gradient(m, n[l], D[l], alpha, beta, out_b[l])
        bp4_weight_gradient(m, n[l], n[l - 1], D[l], A[l - 1], alpha, beta, out_w[l])


cdef int sgd_epoch(const Layers* net, const floating* X, const floating* Y,
                   const Py_ssize_t* order, Py_ssize_t n_samples, int batch_size,
                   floating eta, floating** A, floating** D, floating* Yb,
                   double* cost) except -1 nogil:
    """One epoch of mini-batch SGD over the rows ``order`` of X (·, n_0) and Y (·, n_L).

    Each step gathers its rows into the contiguous buffers A[0] and Yb, runs the forward
    pass and backprop, and updates w ← w - (η/m) Σ_x ∇w C_x, b ← b - (η/m) Σ_x ∇b C_x
    in place (m = batch_size, smaller for the last batch). ``cost`` receives the mean
    of C_x over the epoch, each example's cost taken before its own step.

    Returns 0, or 1 as soon as a batch's cost is not finite (before that step's update).
    Raises KeyboardInterrupt between two steps on Ctrl-C.
    """
    cdef const int* n = net.n
    cdef int L = net.L, l, m
    cdef Py_ssize_t start, r, row
    cdef double batch_cost, total = 0, work = 0, step_work = 0
    for l in range(1, L + 1):
        step_work += <double>n[l] * n[l - 1] * batch_size
    cost[0] = 0
    start = 0
    while start < n_samples:
        m = <int>min(<Py_ssize_t>batch_size, n_samples - start)
        for r in range(m):
            row = order[start + r]
            memcpy(A[0] + r * n[0], X + row * n[0], n[0] * sizeof(floating))
            memcpy(Yb + r * n[L], Y + row * n[L], n[L] * sizeof(floating))
        forward(net, m, A)
        batch_cost = cost_sum(net.cost, A[L], Yb, m, n[L])
        if not isfinite(batch_cost):
            cost[0] = batch_cost
            return 1
        total += batch_cost
        backward(net, m, A, Yb, D, -eta / m, <floating>1,
                 <floating**>net.w, <floating**>net.b)
        work += step_work
        if work >= SIGNAL_CHECK_WORK:
            work = 0
            with gil:
                PyErr_CheckSignals()
        start += m
    cost[0] = total / n_samples
    return 0


cdef int _feedforward(const Layers* net, int m, floating* X, floating* out) noexcept nogil:
    """out = a^L for the m rows of X; returns 0, or -1 when out of memory.

    X is only read. Hidden activations of a few examples live on the stack, so
    single-example inference does not touch the allocator.
    """
    cdef floating* A[MAX_STACK_LAYERS + 1]
    cdef floating** ptrs = A
    cdef floating stack_block[STACK_ELEMENTS]
    cdef floating* block = NULL
    cdef Py_ssize_t total = 0, offset = 0
    cdef int l, L = net.L
    cdef int status = 0
    for l in range(1, L):
        total += <Py_ssize_t>m * net.n[l]
    if L > MAX_STACK_LAYERS:
        ptrs = <floating**>malloc((L + 1) * sizeof(floating*))
        if ptrs == NULL:
            return -1
    if total > STACK_ELEMENTS:
        block = <floating*>malloc(total * sizeof(floating))
        if block == NULL:
            status = -1
    if status == 0:
        for l in range(1, L):
            ptrs[l] = (block if block != NULL else stack_block) + offset
            offset += <Py_ssize_t>m * net.n[l]
        ptrs[0] = X
        ptrs[L] = out
        forward(net, m, ptrs)
    free(block)
    if ptrs != A:
        free(ptrs)
    return status


# ---------------------------------------------------------------------------------
# Work buffers.

cdef floating* _alloc_rows(const Layers* net, int rows, int first, int last,
                           floating** bufs) noexcept nogil:
    """Point bufs[l] at a fresh (rows, n_l) buffer for l = first..last, all in one block.

    Returns the block for ``free``, or NULL when out of memory (or nothing to allocate).
    """
    cdef Py_ssize_t total = 0, offset = 0
    cdef int l
    cdef floating* block
    for l in range(first, last + 1):
        total += <Py_ssize_t>rows * net.n[l]
    if total == 0:
        return NULL
    block = <floating*>malloc(total * sizeof(floating))
    if block == NULL:
        return NULL
    for l in range(first, last + 1):
        bufs[l] = block + offset
        offset += <Py_ssize_t>rows * net.n[l]
    return block


cdef inline void* _data(cnp.ndarray arr) noexcept:
    """The data pointer of a NumPy array that the Python tier has validated."""
    return cnp.PyArray_DATA(arr)


cdef class Engine:
    """Compiled view of one network's parameters: pointers into the live arrays.

    Parameters
    ----------
    weights, biases : sequences of ndarray
        w^l (n_l, n_{l-1}) and b^l (n_l,) for l = 1..L, all C-contiguous, writeable,
        and of one dtype (float32 or float64). The engine keeps references to them;
        ``matches`` tells whether a parameter list still holds the same arrays.
    hidden, output : str
        Activation names for layers 1..L-1 and for layer L.
    cost : str
        Cost name.
    """
    cdef Layers net
    cdef readonly tuple weights, biases

    def __cinit__(self, weights, biases, str hidden, str output, str cost):
        cdef int l, L = len(weights)
        self.weights = tuple(weights)
        self.biases = tuple(biases)
        self.net.L = L
        self.net.n = <int*>calloc(L + 1, sizeof(int))
        self.net.w = <void**>calloc(L + 1, sizeof(void*))
        self.net.b = <void**>calloc(L + 1, sizeof(void*))
        if self.net.n == NULL or self.net.w == NULL or self.net.b == NULL:
            raise MemoryError()
        self.net.n[0] = self.weights[0].shape[1]
        for l in range(1, L + 1):
            self.net.n[l] = self.weights[l - 1].shape[0]
            self.net.w[l] = _data(self.weights[l - 1])
            self.net.b[l] = _data(self.biases[l - 1])
        self.net.hidden = ACTIVATIONS[hidden]
        self.net.output = ACTIVATIONS[output]
        self.net.cost = COSTS[cost]

    def __dealloc__(self):
        free(self.net.n)
        free(self.net.w)
        free(self.net.b)

    def matches(self, weights, biases):
        """True when ``weights`` and ``biases`` hold exactly this engine's arrays."""
        cdef Py_ssize_t i
        if len(weights) != len(self.weights) or len(biases) != len(self.biases):
            return False
        for i in range(len(self.weights)):
            if weights[i] is not self.weights[i] or biases[i] is not self.biases[i]:
                return False
        return True

    def feedforward(self, cnp.ndarray X, cnp.ndarray out):
        """out[...] = a^L for the rows of X: X (m, n_0), out (m, n_L), C-contiguous,
        of the parameters' dtype (checked by the caller)."""
        cdef int m = <int>cnp.PyArray_DIM(out, 0)    # X may be one 1-d example
        cdef int status
        if m == 0:
            return
        if cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32:
            with nogil:
                status = _feedforward(&self.net, m, <float*>cnp.PyArray_DATA(X),
                                      <float*>cnp.PyArray_DATA(out))
        else:
            with nogil:
                status = _feedforward(&self.net, m, <double*>cnp.PyArray_DATA(X),
                                      <double*>cnp.PyArray_DATA(out))
        if status != 0:
            raise MemoryError()

    def gradient(self, const floating[:, ::1] X, const floating[:, ::1] Y,
                 nabla_w, nabla_b):
        """Fill nabla_w[l-1], nabla_b[l-1] with ∂C/∂w^l, ∂C/∂b^l of the mean cost.

        X (m, n_0) and Y (m, n_L) are the batch; the nabla arrays are shaped like the
        parameters. Returns Σ_x C_x over the batch.
        """
        cdef int m = X.shape[0], L = self.net.L, l
        cdef floating** A = <floating**>calloc(L + 1, sizeof(floating*))
        cdef floating** D = <floating**>calloc(L + 1, sizeof(floating*))
        cdef floating** gw = <floating**>calloc(L + 1, sizeof(floating*))
        cdef floating** gb = <floating**>calloc(L + 1, sizeof(floating*))
        cdef floating* blocks[2]
        cdef double total
        blocks[0] = blocks[1] = NULL
        try:
            if A == NULL or D == NULL or gw == NULL or gb == NULL:
                raise MemoryError()
            for l in range(1, L + 1):
                gw[l] = <floating*>_data(nabla_w[l - 1])
                gb[l] = <floating*>_data(nabla_b[l - 1])
            with nogil:
                blocks[0] = _alloc_rows(&self.net, m, 1, L, A)
                blocks[1] = _alloc_rows(&self.net, m, 1, L, D)
            if blocks[0] == NULL or blocks[1] == NULL:
                raise MemoryError()
            A[0] = <floating*>&X[0, 0]    # read only
            with nogil:
                forward(&self.net, m, A)
                total = cost_sum(self.net.cost, A[L], &Y[0, 0], m, self.net.n[L])
                backward(&self.net, m, A, &Y[0, 0], D, <floating>1 / m, <floating>0,
                         gw, gb)
            return total
        finally:
            free(blocks[0])
            free(blocks[1])
            free(A)
            free(D)
            free(gw)
            free(gb)

    def sgd_epoch(self, const floating[:, ::1] X, const floating[:, ::1] Y,
                  const Py_ssize_t[::1] order, int batch_size, double eta):
        """One epoch of SGD in place over the rows ``order`` of X and Y.

        Returns ``(status, cost)``: status 0 and the epoch's mean training cost, or
        status 1 and the first non-finite batch cost (training stopped before that
        step's update).
        """
        cdef int L = self.net.L, status
        cdef Py_ssize_t n_samples = order.shape[0]
        cdef floating** A = <floating**>calloc(L + 1, sizeof(floating*))
        cdef floating** D = <floating**>calloc(L + 1, sizeof(floating*))
        cdef floating* blocks[3]
        cdef double cost = 0
        blocks[0] = blocks[1] = blocks[2] = NULL
        try:
            if A == NULL or D == NULL:
                raise MemoryError()
            with nogil:
                blocks[0] = _alloc_rows(&self.net, batch_size, 0, L, A)
                blocks[1] = _alloc_rows(&self.net, batch_size, 1, L, D)
                blocks[2] = <floating*>malloc(
                    <Py_ssize_t>batch_size * self.net.n[L] * sizeof(floating))
            if blocks[0] == NULL or blocks[1] == NULL or blocks[2] == NULL:
                raise MemoryError()
            with nogil:
                status = sgd_epoch(&self.net, &X[0, 0], &Y[0, 0], &order[0], n_samples,
                                   batch_size, <floating>eta, A, D, blocks[2], &cost)
            return status, cost
        finally:
            free(blocks[0])
            free(blocks[1])
            free(blocks[2])
            free(A)
            free(D)



cdef bint _any_nonfinite(const void* data, Py_ssize_t n, bint is_float) noexcept nogil:
    # A float is NaN or infinite exactly when its exponent bits are all ones. Testing
    # the bits with integer ops (no branch, no float compare) lets the compiler
    # vectorise the loop without -ffast-math.
    cdef const uint64_t* d = <const uint64_t*>data
    cdef const uint32_t* f = <const uint32_t*>data
    cdef uint64_t EXP64 = 0x7ff0000000000000ULL
    cdef uint32_t EXP32 = 0x7f800000U
    cdef Py_ssize_t i
    cdef int bad = 0
    if is_float:
        for i in range(n):
            bad |= (f[i] & EXP32) == EXP32
    else:
        for i in range(n):
            bad |= (d[i] & EXP64) == EXP64
    return bad


def all_finite(cnp.ndarray x):
    """True when no element of ``x`` (float32 or float64, C-contiguous) is NaN or inf.

    One pass with the GIL released and no temporary, unlike ``np.isfinite(x).all()``,
    which allocates a boolean array as large as ``x``.
    """
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef const void* data = cnp.PyArray_DATA(x)
    cdef bint bad
    if not cnp.PyArray_IS_C_CONTIGUOUS(x) or typenum not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64):
        raise TypeError("all_finite needs a C-contiguous float32 or float64 array")
    if n < 65536:  # releasing the GIL costs more than checking a small array
        return not _any_nonfinite(data, n, typenum == cnp.NPY_FLOAT32)
    with nogil:
        bad = _any_nonfinite(data, n, typenum == cnp.NPY_FLOAT32)
    return not bad
