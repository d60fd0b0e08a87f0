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

# fastbp's own kernel for Z = X @ W.T, many rows through a narrow layer (see
# _blas.pyx). Returns False where it is unavailable, for the caller to use gemm.
cdef enum:
    NARROW_MIN_ROWS = 256
    NARROW_MAX_WIDTH = 64
    NARROW_THREAD_ROWS = 1024   # it splits rows between threads, at least this many each

cdef bint narrow_gemm(int m, int n, int k, const floating* X, const floating* W,
                      floating* C, bint* nonfinite, int threads) noexcept nogil

# fastbp's own kernel for y = W @ x, one example (see _blas.pyx); False where unavailable.
cdef bint gemv_rows(int n, int k, const floating* W, const floating* x,
                    floating* y) noexcept nogil

# fastbp's own GEMM for the products of mini-batch training and of inference through
# narrow layers (see _blas.pyx): False where it does not run, for the caller to use
# gemm. The engine uses it for batches of at least OWN_GEMM_MIN_ROWS rows, where it
# beats OpenBLAS (below, OpenBLAS's small-matrix kernels are faster).
cdef enum:
    OWN_GEMM_MIN_ROWS = 32

# The multiply-adds m*n*k from which SciPy's OpenBLAS runs a GEMM on two threads
# (found by timing: [784, 60, 10] at batch 10 stays on one, [784, 80, 10] does not;
# OpenBLAS's SMP threshold 4 * 65536, doubled per thread), and its last bits then
# change with the thread count. The engine runs such products by its own GEMM at
# every batch size (same bits whatever the thread count; as fast as OpenBLAS at 1
# thread for [784, 100, 10] at batch 10), and training gathers the next batch on a
# worker only below it (above, the worker's spinning took the core from OpenBLAS's
# thread: W2 at 2 threads was 1.7x slower than at 1, see benchmarks/tried.md).
cdef enum:
    BLAS_THREADED_WORK = 524288

# A product C = A @ B.T of at most this many rows (a mini-batch's forward product)
# runs fastbp's "dots" kernel (src/dots_body.h), which reads B in place, on one
# thread; the engine gives such products to gemm_own at every batch size.
cdef extern from "kernels.h":
    enum: FASTBP_DOTS_MAX_ROWS

# The width in bytes of its column tiles (4 AVX-512 or 2 AVX2 vectors); 0 where it
# does not run.
cdef int own_gemm_tile_bytes() noexcept nogil

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
