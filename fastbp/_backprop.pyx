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
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
cimport numpy as cnp

cnp.import_array()

import numpy as np

from ._activations cimport Activation, activate, scale_by_derivative
from ._activations import ACTIVATIONS
from ._blas cimport (FASTBP_PLAN_LAYER, finish_task, gather_ahead as plan_gather_ahead,
                     kernel_threads, layer_scratch, product, start_task)
from ._costs cimport Cost, LOG_LIKELIHOOD, QUADRATIC, cost_sum
from ._costs import COSTS
from ._optimizers cimport ADAM, SGD, Hyper, update
from ._optimizers import OPTIMIZERS

# Between two checks for Ctrl-C, an epoch does about this many multiply-adds: a few
# milliseconds of work, so an interrupt lands quickly without costing a GIL round
# trip per step.
cdef double SIGNAL_CHECK_WORK = 1 << 24

# Whether train_epoch may gather the next batch on a worker thread (see there); off
# only in tests and timings that compare both ways.
cdef bint gather_ahead = True
# Batches gathered that way since import (a count for tests), added to atomically:
# several threads may train at once.
cdef extern from "finite.h" nogil:
    void fastbp_count_gathered()
    long fastbp_gathered()
    # Whether any of the n floats (doubles) at data is NaN or infinite (src/finite.c)
    int fastbp_any_nonfinite_d(const void* data, Py_ssize_t n)
    int fastbp_any_nonfinite_f(const void* data, Py_ssize_t n)

from ._simd cimport bind_simd, simd_variant
bind_simd()     # the element-wise loops follow the kernels' instruction set


def _simd_variant():
    """Which variant of this module's element-wise loops runs now (a test hook)."""
    return simd_variant()


# The first layer's products on a batch of CSR rows (src/sparse.c).
cdef extern from "sparse.h" nogil:
    ctypedef struct fastbp_csr:
        int rows
        int64_t* indptr
        int32_t* indices
        void* data
    int fastbp_csr_gather_d(const void* indptr, const void* indices, int index_bytes,
                            const double* data, const Py_ssize_t* order,
                            Py_ssize_t first, int m, int check, fastbp_csr* out)
    int fastbp_csr_gather_f(const void* indptr, const void* indices, int index_bytes,
                            const float* data, const Py_ssize_t* order,
                            Py_ssize_t first, int m, int check, fastbp_csr* out)
    void fastbp_csr_times_wt_d(const fastbp_csr* x, int n_out, int n_in,
                               const double* W, double* Z)
    void fastbp_csr_times_wt_f(const fastbp_csr* x, int n_out, int n_in,
                               const float* W, float* Z)
    void fastbp_csr_bp4_d(const fastbp_csr* x, int n_out, int n_in, const double* D,
                          double alpha, double beta, double* out)
    void fastbp_csr_bp4_f(const fastbp_csr* x, int n_out, int n_in, const float* D,
                          float alpha, float beta, float* out)

# Single-example inference keeps hidden activations on the stack up to this size.
cdef enum:
    MAX_STACK_LAYERS = 16
    STACK_ELEMENTS = 2048

# BLAS takes sizes as C ints: inference on more rows goes in chunks of this many.
cdef enum:
    MAX_ROWS_PER_CALL = 1 << 30

# Inference on many rows goes in chunks of about this many multiply-adds (a tenth of
# a second or less), with a check for Ctrl-C between two. Large, because a row's last
# bit can depend on how many rows its product has (the kernels are chosen by shape):
# the MNIST test set through [784, 100, 10] stays one call, as it was before chunking.
# At least FEEDFORWARD_MIN_ROWS rows, enough for GEMM to run at full speed.
cdef double FEEDFORWARD_CHUNK_WORK = 1 << 28
cdef enum:
    FEEDFORWARD_MIN_ROWS = 64

# ``backprop`` (Engine.gradient) runs its rows in chunks of at most this many, so that
# any row count fits BLAS's int sizes and its scratch stays small (65,536 rows of MNIST
# through [784, 30, 10]: 21 MB), and of about FEEDFORWARD_CHUNK_WORK multiply-adds in
# the forward pass (at least FEEDFORWARD_MIN_ROWS rows), with a check for Ctrl-C
# between two.
cdef enum:
    GRADIENT_CHUNK_ROWS = 1 << 16

# Inference on sparse X gathers this many rows at a time into a CSR buffer.
cdef enum:
    SPARSE_CHUNK_ROWS = 1024

# ``Layers`` and ``Engine``'s fields are declared in _backprop.pxd, for cimport.


cdef inline Activation _activation(const Layers* net, int l) noexcept nogil:
    return net.output if l == net.L else net.hidden


# ---------------------------------------------------------------------------------
# The forward pass and the four equations.
#
# In training, In[l] is the input that layer l+1 sees: In[0] is the batch, and In[l]
# is A[l] itself (the same buffer), or A[l] ⊙ M[l] when dropout masks hidden neuron
# outputs. A[l] always keeps σ(z^l) unmasked, since σ'(z^l) is computed from it.

cdef inline double _uniform(uint64_t* state) noexcept nogil:
    """A uniform double in [0, 1) from splitmix64 (small, fast, and seedable)."""
    state[0] += 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    return (z >> 11) * (1.0 / 9007199254740992.0)


cdef inline void _product(int batch, bint trans_a, bint trans_b, int m, int n, int k,
                          floating alpha, const floating* A, int lda, const floating* B,
                          int ldb, floating beta, floating* C, int ldc) noexcept nogil:
    """C := alpha * op(A) @ op(B) + beta * C for a product of a batch of ``batch`` rows,
    by the path the planner chooses (_blas.product)."""
    product(batch, 0, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)


cdef void forward(const Layers* net, int m, floating** In, floating** A,
                  floating** M, double dropout, uint64_t* rng,
                  floating* T=NULL, bint* nonfinite=NULL) noexcept nogil:
    """Forward pass: A^l = σ(In^{l-1} (w^l)^T + b^l) for l = 1..L.

    In[0] holds the input batch (m, n_0); A[l] receives a^l for every example, (m, n_l).
    z^l is not kept: BP1 and BP2 take σ'(z^l) from a^l. With M != NULL (training with
    dropout), each hidden neuron is dropped with probability ``dropout``: M[l] holds
    0 or 1/(1 - dropout) (inverted dropout, so inference needs no rescaling) and
    In[l] = A[l] ⊙ M[l]; otherwise In[l] must be A[l]. T, if not NULL, is scratch of
    m * n_l elements for every layer where ``_blas.layer_scratch`` holds. If
    ``nonfinite`` is not NULL, it receives whether In[0] holds NaN or inf (found while
    the first product reads it, where the planner's path does so; else in a pass of
    its own).
    """
    cdef int l
    cdef Py_ssize_t i, size
    cdef const int* n = net.n
    cdef floating keep = <floating>(1 / (1 - dropout)) if dropout < 1 else 0
    cdef bint checked
    for l in range(1, net.L + 1):
        # A[l] = In[l-1] @ w[l].T, by the planner's path (_blas.product); some paths
        # check In[0] for NaN and inf while they read it.
        checked = product(m, FASTBP_PLAN_LAYER, False, True, m, n[l], n[l - 1],
                          <floating>1, In[l - 1], n[l - 1], <floating*>net.w[l], n[l - 1],
                          <floating>0, A[l], n[l], T,
                          nonfinite if l == 1 else NULL)
        if l == 1 and nonfinite != NULL and not checked:
            nonfinite[0] = _any_nonfinite(In[0], <Py_ssize_t>m * n[0], floating is float)
        activate(_activation(net, l), A[l], <floating*>net.b[l], m, n[l])
        if M != NULL and l < net.L:
            size = <Py_ssize_t>m * n[l]
            for i in range(size):
                M[l][i] = keep if _uniform(rng) >= dropout else 0
                In[l][i] = A[l][i] * M[l][i]


