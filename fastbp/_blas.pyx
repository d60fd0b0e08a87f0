"""Row-major BLAS wrappers over ``scipy.linalg.cython_blas``.

Every wrapper takes row-major (C-order) operands and states its maths in NumPy terms.
A row-major matrix is the transpose of the same memory read in Fortran order, so
``C = op(A) @ op(B)`` in C order is ``C.T = op(B).T @ op(A).T`` in Fortran order: the
wrappers swap operands (and dimensions) instead of copying anything.

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


def _dot_test(const floating[::1] x, const floating[::1] y):
    """Return x @ y, computed by ``dot``."""
    return dot(x.shape[0], &x[0], 1, &y[0], 1)
