"""Row-major BLAS wrappers over ``scipy.linalg.cython_blas``.

Every wrapper takes row-major (C-order) operands and states its maths in NumPy terms.
A row-major matrix is the transpose of the same memory read in Fortran order, so
``C = op(A) @ op(B)`` in C order is ``C.T = op(B).T @ op(A).T`` in Fortran order: the
wrappers swap operands (and dimensions) instead of copying anything.

fastbp has its own AVX-512 kernels for the shapes where they beat OpenBLAS:
``gemm_own`` for the products of mini-batch training and for many rows through a
layer that fills its column tiles, ``narrow_gemm`` for many rows through other layers
of few neurons, and ``gemv_rows`` for one example through any layer.
Each returns False where it cannot run, for the caller to use BLAS.

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
# training (gemm_own); the last two are described at their macros.
#
# A layer of a few dozen neurons fed many rows makes a product of a tall X (m, k) with
# a few rows of W (n, k): inference on a whole test set through the book's [784, 30,
# 10]. OpenBLAS packs and blocks it like any GEMM, and its best orientation runs
# 10,000 x 784 -> 30 at ~35 GFLOP/s here. Each entry of Z is a dot product of two
# rows, so the kernel below keeps a 4 x 6 tile of them in 24 AVX-512 accumulators,
# loads each vector of X once per 6 rows of W and each vector of W once per 4 rows of
# X, and reduces across lanes at the end: ~20 % faster than OpenBLAS, and it checks X
# for NaN and inf on the way, which saves inference a pass over its input. Element p
# of a row always goes to lane p % LANES, whatever the arrays' alignment, so results
# are reproducible bit for bit. Its rows are split between as many threads as the
# BLAS may use (X streams from memory, and two cores draw more bandwidth than one).
# Where a layer fills at least 3/4 of gemm_own's 4-vector column tiles (30 neurons in
# float64), gemm_own with its rows shared out in blocks is faster still (the engine
# chooses, in _backprop.forward).

cdef extern from *:
    """
    #include <stddef.h>
    #include <stdlib.h>
    #include <string.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #include <dlfcn.h>
    #include <immintrin.h>
    #include <pthread.h>
    #include <sched.h>
    #include <time.h>
    #include <stdint.h>
    #define FASTBP_HAVE_OWN_KERNELS 1
    #define FASTBP_AVX512 __attribute__((target("avx512f")))
    /* Loops over a tile's rows and columns must unroll completely: any left rolled
       would index the accumulators at run time and keep them in memory. */
    #define FASTBP_UNROLLED _Pragma("GCC unroll 16")

    /* C[i, j] = X[i, :] @ W[j, :] for rows i < R of X and j < n of W, both packed
       (64-byte aligned, row stride and length ld, a multiple of LANES; C with row
       stride n), in tiles of R x 6. pf, if not NULL: R rows (row stride k) to
       prefetch meanwhile, the next rows of X, which come from memory. T: the element
       type; V: its AVX-512 vector; LANES: elements per vector; S: the intrinsics'
       suffix (pd or ps). */
    #define FASTBP_NARROW_TILE(NAME, T, V, LANES, S, R)                                \\
    static inline FASTBP_AVX512 void NAME(ptrdiff_t n, ptrdiff_t ld, const T* x,        \\
                                          const T* w, T* c, const T* pf, ptrdiff_t k) { \\
        for (ptrdiff_t j0 = 0; j0 < n; j0 += 6) {                                      \\
            const ptrdiff_t cols = n - j0 < 6 ? n - j0 : 6;                            \\
            const T* wr[6];                                                            \\
            V acc[R][6], a[R], b;                                                      \\
            /* Past the last row of W, repeat it: computed, never stored. */           \\
            FASTBP_UNROLLED for (int j = 0; j < 6; j++)                                \\
                wr[j] = w + (j0 + (j < cols ? j : 0)) * ld;                            \\
            FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \\
                FASTBP_UNROLLED for (int j = 0; j < 6; j++) acc[i][j] = _mm512_setzero_##S(); \\
            for (ptrdiff_t p = 0; p < ld; p += LANES) {                                \\
                if (pf != NULL && j0 == 0 && p < k)                                    \\
                    FASTBP_UNROLLED for (int i = 0; i < R; i++)                        \\
                        _mm_prefetch((const char*)(pf + i * k + p), _MM_HINT_T0);      \\
                FASTBP_UNROLLED for (int i = 0; i < R; i++)                            \\
                    a[i] = _mm512_load_##S(x + i * ld + p);                            \\
                FASTBP_UNROLLED for (int j = 0; j < 6; j++) {                          \\
                    b = _mm512_load_##S(wr[j] + p);                                    \\
                    FASTBP_UNROLLED for (int i = 0; i < R; i++)                        \\
                        acc[i][j] = _mm512_fmadd_##S(a[i], b, acc[i][j]);              \\
                }                                                                      \\
            }                                                                          \\
            FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \\
                FASTBP_UNROLLED for (int j = 0; j < 6; j++) {                          \\
                    T dot = _mm512_reduce_add_##S(acc[i][j]);                          \\
                    if (j < cols) c[i * n + j0 + j] = dot;                             \\
                }                                                                      \\
        }                                                                              \\
    }

    /* Copy `rows` rows of k elements (source row stride lds) to dst (row stride ld >=
       k, zero-filled past k; dst NULL: copy nothing, ld a multiple of LANES), and OR
       into *bits, per lane, (bits & EXP) + ONE of every element: its sign bit ends up
       set iff one of them is NaN or infinite (an exponent field of all ones carries
       into it). I: the integer lanes' suffix (epi64 or epi32). */
    #define FASTBP_NARROW_PACK(NAME, T, LANES, S, MASK, I, EXP, ONE)                   \\
    static inline FASTBP_AVX512 void NAME(ptrdiff_t rows, ptrdiff_t k, const T* src,    \\
                                          ptrdiff_t lds, ptrdiff_t ld, T* dst,          \\
                                          __m512i* bits) {                             \\
        const __m512i exp = _mm512_set1_##I(EXP), one = _mm512_set1_##I(ONE);          \\
        __m512i acc = *bits;                                                           \\
        for (ptrdiff_t r = 0; r < rows; r++) {                                         \\
            for (ptrdiff_t p = 0; p < ld; p += LANES) {                                \\
                const MASK mask = k - p >= LANES ? (MASK)-1                            \\
                                  : k > p ? (MASK)((1u << (k - p)) - 1) : 0;           \\
                __m512i v = _mm512_cast##S##_si512(                                    \\
                    _mm512_maskz_loadu_##S(mask, src + r * lds + p));                  \\
                acc = _mm512_or_si512(acc, _mm512_add_##I(_mm512_and_si512(v, exp), one)); \\
                if (dst != NULL) _mm512_store_si512((void*)(dst + r * ld + p), v);     \\
            }                                                                          \\
        }                                                                              \\
        *bits = acc;                                                                   \\
    }

    /* Rows [i0, i1) of C = X @ W.T, with W already packed in wp: one thread's share.
       Each thread copies its own tiles of X (and so checks them) into its own buffer;
       bad receives whether its rows of X hold NaN or inf, ok whether the buffer could
       be allocated. */
    #define FASTBP_NARROW_ROWS(NAME, TILE4, TILE1, PACK, T, LANES, I)                  \\
    typedef struct {                                                                   \\
        ptrdiff_t i0, i1, n, k, ld;                                                    \\
        const T* x; const T* wp; T* c;                                                 \\
        int bad, ok;                                                                   \\
    } NAME##_job;                                                                      \\
    static FASTBP_AVX512 void* NAME##_rows(void* arg) {                                \\
        NAME##_job* job = (NAME##_job*)arg;                                            \\
        const ptrdiff_t m = job->i1, n = job->n, k = job->k, ld = job->ld;             \\
        const T* x = job->x;                                                           \\
        T* xp = (T*)aligned_alloc(64, (size_t)4 * ld * sizeof(T));                     \\
        __m512i bits = _mm512_setzero_si512();                                         \\
        ptrdiff_t i = job->i0;                                                         \\
        job->ok = xp != NULL;                                                          \\
        if (xp == NULL) return NULL;                                                   \\
        for (; i + 4 <= m; i += 4) {                                                   \\
            PACK(4, k, x + i * k, k, ld, xp, &bits);                                   \\
            TILE4(n, ld, xp, job->wp, job->c + i * n,                                  \\
                  i + 8 <= m ? x + (i + 4) * k : NULL, k);                             \\
        }                                                                              \\
        for (; i < m; i++) {                                                           \\
            PACK(1, k, x + i * k, k, ld, xp, &bits);                                   \\
            TILE1(n, ld, xp, job->wp, job->c + i * n, NULL, k);                        \\
        }                                                                              \\
        free(xp);                                                                      \\
        job->bad = _mm512_cmplt_##I##_mask(bits, _mm512_setzero_si512()) != 0;         \\
        return NULL;                                                                   \\
    }

    /* C (m, n) = X (m, k) @ W.T for W (n, k), all contiguous row-major; with bad !=
       NULL, also *bad = whether X holds NaN or inf. W and each tile of X are first
       copied to 64-byte-aligned buffers padded with zeros to whole vectors: NumPy's
       large arrays start 16 bytes past a page, and a load that straddles two cache
       lines costs two. The copy of X also checks it. The rows are split between up
       to `threads` threads (this one and fastbp_run's workers; narrow_gemm caps
       `threads` so each gets NARROW_THREAD_ROWS); every entry of C is computed the
       same way whichever thread computes it, so results do not depend on the thread
       count.
       Returns 0 when out of memory (C may then be partly written). */
    #define FASTBP_NARROW_GEMM(NAME, ROWS, PACK, T, LANES)                             \\
    static FASTBP_AVX512 int NAME##_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,      \\
                                           const T* x, const T* w, T* c, int* bad,     \\
                                           int threads) {                              \\
        const ptrdiff_t ld = (k + LANES - 1) / LANES * LANES;                          \\
        ROWS##_job jobs[FASTBP_MAX_THREADS];                                            \\
        int ok = 1, any_bad = 0;                                                       \\
        T* wp = (T*)aligned_alloc(64, (size_t)n * ld * sizeof(T));                     \\
        __m512i bits = _mm512_setzero_si512();         /* W's values are not checked */ \\
        if (wp == NULL) return 0;                                                      \\
        PACK(n, k, w, k, ld, wp, &bits);                                               \\
        if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;                \\
        if (threads < 1) threads = 1;                                                  \\
        for (int t = 0; t < threads; t++) {                                            \\
            /* whole tiles of 4 rows to every thread but the last */                   \\
            const ptrdiff_t i0 = m * t / threads / 4 * 4;                              \\
            const ptrdiff_t i1 = t + 1 < threads ? m * (t + 1) / threads / 4 * 4 : m;  \\
            jobs[t] = (ROWS##_job){i0, i1, n, k, ld, x, wp, c, 0, 0};                  \\
        }                                                                              \\
        fastbp_run(ROWS##_rows, jobs, sizeof(jobs[0]), threads);                       \\
        for (int t = 0; t < threads; t++) {                                            \\
            ok &= jobs[t].ok;                                                          \\
            any_bad |= jobs[t].bad;                                                    \\
        }                                                                              \\
        free(wp);                                                                      \\
        if (ok && bad) *bad = any_bad;                                                 \\
        return ok;                                                                     \\
    }                                                                                  \\
    static int NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* x, const T* w,     \\
                    T* c, int* bad, int threads) {                                     \\
        if (!fastbp_own_kernels || !fastbp_cpu_has_avx512f()) return 0;                \\
        return NAME##_avx512(m, n, k, x, w, c, bad, threads);                          \\
    }

    /* y[j] = W[j, :] @ x for the n rows of W (n, k): one row at a time, in four
       accumulators over consecutive vectors (element p lands in accumulator
       p / LANES % 4, lane p % LANES, whatever the alignment). One row at a time
       streams W through the cache in order, which OpenBLAS's GEMV, reading four rows
       at once, does not. V: the AVX-512 vector type.

       A W larger than L1 (the book's 30 x 784 float64 is 188 KB) is read from L2 at
       every call, and that read is most of the call's time. So when a second thread
       is allowed and worker 0 is awake (calls come in a burst), the worker computes
       the second half of the rows, from its own core's L2, while this thread computes
       the first: each row is one dot product computed by the same code on either
       thread, so the bits do not change. A sleeping worker is not waited for; the
       calls then run on one thread. fastbp_gemv_splits counts the halves workers
       computed (a test hook). */
    #define FASTBP_GEMV_COPY 2048
    #define FASTBP_GEMV_SPLIT_BYTES (128 * 1024)
    static long fastbp_gemv_splits;
    static int fastbp_gemv_split = 1;           /* off: a test hook */
    static long fastbp_gemv_split_count(void) {
        return __atomic_load_n(&fastbp_gemv_splits, __ATOMIC_RELAXED);
    }
    #define FASTBP_GEMV_ROWS(NAME, T, V, LANES, S, MASK)                               \\
    static FASTBP_AVX512 void NAME##_avx512(ptrdiff_t n, ptrdiff_t k, const T* w,       \\
                                            const T* x, T* y) {                        \\
        const ptrdiff_t tail = k % LANES, body = k - tail;                             \\
        T x_copy[FASTBP_GEMV_COPY] __attribute__((aligned(64)));                      \\
        /* x is read once per row of W: an aligned copy saves a split load each time */ \\
        if ((size_t)x % 64 && k <= FASTBP_GEMV_COPY) {                                 \\
            memcpy(x_copy, x, k * sizeof(T));                                          \\
            x = x_copy;                                                                \\
        }                                                                              \\
        const MASK tail_mask = (MASK)((1u << tail) - 1);                               \\
        for (ptrdiff_t j = 0; j < n; j++) {                                            \\
            const T* row = w + j * k;                                                  \\
            V acc[4];                                                                  \\
            ptrdiff_t p = 0;                                                           \\
            FASTBP_UNROLLED for (int u = 0; u < 4; u++) acc[u] = _mm512_setzero_##S(); \\
            for (; p + 4 * LANES <= body; p += 4 * LANES)                              \\
                FASTBP_UNROLLED for (int u = 0; u < 4; u++)                            \\
                    acc[u] = _mm512_fmadd_##S(_mm512_loadu_##S(row + p + u * LANES),   \\
                                              _mm512_loadu_##S(x + p + u * LANES), acc[u]); \\
            for (int u = 0; p < body; p += LANES, u++)                                 \\
                acc[u] = _mm512_fmadd_##S(_mm512_loadu_##S(row + p),                   \\
                                          _mm512_loadu_##S(x + p), acc[u]);            \\
            if (tail) {                                                                \\
                const int u = (int)(body / LANES % 4);                                 \\
                acc[u] = _mm512_fmadd_##S(_mm512_maskz_loadu_##S(tail_mask, row + p),  \\
                                          _mm512_maskz_loadu_##S(tail_mask, x + p), acc[u]); \\
            }                                                                          \\
            y[j] = _mm512_reduce_add_##S(_mm512_add_##S(_mm512_add_##S(acc[0], acc[1]), \\
                                                        _mm512_add_##S(acc[2], acc[3]))); \\
        }                                                                              \\
    }                                                                                  \\
    typedef struct { ptrdiff_t n, k; const T* w; const T* x; T* y; } NAME##_job;      \\
    static void* NAME##_task(void* arg) {                                              \\
        NAME##_job* job = (NAME##_job*)arg;                                            \\
        NAME##_avx512(job->n, job->k, job->w, job->x, job->y);                         \\
        return NULL;                                                                   \\
    }                                                                                  \\
    static int NAME(ptrdiff_t n, ptrdiff_t k, const T* w, const T* x, T* y) {          \\
        if (!fastbp_own_kernels || !fastbp_cpu_has_avx512f()) return 0;                \\
        /* h: a whole number of 64-byte lines of y, so no line of an aligned y is      \\
           written by both threads */                                                  \\
        const ptrdiff_t h = (n / 2 + LANES - 1) / LANES * LANES;                       \\
        int mode;                                                                      \\
        if (fastbp_gemv_split && h < n                                                 \\
                && (size_t)(n * k) * sizeof(T) >= FASTBP_GEMV_SPLIT_BYTES              \\
                && fastbp_threads() > 1 && (mode = fastbp_pool_acquire_awake())) {     \\
            NAME##_job job = {n - h, k, w + h * k, x, y + h};                          \\
            fastbp_pool_hand_out(NAME##_task, (char*)&job, 0, 2, mode == 2);           \\
            NAME##_avx512(h, k, w, x, y);                                              \\
            if (fastbp_pool_cancel())                                                  \\
                NAME##_task(&job);                                                     \\
            else                                                                       \\
                __atomic_add_fetch(&fastbp_gemv_splits, 1, __ATOMIC_RELAXED);          \\
            fastbp_pool_release();                                                     \\
            return 1;                                                                  \\
        }                                                                              \\
        NAME##_avx512(n, k, w, x, y);                                                  \\
        return 1;                                                                      \\
    }

    /* Our kernels' worker threads: started on first use, kept for the next calls
       (starting a thread costs 25-40 us here, as much as a whole product of
       mini-batch training). A worker that had a task spins briefly afterwards, in
       case the next comes soon (in training it comes within microseconds), then
       sleeps; one without a task sleeps at once. One caller uses them at a time;
       another caller meanwhile, or one whose threads cannot start, runs its tasks on
       threads of its own. A forked child starts with none: they do not survive fork. */
    #define FASTBP_MAX_THREADS 8
    #define FASTBP_SPINS 4000
    typedef void* (*fastbp_task)(void*);
    #define FASTBP_CLAIM_OPEN(batch) ((batch) >> 8 << 1)
    static struct {
        pthread_mutex_t busy;          /* held by the one caller using the workers */
        pthread_mutex_t lock;          /* guards sleeping, and the wake-ups */
        pthread_cond_t wake;
        int workers, sleeping;
        int asleep0;                   /* worker 0 sleeps (or is about to) */
        /* (generation << 8) | tasks: bumped to hand out the next tasks; worker w
           runs task w + 1 if there is one. One word, so a worker reads both at once */
        uint64_t batch;
        int remaining;                 /* tasks handed out and not yet done */
        fastbp_task fn;
        char* jobs;
        size_t job_size;
        /* FASTBP_CLAIM_OPEN(batch) while worker 0's task of that batch is neither
           started nor taken back, | 1 after */
        uint64_t claim;
        uint64_t first_batch[FASTBP_MAX_THREADS];
    } fastbp_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                     PTHREAD_COND_INITIALIZER};

    static void* fastbp_worker(void* arg) {
        const int id = (int)(intptr_t)arg;
        uint64_t seen = fastbp_pool.first_batch[id], now;
        int spins = 0;                  /* no task yet: nothing to spin for */
        for (;;) {
            while ((now = __atomic_load_n(&fastbp_pool.batch, __ATOMIC_ACQUIRE)) == seen) {
                if (spins-- > 0) {
                    _mm_pause();
                    continue;
                }
                pthread_mutex_lock(&fastbp_pool.lock);
                fastbp_pool.sleeping++;
                /* atomic: fastbp_pool_acquire_awake peeks at it without the lock */
                if (id == 0) __atomic_store_n(&fastbp_pool.asleep0, 1, __ATOMIC_RELAXED);
                while (__atomic_load_n(&fastbp_pool.batch, __ATOMIC_ACQUIRE) == seen)
                    pthread_cond_wait(&fastbp_pool.wake, &fastbp_pool.lock);
                if (id == 0) __atomic_store_n(&fastbp_pool.asleep0, 0, __ATOMIC_RELAXED);
                fastbp_pool.sleeping--;
                pthread_mutex_unlock(&fastbp_pool.lock);
            }
            seen = now;
            spins = 0;
            if (id + 1 < (int)(now & 0xff)) {
                spins = FASTBP_SPINS;
                /* Worker 0 claims its task first: the caller may have taken it back
                   (fastbp_pool_cancel), and then it is not run here. */
                uint64_t open = FASTBP_CLAIM_OPEN(now);
                if (id == 0 && !__atomic_compare_exchange_n(
                        &fastbp_pool.claim, &open, open | 1, 0, __ATOMIC_ACQ_REL,
                        __ATOMIC_RELAXED))
                    continue;
                fastbp_pool.fn(fastbp_pool.jobs + (size_t)(id + 1) * fastbp_pool.job_size);
                __atomic_sub_fetch(&fastbp_pool.remaining, 1, __ATOMIC_RELEASE);
            }
        }
        return NULL;
    }

    static void fastbp_pool_after_fork(void) {
        const pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
        const pthread_cond_t c = PTHREAD_COND_INITIALIZER;
        fastbp_pool.busy = m;
        fastbp_pool.lock = m;
        fastbp_pool.wake = c;
        fastbp_pool.workers = fastbp_pool.sleeping = fastbp_pool.asleep0 = 0;
    }
    static pthread_once_t fastbp_pool_once = PTHREAD_ONCE_INIT;
    static void fastbp_pool_init(void) { pthread_atfork(NULL, NULL, fastbp_pool_after_fork); }

    /* With the workers held: start them until n run; whether n do. */
    static int fastbp_pool_grow(int n) {
        while (fastbp_pool.workers < n) {
            pthread_t tid;
            const int id = fastbp_pool.workers;
            fastbp_pool.first_batch[id] = fastbp_pool.batch;
            if (pthread_create(&tid, NULL, fastbp_worker, (void*)(intptr_t)id) != 0) break;
            pthread_detach(tid);
            fastbp_pool.workers++;
        }
        return fastbp_pool.workers >= n;
    }
    /* Take the workers for this caller, with at least n of them started; 0 (and
       nothing held) when another caller has them or no thread can start. */
    static int fastbp_pool_acquire(int n) {
        pthread_once(&fastbp_pool_once, fastbp_pool_init);
        if (pthread_mutex_trylock(&fastbp_pool.busy) != 0) return 0;
        if (fastbp_pool_grow(n)) return 1;
        pthread_mutex_unlock(&fastbp_pool.busy);
        return 0;
    }
    /* For a task too short to wait for a sleeping worker, which takes 30-50 us to wake
       here (and ~3 us of the waker's time): take the workers if worker 0 is awake (1),
       or if it sleeps but this is the second such call within FASTBP_BURST_NS (2: hand
       out with a wake-up, so that it is awake for the calls that follow); else 0, with
       nothing held. After 1 or 2, hand out one task, and take it back with
       fastbp_pool_cancel if the worker has not started it when the caller's own share
       is done: the caller never waits for a worker to wake. */
    #define FASTBP_BURST_NS 50000
    static int fastbp_pool_acquire_awake(void) {
        static int64_t last_asleep = INT64_MIN / 2;    /* guarded by busy */
        struct timespec ts;
        int64_t now;
        int burst;
        pthread_once(&fastbp_pool_once, fastbp_pool_init);
        if (pthread_mutex_trylock(&fastbp_pool.busy) != 0) return 0;
        if (fastbp_pool.workers > 0
                && !__atomic_load_n(&fastbp_pool.asleep0, __ATOMIC_RELAXED))
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        burst = now - last_asleep < FASTBP_BURST_NS;
        last_asleep = now;
        if (burst && fastbp_pool_grow(1)) return 2;
        pthread_mutex_unlock(&fastbp_pool.busy);
        return 0;
    }
    /* Hand jobs 1 .. tasks - 1 (job_size bytes past jobs apart) to workers 0 .. tasks - 2,
       waking those asleep if `wake`; else only a worker awake sees them, and its task
       must be taken back (fastbp_pool_cancel) if it has not started. */
    static void fastbp_pool_hand_out(fastbp_task fn, char* jobs, size_t job_size, int tasks,
                                     int wake) {
        const uint64_t batch = ((fastbp_pool.batch >> 8) + 1) << 8 | (uint64_t)tasks;
        fastbp_pool.fn = fn;
        fastbp_pool.jobs = jobs;
        fastbp_pool.job_size = job_size;
        __atomic_store_n(&fastbp_pool.remaining, tasks - 1, __ATOMIC_RELAXED);
        __atomic_store_n(&fastbp_pool.claim, FASTBP_CLAIM_OPEN(batch), __ATOMIC_RELAXED);
        if (!wake) {
            /* a worker that misses it sleeps on (its task is then taken back) */
            __atomic_store_n(&fastbp_pool.batch, batch, __ATOMIC_RELEASE);
            return;
        }
        pthread_mutex_lock(&fastbp_pool.lock);
        __atomic_store_n(&fastbp_pool.batch, batch, __ATOMIC_RELEASE);
        if (fastbp_pool.sleeping) pthread_cond_broadcast(&fastbp_pool.wake);
        pthread_mutex_unlock(&fastbp_pool.lock);
    }
    /* Take back worker 0's task of a hand-out of 2 tasks if it has not started it:
       1 if taken back (the caller runs it itself), 0 if the worker has it. */
    static int fastbp_pool_cancel(void) {
        uint64_t open = FASTBP_CLAIM_OPEN(fastbp_pool.batch);
        if (!__atomic_compare_exchange_n(&fastbp_pool.claim, &open, open | 1, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return 0;
        __atomic_store_n(&fastbp_pool.remaining, 0, __ATOMIC_RELAXED);
        return 1;
    }
    /* Wait for the jobs handed out, then let the workers go. */
    static void fastbp_pool_release(void) {
        int spins = 0;
        while (__atomic_load_n(&fastbp_pool.remaining, __ATOMIC_ACQUIRE) != 0)
            if (++spins % 1024) _mm_pause(); else sched_yield();
        pthread_mutex_unlock(&fastbp_pool.busy);
    }

    /* Run fn on jobs[0], ..., jobs[n - 1] (job_size bytes apart), the first on this
       thread, and return when all are done. */
    static void fastbp_run(fastbp_task fn, void* jobs, size_t job_size, int n) {
        char* job = (char*)jobs;
        if (n > 1 && fastbp_pool_acquire(n - 1)) {
            fastbp_pool_hand_out(fn, job, job_size, n, 1);
            fn(job);
            fastbp_pool_release();
            return;
        }
        {   /* the workers are busy or could not start: threads for this call alone */
            pthread_t tids[FASTBP_MAX_THREADS];
            int started[FASTBP_MAX_THREADS];
            for (int t = 1; t < n; t++)
                started[t] = pthread_create(&tids[t], NULL, fn, job + t * job_size) == 0;
            fn(job);
            for (int t = 1; t < n; t++) {
                /* a task whose thread could not start is run here */
                if (started[t]) pthread_join(tids[t], NULL);
                else fn(job + t * job_size);
            }
        }
    }

    /* Start fn(job) on a worker and return at once, for the caller to work on
       meanwhile; fastbp_finish() waits for it, and must come before the job's
       memory is touched again or another task is started. Returns 0, having started
       nothing, when the workers are taken or cannot start. */
    static int fastbp_start(fastbp_task fn, void* job) {
        if (!fastbp_pool_acquire(1)) return 0;
        /* job_size 0: job "1" is job itself; tasks 2: worker 0 alone has a task */
        fastbp_pool_hand_out(fn, (char*)job, 0, 2, 1);
        return 1;
    }
    static void fastbp_finish(void) { fastbp_pool_release(); }

    /* 64-byte-aligned scratch of at least `size` bytes, owned by the calling thread:
       kept for its next calls (a fresh allocation each call would cost page faults,
       as glibc hands the memory back) and freed when the thread exits. NULL when out
       of memory. */
    typedef struct { void* p; size_t size; } fastbp_scratch_t;
    static pthread_key_t fastbp_scratch_key;
    static pthread_once_t fastbp_scratch_once = PTHREAD_ONCE_INIT;
    static void fastbp_scratch_free(void* s) {
        free(((fastbp_scratch_t*)s)->p);
        free(s);
    }
    static void fastbp_scratch_init(void) {
        pthread_key_create(&fastbp_scratch_key, fastbp_scratch_free);
    }
    static void* fastbp_scratch(size_t size) {
        fastbp_scratch_t* s;
        pthread_once(&fastbp_scratch_once, fastbp_scratch_init);
        s = (fastbp_scratch_t*)pthread_getspecific(fastbp_scratch_key);
        if (s == NULL) {
            s = (fastbp_scratch_t*)calloc(1, sizeof(*s));
            if (s == NULL) return NULL;
            if (pthread_setspecific(fastbp_scratch_key, s) != 0) {
                free(s);
                return NULL;
            }
        }
        if (s->size < size) {
            free(s->p);
            s->size = 0;
            s->p = aligned_alloc(64, (size + 63) / 64 * 64);
            if (s->p == NULL) return NULL;
            s->size = size;
        }
        return s->p;
    }

    /* fastbp's GEMM, for the products of mini-batch training. A batch of 128 makes
       products with one side of 128 (W3's 128 x 784 -> 512 and its BP2 and BP4), and
       OpenBLAS runs those at 45-65 % of its rate for large squares; this kernel runs
       them 10-20 % faster on one thread, and splits them between threads better. It
       is the textbook outer-product scheme: a tile of 6 rows and 4 vectors of
       columns of C sits in 24 accumulators; each step over p broadcasts 6 elements
       of op(A) and multiplies them into one row of the tile's columns of op(B), which
       were first packed into a contiguous, aligned panel (transposed, for op(B) = B.T).
       6 x 4 loads 10 registers per 24 multiply-adds where 12 x 2 loads 14: 10-16 %
       faster here, and 4 % more with the loop over p unrolled by 4.

       One tile of C: rows [0, MR) and NR = 4 LANES columns, C = alpha * op(A) @ Bp +
       beta * C, each entry summed over p = 0..k-1 in order in its own accumulator
       lane, so its bits do not depend on the tile it falls in. op(A)[i, p] is
       a[i * lda + p], or a[p * lda + i] with AT (broadcast from where they lie: no
       copy of A). Bp: the tile's columns of op(B), packed as k rows of NR. mk[v]:
       which columns of the tile's vector v exist. */
    #define FASTBP_GEMM_NV 4
    #define FASTBP_GEMM_TILE(NAME, T, V, LANES, S, MASK, MR, AT)                        \\
    static inline __attribute__((always_inline)) FASTBP_AVX512 void NAME(               \\
        ptrdiff_t k, const T* a, ptrdiff_t lda, const T* bp, const MASK* mk,            \\
        T alpha, T beta, T* c, ptrdiff_t ldc) {                                         \\
        V acc[MR][FASTBP_GEMM_NV];                                                     \\
        FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \\
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)                   \\
                acc[i][v] = _mm512_setzero_##S();                                      \\
        _Pragma("GCC unroll 4") for (ptrdiff_t p = 0; p < k; p++) {                    \\
            V b[FASTBP_GEMM_NV];                                                       \\
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)                   \\
                b[v] = _mm512_load_##S(bp + (p * FASTBP_GEMM_NV + v) * LANES);         \\
            FASTBP_UNROLLED for (int i = 0; i < MR; i++) {                             \\
                const V ai = _mm512_set1_##S(AT ? a[p * lda + i] : a[i * lda + p]);    \\
                FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)               \\
                    acc[i][v] = _mm512_fmadd_##S(ai, b[v], acc[i][v]);                 \\
            }                                                                          \\
        }                                                                              \\
        const V va = _mm512_set1_##S(alpha), vb = _mm512_set1_##S(beta);               \\
        FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \\
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++) {                 \\
                T* cv = c + i * ldc + v * LANES;                                       \\
                V r = _mm512_mul_##S(va, acc[i][v]);                                   \\
                if (beta != 0)          /* beta = 0: C is not read (it may be NaN) */  \\
                    r = _mm512_fmadd_##S(vb, _mm512_maskz_loadu_##S(mk[v], cv), r);    \\
                _mm512_mask_storeu_##S(cv, mk[v], r);                                  \\
            }                                                                          \\
    }

    /* Bp (k rows of NR, 64-byte aligned, room for LANES rows more) = the columns of
       op(B) that mk selects, zero elsewhere. op(B)[p, j] is b[p * ldb + j], or
       b[j * ldb + p] with bt: then LANES x LANES blocks of B are loaded a row at a
       time and transposed in registers (TR), which reads B in order; gathering
       each vector of Bp from LANES rows took 6 % of W3's time. */
    #define FASTBP_GEMM_PACK(NAME, T, V, LANES, S, MASK, TR)                            \\
    static inline FASTBP_AVX512 void NAME(int bt, ptrdiff_t k, const T* b, ptrdiff_t ldb, \\
                                          const MASK* mk, T* bp) {                      \\
        if (bt) {                                                                      \\
            for (int v = 0; v < FASTBP_GEMM_NV; v++) {                                 \\
                const T* rows = b + v * LANES * ldb;                                   \\
                for (ptrdiff_t p0 = 0; p0 < k; p0 += LANES) {                          \\
                    const MASK pm = k - p0 >= LANES ? (MASK)-1                         \\
                                                    : (MASK)((1u << (k - p0)) - 1);    \\
                    V r[LANES];                                                        \\
                    /* rows past the last column of C load as zeros, and touch nothing */ \\
                    FASTBP_UNROLLED for (int i = 0; i < LANES; i++)                    \\
                        r[i] = _mm512_maskz_loadu_##S((mk[v] >> i) & 1 ? pm : (MASK)0, \\
                                                      rows + i * ldb + p0);            \\
                    TR(r);                                                             \\
                    /* rows of Bp past k are written, never read */                   \\
                    FASTBP_UNROLLED for (int q = 0; q < LANES; q++)                    \\
                        _mm512_store_##S(bp + ((p0 + q) * FASTBP_GEMM_NV + v) * LANES, r[q]); \\
                }                                                                      \\
            }                                                                          \\
        } else {                                                                       \\
            for (ptrdiff_t p = 0; p < k; p++)                                          \\
                FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)               \\
                    _mm512_store_##S(bp + (p * FASTBP_GEMM_NV + v) * LANES,            \\
                                     _mm512_maskz_loadu_##S(mk[v], b + p * ldb + v * LANES)); \\
        }                                                                              \\
    }

    /* The last step of both transposes below: out[l] = the 128-bit lanes l of a, b, c
       and d, in that order. */
    static inline __attribute__((always_inline)) FASTBP_AVX512 void fastbp_transpose_lanes(
            __m512 a, __m512 b, __m512 c, __m512 d, __m512 out[4]) {
        const __m512 ab_even = _mm512_shuffle_f32x4(a, b, 0x88), ab_odd = _mm512_shuffle_f32x4(a, b, 0xdd);
        const __m512 cd_even = _mm512_shuffle_f32x4(c, d, 0x88), cd_odd = _mm512_shuffle_f32x4(c, d, 0xdd);
        out[0] = _mm512_shuffle_f32x4(ab_even, cd_even, 0x88);
        out[1] = _mm512_shuffle_f32x4(ab_odd, cd_odd, 0x88);
        out[2] = _mm512_shuffle_f32x4(ab_even, cd_even, 0xdd);
        out[3] = _mm512_shuffle_f32x4(ab_odd, cd_odd, 0xdd);
    }

    /* r[i] = row i of a LANES x LANES block; on return r[j] = its column j. */
    static inline __attribute__((always_inline)) FASTBP_AVX512 void fastbp_transpose_f(__m512 r[16]) {
        __m512 t[16];
        for (int i = 0; i < 8; i++) {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for (int i = 0; i < 4; i++) {
            const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
            const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
            r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
            r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
            r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
        }
        /* r[4i + q], 128-bit lane L: rows 4i..4i+3 of column 4L + q */
        for (int q = 0; q < 4; q++) {
            __m512 col[4];
            fastbp_transpose_lanes(r[q], r[4 + q], r[8 + q], r[12 + q], col);
            for (int l = 0; l < 4; l++) t[4 * l + q] = col[l];
        }
        for (int i = 0; i < 16; i++) r[i] = t[i];
    }
    static inline __attribute__((always_inline)) FASTBP_AVX512 void fastbp_transpose_d(__m512d r[8]) {
        __m512d t[8];
        for (int i = 0; i < 4; i++) {
            t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
        }
        /* t[2i + q], 128-bit lane L: rows 2i, 2i+1 of column 2L + q */
        for (int q = 0; q < 2; q++) {
            __m512 col[4];
            fastbp_transpose_lanes(_mm512_castpd_ps(t[q]), _mm512_castpd_ps(t[2 + q]),
                                   _mm512_castpd_ps(t[4 + q]), _mm512_castpd_ps(t[6 + q]), col);
            for (int l = 0; l < 4; l++) r[2 * l + q] = _mm512_castps_pd(col[l]);
        }
    }

    /* Subnormal numbers in a product (below 1.2e-38 in float32, 2.2e-308 in float64)
       make each multiply-add that meets them take a microcode assist: a 128 x 512 x 512
       product whose operands are ~1e-36 ran 15x slower here, at ~1e-40 150x slower,
       in OpenBLAS and in this kernel alike. Saturated sigmoids give such deltas in
       training. So the GEMM flushes them to zero (MXCSR's FTZ and DAZ bits, as XLA
       sets by default) on every thread of a product, and restores the caller's mode
       before returning; BLAS and the rest of fastbp keep IEEE semantics. */
    #define FASTBP_FTZ_DAZ 0x8040u

    /* Column tiles of C (NR wide), each packed into bp and then run against the
       rows of op(A) of one block (all of them, when blocks = 1): 6 rows at a time,
       the rest 2 and 1 at a time. One thread's share: each thread takes the next
       (tile, block) not yet taken (*next) until none are left, so a thread that
       starts late or runs slow (the one whose cache does not hold op(A) yet) does
       less, and none waits for it; it packs a tile only when it moves to another.
       With CHECK (op(A) = A), each tile of rows of A is checked for NaN and inf
       right after it is multiplied, while it is in cache; the result goes to bad. */
    #define FASTBP_GEMM_COLUMNS(NAME, T, LANES, MASK, I, PACK, CHECK, R6, R2, R1, R6T, R2T, \\
                                R1T)                                                   \\
    typedef struct {                                                                   \\
        int at, bt; ptrdiff_t m, n, k, lda, ldb, ldc, tiles, blocks; ptrdiff_t* next;  \\
        T alpha, beta; const T* a; const T* b; T* c; T* bp;                            \\
        int check, bad;                                                                \\
    } NAME##_job;                                                                      \\
    static FASTBP_AVX512 void* NAME(void* arg) {                                       \\
        NAME##_job* job = (NAME##_job*)arg;                                            \\
        const unsigned csr = _mm_getcsr();                                             \\
        const ptrdiff_t m = job->m, k = job->k, lda = job->lda, ldc = job->ldc;         \\
        const ptrdiff_t kv = (k + LANES - 1) / LANES * LANES;                          \\
        const T alpha = job->alpha, beta = job->beta;                                  \\
        const T* a = job->a;                                                           \\
        T* bp = job->bp;                                                               \\
        ptrdiff_t packed = -1;                                                         \\
        __m512i bits = _mm512_setzero_si512();                                         \\
        _mm_setcsr(csr | FASTBP_FTZ_DAZ);                                              \\
        for (;;) {                                                                     \\
            /* unit: a column tile, and a block of its rows */                         \\
            const ptrdiff_t unit = __atomic_fetch_add(job->next, 1, __ATOMIC_RELAXED); \\
            const ptrdiff_t tile = unit / job->blocks, block = unit % job->blocks;     \\
            const ptrdiff_t j = tile * FASTBP_GEMM_NV * LANES;                         \\
            const ptrdiff_t i1 = block + 1 < job->blocks                               \\
                                 ? (block + 1) * FASTBP_GEMM_BLOCK_ROWS : m;           \\
            /* op(A)'s rows are checked once, with the first column tile, in L1 */     \\
            const int check = job->check && tile == 0;                                 \\
            MASK mk[FASTBP_GEMM_NV];                                                   \\
            if (tile >= job->tiles) break;                                             \\
            for (int v = 0; v < FASTBP_GEMM_NV; v++) {                                 \\
                const ptrdiff_t cols = job->n - j - v * LANES;                         \\
                mk[v] = cols >= LANES ? (MASK)-1 : cols > 0 ? (MASK)((1u << cols) - 1) : 0; \\
            }                                                                          \\
            T* c = job->c + j;                                                         \\
            ptrdiff_t i = block * FASTBP_GEMM_BLOCK_ROWS;                              \\
            if (tile != packed) {                                                      \\
                PACK(job->bt, k, job->bt ? job->b + j * job->ldb : job->b + j, job->ldb, \\
                     mk, bp);                                                          \\
                packed = tile;                                                         \\
            }                                                                          \\
            if (job->at) {                                                             \\
                for (; i + 6 <= i1; i += 6)                                            \\
                    R6T(k, a + i, lda, bp, mk, alpha, beta, c + i * ldc, ldc);         \\
                for (; i + 2 <= i1; i += 2)                                            \\
                    R2T(k, a + i, lda, bp, mk, alpha, beta, c + i * ldc, ldc);         \\
                for (; i < i1; i++)                                                    \\
                    R1T(k, a + i, lda, bp, mk, alpha, beta, c + i * ldc, ldc);         \\
            } else {                                                                   \\
                for (; i + 6 <= i1; i += 6) {                                          \\
                    R6(k, a + i * lda, lda, bp, mk, alpha, beta, c + i * ldc, ldc);    \\
                    if (check) CHECK(6, k, a + i * lda, lda, kv, NULL, &bits);         \\
                }                                                                      \\
                for (; i + 2 <= i1; i += 2) {                                          \\
                    R2(k, a + i * lda, lda, bp, mk, alpha, beta, c + i * ldc, ldc);    \\
                    if (check) CHECK(2, k, a + i * lda, lda, kv, NULL, &bits);         \\
                }                                                                      \\
                for (; i < i1; i++) {                                                  \\
                    R1(k, a + i * lda, lda, bp, mk, alpha, beta, c + i * ldc, ldc);    \\
                    if (check) CHECK(1, k, a + i * lda, lda, kv, NULL, &bits);         \\
                }                                                                      \\
            }                                                                          \\
        }                                                                              \\
        job->bad = _mm512_cmplt_##I##_mask(bits, _mm512_setzero_si512()) != 0;         \\
        _mm_setcsr(csr);                                                               \\
        return NULL;                                                                   \\
    }

    /* C = alpha * op(A) @ op(B) + beta * C, row-major, op(A) (m, k), op(B) (k, n),
       but not both transposed; with bad != NULL (op(A) = A only), also *bad =
       whether A holds NaN or inf. Work is shared out between up to `threads` threads
       (this one and fastbp_run's workers; at least FASTBP_GEMM_THREAD_WORK
       multiply-adds a thread) by column tiles, and by blocks of
       FASTBP_GEMM_BLOCK_ROWS rows as well when there are fewer tiles than threads
       (inference through a narrow layer); every entry is computed the same way
       whichever thread computes it. Returns 0, having written nothing, for the
       caller to use BLAS: where the kernel is not compiled in or the CPU lacks
       AVX-512, for op(A) beyond FASTBP_GEMM_MAX_A_BYTES and more than one column
       tile (it is read again for every column tile: made for mini-batches), both
       operands transposed, an empty product or alpha = 0, or out of memory. */
    #define FASTBP_GEMM_THREAD_WORK (1 << 21)
    #define FASTBP_GEMM_MAX_A_BYTES (8 << 20)
    #define FASTBP_GEMM_BLOCK_ROWS 192
    #define FASTBP_GEMM(NAME, COLUMNS, T, LANES)                                       \\
    static FASTBP_AVX512 int NAME##_avx512(int at, int bt, ptrdiff_t m, ptrdiff_t n,     \\
        ptrdiff_t k, T alpha, const T* a, ptrdiff_t lda, const T* b, ptrdiff_t ldb,      \\
        T beta, T* c, ptrdiff_t ldc, int threads, int* bad) {                           \\
        const ptrdiff_t nr = FASTBP_GEMM_NV * LANES, tiles = (n + nr - 1) / nr;        \\
        const double work = (double)m * n * k;                                         \\
        COLUMNS##_job jobs[FASTBP_MAX_THREADS];                                         \\
        ptrdiff_t next = 0, blocks = 1;                                                \\
        T* bp;                                                                         \\
        if (threads > work / FASTBP_GEMM_THREAD_WORK) threads = (int)(work / FASTBP_GEMM_THREAD_WORK); \\
        if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;                \\
        if (threads > tiles)                                                           \\
            blocks = (m + FASTBP_GEMM_BLOCK_ROWS - 1) / FASTBP_GEMM_BLOCK_ROWS;        \\
        if (threads > tiles * blocks) threads = (int)(tiles * blocks);                 \\
        if (threads < 1) threads = 1;                                                  \\
        /* each thread's panel, with room for the rows a transposed block writes past k */ \\
        bp = (T*)fastbp_scratch((size_t)threads * (k + LANES) * nr * sizeof(T));       \\
        if (bp == NULL) return 0;                                                      \\
        for (int t = 0; t < threads; t++)                                              \\
            jobs[t] = (COLUMNS##_job){at, bt, m, n, k, lda, ldb, ldc, tiles, blocks,   \\
                                      &next, alpha, beta, a, b, c,                     \\
                                      bp + t * (k + LANES) * nr, bad != NULL, 0};      \\
        fastbp_run(COLUMNS, jobs, sizeof(jobs[0]), threads);                           \\
        if (bad != NULL) {                                                             \\
            *bad = 0;                                                                  \\
            for (int t = 0; t < threads; t++) *bad |= jobs[t].bad;                     \\
        }                                                                              \\
        return 1;                                                                      \\
    }                                                                                  \\
    static int NAME(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha,      \\
                    const T* a, ptrdiff_t lda, const T* b, ptrdiff_t ldb, T beta, T* c,  \\
                    ptrdiff_t ldc, int threads, int* bad) {                             \\
        if (!fastbp_own_kernels || !fastbp_cpu_has_avx512f()) return 0;                \\
        if ((at && bt) || (at && bad) || m < 1 || n < 1 || k < 1 || alpha == 0) return 0; \\
        if ((double)m * k * sizeof(T) > FASTBP_GEMM_MAX_A_BYTES && n > FASTBP_GEMM_NV * LANES) \\
            return 0;                                                                  \\
        return NAME##_avx512(at, bt, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, \\
                             bad);                                                     \\
    }

    /* Every piece of the GEMM for one element type (X: its suffix, d or f). */
    #define FASTBP_GEMM_ALL(X, T, V, LANES, S, MASK, I)                                \\
    FASTBP_GEMM_TILE(fastbp_gemm_r6_##X, T, V, LANES, S, MASK, 6, 0)                   \\
    FASTBP_GEMM_TILE(fastbp_gemm_r6t_##X, T, V, LANES, S, MASK, 6, 1)                  \\
    FASTBP_GEMM_TILE(fastbp_gemm_r2_##X, T, V, LANES, S, MASK, 2, 0)                   \\
    FASTBP_GEMM_TILE(fastbp_gemm_r2t_##X, T, V, LANES, S, MASK, 2, 1)                  \\
    FASTBP_GEMM_TILE(fastbp_gemm_r1_##X, T, V, LANES, S, MASK, 1, 0)                   \\
    FASTBP_GEMM_TILE(fastbp_gemm_r1t_##X, T, V, LANES, S, MASK, 1, 1)                  \\
    FASTBP_GEMM_PACK(fastbp_gemm_pack_##X, T, V, LANES, S, MASK, fastbp_transpose_##X) \\
    FASTBP_GEMM_COLUMNS(fastbp_gemm_columns_##X, T, LANES, MASK, I, fastbp_gemm_pack_##X, \\
                        fastbp_narrow_pack_##X,                                        \\
                        fastbp_gemm_r6_##X, fastbp_gemm_r2_##X, fastbp_gemm_r1_##X,    \\
                        fastbp_gemm_r6t_##X, fastbp_gemm_r2t_##X, fastbp_gemm_r1t_##X) \\
    FASTBP_GEMM(fastbp_gemm_##X, fastbp_gemm_columns_##X, T, LANES)

    static int fastbp_own_kernels = 1;
    static int fastbp_cpu_has_avx512f(void) { return __builtin_cpu_supports("avx512f"); }

    /* Our kernels take as many threads as the BLAS that serves scipy's cython_blas
       may use, so threadpoolctl, OPENBLAS_NUM_THREADS and friends limit them too.
       dlsym on the handle of scipy's module searches the libraries it was linked
       against: the BLAS itself, whichever build of it scipy carries. Without one of
       these functions, one thread. */
    typedef int (*fastbp_threads_fn)(void);
    static fastbp_threads_fn fastbp_blas_threads_fn = NULL;
    static void fastbp_find_blas_threads(const char* cython_blas_path) {
        static const char* const names[] = {
            "scipy_openblas_get_num_threads", "openblas_get_num_threads",
            "scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
            "MKL_Get_Max_Threads", NULL};
        /* RTLD_NOLOAD: scipy has loaded it already; the reference is kept, so the
           function found stays valid */
        void* handle = dlopen(cython_blas_path, RTLD_LAZY | RTLD_NOLOAD);
        if (handle == NULL) return;
        for (int i = 0; names[i] != NULL && fastbp_blas_threads_fn == NULL; i++)
            fastbp_blas_threads_fn = (fastbp_threads_fn)dlsym(handle, names[i]);
    }
    static int fastbp_threads(void) {
        const int t = fastbp_blas_threads_fn != NULL ? fastbp_blas_threads_fn() : 1;
        return t < 1 ? 1 : t;
    }
    FASTBP_NARROW_TILE(fastbp_narrow_tile4_d, double, __m512d, 8, pd, 4)
    FASTBP_NARROW_TILE(fastbp_narrow_tile1_d, double, __m512d, 8, pd, 1)
    FASTBP_NARROW_TILE(fastbp_narrow_tile4_f, float, __m512, 16, ps, 4)
    FASTBP_NARROW_TILE(fastbp_narrow_tile1_f, float, __m512, 16, ps, 1)
    FASTBP_NARROW_PACK(fastbp_narrow_pack_d, double, 8, pd, __mmask8, epi64,
                       0x7ff0000000000000LL, 0x0010000000000000LL)
    FASTBP_NARROW_PACK(fastbp_narrow_pack_f, float, 16, ps, __mmask16, epi32,
                       0x7f800000, 0x00800000)
    FASTBP_NARROW_ROWS(fastbp_narrow_d, fastbp_narrow_tile4_d, fastbp_narrow_tile1_d,
                       fastbp_narrow_pack_d, double, 8, epi64)
    FASTBP_NARROW_ROWS(fastbp_narrow_f, fastbp_narrow_tile4_f, fastbp_narrow_tile1_f,
                       fastbp_narrow_pack_f, float, 16, epi32)
    FASTBP_NARROW_GEMM(fastbp_narrow_gemm_d, fastbp_narrow_d, fastbp_narrow_pack_d, double, 8)
    FASTBP_NARROW_GEMM(fastbp_narrow_gemm_f, fastbp_narrow_f, fastbp_narrow_pack_f, float, 16)
    FASTBP_GEMV_ROWS(fastbp_gemv_rows_d, double, __m512d, 8, pd, __mmask8)
    FASTBP_GEMV_ROWS(fastbp_gemv_rows_f, float, __m512, 16, ps, __mmask16)
    FASTBP_GEMM_ALL(d, double, __m512d, 8, pd, __mmask8, epi64)
    FASTBP_GEMM_ALL(f, float, __m512, 16, ps, __mmask16, epi32)
    #else
    #define FASTBP_HAVE_OWN_KERNELS 0
    static int fastbp_own_kernels = 0;
    static int fastbp_cpu_has_avx512f(void) { return 0; }
    static void fastbp_find_blas_threads(const char* cython_blas_path) {}
    static int fastbp_threads(void) { return 1; }
    static long fastbp_gemv_split_count(void) { return 0; }
    static int fastbp_gemv_split = 0;
    typedef void* (*fastbp_task)(void*);
    static int fastbp_start(fastbp_task fn, void* job) { return 0; }
    static void fastbp_finish(void) {}
    static int fastbp_narrow_gemm_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double* x,
                                    const double* w, double* c, int* bad, int threads) {
        return 0;
    }
    static int fastbp_narrow_gemm_f(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float* x,
                                    const float* w, float* c, int* bad, int threads) {
        return 0;
    }
    static int fastbp_gemm_d(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                             double alpha, const double* a, ptrdiff_t lda, const double* b,
                             ptrdiff_t ldb, double beta, double* c, ptrdiff_t ldc,
                             int threads, int* bad) { return 0; }
    static int fastbp_gemm_f(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                             float alpha, const float* a, ptrdiff_t lda, const float* b,
                             ptrdiff_t ldb, float beta, float* c, ptrdiff_t ldc,
                             int threads, int* bad) { return 0; }
    static int fastbp_gemv_rows_d(ptrdiff_t n, ptrdiff_t k, const double* w,
                                  const double* x, double* y) { return 0; }
    static int fastbp_gemv_rows_f(ptrdiff_t n, ptrdiff_t k, const float* w,
                                  const float* x, float* y) { return 0; }
    #endif
    """
    int FASTBP_HAVE_OWN_KERNELS
    int fastbp_own_kernels
    int fastbp_cpu_has_avx512f()
    void fastbp_find_blas_threads(const char* cython_blas_path)
    int fastbp_threads() nogil
    long fastbp_gemv_split_count()
    int fastbp_gemv_split
    ctypedef void* (*fastbp_task)(void*) noexcept nogil
    int fastbp_start(fastbp_task fn, void* job) nogil
    void fastbp_finish() nogil
    int fastbp_narrow_gemm_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* x,
                             const double* w, double* c, int* bad, int threads) nogil
    int fastbp_narrow_gemm_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* x,
                             const float* w, float* c, int* bad, int threads) nogil
    int fastbp_gemm_d(bint at, bint bt, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      double alpha, const double* a, Py_ssize_t lda, const double* b,
                      Py_ssize_t ldb, double beta, double* c, Py_ssize_t ldc,
                      int threads, int* bad) nogil
    int fastbp_gemm_f(bint at, bint bt, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      float alpha, const float* a, Py_ssize_t lda, const float* b,
                      Py_ssize_t ldb, float beta, float* c, Py_ssize_t ldc,
                      int threads, int* bad) nogil
    int fastbp_gemv_rows_d(Py_ssize_t n, Py_ssize_t k, const double* w, const double* x,
                           double* y) nogil
    int fastbp_gemv_rows_f(Py_ssize_t n, Py_ssize_t k, const float* w, const float* x,
                           float* y) nogil


cdef bint narrow_gemm(int m, int n, int k, const floating* X, const floating* W,
                      floating* C, bint* nonfinite, int threads) noexcept nogil:
    """C = X @ W.T for X (m, k), W (n, k) and C (m, n), contiguous and row-major.

    fastbp's own kernel (see above), for m of at least ``NARROW_MIN_ROWS`` and n of at
    most ``NARROW_MAX_WIDTH``, on up to ``threads`` threads (0: as many as the BLAS may
    use; never fewer than ``NARROW_THREAD_ROWS`` rows each). Returns False, leaving
    nonfinite untouched (and C to be overwritten), where it is not compiled in, the
    CPU lacks AVX-512 or memory for its 64-byte-aligned copies of W and of 4 rows of X
    runs out: the caller then uses ``gemm``. If ``nonfinite`` is not NULL, it receives whether X holds any
    NaN or infinity.
    """
    cdef int bad = 0
    cdef int done
    if threads <= 0:
        threads = fastbp_threads()
    threads = min(threads, m // NARROW_THREAD_ROWS)
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
    (see ``FASTBP_GEMM`` above), on as many threads as the BLAS may use. If
    ``nonfinite`` is not NULL (op(A) = A only), it receives whether A holds NaN or
    inf, checked while each tile of A is in cache. Returns False, leaving C and
    nonfinite untouched, where it does not run: not compiled in, no AVX-512, op(A) over
    8 MB with more than one tile of columns, both operands transposed, a check asked
    of a transposed A, or out of memory. The caller then uses ``gemm``. Each product
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
                    floating* y) noexcept nogil:
    """y = W @ x for W (n, k) row-major and x (k,), y (n,) contiguous.

    fastbp's own kernel for one example (see above). Returns False, leaving y
    untouched, where it is not compiled in or the CPU lacks AVX-512: the caller then
    uses ``gemv``.
    """
    if floating is float:
        return fastbp_gemv_rows_f(n, k, W, x, y)
    else:
        return fastbp_gemv_rows_d(n, k, W, x, y)


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
    """Whether fastbp's own kernels are compiled in and this CPU can run them."""
    return bool(FASTBP_HAVE_OWN_KERNELS and fastbp_cpu_has_avx512f())


def _kernel_threads():
    """How many threads fastbp's own kernels may use now: the BLAS's current limit."""
    return kernel_threads()


def _gemv_splits():
    """How many one-example products a worker thread has shared since import."""
    return fastbp_gemv_split_count()


def _use_gemv_split(bint enabled):
    """Turn the sharing of one-example products with a worker thread on or off;
    returns the previous setting."""
    global fastbp_gemv_split
    cdef bint previous = fastbp_gemv_split != 0
    fastbp_gemv_split = enabled and FASTBP_HAVE_OWN_KERNELS
    return previous


def _use_own_kernels(bint enabled):
    """Turn fastbp's own kernels on or off (for tests that compare both paths, which
    must not run concurrently with other inference); returns the previous setting."""
    global fastbp_own_kernels
    cdef bint previous = fastbp_own_kernels != 0
    fastbp_own_kernels = enabled and FASTBP_HAVE_OWN_KERNELS
    return previous


import os as _os
import scipy.linalg.cython_blas as _scipy_blas

fastbp_find_blas_threads(_os.fsencode(_scipy_blas.__file__))


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
    with nogil:
        if floating is float:
            done = fastbp_gemm_f(trans_a, trans_b, m, n, k, <float>alpha, &A[0, 0], lda,
                                 &B[0, 0], ldb, <float>beta, &C[0, 0], ldc, threads,
                                 &bad if check else NULL)
        else:
            done = fastbp_gemm_d(trans_a, trans_b, m, n, k, alpha, &A[0, 0], lda,
                                 &B[0, 0], ldb, beta, &C[0, 0], ldc, threads,
                                 &bad if check else NULL)
    if check:
        return done != 0, bad != 0
    return done != 0


def _gemv_rows_test(const floating[:, ::1] W, const floating[::1] x, floating[::1] y):
    """y[...] = W @ x by ``gemv_rows``; returns whether it ran."""
    return gemv_rows(W.shape[0], W.shape[1], &W[0, 0], &x[0], &y[0])


def _dot_test(const floating[::1] x, const floating[::1] y):
    """Return x @ y, computed by ``dot``."""
    return dot(x.shape[0], &x[0], 1, &y[0], 1)