cdef void bp1_output_error(const Layers* net, int m, const floating* AL,
                           const floating* Y, const floating* s,
                           floating* DL) noexcept nogil:
    """BP1: δ^L = ∇_a C ⊙ σ'(z^L), for each of the m rows of A^L and Y, (m, n_L).

    Quadratic cost: ∇_a C_x = a^L - y, times σ'(z^L) (for a softmax output, the
    Jacobian product). Cross-entropy with a sigmoid output and log-likelihood with a
    softmax output: σ' cancels and δ^L = a^L - y exactly (book, ch. 3; for targets
    whose rows do not sum to 1, a^L Σ_j y_j - y), which stays accurate where the
    output saturates. The Poisson deviance with an exp output: δ^L = a^L - y too.
    The Python API allows no other pairing. With sample weights s (m,), row x is scaled by s_x: the error of Σ_x s_x C_x.
    """
    cdef Py_ssize_t i, j, nL = net.n[net.L]
    cdef Py_ssize_t size = <Py_ssize_t>m * nL
    cdef floating total
    if net.cost == LOG_LIKELIHOOD:
        # Through the softmax, ∇_a C = -y/a gives δ^L = a^L Σ_j y_j - y: the familiar
        # a^L - y whenever the target row sums to 1, and still exact when it does not.
        for i in range(m):
            total = 0
            for j in range(nL):
                total += Y[i * nL + j]
            for j in range(nL):
                DL[i * nL + j] = AL[i * nL + j] * total - Y[i * nL + j]
    else:
        for i in range(size):
            DL[i] = AL[i] - Y[i]
    if net.cost == QUADRATIC:
        scale_by_derivative(net.output, DL, AL, m, nL)
    if s != NULL:
        for i in range(m):
            for j in range(nL):
                DL[i * nL + j] *= s[i]


