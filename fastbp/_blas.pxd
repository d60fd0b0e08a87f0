# Row-major BLAS wrappers over scipy.linalg.cython_blas, fused over float/double.
#
# Callers pass row-major (C-order) matrices with their leading dimension (the row
# stride in elements); the wrappers translate to Fortran order inside, so no other
# module ever thinks in column-major terms. Dimensions are C ints because that is
# what scipy's BLAS takes.
from cython cimport floating

cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* A, int lda,
               const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil

cdef void gemv(bint trans, int m, int n, floating alpha,
               const floating* A, int lda, const floating* x, int incx,
               floating beta, floating* y, int incy) noexcept nogil

cdef void ger(int m, int n, floating alpha, const floating* x, int incx,
              const floating* y, int incy, floating* A, int lda) noexcept nogil

cdef void axpy(int n, floating alpha, const floating* x, int incx,
               floating* y, int incy) noexcept nogil

cdef void scal(int n, floating alpha, floating* x, int incx) noexcept nogil

cdef floating dot(int n, const floating* x, int incx,
                  const floating* y, int incy) noexcept nogil

# The one place that chooses which code computes a product (src/planner.c): every
# product of the engine goes through ``product``, which asks the planner and runs
# its choice. ``flags``: PLAN_LAYER for a layer's Z = X @ W.T (alpha 1, beta 0;
# with T, scratch of m * n elements where ``layer_scratch`` holds, and nonfinite,
# which receives whether X holds NaN or inf: the return value says whether the path
# found it, else the caller checks), 0 for any other product of a batch of
# ``batch`` rows.
cdef extern from "planner.h":
    enum:
        FASTBP_PLAN_LAYER
        FASTBP_PLAN_CHECK
        FASTBP_PLAN_SCRATCH

cdef bint product(int batch, int flags, bint trans_a, bint trans_b, int m, int n, int k,
                  floating alpha, const floating* A, int lda, const floating* B, int ldb,
                  floating beta, floating* C, int ldc, floating* T=*,
                  bint* nonfinite=*) noexcept nogil

# Whether a layer's product of m rows through n neurons may need ``product``'s T.
cdef bint layer_scratch(int m, int n) noexcept nogil
# Whether training in batches of ``batch`` rows, whose largest product has ``work``
# multiply-adds, gathers the next batch on a worker thread.
cdef bint gather_ahead(int batch, double work) noexcept nogil

# fastbp's own kernel for Z = X @ W.T, many rows through a narrow layer (see
# _blas.pyx). Returns False where it is unavailable, for the caller to use gemm.
cdef bint narrow_gemm(int m, int n, int k, const floating* X, const floating* W,
                      floating* C, bint* nonfinite, int threads) noexcept nogil

# fastbp's own kernel for y = W @ x, one example (see _blas.pyx); False where unavailable.
cdef bint gemv_rows(int n, int k, const floating* W, const floating* x,
                    floating* y, bint share=*) noexcept nogil

# fastbp's own GEMM (see _blas.pyx): False where it does not run, for the caller
# to use gemm.
cdef bint gemm_own(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                   const floating* A, int lda, const floating* B, int ldb,
                   floating beta, floating* C, int ldc,
                   bint* nonfinite=*) noexcept nogil

# fastbp's worker threads (see _blas.pyx): how many it may use, and one task run on
# one of them while the caller goes on (start_task False: none free, run it yourself;
# after True, finish_task waits for it).
ctypedef void* (*task)(void*) noexcept nogil

cdef int kernel_threads() noexcept nogil
cdef bint start_task(task fn, void* job) noexcept nogil
cdef void finish_task() noexcept nogil

# The variant of the element-wise loops that the kernels' choice allows (src/simd.h):
# each module with such loops binds its dispatch to it at import.
cdef const int* simd_level() noexcept nogil
