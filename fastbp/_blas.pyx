"""Row-major BLAS wrappers over ``scipy.linalg.cython_blas``.

Every wrapper takes row-major (C-order) operands and states its maths in NumPy terms.
A row-major matrix is the transpose of the same memory read in Fortran order, so
``C = op(A) @ op(B)`` in C order is ``C.T = op(B).T @ op(A).T`` in Fortran order: the
wrappers swap operands (and dimensions) instead of copying anything.

fastbp has its own kernels (C in ``fastbp/src``, chosen for the CPU at import) for the
shapes where they beat OpenBLAS:
``gemm_own`` for the products of mini-batch training and for many rows through a
layer that fills its column tiles, the dots kernel for a mini-batch's forward
product, the bp4 kernel for a mini-batch's BP4 update, ``narrow_gemm`` for many rows through other layers of few neurons, and
``gemv_rows`` for one example through any layer.
Each returns False where it cannot run, for the caller to use BLAS. Which one
computes a product is chosen in one place, the planner (``src/planner.c``), which
``product`` asks.

The ``_*_test`` functions at the bottom are thin Python hooks so the tests can check
every dtype and transpose combination against NumPy.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport (
    daxpy, ddot, dgemm, dgemv, dger, dscal,
    saxpy, sdot, sgemm, sgemv, sger, sscal,
)


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* A, int lda,
               const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil:
    """C := alpha * op(A) @ op(B) + beta * C, with op(A) (m, k), op(B) (k, n), C (m, n).

    op(X) is X.T when the matching ``trans_*`` flag is set. Row-major throughout.
    """
    cdef char ta = b't' if trans_a else b'n'
    cdef char tb = b't' if trans_b else b'n'
    # Fortran sees the transposes: C.T := alpha * op(B).T @ op(A).T + beta * C.T
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*>B, &ldb, <float*>A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*>B, &ldb, <double*>A, &lda,
              &beta, C, &ldc)


cdef void gemv(bint trans, int m, int n, floating alpha,
               const floating* A, int lda, const floating* x, int incx,
               floating beta, floating* y, int incy) noexcept nogil:
    """y := alpha * op(A) @ x + beta * y, with A (m, n) row-major; op(A) = A.T if trans."""
    # A in C order is A.T in Fortran order, so the transpose flag flips.
    cdef char t = b'n' if trans else b't'
    if floating is float:
        sgemv(&t, &n, &m, &alpha, <float*>A, &lda, <float*>x, &incx, &beta, y, &incy)
    else:
        dgemv(&t, &n, &m, &alpha, <double*>A, &lda, <double*>x, &incx, &beta, y, &incy)


cdef void ger(int m, int n, floating alpha, const floating* x, int incx,
              const floating* y, int incy, floating* A, int lda) noexcept nogil:
    """A += alpha * np.outer(x, y), with A (m, n) row-major, x (m,), y (n,)."""
    # Fortran updates A.T += alpha * outer(y, x).
    if floating is float:
        sger(&n, &m, &alpha, <float*>y, &incy, <float*>x, &incx, A, &lda)
    else:
        dger(&n, &m, &alpha, <double*>y, &incy, <double*>x, &incx, A, &lda)


cdef void axpy(int n, floating alpha, const floating* x, int incx,
               floating* y, int incy) noexcept nogil:
    """y += alpha * x, for vectors of length n."""
    if floating is float:
        saxpy(&n, &alpha, <float*>x, &incx, y, &incy)
    else:
        daxpy(&n, &alpha, <double*>x, &incx, y, &incy)


cdef void scal(int n, floating alpha, floating* x, int incx) noexcept nogil:
    """x *= alpha, for a vector of length n."""
    if floating is float:
        sscal(&n, &alpha, x, &incx)
    else:
        dscal(&n, &alpha, x, &incx)


cdef floating dot(int n, const floating* x, int incx,
                  const floating* y, int incy) noexcept nogil:
    """Return x @ y, for vectors of length n."""
    if floating is float:
        return sdot(&n, <float*>x, &incx, <float*>y, &incy)
    else:
        return ddot(&n, <double*>x, &incx, <double*>y, &incy)


# ---------------------------------------------------------------------------------
# fastbp's own kernels, for the shapes where they beat OpenBLAS: many rows through a
# narrow layer (narrow_gemm), one example (gemv_rows), and the products of mini-batch
# training (gemm_own). They are C in fastbp/src, one body per family (each described
# there) built for each instruction set, behind the one table of src/kernels.c.

cdef extern from "kernels.h" nogil:
    # src/kernels.h: fastbp's own kernels behind one table, chosen by CPU at import
    int FASTBP_HAVE_OWN_KERNELS
    int fastbp_cpu_init(const char* disable)
    const char* fastbp_cpu_features()
    const char* fastbp_cpu_enabled()
    const char* fastbp_kernels_isa()
    int fastbp_gemm_tile_bytes()
    const char* fastbp_compiler()
    int fastbp_use_own_kernels(int enabled)
    int fastbp_own_kernels_active()
    long fastbp_gemv_split_count()
    long fastbp_gemm_count()
    int fastbp_gemv_split
    int fastbp_narrow_gemm_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* x,
                             const double* w, double* c, int* bad, int threads)
    int fastbp_narrow_gemm_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* x,
                             const float* w, float* c, int* bad, int threads)
    int fastbp_gemm_d(bint at, bint bt, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      double alpha, const double* a, Py_ssize_t lda, const double* b,
                      Py_ssize_t ldb, double beta, double* c, Py_ssize_t ldc,
                      int threads, int* bad)
    int fastbp_gemm_f(bint at, bint bt, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      float alpha, const float* a, Py_ssize_t lda, const float* b,
                      Py_ssize_t ldb, float beta, float* c, Py_ssize_t ldc,
                      int threads, int* bad)
    int fastbp_gemv_rows_d(Py_ssize_t n, Py_ssize_t k, const double* w, const double* x,
                           double* y, int share)
    int fastbp_gemv_rows_f(Py_ssize_t n, Py_ssize_t k, const float* w, const float* x,
                           float* y, int share)
    int fastbp_dots_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha,
                      const double* a, Py_ssize_t lda, const double* b, Py_ssize_t ldb,
                      double beta, double* c, Py_ssize_t ldc)
    int fastbp_dots_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha,
                      const float* a, Py_ssize_t lda, const float* b, Py_ssize_t ldb,
                      float beta, float* c, Py_ssize_t ldc)
    int fastbp_bp4_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha,
                     const double* a, Py_ssize_t lda, const double* b, Py_ssize_t ldb,
                     double beta, double* c, Py_ssize_t ldc)
    int fastbp_bp4_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha,
                     const float* a, Py_ssize_t lda, const float* b, Py_ssize_t ldb,
                     float beta, float* c, Py_ssize_t ldc)


cdef extern from "planner.h" nogil:
    # src/planner.c: which path computes a product, and the table it decides by
    enum:
        FASTBP_PATH_BLAS
        FASTBP_PATH_BLAS_T
        FASTBP_PATH_GEMM
        FASTBP_PATH_DOTS
        FASTBP_PATH_NARROW
        FASTBP_PATH_GEMV
        FASTBP_PATH_BLAS_GEMV
        FASTBP_PATH_BP4
        FASTBP_N_PATHS
    ctypedef struct fastbp_plan_t:
        int path
        int threads
        int checks
        int share
        int kc
    fastbp_plan_t fastbp_plan(int at, int bt, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                              Py_ssize_t batch, int elem_bytes, int flags,
                              unsigned declined)
    int fastbp_plan_scratch(Py_ssize_t m, Py_ssize_t n)
    int fastbp_plan_gather_ahead(Py_ssize_t batch, double work)
    int fastbp_plan_narrow_thread_rows()
    const char* fastbp_plan_limit(int i, double* value, const char** tried)


cdef extern from "simd.h" nogil:
    # src/simd.h: which compiled variant of the element-wise loops runs
    void fastbp_simd_choose()
    const int* fastbp_simd_level_of_kernels()


cdef const int* simd_level() noexcept nogil:
    """Where the variant of the element-wise loops that the kernels' choice allows
    is kept (src/simd.h): the modules with such loops read it at every call."""
    return fastbp_simd_level_of_kernels()


cdef extern from "pool.h" nogil:
    # src/pool.c: the worker threads, and how many our kernels may use
    int FASTBP_MAX_THREADS
    ctypedef void* (*fastbp_task)(void*) noexcept nogil
    int fastbp_threads()
    void fastbp_find_blas_threads(const char* cython_blas_path)
    int fastbp_get_num_threads()
    void fastbp_set_num_threads(int n)
    int fastbp_start(fastbp_task fn, void* job)
    void fastbp_finish()
    int fastbp_pool_backoff_on


cdef bint narrow_gemm(int m, int n, int k, const floating* X, const floating* W,
                      floating* C, bint* nonfinite, int threads) noexcept nogil:
    """C = X @ W.T for X (m, k), W (n, k) and C (m, n), contiguous and row-major.

    fastbp's own kernel (see above), for many rows and few neurons (the planner's
    narrow_min_rows and narrow_max_width), on up to ``threads`` threads (0: as many as
    the BLAS may use; never fewer than the planner's narrow_thread_rows rows each). Returns False, leaving
    nonfinite untouched (and C to be overwritten), where it is not compiled in, the
    CPU has neither AVX-512 nor AVX2 with FMA, or memory for its 64-byte-aligned
    copies of W and of 4 rows of X runs out: the caller then uses ``gemm``. If
    ``nonfinite`` is not NULL, it receives whether X holds any NaN or infinity.
    """
    cdef int bad = 0
    cdef int done
    if threads <= 0:
        threads = fastbp_threads()
    threads = min(threads, m // fastbp_plan_narrow_thread_rows())
    if floating is float:
        done = fastbp_narrow_gemm_f(m, n, k, X, W, C, &bad if nonfinite != NULL else NULL,
                                    threads)
    else:
        done = fastbp_narrow_gemm_d(m, n, k, X, W, C, &bad if nonfinite != NULL else NULL,
                                    threads)
    if done and nonfinite != NULL:
        nonfinite[0] = bad != 0
    return done


cdef bint gemm_own(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                   const floating* A, int lda, const floating* B, int ldb,
                   floating beta, floating* C, int ldc,
                   bint* nonfinite=NULL) noexcept nogil:
    """C := alpha * op(A) @ op(B) + beta * C, as ``gemm``, by fastbp's own GEMM.

    For the products of mini-batch training and of inference through a narrow layer
    (where the planner sends them), on as many threads as the BLAS may use. If
    ``nonfinite`` is not NULL (op(A) = A only), it receives whether A holds NaN or
    inf, checked while each tile of A is in cache. Returns False, leaving C and
    nonfinite untouched, where it does not run: not compiled in, neither AVX-512 nor
    AVX2 with FMA, both operands transposed, a check asked of a transposed A, or out of
    memory. The caller then uses ``gemm``. Each product
    of a training step should take the same path: OpenBLAS's threads spin for a while
    after each call and would take the core from our own.
    """
    cdef int bad = 0
    cdef int done
    if floating is float:
        done = fastbp_gemm_f(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C,
                             ldc, fastbp_threads(), &bad if nonfinite != NULL else NULL)
    else:
        done = fastbp_gemm_d(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C,
                             ldc, fastbp_threads(), &bad if nonfinite != NULL else NULL)
    if done and nonfinite != NULL:
        nonfinite[0] = bad != 0
    return done


cdef bint gemv_rows(int n, int k, const floating* W, const floating* x,
                    floating* y, bint share=False) noexcept nogil:
    """y = W @ x for W (n, k) row-major and x (k,), y (n,) contiguous.

    fastbp's own kernel for one example (see above); with ``share``, the rows may be
    shared with an awake worker thread (same bits). Returns False, leaving y
    untouched, where it is not compiled in or the CPU has neither AVX-512 nor AVX2 with
    FMA: the caller then uses ``gemv``.
    """
    if floating is float:
        return fastbp_gemv_rows_f(n, k, W, x, y, share)
    else:
        return fastbp_gemv_rows_d(n, k, W, x, y, share)


cdef bint dots(int m, int n, int k, floating alpha, const floating* A, int lda,
               const floating* B, int ldb, floating beta, floating* C,
               int ldc) noexcept nogil:
    """C := alpha * A @ B.T + beta * C by the dots kernel (a few rows of A, B read in
    place, one thread); False where it does not run."""
    if floating is float:
        return fastbp_dots_f(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    else:
        return fastbp_dots_d(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)


cdef bint bp4(int m, int n, int k, floating alpha, const floating* A, int lda,
              const floating* B, int ldb, floating beta, floating* C,
              int ldc) noexcept nogil:
    """C := alpha * A.T @ B + beta * C by the bp4 kernel (BP4's update over a few rows
    k of A and B, C streamed once, one thread); False where it does not run."""
    if floating is float:
        return fastbp_bp4_f(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    else:
        return fastbp_bp4_d(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)


cdef void _transpose(const floating* T, Py_ssize_t rows, Py_ssize_t cols,
                     floating* out) noexcept nogil:
    """out = T.T, for T (rows, cols) and out (cols, rows), both row-major."""
    cdef Py_ssize_t i, j, i0, i1
    # Blocks of output rows keep the strided reads of T in cache.
    for i0 in range(0, cols, 64):
        i1 = min(i0 + 64, cols)
        for j in range(rows):
            for i in range(i0, i1):
                out[i * rows + j] = T[j * cols + i]


cdef bint _run(const fastbp_plan_t* plan, bint trans_a, bint trans_b, int m, int n,
               int k, floating alpha, const floating* A, int lda, const floating* B,
               int ldb, floating beta, floating* C, int ldc, floating* T,
               bint* nonfinite) noexcept nogil:
    """Run ``product`` by the planned path; False where its kernel declined."""
    cdef int path = plan.path
    cdef int start, kc
    cdef const floating* a
    cdef const floating* b
    if path == FASTBP_PATH_GEMM and plan.kc > 0 and k > plan.kc:
        # In blocks of k, each block's terms added to C in turn. Where the GEMM
        # declines a later block, the BLAS computes that one.
        if not gemm_own(trans_a, trans_b, m, n, plan.kc, alpha, A, lda, B, ldb, beta, C,
                        ldc):
            return False
        start = plan.kc
        while start < k:
            kc = min(plan.kc, k - start)
            a = A + (<Py_ssize_t>start * lda if trans_a else start)
            b = B + (start if trans_b else <Py_ssize_t>start * ldb)
            if not gemm_own(trans_a, trans_b, m, n, kc, alpha, a, lda, b, ldb, <floating>1,
                            C, ldc):
                gemm(trans_a, trans_b, m, n, kc, alpha, a, lda, b, ldb, <floating>1, C, ldc)
            start += kc
        return True
    if path == FASTBP_PATH_GEMM:
        return gemm_own(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
                        nonfinite if plan.checks else NULL)
    if path == FASTBP_PATH_DOTS:
        return dots(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    if path == FASTBP_PATH_BP4:
        return bp4(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    if path == FASTBP_PATH_NARROW:
        return narrow_gemm(m, n, k, A, B, C, nonfinite if plan.checks else NULL, 0)
    if path == FASTBP_PATH_GEMV:
        return gemv_rows(n, k, B, A, C, plan.share)
    if path == FASTBP_PATH_BLAS_GEMV:
        gemv(False, n, k, <floating>1, B, ldb, A, 1, <floating>0, C, 1)
    elif path == FASTBP_PATH_BLAS_T:
        # T = B @ A.T, then C = T.T
        gemm(False, True, n, m, k, <floating>1, B, ldb, A, lda, <floating>0, T, m)
        _transpose(T, n, m, C)
    else:
        gemm(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    return True


cdef bint product(int batch, int flags, bint trans_a, bint trans_b, int m, int n, int k,
                  floating alpha, const floating* A, int lda, const floating* B, int ldb,
                  floating beta, floating* C, int ldc, floating* T=NULL,
                  bint* nonfinite=NULL) noexcept nogil:
    """C := alpha * op(A) @ op(B) + beta * C (as ``gemm``) by the path the planner
    chooses for it (see _blas.pxd for ``batch``, ``flags``, T and ``nonfinite``);
    a kernel that declines is left out and the planner asked again. Returns whether
    ``nonfinite`` was filled."""
    cdef unsigned declined = 0
    cdef fastbp_plan_t plan
    if T != NULL:
        flags |= FASTBP_PLAN_SCRATCH
    if nonfinite != NULL:
        flags |= FASTBP_PLAN_CHECK
    while True:
        plan = fastbp_plan(trans_a, trans_b, m, n, k, batch, sizeof(floating), flags,
                           declined)
        if _run(&plan, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
                T, nonfinite):
            return plan.checks != 0
        declined |= 1u << plan.path


cdef bint layer_scratch(int m, int n) noexcept nogil:
    return fastbp_plan_scratch(m, n) != 0


cdef bint gather_ahead(int batch, double work) noexcept nogil:
    return fastbp_plan_gather_ahead(batch, work) != 0


cdef int kernel_threads() noexcept nogil:
    """How many threads fastbp's own kernels and tasks may use: the BLAS's limit."""
    return fastbp_threads()


cdef bint start_task(task fn, void* job) noexcept nogil:
    """Start fn(job) on one of fastbp's worker threads and return at once; False,
    having started nothing, when none is free (the caller then runs fn itself).
    After True, call ``finish_task`` before touching the job's memory again."""
    return fastbp_start(<fastbp_task>fn, job) != 0


cdef void finish_task() noexcept nogil:
    """Wait for the task that ``start_task`` started."""
    fastbp_finish()


def _own_kernels_available():
    """Whether fastbp's own kernels are compiled in, this CPU can run them and
    FASTBP_DISABLE_CPU_FEATURES left them on."""
    return fastbp_kernels_isa() != b"none"


def _own_gemm_tile_bytes():
    """The width in bytes of the own GEMM's column tiles (0: it does not run)."""
    return fastbp_gemm_tile_bytes() if fastbp_own_kernels_active() else 0


def _kernel_threads():
    """How many threads fastbp's own kernels may use now: the BLAS's current limit."""
    return kernel_threads()


def _gemv_splits():
    """How many one-example products a worker thread has shared since import."""
    return fastbp_gemv_split_count()


def _own_gemm_calls():
    """How many products fastbp's own GEMM has computed since import."""
    return fastbp_gemm_count()


def _use_gemv_split(bint enabled):
    """Turn the sharing of one-example products with a worker thread on or off;
    returns the previous setting."""
    global fastbp_gemv_split
    cdef bint previous = fastbp_gemv_split != 0
    fastbp_gemv_split = enabled and FASTBP_HAVE_OWN_KERNELS
    return previous


def _use_pool_backoff(bint enabled):
    """Turn on or off (a test hook: tests that count hand-outs to the worker
    pool) the pool's back-off after a task taken back; returns the previous setting."""
    global fastbp_pool_backoff_on
    cdef bint previous = fastbp_pool_backoff_on != 0
    fastbp_pool_backoff_on = enabled and FASTBP_HAVE_OWN_KERNELS
    return previous


def _use_own_kernels(bint enabled):
    """Turn fastbp's own kernels on or off (for tests that compare both paths, which
    must not run concurrently with other inference); returns the previous setting."""
    return fastbp_use_own_kernels(enabled) != 0


def _get_num_threads():
    """fastbp's own thread limit (threadpoolctl's view; the BLAS's limit applies too)."""
    return fastbp_get_num_threads()


def _set_num_threads(int n):
    """Set fastbp's own thread limit (at least 1)."""
    fastbp_set_num_threads(n)


def _config():
    """What the native layer was built with and chose on this machine."""
    return {
        "compiler": fastbp_compiler().decode(),
        "own_kernels_compiled": bool(FASTBP_HAVE_OWN_KERNELS),
        "cpu_features": fastbp_cpu_features().decode().split(),
        "enabled_features": fastbp_cpu_enabled().decode().split(),
        "kernels": fastbp_kernels_isa().decode(),
        "max_threads": FASTBP_MAX_THREADS,
    }


import os as _os
import warnings as _warnings
import numpy as np
import scipy.linalg.cython_blas as _scipy_blas

fastbp_find_blas_threads(_os.fsencode(_scipy_blas.__file__))


def _init_cpu():
    disable = _os.environ.get("FASTBP_DISABLE_CPU_FEATURES", "")
    if fastbp_cpu_init(disable.encode("ascii", "replace")):
        _warnings.warn(f"FASTBP_DISABLE_CPU_FEATURES={disable!r} names a feature fastbp "
                       "does not know (it knows AVX512F, AVX2 and FMA)", RuntimeWarning,
                       stacklevel=2)
    fastbp_simd_choose()
    threads = _os.environ.get("FASTBP_NUM_THREADS", "").strip()
    if threads:
        try:
            fastbp_set_num_threads(int(threads))
        except ValueError:
            _warnings.warn(f"FASTBP_NUM_THREADS={threads!r} is not a whole number; "
                           "ignored", RuntimeWarning, stacklevel=2)


_init_cpu()


# ---------------------------------------------------------------------------------
# Test hooks: each checks nothing itself; the tests compare their result with NumPy.

def _gemm_test(bint trans_a, bint trans_b, double alpha, const floating[:, ::1] A,
               const floating[:, ::1] B, double beta, floating[:, ::1] C):
    """C[...] = alpha * op(A) @ op(B) + beta * C, computed by ``gemm``."""
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    gemm(trans_a, trans_b, m, n, k, <floating>alpha, &A[0, 0], A.shape[1],
         &B[0, 0], B.shape[1], <floating>beta, &C[0, 0], C.shape[1])


def _gemv_test(bint trans, double alpha, const floating[:, ::1] A,
               const floating[::1] x, double beta, floating[::1] y):
    """y[...] = alpha * op(A) @ x + beta * y, computed by ``gemv``."""
    gemv(trans, A.shape[0], A.shape[1], <floating>alpha, &A[0, 0], A.shape[1], &x[0], 1,
         <floating>beta, &y[0], 1)


def _ger_test(double alpha, const floating[::1] x, const floating[::1] y,
              floating[:, ::1] A):
    """A += alpha * np.outer(x, y), computed by ``ger``."""
    ger(A.shape[0], A.shape[1], <floating>alpha, &x[0], 1, &y[0], 1, &A[0, 0], A.shape[1])


def _axpy_test(double alpha, const floating[::1] x, floating[::1] y):
    """y += alpha * x, computed by ``axpy``."""
    axpy(x.shape[0], <floating>alpha, &x[0], 1, &y[0], 1)


def _scal_test(double alpha, floating[::1] x):
    """x *= alpha, computed by ``scal``."""
    scal(x.shape[0], <floating>alpha, &x[0], 1)


def _narrow_gemm_test(const floating[:, ::1] X, const floating[:, ::1] W,
                      floating[:, ::1] C, bint check, int threads=0):
    """C[...] = X @ W.T by ``narrow_gemm`` on up to ``threads`` threads (0: the BLAS's
    count); returns (whether it ran, whether X was found non-finite, or None when not
    checked)."""
    cdef bint bad = False
    cdef bint done = narrow_gemm(X.shape[0], W.shape[0], X.shape[1], &X[0, 0], &W[0, 0],
                                 &C[0, 0], &bad if check else NULL, threads)
    return done, (bad if check and done else None)


def _own_gemm_test(bint trans_a, bint trans_b, double alpha, const floating[:, :] A,
                   const floating[:, :] B, double beta, floating[:, :] C, int threads=0,
                   bint check=False):
    """C[...] = alpha * op(A) @ op(B) + beta * C by fastbp's own GEMM alone, on up to
    ``threads`` threads (0: the BLAS's count), without the GIL; the arrays may be
    views with row strides longer than their rows. Returns whether it ran; with
    ``check``, (whether it ran, whether A was found to hold NaN or inf)."""
    cdef int bad = 0
    cdef Py_ssize_t lda = A.strides[0] // sizeof(floating)
    cdef Py_ssize_t ldb = B.strides[0] // sizeof(floating)
    cdef Py_ssize_t ldc = C.strides[0] // sizeof(floating)
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    cdef int done
    if A.strides[1] != sizeof(floating) or B.strides[1] != sizeof(floating) or \
            C.strides[1] != sizeof(floating):
        raise ValueError("rows must be contiguous")
    if threads <= 0:
        threads = fastbp_threads()
    # A zero-size operand (k = 0) has no element 0 to point at: it is never read.
    cdef const floating* a = &A[0, 0] if A.shape[0] and A.shape[1] else NULL
    cdef const floating* b = &B[0, 0] if B.shape[0] and B.shape[1] else NULL
    cdef floating* c = &C[0, 0] if m and n else NULL
    with nogil:
        if floating is float:
            done = fastbp_gemm_f(trans_a, trans_b, m, n, k, <float>alpha, a, lda,
                                 b, ldb, <float>beta, c, ldc, threads,
                                 &bad if check else NULL)
        else:
            done = fastbp_gemm_d(trans_a, trans_b, m, n, k, alpha, a, lda,
                                 b, ldb, beta, c, ldc, threads,
                                 &bad if check else NULL)
    if check:
        return done != 0, bad != 0
    return done != 0


def _gemv_rows_test(const floating[:, ::1] W, const floating[::1] x, floating[::1] y):
    """y[...] = W @ x by ``gemv_rows``, shared with a worker where the planner would
    share it; returns whether it ran."""
    cdef fastbp_plan_t plan = fastbp_plan(False, True, 1, W.shape[0], W.shape[1], 1,
                                          sizeof(floating), FASTBP_PLAN_LAYER, 0)
    return gemv_rows(W.shape[0], W.shape[1], &W[0, 0], &x[0], &y[0], plan.share)


cdef bint _few_rows_test(bint at, double alpha, const floating[:, :] A,
                         const floating[:, :] B, double beta, floating[:, :] C) except -1:
    """The dots kernel (at false: C = alpha A @ B.T + beta C) or the bp4 kernel (at:
    C = alpha A.T @ B + beta C) alone, on views whose rows may have longer strides."""
    cdef Py_ssize_t lda = A.strides[0] // sizeof(floating)
    cdef Py_ssize_t ldb = B.strides[0] // sizeof(floating)
    cdef Py_ssize_t ldc = C.strides[0] // sizeof(floating)
    if A.strides[1] != sizeof(floating) or B.strides[1] != sizeof(floating) or \
            C.strides[1] != sizeof(floating):
        raise ValueError("rows must be contiguous")
    cdef const floating* a = &A[0, 0] if A.shape[0] and A.shape[1] else NULL
    cdef const floating* b = &B[0, 0] if B.shape[0] and B.shape[1] else NULL
    cdef floating* c = &C[0, 0] if C.shape[0] and C.shape[1] else NULL
    if at:
        return bp4(C.shape[0], C.shape[1], A.shape[0], <floating>alpha, a, lda, b, ldb,
                   <floating>beta, c, ldc)
    return dots(C.shape[0], C.shape[1], A.shape[1], <floating>alpha, a, lda, b, ldb,
                <floating>beta, c, ldc)


def _dots_test(double alpha, const floating[:, :] A, const floating[:, :] B,
               double beta, floating[:, :] C):
    """C[...] = alpha * A @ B.T + beta * C by the dots kernel alone (views with row
    strides longer than their rows allowed); returns whether it ran."""
    return _few_rows_test(False, alpha, A, B, beta, C)


def _bp4_test(double alpha, const floating[:, :] A, const floating[:, :] B,
              double beta, floating[:, :] C):
    """C[...] = alpha * A.T @ B + beta * C by the bp4 kernel alone (views with row
    strides longer than their rows allowed); returns whether it ran."""
    return _few_rows_test(True, alpha, A, B, beta, C)


_PATHS = {FASTBP_PATH_BLAS: "blas", FASTBP_PATH_BLAS_T: "blas_t",
          FASTBP_PATH_GEMM: "gemm", FASTBP_PATH_DOTS: "dots",
          FASTBP_PATH_NARROW: "narrow", FASTBP_PATH_GEMV: "gemv",
          FASTBP_PATH_BLAS_GEMV: "blas_gemv", FASTBP_PATH_BP4: "bp4"}
_PATH_IDS = {name: path for path, name in _PATHS.items()}


def _plan_limits():
    """The planner's table for the kernels in use: {name: (value, the first words of
    its row in benchmarks/tried.md)}."""
    cdef double value
    cdef const char* tried
    cdef const char* name
    cdef int i = 0
    out = {}
    while True:
        name = fastbp_plan_limit(i, &value, &tried)
        if name == NULL:
            return out
        out[name.decode()] = (value, tried.decode("utf-8"))
        i += 1


def _plan_test(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
               Py_ssize_t batch, int itemsize, bint layer=False, bint check=False,
               bint scratch=False, declined=()):
    """The planner's choice for a product (see ``product``), as a dict: path (a
    name of ``_PATHS``), threads, checks, share, kc. ``declined``: names of paths
    whose kernel declined."""
    cdef unsigned mask = 0
    for name in declined:
        mask |= 1u << <int>_PATH_IDS[name]
    cdef int flags = ((FASTBP_PLAN_LAYER if layer else 0) | (FASTBP_PLAN_CHECK if check else 0)
                      | (FASTBP_PLAN_SCRATCH if scratch else 0))
    cdef fastbp_plan_t plan = fastbp_plan(trans_a, trans_b, m, n, k, batch, itemsize,
                                          flags, mask)
    return {"path": _PATHS[plan.path], "threads": plan.threads,
            "checks": bool(plan.checks), "share": bool(plan.share), "kc": plan.kc}


def _product_test(int batch, bint layer, bint trans_a, bint trans_b, double alpha,
                  const floating[:, ::1] A, const floating[:, ::1] B, double beta,
                  floating[:, ::1] C, path=None, int kc=-1):
    """C[...] = alpha * op(A) @ op(B) + beta * C by ``product`` (layer: A @ B.T with
    alpha 1 and beta 0, scratch given, X checked), or by the named path alone (the
    GEMM in blocks of ``kc`` of k's terms, 0: whole; -1: as planned). Returns (the path that ran, whether it declined, the NaN/inf flag or None)."""
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    cdef bint bad = False, found
    cdef fastbp_plan_t plan
    cdef bint ran
    T = np.empty(m * n if layer else 1, np.float32 if floating is float else np.float64)
    cdef floating[::1] t = T
    cdef int flags = FASTBP_PLAN_LAYER | FASTBP_PLAN_SCRATCH | FASTBP_PLAN_CHECK if layer else 0
    if path is None:
        plan = fastbp_plan(trans_a, trans_b, m, n, k, batch, sizeof(floating), flags, 0)
        name = _PATHS[plan.path]
        found = product(batch, FASTBP_PLAN_LAYER if layer else 0, trans_a, trans_b, m, n,
                        k, <floating>alpha, &A[0, 0], A.shape[1], &B[0, 0], B.shape[1],
                        <floating>beta, &C[0, 0], n, &t[0] if layer else NULL,
                        &bad if layer else NULL)
        return name, False, (bad if found else None)
    plan = fastbp_plan(trans_a, trans_b, m, n, k, batch, sizeof(floating), flags, 0)
    plan.path = _PATH_IDS[path]
    if kc >= 0:
        plan.kc = kc
    plan.checks = layer and plan.path in (FASTBP_PATH_GEMM, FASTBP_PATH_NARROW)
    ran = _run(&plan, trans_a, trans_b, m, n, k, <floating>alpha, &A[0, 0], A.shape[1],
               &B[0, 0], B.shape[1], <floating>beta, &C[0, 0], n, &t[0], &bad)
    return path, not ran, (bad if ran and plan.checks else None)


def _dot_test(const floating[::1] x, const floating[::1] y):
    """Return x @ y, computed by ``dot``."""
    return dot(x.shape[0], &x[0], 1, &y[0], 1)