cdef void bp2_hidden_error(int m, int n_l, int n_next, const floating* w_next,
                           const floating* D_next, const floating* A_l,
                           const floating* M_l, Activation f,
                           floating* D_l) noexcept nogil:
    """BP2: δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ σ'(z^l).

    With examples as rows: Δ^l = (Δ^{l+1} w^{l+1}) ⊙ σ'(Z^l), for Δ^{l+1} (m, n_{l+1}),
    w^{l+1} (n_{l+1}, n_l), and A_l = a^l (m, n_l) supplying σ'(z^l). A dropout mask
    M_l (m, n_l), if not NULL, multiplies in too: a dropped neuron passes no error back.
    """
    cdef Py_ssize_t i, size = <Py_ssize_t>m * n_l
    # D_l = D_next @ w_next
    _product(m, False, False, m, n_l, n_next, <floating>1, D_next, n_next, w_next, n_l,
             <floating>0, D_l, n_l)
    if M_l != NULL:
        for i in range(size):
            D_l[i] *= M_l[i]
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
    beta = 1 - ηλ/n (L2 weight decay), the gradient and the SGD update are one GEMM.
    """
    # out = alpha * D.T @ A_prev + beta * out
    _product(m, True, False, n_l, n_prev, m, alpha, D, n_l, A_prev, n_prev, beta, out,
             n_prev)


cdef void backward(const Layers* net, int m, floating** In, floating** A,
                   floating** M, const floating* Y, const floating* s, floating** D,
                   floating alpha, floating beta_w, floating beta_b,
                   floating** out_w, floating** out_b,
                   const fastbp_csr* x0=NULL) noexcept nogil:
    """BP1, then BP2–BP4 from layer L down to 1, after ``forward`` filled In and A
    (or, with x0 the batch as CSR rows, after ``_forward_csr``).

    For l = 1..L: out_w[l] := alpha * Σ_x s_x ∂C_x/∂w^l + beta_w * out_w[l], and
    out_b[l] likewise with beta_b (s_x = 1 when s is NULL). D[l] (m, n_l) is scratch
    for Δ^l; M is the dropout masks or NULL. ``out_w`` may be the network's own
    weights: δ^{l-1} (BP2) is computed before w^l is overwritten (BP4), so every error
    uses the parameters the forward pass saw.
    """
    cdef int l
    cdef const int* n = net.n
    bp1_output_error(net, m, A[net.L], Y, s, D[net.L])
    for l in range(net.L, 0, -1):
        if l > 1:
            bp2_hidden_error(m, n[l - 1], n[l], <floating*>net.w[l], D[l], A[l - 1],
                             M[l - 1] if M != NULL else NULL, net.hidden, D[l - 1])
        bp3_bias_gradient(m, n[l], D[l], alpha, beta_b, out_b[l])
        if l == 1 and x0 != NULL:
            _csr_bp4(x0, n[1], n[0], D[1], alpha, beta_w, out_w[1])
        else:
            bp4_weight_gradient(m, n[l], n[l - 1], D[l], In[l - 1], alpha, beta_w,
                                out_w[l])


# ---------------------------------------------------------------------------------
# The first layer from CSR rows: sparse X (fit, partial_fit and inference). The
# batch's rows are gathered into a small CSR buffer (never densified); z^1 and BP4's
# ∂C/∂w^1 are computed from their stored entries alone, and layers 2..L, BP1-BP3
# and the updates are the dense path's own.

cdef inline int _csr_gather(const void* indptr, const void* indices, int index_bytes,
                            const floating* data, const Py_ssize_t* order,
                            Py_ssize_t first, int m, bint check,
                            fastbp_csr* out) noexcept nogil:
    """Copy rows order[0..m) (NULL: first..first+m-1) of CSR X into out; 1 if
    ``check`` finds a NaN or inf (see sparse.h)."""
    if floating is float:
        return fastbp_csr_gather_f(indptr, indices, index_bytes, data, order, first, m,
                                   check, out)
    else:
        return fastbp_csr_gather_d(indptr, indices, index_bytes, data, order, first,
                                   m, check, out)


cdef inline void _csr_times_wt(const fastbp_csr* x, int n_out, int n_in,
                               const floating* W, floating* Z) noexcept nogil:
    """Z := X W^T for the CSR rows X (x.rows, n_in), W (n_out, n_in)."""
    if floating is float:
        fastbp_csr_times_wt_f(x, n_out, n_in, W, Z)
    else:
        fastbp_csr_times_wt_d(x, n_out, n_in, W, Z)


cdef inline void _csr_bp4(const fastbp_csr* x, int n_out, int n_in, const floating* D,
                          floating alpha, floating beta, floating* out) noexcept nogil:
    """BP4 for layer 1 on CSR rows: out := alpha * D^T X + beta * out."""
    if floating is float:
        fastbp_csr_bp4_f(x, n_out, n_in, D, alpha, beta, out)
    else:
        fastbp_csr_bp4_d(x, n_out, n_in, D, alpha, beta, out)


cdef inline Layers _rest(const Layers* net) noexcept nogil:
    """Layers 2..L of ``net`` as a network of their own, whose input is a^1."""
    cdef Layers rest = net[0]
    rest.L = net.L - 1
    rest.n = net.n + 1
    rest.w = net.w + 1
    rest.b = net.b + 1
    return rest


cdef void _forward_csr(const Layers* net, const fastbp_csr* x0, floating** In,
                       floating** A, floating** M, double dropout,
                       uint64_t* rng) noexcept nogil:
    """``forward`` for a batch of CSR rows x0 (x0.rows, n_0) in place of In[0]:
    A^1 = σ(X (w^1)^T + b^1) from X's stored entries, then layers 2..L by ``forward``
    (dropout masks drawn in the same order as there)."""
    cdef int m = x0.rows
    cdef Py_ssize_t i, size = <Py_ssize_t>m * net.n[1]
    cdef floating keep = <floating>(1 / (1 - dropout)) if dropout < 1 else 0
    cdef Layers rest
    # A[1] = X @ w[1].T
    _csr_times_wt(x0, net.n[1], net.n[0], <const floating*>net.w[1], A[1])
    activate(_activation(net, 1), A[1], <floating*>net.b[1], m, net.n[1])
    if net.L == 1:
        return
    if M != NULL:
        for i in range(size):
            M[1][i] = keep if _uniform(rng) >= dropout else 0
            In[1][i] = A[1][i] * M[1][i]
    rest = _rest(net)
    forward(&rest, m, In + 1, A + 1, M + 1 if M != NULL else NULL, dropout, rng)


cdef int _feedforward_csr(const Layers* net, Py_ssize_t m, const void* indptr,
                          const void* indices, int index_bytes, const floating* data,
                          fastbp_csr* batch, int chunk, floating* A1,
                          floating* out) except -2 nogil:
    """out = a^L (m, n_L) for the m rows of CSR X, in chunks of ``chunk`` rows
    gathered into ``batch`` (room for any chunk's entries); A1: scratch
    (chunk, n_1) unless L = 1. Returns 0, or -1 when out of memory; raises
    KeyboardInterrupt (returning -2) between two chunks on Ctrl-C."""
    cdef Py_ssize_t start = 0
    cdef int rows, status = 0, L = net.L
    cdef Layers rest = _rest(net)
    cdef floating* Z
    while start < m and status == 0:
        rows = <int>min(m - start, <Py_ssize_t>chunk)
        _csr_gather(indptr, indices, index_bytes, data, NULL, start, rows, False, batch)
        Z = out + start * net.n[L] if L == 1 else A1
        # Z = X[start:start + rows] @ w[1].T
        _csr_times_wt(batch, net.n[1], net.n[0], <const floating*>net.w[1], Z)
        activate(_activation(net, 1), Z, <floating*>net.b[1], rows, net.n[1])
        if L > 1:
            status = _feedforward_rows(&rest, rows, A1, out + start * net.n[L], NULL)
        start += rows
        if start < m and status == 0:
            with gil:
                PyErr_CheckSignals()
    return status


cdef int _gradient_csr(const Layers* net, Py_ssize_t m, const void* indptr,
                       const void* indices, int index_bytes, const floating* data,
                       fastbp_csr* batch, int chunk, floating** A, const floating* Y,
                       const floating* s, floating** D, floating alpha, floating** gw,
                       floating** gb, double* total_out) except -1 nogil:
    """``_gradient`` for the m rows of CSR X, gathered ``chunk`` rows at a time into
    ``batch`` (room for any chunk's entries); A[0] is unused."""
    cdef Py_ssize_t start = 0
    cdef int rows, nL = net.n[net.L]
    cdef double total = 0
    cdef floating beta = 0
    while start < m:
        rows = <int>min(m - start, <Py_ssize_t>chunk)
        _csr_gather(indptr, indices, index_bytes, data, NULL, start, rows, False, batch)
        _forward_csr(net, batch, A, A, <floating**>NULL, 0, NULL)
        total += cost_sum(net.cost, A[net.L], Y + start * nL,
                          s + start if s != NULL else NULL, rows, nL)
        backward(net, rows, A, A, <floating**>NULL, Y + start * nL,
                 s + start if s != NULL else NULL, D, alpha, beta, beta, gw, gb, batch)
        beta = 1
        start += rows
        if start < m:
            with gil:
                PyErr_CheckSignals()
    total_out[0] = total
    return 0


cdef class _CsrBatch:
    """A CSR matrix X's arrays and a buffer for a batch of up to ``rows`` of its rows
    with up to ``entries`` stored values between them (int32 columns, X's dtype).
    X: scipy.sparse CSR whose indptr and indices share one dtype, int32 or int64,
    checked by the caller (``_validation.check_features``)."""
    cdef fastbp_csr csr
    cdef cnp.ndarray indptr, indices, data, x_indptr, x_indices, x_data
    cdef int index_bytes

    def __cinit__(self, X, int rows, Py_ssize_t entries):
        self.x_indptr, self.x_indices, self.x_data = X.indptr, X.indices, X.data
        self.index_bytes = self.x_indices.itemsize
        self.indptr = np.empty(rows + 1, np.int64)
        self.indices = np.empty(max(entries, 1), np.int32)
        self.data = np.empty(max(entries, 1), self.x_data.dtype)
        self.csr.rows = 0
        self.csr.indptr = <int64_t*>cnp.PyArray_DATA(self.indptr)
        self.csr.indices = <int32_t*>cnp.PyArray_DATA(self.indices)
        self.csr.data = cnp.PyArray_DATA(self.data)

    cdef void point(self, Work* work):
        work.x_indptr = cnp.PyArray_DATA(self.x_indptr)
        work.x_indices = cnp.PyArray_DATA(self.x_indices)
        work.x_index_bytes = self.index_bytes
        work.x0 = &self.csr


def _csr_batch_entries(X, int rows, bint consecutive):
    """The most stored values a batch of ``rows`` rows of CSR X can hold: of rows
    start..start+rows-1 for ``consecutive`` (start a multiple of rows), else of any
    ``rows`` rows."""
    indptr = np.asarray(X.indptr, np.int64)
    m = indptr.shape[0] - 1
    if m == 0:
        return 0
    if consecutive:
        ends = np.minimum(np.arange(rows, m + rows, rows), m)
        return int((indptr[ends] - indptr[0:m:rows]).max())
    lengths = np.diff(indptr)
    return int(np.partition(lengths, m - min(rows, m))[m - min(rows, m):].sum())


cdef struct Work:
    # Buffers for one mini-batch, each entry l = 0..L pointing at (batch_size, n_l)
    # values (void so the struct serves both dtypes; cast on use).
    void** In       # In[0]: the gathered rows of X; In[l]: input to layer l+1
    void** A        # a^l, l = 1..L
    void** M        # dropout masks, l = 1..L-1, or NULL
    void** D        # Δ^l, l = 1..L
    void* Y         # the gathered targets (batch_size, n_L)
    void* s         # the gathered sample weights (batch_size,), or NULL
    void* X_next    # a second set of In[0], Y and s, for the next batch's rows
    void* Y_next    # gathered meanwhile on another thread; X_next NULL: none
    void* s_next
    void** gw       # gradient buffers (shaped like the parameters), for optimisers
    void** gb       # other than plain SGD; NULL for SGD
    void** s1w      # optimiser state (momentum velocity, Adam's first moment)
    void** s1b
    void** s2w      # Adam's second moment
    void** s2b
    const void* x_indptr    # X as CSR rows (see Gather), or NULL: X dense
    const void* x_indices
    int x_index_bytes
    fastbp_csr* x0          # the batch's CSR rows, gathered (X sparse)


cdef struct Gather:
    # One mini-batch's rows order[start:start + m] of X, Y and S (NULL: none), copied
    # to contiguous buffers; X's checked for NaN and inf if ``check``.
    const void* X
    const void* Y
    const void* S
    const Py_ssize_t* order
    Py_ssize_t start
    int m, n0, nL
    bint single     # float32 (else float64)
    bint check
    void* Xb
    void* Yb
    void* Sb
    bint nonfinite  # out: a gathered row of X holds NaN or inf (gathering stopped)
    const void* indptr      # X as CSR rows: indptr, indices (index_bytes each) and
    const void* indices     # the values X; NULL: X dense
    int index_bytes
    fastbp_csr* csr         # the batch's CSR rows (X sparse; Xb unused)


cdef void _gather_rows(Gather* g, const floating* X, const floating* Y,
                       const floating* S, floating* Xb, floating* Yb,
                       floating* Sb) noexcept nogil:
    cdef Py_ssize_t r, row
    g.nonfinite = False
    for r in range(g.m):
        row = g.order[g.start + r]
        memcpy(Yb + r * g.nL, Y + row * g.nL, g.nL * sizeof(floating))
        if S != NULL:
            Sb[r] = S[row]
        if g.indptr != NULL:
            continue    # X is sparse: its rows are gathered below
        memcpy(Xb + r * g.n0, X + row * g.n0, g.n0 * sizeof(floating))
        # Checked while the row is in cache: spares the caller a pass over all of X.
        if g.check and _any_nonfinite(Xb + r * g.n0, g.n0, floating is float):
            g.nonfinite = True
            return
    if g.indptr != NULL:
        g.nonfinite = _csr_gather(g.indptr, g.indices, g.index_bytes, X,
                                  g.order + g.start, 0, g.m, g.check, g.csr)


cdef void* _gather(void* job) noexcept nogil:
    """Gather one mini-batch (``job``: a Gather); a task for ``start_task``."""
    cdef Gather* g = <Gather*>job
    if g.single:
        _gather_rows(g, <const float*>g.X, <const float*>g.Y, <const float*>g.S,
                     <float*>g.Xb, <float*>g.Yb, <float*>g.Sb)
    else:
        _gather_rows(g, <const double*>g.X, <const double*>g.Y, <const double*>g.S,
                     <double*>g.Xb, <double*>g.Yb, <double*>g.Sb)
    return NULL


cdef int train_epoch(const Layers* net, const Hyper* h, const floating* X,
                     const floating* Y, const floating* S, const Py_ssize_t* order,
                     Py_ssize_t n_samples, int batch_size, Work* work, long* step,
                     uint64_t* rng, bint check_input, double* cost,
                     double* penalty, bint decay_by_batch, bint by_weight_sum) except -1 nogil:
    """One epoch of mini-batch training over the rows ``order`` of X (·, n_0), Y (·, n_L)
    and sample weights S (·,) (NULL: all 1).

    Each step gathers its m rows into contiguous buffers, runs the forward pass and
    backprop, and updates the parameters in place. Plain SGD folds the update into
    BP3/BP4: w ← (1 - ηλ/n) w - (η/m) Σ_x s_x ∇w C_x, b ← b - (η/m) Σ_x s_x ∇b C_x.
    Other optimisers take g = (1/m) Σ_x s_x ∇C_x into work.gw/gb and call ``update``.
    ``step`` counts optimiser steps across epochs (Adam's bias correction needs it).
    ``cost`` receives Σ_x s_x C_x / n_samples over the epoch, each example's cost
    taken before its own step.

    ``decay_by_batch``: scikit-learn's L2 rule, which divides each batch's penalty by
    that batch's own divisor (below): a smaller last batch decays by
    (λ/n)(batch_size/m) instead of λ/n (the same for every full batch).

    ``by_weight_sum``: scikit-learn's weighting. Each step divides the batch's
    weighted sums by the batch's own sum of weights W = Σ_x s_x instead of its size
    m (the weights may be negative; their sum may not be 0), and ``cost`` adds each
    batch's weighted mean cost times m. Without S, W = m.

    ``penalty`` NULL, or: it receives the epoch's L2 term as scikit-learn's MLPs
    accumulate their loss, each batch's term taken before that batch's step (like its
    cost), Σ_batches m (d/2) Σ_l ‖w^l‖² / n_samples with d that batch's decay. It
    costs one pass over the weights per step (``_sum_squares``), so only callers that
    report it ask.

    With ``check_input``, each gathered row of X is checked for NaN and infinities
    while it is in cache, which spares the caller a separate pass over all of X.

    With work.X_next set, batches whose products run on this thread alone (the
    planner's gather_ahead) and a second thread allowed, the next batch's rows are
    gathered on a worker thread during each step, into the second set of buffers: the
    rows come from memory, and on W1 the gather was a fifth of the epoch. The copies
    are the same either way, and so are the results.

    Returns 0; 1 as soon as a batch's cost is not finite (before that step's update);
    2 when ``check_input`` finds a row of X that is not finite (before its step);
    3 when, with ``by_weight_sum``, a batch's weights sum to 0 (before its step).
    Raises KeyboardInterrupt between two steps on Ctrl-C.
    """
    cdef const int* n = net.n
    cdef int L = net.L, l, m
    cdef Py_ssize_t start = 0
    cdef double batch_cost, total = 0, done = 0, step_work = 0, l2_total = 0
    cdef double squares, divisor
    cdef Py_ssize_t i
    cdef Hyper last     # h with the decay of a smaller last batch (decay_by_batch)
    cdef const Hyper* hb
    cdef floating** In = <floating**>work.In
    cdef floating** A = <floating**>work.A
    cdef floating** M = <floating**>work.M
    cdef floating* Yb = <floating*>work.Y
    cdef floating* Sb = <floating*>work.s
    cdef int status
    cdef double largest = 0     # the step's largest product, in multiply-adds
    for l in range(1, L + 1):
        largest = max(largest, <double>batch_size * n[l] * n[l - 1])
    cdef bint ahead = (gather_ahead and work.X_next != NULL and work.x0 == NULL
                       and kernel_threads() > 1 and plan_gather_ahead(batch_size, largest))
    cdef bint started = False
    cdef Gather g
    g.X, g.Y, g.S, g.order = X, Y, S, order
    g.n0, g.nL, g.single, g.check = n[0], n[L], floating is float, check_input
    g.start, g.m = 0, <int>min(<Py_ssize_t>batch_size, n_samples)
    g.Xb, g.Yb, g.Sb = work.In[0], work.Y, work.s
    g.indptr, g.indices, g.index_bytes = work.x_indptr, work.x_indices, work.x_index_bytes
    g.csr = work.x0
    if n_samples > 0:
        _gather(&g)
    for l in range(1, L + 1):
        step_work += <double>n[l] * n[l - 1] * batch_size
    cost[0] = 0
    if penalty != NULL:
        penalty[0] = 0
    while start < n_samples:
        # This batch is in In[0], Yb, Sb (g describes it); start the next one's gather.
        if g.nonfinite:
            return 2
        m = g.m
        divisor = m
        if by_weight_sum and Sb != NULL:
            divisor = 0
            for i in range(m):
                divisor += Sb[i]
            if divisor == 0 or not isfinite(divisor):
                return 3
        g.start, g.m = start + m, <int>min(<Py_ssize_t>batch_size, n_samples - start - m)
        if ahead and g.m > 0:
            g.Xb, g.Yb, g.Sb = work.X_next, work.Y_next, work.s_next
            work.X_next, work.Y_next, work.s_next = In[0], Yb, Sb
            started = start_task(_gather, &g)
            if started:
                fastbp_count_gathered()
        hb = h
        if decay_by_batch and divisor != batch_size:
            last = h[0]
            last.decay = h.decay * batch_size / divisor
            hb = &last
        if penalty != NULL:
            # Before the step, as scikit-learn's _backprop adds it to the batch's loss.
            squares = 0
            for l in range(1, L + 1):
                squares += _sum_squares(<floating*>net.w[l], <Py_ssize_t>n[l] * n[l - 1])
            l2_total += m * (0.5 * hb.decay) * squares
        status = _step(net, hb, m, divisor, In, A, M, Yb, Sb, work, step, rng,
                       &batch_cost)
        if started:
            finish_task()
        if status:
            cost[0] = batch_cost
            return 1
        # Σ_x s_x C_x / W per batch, times m: scikit-learn's accumulated loss.
        total += batch_cost if divisor == m else batch_cost * (m / divisor)
        if g.m > 0:
            if not started:
                _gather(&g)
            In[0], Yb, Sb = <floating*>g.Xb, <floating*>g.Yb, <floating*>g.Sb
            started = False
        done += step_work
        if done >= SIGNAL_CHECK_WORK:
            done = 0
            with gil:
                PyErr_CheckSignals()
        start += m
    cost[0] = total / n_samples
    if penalty != NULL:
        penalty[0] = l2_total / n_samples
    return 0


cdef double _sum_squares(const floating* w, Py_ssize_t size) noexcept nogil:
    """Σ_i w_i² over ``size`` values, summed in double.

    Eight independent partial sums: a single running sum would serialise on the add's
    latency (GCC does not reorder a float reduction without -ffast-math), and this
    runs once per step for scikit-learn's loss. Not BLAS's dot: OpenBLAS can wake its
    threads for a long dot, and they then spin on the core our own kernels need.
    """
    cdef Py_ssize_t i, tail = size - size % 8
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    for i in range(0, tail, 8):
        s0 += <double>w[i] * w[i]
        s1 += <double>w[i + 1] * w[i + 1]
        s2 += <double>w[i + 2] * w[i + 2]
        s3 += <double>w[i + 3] * w[i + 3]
        s4 += <double>w[i + 4] * w[i + 4]
        s5 += <double>w[i + 5] * w[i + 5]
        s6 += <double>w[i + 6] * w[i + 6]
        s7 += <double>w[i + 7] * w[i + 7]
    for i in range(tail, size):
        s0 += <double>w[i] * w[i]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


cdef inline int _step(const Layers* net, const Hyper* h, int m, double divisor,
                      floating** In, floating** A, floating** M, floating* Yb,
                      floating* Sb, Work* work, long* step, uint64_t* rng,
                      double* batch_cost) noexcept nogil:
    """One training step on the batch in In[0], Yb, Sb: forward pass, backprop and
    update, the weighted sums divided by ``divisor`` (m, or the batch's sum of
    weights). Returns 1, updating nothing, when the batch's cost is not finite."""
    cdef int L = net.L, l
    cdef const int* n = net.n
    if work.x0 != NULL:     # the batch as CSR rows (X sparse)
        _forward_csr(net, work.x0, In, A, M, h.dropout, rng)
    else:
        forward(net, m, In, A, M, h.dropout, rng)
    batch_cost[0] = cost_sum(net.cost, A[L], Yb, Sb, m, n[L])
    if not isfinite(batch_cost[0]):
        return 1
    if h.optimizer == SGD:
        backward(net, m, In, A, M, Yb, Sb, <floating**>work.D, <floating>(-h.eta / divisor),
                 <floating>(1 - h.eta * h.decay), <floating>1,
                 <floating**>net.w, <floating**>net.b, work.x0)
    else:
        backward(net, m, In, A, M, Yb, Sb, <floating**>work.D, <floating>(1.0 / divisor),
                 <floating>0, <floating>0, <floating**>work.gw, <floating**>work.gb,
                 work.x0)
        step[0] += 1
        for l in range(1, L + 1):
            update(h, step[0], <Py_ssize_t>n[l] * n[l - 1], <floating*>net.w[l],
                   <floating*>work.gw[l], <floating*>work.s1w[l],
                   <floating*>work.s2w[l] if work.s2w != NULL else NULL, True)
            update(h, step[0], n[l], <floating*>net.b[l], <floating*>work.gb[l],
                   <floating*>work.s1b[l],
                   <floating*>work.s2b[l] if work.s2b != NULL else NULL, False)
    return 0


cdef int feedforward_rows(const Layers* net, int m, const floating* X,
                          floating* out) noexcept nogil:
    """out = a^L for the m rows of X (m, n_0); out is (m, n_L). Returns 0, or -1 when
    out of memory. Safe to call from many threads at once on one network.

    Part of the C-level API (see _backprop.pxd). X is only read.
    """
    return _feedforward_rows(net, m, X, out, NULL)


cdef int _feedforward_rows(const Layers* net, int m, const floating* X,
                           floating* out, bint* nonfinite) noexcept nogil:
    """``feedforward_rows``; with ``nonfinite`` not NULL, it also receives whether X
    holds NaN or inf. Hidden activations of a few examples live on the stack, so
    single-example inference does not touch the allocator.
    """
    cdef floating* A[MAX_STACK_LAYERS + 1]
    cdef floating** ptrs = A
    cdef floating stack_block[STACK_ELEMENTS]
    cdef floating* block = NULL
    cdef Py_ssize_t total = 0, offset = 0, scratch = 0
    cdef int l, L = net.L
    cdef int status = 0
    for l in range(1, L + 1):
        if l < L:
            total += <Py_ssize_t>m * net.n[l]
        if layer_scratch(m, net.n[l]):
            scratch = max(scratch, <Py_ssize_t>m * net.n[l])
    total += scratch
    if L > MAX_STACK_LAYERS:
        ptrs = <floating**>malloc((<size_t>L + 1) * sizeof(floating*))
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
        ptrs[0] = <floating*>X    # only read
        ptrs[L] = out
        forward(net, m, ptrs, ptrs, <floating**>NULL, 0, NULL,
                (block if block != NULL else stack_block) + offset if scratch else NULL,
                nonfinite)
    free(block)
    if ptrs != A:
        free(ptrs)
    return status


cdef int _feedforward_all(const Layers* net, Py_ssize_t m, const floating* X,
                          floating* out, bint* nonfinite=NULL) except -2 nogil:
    """_feedforward_rows over any number of rows, in chunks of about
    FEEDFORWARD_CHUNK_WORK multiply-adds, checking for Ctrl-C between chunks (with the
    GIL, as train_epoch does between steps): a call on millions of rows can take
    seconds, and its scratch for hidden activations stays a chunk's. Returns 0, -1
    when out of memory; raises KeyboardInterrupt (returning -2) on Ctrl-C.

    Every chunk but the last has ``chunk`` rows and the last up to twice that: fewer
    than two chunks' rows go in one call, with no GIL round trip.
    """
    cdef Py_ssize_t start = 0, rows, chunk
    cdef double row_work = 0
    cdef int l, status = 0
    cdef bint chunk_nonfinite = False
    for l in range(1, net.L + 1):
        row_work += <double>net.n[l] * net.n[l - 1]
    chunk = <Py_ssize_t>min(FEEDFORWARD_CHUNK_WORK / row_work,
                            <double>(MAX_ROWS_PER_CALL // 2))
    chunk = max(chunk, <Py_ssize_t>FEEDFORWARD_MIN_ROWS)
    while start < m and status == 0:
        rows = m - start
        if rows >= 2 * chunk:
            rows = chunk
        status = _feedforward_rows(net, <int>rows, X + start * net.n[0],
                                   out + start * net.n[net.L],
                                   &chunk_nonfinite if nonfinite != NULL else NULL)
        if nonfinite != NULL:
            nonfinite[0] = nonfinite[0] or chunk_nonfinite
        start += rows
        if start < m and status == 0:
            with gil:
                PyErr_CheckSignals()
    return status


# ---------------------------------------------------------------------------------
# Work buffers.

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
        self.typenum = cnp.PyArray_TYPE(self.weights[0])
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

    def feedforward(self, X, cnp.ndarray out):
        """out[...] = a^L for the rows of X: X (m, n_0), out (m, n_L), C-contiguous,
        of the parameters' dtype (checked by the caller). X may also be a
        scipy.sparse CSR matrix as ``_validation.check_features`` returns it."""
        cdef Py_ssize_t m = cnp.PyArray_DIM(out, 0)    # X may be one 1-d example
        cdef int status
        if m == 0:
            return
        if not isinstance(X, np.ndarray):
            self._feedforward_csr(X, out)
            return
        cdef void* x = cnp.PyArray_DATA(<cnp.ndarray>X)
        if cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT32:
            with nogil:
                status = _feedforward_all(&self.net, m, <float*>x,
                                          <float*>cnp.PyArray_DATA(out))
        else:
            with nogil:
                status = _feedforward_all(&self.net, m, <double*>x,
                                          <double*>cnp.PyArray_DATA(out))
        if status != 0:
            raise MemoryError()

    def _feedforward_csr(self, X, cnp.ndarray out):
        """``feedforward`` for CSR X, in chunks of SPARSE_CHUNK_ROWS rows."""
        cdef Py_ssize_t m = cnp.PyArray_DIM(out, 0)
        cdef int chunk = <int>min(m, <Py_ssize_t>SPARSE_CHUNK_ROWS)
        cdef _CsrBatch batch = _CsrBatch(X, chunk, _csr_batch_entries(X, chunk, True))
        cdef cnp.ndarray A1 = np.empty((chunk if self.net.L > 1 else 1, self.net.n[1]),
                                       out.dtype)
        cdef const void* indptr = cnp.PyArray_DATA(batch.x_indptr)
        cdef const void* indices = cnp.PyArray_DATA(batch.x_indices)
        cdef const void* data = cnp.PyArray_DATA(batch.x_data)
        cdef int status
        if out.dtype == np.float32:
            with nogil:
                status = _feedforward_csr(&self.net, m, indptr, indices,
                                          batch.index_bytes, <const float*>data,
                                          &batch.csr, chunk,
                                          <float*>cnp.PyArray_DATA(A1),
                                          <float*>cnp.PyArray_DATA(out))
        else:
            with nogil:
                status = _feedforward_csr(&self.net, m, indptr, indices,
                                          batch.index_bytes, <const double*>data,
                                          &batch.csr, chunk,
                                          <double*>cnp.PyArray_DATA(A1),
                                          <double*>cnp.PyArray_DATA(out))
        if status != 0:
            raise MemoryError()

    def feedforward_ready(self, X):
        """a^L for X already in the engine's layout, or None when X is not.

        The layout: exactly ``np.ndarray``, of the parameters' dtype in native byte
        order, aligned and C-contiguous; (m, n_0) with m >= 1, or one example (n_0,),
        which gives an (n_L,) result. Anything else returns None, for the caller to
        convert and validate. The checks are made here in C because for one example
        the Python-level ones took as long as the forward pass itself.

        Raises ValueError when X contains NaN or infinite values.
        """
        if type(X) is not np.ndarray:
            return None
        cdef cnp.ndarray x = <cnp.ndarray>X
        cdef int nd = cnp.PyArray_NDIM(x)
        if (nd < 1 or nd > 2 or cnp.PyArray_TYPE(x) != self.typenum
                or not cnp.PyArray_IS_C_CONTIGUOUS(x)
                or not cnp.PyArray_ISNOTSWAPPED(x) or not cnp.PyArray_ISALIGNED(x)
                or cnp.PyArray_DIM(x, nd - 1) != self.net.n[0]
                or cnp.PyArray_SIZE(x) == 0):
            return None
        cdef cnp.npy_intp dims[2]
        dims[0] = cnp.PyArray_DIM(x, 0)
        dims[1] = self.net.n[self.net.L]
        if nd == 1:
            dims[0] = dims[1]
        cdef cnp.ndarray out = cnp.PyArray_EMPTY(nd, dims, self.typenum, 0)
        cdef const void* data = cnp.PyArray_DATA(x)
        cdef Py_ssize_t m = 1 if nd == 1 else cnp.PyArray_DIM(x, 0)
        cdef int status = 0
        # X is checked for NaN and inf during the forward pass, which reads it anyway
        # (for 10,000 MNIST rows, a separate pass cost ~20 % of the call).
        cdef bint nonfinite = False
        with nogil:
            if self.typenum == cnp.NPY_FLOAT32:
                status = _feedforward_all(&self.net, m, <const float*>data,
                                          <float*>cnp.PyArray_DATA(out), &nonfinite)
            else:
                status = _feedforward_all(&self.net, m, <const double*>data,
                                          <double*>cnp.PyArray_DATA(out), &nonfinite)
        if status != 0:
            raise MemoryError()
        if nonfinite:
            raise ValueError("X contains NaN or infinite values")
        return out

    def gradient(self, X, cnp.ndarray Y, S, double alpha, nabla_w, nabla_b,
                 bint keep=False):
        """Fill nabla_w[l-1], nabla_b[l-1] with alpha * Σ_x s_x ∂C_x/∂w^l (and b^l).

        X (m, n_0), Y (m, n_L) and the sample weights S (m,) or None (all 1) are the
        batch; the nabla arrays are shaped like the parameters; alpha = 1/Σ_x s_x gives
        the gradient of the (weighted) mean cost. Returns Σ_x s_x C_x. X may also be
        a scipy.sparse CSR matrix as ``_validation.check_features`` returns it.
        ``keep``: keep the work buffers for the next call, for a caller that owns
        this engine (no other thread may then call it at the same time); they go
        with the engine.
        """
        cdef Py_ssize_t m = Y.shape[0]
        cdef double row_work = 0
        cdef int l
        for l in range(1, self.net.L + 1):
            row_work += <double>self.net.n[l] * self.net.n[l - 1]
        cdef int chunk = <int>min(<double>m, <double>GRADIENT_CHUNK_ROWS,
                                  max(FEEDFORWARD_CHUNK_WORK / row_work,
                                      <double>FEEDFORWARD_MIN_ROWS))
        dtype = Y.dtype
        sparse = not isinstance(X, np.ndarray)
        # Kept with ``keep`` (lbfgs evaluates the gradient tens of times on the same
        # rows): buffers of a megabyte or more come from mmap, and writing fresh
        # pages took about 30 % of an evaluation on load_digits (see tried.md).
        buffers = self.grad_buffers if keep else None
        if (buffers is None or buffers[0].shape[0] != chunk
                or buffers[0].dtype != dtype):
            if keep:
                self.grad_buffers = buffers = None  # the old go before the new come
            buffers = tuple(np.empty((chunk, n), dtype)
                            for _ in range(2) for n in self.sizes[1:])
            if keep:
                self.grad_buffers = buffers
        A = _PtrTable([None if sparse else X] + list(buffers[:self.net.L]))
        D = _PtrTable([None] + list(buffers[self.net.L:]))
        gw = _PtrTable([None] + list(nabla_w))
        gb = _PtrTable([None] + list(nabla_b))
        cdef void* y = cnp.PyArray_DATA(Y)
        cdef void* s = NULL if S is None else cnp.PyArray_DATA(S)
        cdef double total = 0
        cdef _CsrBatch batch
        cdef const void* x
        if sparse:
            batch = _CsrBatch(X, chunk, _csr_batch_entries(X, chunk, True))
            x = cnp.PyArray_DATA(batch.x_data)
            if dtype == np.float32:
                with nogil:
                    _gradient_csr(&self.net, m, cnp.PyArray_DATA(batch.x_indptr),
                                  cnp.PyArray_DATA(batch.x_indices), batch.index_bytes,
                                  <const float*>x, &batch.csr, chunk, <float**>A.ptr,
                                  <float*>y, <float*>s, <float**>D.ptr, <float>alpha,
                                  <float**>gw.ptr, <float**>gb.ptr, &total)
            else:
                with nogil:
                    _gradient_csr(&self.net, m, cnp.PyArray_DATA(batch.x_indptr),
                                  cnp.PyArray_DATA(batch.x_indices), batch.index_bytes,
                                  <const double*>x, &batch.csr, chunk, <double**>A.ptr,
                                  <double*>y, <double*>s, <double**>D.ptr, alpha,
                                  <double**>gw.ptr, <double**>gb.ptr, &total)
            return total
        if dtype == np.float32:
            with nogil:
                _gradient(&self.net, m, chunk, <float**>A.ptr, <float*>y, <float*>s,
                          <float**>D.ptr, <float>alpha, <float**>gw.ptr, <float**>gb.ptr,
                          &total)
        else:
            with nogil:
                _gradient(&self.net, m, chunk, <double**>A.ptr, <double*>y, <double*>s,
                          <double**>D.ptr, alpha, <double**>gw.ptr, <double**>gb.ptr,
                          &total)
        return total

    def drop_workspace(self, Py_ssize_t larger_than=0):
        """Let go of training's kept work buffers if they take more than
        ``larger_than`` bytes (the next ``train_epoch`` builds them again)."""
        if self.workspace is not None and self.workspace.nbytes > larger_than:
            self.workspace = None

    def train_epoch(self, X, cnp.ndarray Y, S, cnp.ndarray order,
                    int batch_size, TrainingHyper hyper not None,
                    OptimizerState state not None, uint64_t seed,
                    bint check_input=False):
        """One epoch of training in place over the rows ``order`` (intp) of X and Y.

        S: sample weights (n,) or None. ``hyper``: the step's hyperparameters.
        ``state``: the optimiser state of ``hyper.optimizer``'s kind, shaped like the
        parameters; its step count advances with every step. ``seed``: dropout's RNG.
        ``check_input``: check X's rows for NaN and infinities on the way (status 2),
        instead of trusting the caller. The work buffers are kept for the next call
        with the same batch size (see ``_Workspace``). X is (n, n_0), or a
        scipy.sparse CSR matrix as ``_validation.check_features`` returns it.

        Returns ``(status, cost, penalty, seed)``: status 0 and the epoch's mean
        training cost, status 1 and the first non-finite batch cost, status 2 for
        a non-finite row of X, or status 3 for a batch whose weights sum to 0 with
        ``hyper.by_weight_sum`` (each time training stopped before that step's
        update). ``penalty``: with ``hyper.l2_cost`` and decay > 0, the epoch's L2
        term with each batch's (d/2) Σ‖w‖² taken before its step (d its decay),
        weighted by its size (as scikit-learn's loss); otherwise 0.0, and no step
        pays for it. ``seed``: the dropout RNG's state after the last step, to go on
        with in a call that continues this one's epoch.
        """
        cdef Work work
        cdef int status
        cdef double cost = 0, penalty = 0
        cdef double* want_penalty = NULL
        cdef uint64_t rng = seed
        cdef long step = state.step
        cdef Py_ssize_t n_samples = cnp.PyArray_DIM(order, 0)
        cdef bint dropout = hyper.h.dropout > 0
        cdef bint gradients = hyper.h.optimizer != SGD
        cdef _Workspace ws = self.workspace
        cdef bint sparse = not isinstance(X, np.ndarray)
        cdef _CsrBatch batch = None
        if OPTIMIZERS[state.kind] != hyper.h.optimizer or (
                gradients and len(state.s1w) != self.net.L):
            raise ValueError(f"the optimizer state ({state.kind}, {len(state.s1w)} "
                             f"layers) does not go with optimizer "
                             f"{hyper.optimizer!r} on {self.net.L} layers")
        if ws is None or not ws.serves(batch_size, dropout, gradients, sparse):
            self.workspace = None  # the old buffers go before the new ones come
            ws = _Workspace(self, batch_size, dropout, gradients, sparse)
            self.workspace = ws
        ws.point(&work, S is not None, state)
        if sparse:
            batch = _CsrBatch(X, batch_size, _csr_batch_entries(X, batch_size, False))
            batch.point(&work)
        if hyper.h.decay > 0 and hyper.l2_cost:
            want_penalty = &penalty

        cdef const Py_ssize_t* idx = <const Py_ssize_t*>cnp.PyArray_DATA(order)
        cdef void* x = cnp.PyArray_DATA(batch.x_data if sparse else X)
        cdef void* y = cnp.PyArray_DATA(Y)
        cdef void* s = NULL if S is None else cnp.PyArray_DATA(S)
        cdef bint by_batch = hyper.l2_by_batch
        cdef bint by_weight_sum = hyper.by_weight_sum
        if Y.dtype == np.float32:
            with nogil:
                status = train_epoch(&self.net, &hyper.h, <float*>x, <float*>y, <float*>s,
                                     idx, n_samples, batch_size, &work, &step, &rng,
                                     check_input, &cost, want_penalty, by_batch,
                                     by_weight_sum)
        else:
            with nogil:
                status = train_epoch(&self.net, &hyper.h, <double*>x, <double*>y,
                                     <double*>s, idx, n_samples, batch_size, &work, &step,
                                     &rng, check_input, &cost, want_penalty, by_batch,
                                     by_weight_sum)
        state.step = step
        return status, cost, penalty, rng

    @property
    def sizes(self):
        """Neurons per layer, input first."""
        return [self.net.n[l] for l in range(self.net.L + 1)]


cdef int _gradient(const Layers* net, Py_ssize_t m, int chunk, floating** A,
                   const floating* Y, const floating* s, floating** D, floating alpha,
                   floating** gw, floating** gb, double* total_out) except -1 nogil:
    """Forward pass and backprop of m rows into gw, gb (gw := alpha Σ_x s_x ∂C_x/∂w,
    likewise gb); *total_out receives Σ_x s_x C_x.

    A[0] points at the first row of X (m, n_0); A[1..L] and D[1..L] are scratch for
    ``chunk`` rows. The rows go through in chunks of that many (the last chunk
    shorter), each adding its share to gw and gb: any m, beyond what BLAS's int sizes
    hold, in bounded memory. Raises KeyboardInterrupt between two chunks on Ctrl-C
    (gw and gb then hold a partial sum).
    """
    cdef const floating* X = A[0]
    cdef Py_ssize_t start = 0
    cdef int rows
    cdef int n0 = net.n[0], nL = net.n[net.L]
    cdef double total = 0
    cdef floating beta = 0
    while start < m:
        rows = <int>min(m - start, <Py_ssize_t>chunk)
        A[0] = <floating*>(X + start * n0)
        forward(net, rows, A, A, <floating**>NULL, 0, NULL)
        total += cost_sum(net.cost, A[net.L], Y + start * nL,
                          s + start if s != NULL else NULL, rows, nL)
        backward(net, rows, A, A, <floating**>NULL, Y + start * nL,
                 s + start if s != NULL else NULL, D, alpha, beta, beta, gw, gb)
        beta = 1
        start += rows
        if start < m:
            with gil:
                PyErr_CheckSignals()
    A[0] = <floating*>X
    total_out[0] = total
    return 0


cdef class _PtrTable:
    """A C array of the data pointers of ``arrays`` (None gives NULL), kept alive."""
    cdef void** ptr
    cdef list arrays

    def __cinit__(self, arrays):
        cdef Py_ssize_t i
        self.arrays = list(arrays)
        self.ptr = <void**>calloc(len(self.arrays) + 1, sizeof(void*))
        if self.ptr == NULL:
            raise MemoryError()
        for i, arr in enumerate(self.arrays):
            if arr is not None:
                self.ptr[i] = cnp.PyArray_DATA(<cnp.ndarray?>arr)

    def __dealloc__(self):
        free(self.ptr)


cdef inline void** _table_ptr(table):
    return NULL if table is None else (<_PtrTable>table).ptr


# ---------------------------------------------------------------------------------
# The typed boundary of training: hyperparameters and optimiser state as objects the
# driver (fastbp/_training.py) builds once per fit, and the work buffers the engine
# keeps between epochs and calls.

cdef class TrainingHyper:
    """The hyperparameters of training steps, held as the C struct ``Hyper`` that the
    steps read (see ``_optimizers.pxd``): converted once per fit, not per call.

    Parameters
    ----------
    optimizer : {"sgd", "momentum", "nesterov", "adam"}
        The engine's update rule.
    eta : float
        η, the learning rate (the driver sets it before each epoch under a schedule).
    decay : float
        λ/n, the L2 weight decay of the weights.
    mu, beta1, beta2, epsilon : float
        Momentum's μ; Adam's β1, β2 and ε.
    dropout : float
        Probability of dropping a hidden neuron in a training step.
    l2_cost : bool
        Accumulate the epoch's L2 term batch by batch (see ``Engine.train_epoch``).
    l2_by_batch : bool
        scikit-learn's decay of a smaller last batch (see the cdef ``train_epoch``).
    by_weight_sum : bool
        scikit-learn's weighting: each step divides by its batch's sum of sample
        weights instead of its size (see the cdef ``train_epoch``).
    """
    cdef Hyper h
    cdef readonly str optimizer
    cdef readonly bint l2_cost, l2_by_batch, by_weight_sum

    def __cinit__(self, str optimizer, double eta, double decay=0, double mu=0,
                  double beta1=0.9, double beta2=0.999, double epsilon=1e-8,
                  double dropout=0, bint l2_cost=False, bint l2_by_batch=False,
                  bint by_weight_sum=False):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got "
                             f"{optimizer!r}")
        self.optimizer = optimizer
        self.h.optimizer = OPTIMIZERS[optimizer]
        self.h.eta, self.h.decay, self.h.mu = eta, decay, mu
        self.h.beta1, self.h.beta2, self.h.epsilon = beta1, beta2, epsilon
        self.h.dropout = dropout
        self.l2_cost, self.l2_by_batch = l2_cost, l2_by_batch
        self.by_weight_sum = by_weight_sum

    @property
    def eta(self):
        """η, the learning rate of the next call."""
        return self.h.eta

    @eta.setter
    def eta(self, double value):
        self.h.eta = value

    @property
    def decay(self):
        """λ/n, the L2 weight decay."""
        return self.h.decay

    @property
    def dropout(self):
        """The probability of dropping a hidden neuron."""
        return self.h.dropout


cdef class OptimizerState:
    """The optimiser's state, carried across steps, epochs, fits and partial_fit
    calls: the step count (Adam's bias correction needs it) and, for each parameter
    array, momentum's velocity or Adam's first moment (``s1w``, ``s1b``) and Adam's
    second moment (``s2w``, ``s2b``), shaped like w^l and b^l.

    Parameters
    ----------
    kind : {"sgd", "momentum", "nesterov", "adam"}
        The update rule the state is for: "sgd" keeps none, "momentum" and
        "nesterov" s1, "adam" s1 and s2.
    s1w, s1b, s2w, s2b : sequences of ndarray
        The state arrays (adopted, not copied); empty where ``kind`` keeps none.
        ``OptimizerState.zeros`` builds a fresh state for given parameters.
    step : int
        Optimiser steps taken so far.
    """
    cdef readonly str kind
    cdef public long step
    cdef readonly tuple s1w, s1b, s2w, s2b
    # C tables of the arrays' data pointers, index l = 1..L (None: no arrays)
    cdef object t_s1w, t_s1b, t_s2w, t_s2b

    def __cinit__(self, str kind, s1w=(), s1b=(), s2w=(), s2b=(), long step=0):
        if kind not in OPTIMIZERS:
            raise ValueError(f"kind must be one of {sorted(OPTIMIZERS)}, got {kind!r}")
        self.kind, self.step = kind, step
        self.s1w, self.s1b = tuple(s1w), tuple(s1b)
        self.s2w, self.s2b = tuple(s2w), tuple(s2b)
        first, second = kind != "sgd", kind == "adam"
        if (bool(self.s1w) != first or bool(self.s2w) != second
                or len(self.s1b) != len(self.s1w) or len(self.s2b) != len(self.s2w)
                or (second and len(self.s2w) != len(self.s1w))):
            raise ValueError(f"an optimizer state of kind {kind!r} needs "
                             f"{'s1w, s1b' if first else 'no arrays'}"
                             f"{', s2w, s2b' if second else ''}, one per layer")
        self.t_s1w, self.t_s1b, self.t_s2w, self.t_s2b = [
            _PtrTable((None,) + arrays) if arrays else None
            for arrays in (self.s1w, self.s1b, self.s2w, self.s2b)]

    @staticmethod
    def zeros(str kind, weights, biases):
        """A fresh state of ``kind`` for these parameters: zero moments, step 0."""
        zeros = lambda arrays: [aligned_copy(np.zeros_like(a)) for a in arrays]
        first, second = kind != "sgd", kind == "adam"
        return OptimizerState(kind, zeros(weights) if first else (),
                              zeros(biases) if first else (),
                              zeros(weights) if second else (),
                              zeros(biases) if second else ())

    def arrays(self):
        """All the state arrays: s1w, s1b, s2w, s2b in turn."""
        return self.s1w + self.s1b + self.s2w + self.s2b

    def copy(self):
        """An independent copy (each array on a 64-byte boundary, as the original)."""
        copies = lambda arrays: [aligned_copy(a) for a in arrays]
        return OptimizerState(self.kind, copies(self.s1w), copies(self.s1b),
                              copies(self.s2w), copies(self.s2b), self.step)

    def restore(self, OptimizerState saved not None):
        """Put back the values of ``saved``, a ``copy`` of this state."""
        for a, old in zip(self.arrays(), saved.arrays()):
            np.copyto(a, old)
        self.step = saved.step

    def __reduce__(self):
        return (OptimizerState, (self.kind, list(self.s1w), list(self.s1b),
                                 list(self.s2w), list(self.s2b), self.step))


# Work buffers built since import (a count for tests of their reuse).
cdef long workspaces_built = 0


cdef class _Workspace:
    """The buffers of training steps of ``batch_size`` rows (see ``Work``), which the
    Engine keeps between epochs and between calls: built again only when the batch
    size changes, dropout is switched on or off, or an optimiser needs gradient
    buffers that it lacks. Their contents never carry over: every step writes what
    it reads. They live as long as the engine (the network's own, until its
    parameter arrays are replaced): about batch_size x Σ_l n_l values a few times
    over, which for a batch of the whole data set is as much as X, so the training
    driver drops large ones when a fit returns (``Engine.drop_workspace``)."""
    cdef int batch_size
    cdef bint dropout, gradients, ahead, sparse
    cdef readonly Py_ssize_t nbytes
    cdef cnp.ndarray X_first, Yb, Sb, X_next, Y_next, S_next
    cdef _PtrTable In, A, M, D, gw, gb

    def __cinit__(self, Engine engine, int batch_size, bint dropout, bint gradients,
                  bint sparse=False):
        global workspaces_built
        sizes, dtype = engine.sizes, engine.weights[0].dtype
        L = len(sizes) - 1
        made = []

        def new(shape):
            array = aligned_empty(shape, dtype)
            made.append(array)
            return array

        rows = lambda n: new((batch_size, n))
        self.batch_size, self.dropout, self.gradients = batch_size, dropout, gradients
        self.sparse = sparse
        A_arrays = [None] + [rows(n) for n in sizes[1:]]
        # (sparse X: the batch is gathered as CSR rows, see _CsrBatch)
        self.X_first = new((1,)) if sparse else rows(sizes[0])
        In_arrays = [self.X_first] + [rows(n) if dropout and l < L else A_arrays[l]
                                      for l, n in enumerate(sizes[1:], start=1)]
        self.In, self.A = _PtrTable(In_arrays), _PtrTable(A_arrays)
        self.M = _PtrTable([None] + [rows(n) if l < L else None
                                     for l, n in enumerate(sizes[1:], start=1)]) \
            if dropout else None
        self.D = _PtrTable([None] + [rows(n) for n in sizes[1:]])
        self.Yb, self.Sb = rows(sizes[L]), new((batch_size,))
        # The next batch's buffers, where train_epoch may gather it on another thread.
        self.ahead = plan_gather_ahead(batch_size, 0) and not sparse
        if self.ahead:
            self.X_next, self.Y_next = rows(sizes[0]), rows(sizes[L])
            self.S_next = new((batch_size,))
        if gradients:
            self.gw = _PtrTable([None] + [new(w.shape) for w in engine.weights])
            self.gb = _PtrTable([None] + [new(b.shape) for b in engine.biases])
        self.nbytes = sum(a.nbytes for a in made)
        workspaces_built += 1

    cdef bint serves(self, int batch_size, bint dropout, bint gradients, bint sparse):
        """Whether these buffers serve steps of this kind."""
        return (self.batch_size == batch_size and self.dropout == dropout
                and (self.gradients or not gradients) and self.sparse == sparse)

    cdef void point(self, Work* work, bint weighted, OptimizerState state):
        """Fill ``work`` with these buffers, ``state``'s arrays and, if ``weighted``,
        the sample-weight buffers."""
        # The gather-ahead swaps In[0] and X_next as it goes: every call starts
        # from the same pair.
        self.In.ptr[0] = cnp.PyArray_DATA(self.X_first)
        work.In, work.A, work.D = self.In.ptr, self.A.ptr, self.D.ptr
        work.M = _table_ptr(self.M)
        work.Y = cnp.PyArray_DATA(self.Yb)
        work.s = cnp.PyArray_DATA(self.Sb) if weighted else NULL
        work.X_next = cnp.PyArray_DATA(self.X_next) if self.ahead else NULL
        work.Y_next = cnp.PyArray_DATA(self.Y_next) if self.ahead else NULL
        work.s_next = cnp.PyArray_DATA(self.S_next) if self.ahead and weighted else NULL
        work.gw, work.gb = _table_ptr(self.gw), _table_ptr(self.gb)
        work.s1w, work.s1b = _table_ptr(state.t_s1w), _table_ptr(state.t_s1b)
        work.s2w, work.s2b = _table_ptr(state.t_s2w), _table_ptr(state.t_s2b)
        work.x_indptr = work.x_indices = NULL
        work.x_index_bytes = 0
        work.x0 = NULL


def _workspaces_built():
    """How many sets of training work buffers engines have built since import."""
    return workspaces_built


cdef inline bint _any_nonfinite(const void* data, Py_ssize_t n,
                                bint is_float) noexcept nogil:
    """Whether any of the n floats (or doubles) at data is NaN or infinite."""
    if is_float:
        return fastbp_any_nonfinite_f(data, n)
    return fastbp_any_nonfinite_d(data, n)


cdef bint _array_has_nonfinite(cnp.ndarray x) noexcept:
    """Whether the C-contiguous float32/float64 array x holds a NaN or inf (caller
    checks the layout), with the GIL released for large arrays only: for small ones,
    releasing it costs more than the check."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef const void* data = cnp.PyArray_DATA(x)
    cdef bint is_float = cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32
    cdef bint bad
    if n < 65536:
        return _any_nonfinite(data, n, is_float)
    with nogil:
        bad = _any_nonfinite(data, n, is_float)
    return bad


def _use_gather_ahead(bint enabled):
    """Let training gather the next batch on a worker thread, or not (for tests and
    timings that compare both ways); returns the previous setting."""
    global gather_ahead
    cdef bint previous = gather_ahead
    gather_ahead = enabled
    return previous


def _batches_gathered_ahead():
    """How many batches training has gathered on a worker thread since import."""
    return fastbp_gathered()


def aligned_empty(shape, dtype):
    """``np.empty(shape, dtype)`` whose data starts on a 64-byte (cache-line) boundary.

    NumPy's large arrays start 16 bytes past a page, so every vector load of a row
    of them straddles two cache lines and costs two. fastbp allocates its parameters,
    optimizer state and work buffers with this: on MNIST's [784, 30, 10], one-example
    inference took ~3.1 instead of ~4.1 us, and an epoch ~15 % less time.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.intp)) * dtype.itemsize
    raw = np.empty(nbytes + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def aligned_copy(a, dtype=None):
    """A copy of ``a`` (cast to ``dtype``), on a 64-byte boundary: see ``aligned_empty``."""
    a = np.asarray(a)
    out = aligned_empty(a.shape, a.dtype if dtype is None else dtype)
    out[...] = a
    return out


def all_finite(cnp.ndarray x):
    """True when no element of ``x`` (float32 or float64, C-contiguous) is NaN or inf.

    One pass with the GIL released and no temporary, unlike ``np.isfinite(x).all()``,
    which allocates a boolean array as large as ``x``.
    """
    cdef int typenum = cnp.PyArray_TYPE(x)
    if not cnp.PyArray_IS_C_CONTIGUOUS(x) or typenum not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64):
        raise TypeError("all_finite needs a C-contiguous float32 or float64 array")
    return not _array_has_nonfinite(x)
