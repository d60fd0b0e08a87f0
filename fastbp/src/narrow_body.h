/* The body of fastbp's narrow kernel, Z = X @ W.T for many rows X through a layer
   of few neurons W (see kernels.h), for one instruction set and element type: the
   including file defines FASTBP_DOUBLE, includes a vocabulary (vec_avx512.h,
   vec_avx2.h), defines the tile's rows of W FASTBP_NARROW_NW and
   FASTBP_NARROW_X_IN_REGISTERS (below), and includes this file.

   A layer of a few dozen neurons fed many rows makes a product of a tall X (m, k)
   with a few rows of W (n, k): inference on a whole test set through the book's
   [784, 30, 10]. OpenBLAS packs and blocks it like any GEMM, and its best
   orientation runs 10,000 x 784 -> 30 at ~35 GFLOP/s on AVX-512. Each entry of Z
   is a dot product of two rows, so the kernel keeps a tile of 4 rows of X by NW
   rows of W in accumulators (4 x 6 of AVX-512's 32 registers, 4 x 3 of AVX2's
   16), loads each vector of X once per NW rows of W and each vector of W once per
   4 rows of X, and reduces across lanes at the end: ~20 % faster than OpenBLAS,
   and it checks X for NaN and inf on the way, which saves inference a pass over
   its input. Element p of a row always goes to lane p % LANES, whatever the
   arrays' alignment, and the lanes are summed in one fixed order, so results are
   reproducible bit for bit (they differ between instruction sets in the last
   bits: other lane counts). Its rows are split between as many threads as the
   BLAS may use (X streams from memory, and two cores draw more bandwidth than
   one). Where a layer fills at least 3/4 of the GEMM's column tiles (30 neurons
   in float64), the GEMM with its rows shared out in blocks is faster still (the
   engine chooses, in _backprop.forward). */
#include "check_body.h"

/* C[i, j] = X[i, :] @ W[j, :] for rows i < R of X and j < n of W, both packed
   (aligned, row stride and length ld, a multiple of LANES; C with row stride n),
   in tiles of R x NW. pf, if not NULL: R rows (row stride k) to prefetch
   meanwhile, the next rows of X, which come from memory. With
   FASTBP_NARROW_X_IN_REGISTERS, the tile's R vectors of X are loaded once a step
   (AVX-512 has the registers); without, each FMA reads its vector of X from L1. */
#define FASTBP_NARROW_TILE(NAME, R)                                                \
static inline FASTBP_ISA void FASTBP_LOCAL(NAME)(                                   \
        ptrdiff_t n, ptrdiff_t ld, const FASTBP_T* x, const FASTBP_T* w, FASTBP_T* c, \
        const FASTBP_T* pf, ptrdiff_t k) {                                         \
    for (ptrdiff_t j0 = 0; j0 < n; j0 += FASTBP_NARROW_NW) {                       \
        const ptrdiff_t cols = n - j0 < FASTBP_NARROW_NW ? n - j0 : FASTBP_NARROW_NW; \
        const FASTBP_T* wr[FASTBP_NARROW_NW];                                      \
        FASTBP_V acc[R][FASTBP_NARROW_NW], b;                                      \
        /* Past the last row of W, repeat it: computed, never stored. */           \
        FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW_NW; j++)                 \
            wr[j] = w + (j0 + (j < cols ? j : 0)) * ld;                            \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW_NW; j++)             \
                acc[i][j] = FASTBP_V_ZERO;                                         \
        for (ptrdiff_t p = 0; p < ld; p += FASTBP_LANES) {                         \
            if (pf != NULL && j0 == 0 && p < k && p % (64 / sizeof(FASTBP_T)) == 0) \
                FASTBP_UNROLLED for (int i = 0; i < R; i++)                        \
                    _mm_prefetch((const char*)(pf + i * k + p), _MM_HINT_T0);      \
            FASTBP_NARROW_STEP(R)                                                  \
        }                                                                          \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW_NW; j++) {           \
                const FASTBP_T dot = FASTBP_V_SUM(acc[i][j]);                      \
                if (j < cols) c[i * n + j0 + j] = dot;                             \
            }                                                                      \
    }                                                                              \
}
#if FASTBP_NARROW_X_IN_REGISTERS
#define FASTBP_NARROW_STEP(R)                                                      \
    FASTBP_V a[R];                                                                 \
    FASTBP_UNROLLED for (int i = 0; i < R; i++) a[i] = FASTBP_V_LOAD(x + i * ld + p); \
    FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW_NW; j++) {                   \
        b = FASTBP_V_LOAD(wr[j] + p);                                              \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            acc[i][j] = FASTBP_V_FMA(a[i], b, acc[i][j]);                          \
    }
#else
#define FASTBP_NARROW_STEP(R)                                                      \
    FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW_NW; j++) {                   \
        b = FASTBP_V_LOAD(wr[j] + p);                                              \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            acc[i][j] = FASTBP_V_FMA(FASTBP_V_LOAD(x + i * ld + p), b, acc[i][j]);  \
    }
#endif
FASTBP_NARROW_TILE(narrow_tile4, 4)
FASTBP_NARROW_TILE(narrow_tile1, 1)
#undef FASTBP_NARROW_TILE
#undef FASTBP_NARROW_STEP

/* Rows [i0, i1) of C = X @ W.T, with W already packed in wp: one thread's share.
   Each thread copies its own tiles of X (and so checks them) into its own buffer
   xp (4 rows of ld); bad receives whether its rows of X hold NaN or inf. */
typedef struct {
    ptrdiff_t i0, i1, n, k, ld;
    const FASTBP_T* x; const FASTBP_T* wp; FASTBP_T* c; FASTBP_T* xp;
    int bad;
} FASTBP_LOCAL(narrow_job);
static FASTBP_ISA void* FASTBP_LOCAL(narrow_rows)(void* arg) {
    FASTBP_LOCAL(narrow_job)* job = (FASTBP_LOCAL(narrow_job)*)arg;
    const ptrdiff_t m = job->i1, n = job->n, k = job->k, ld = job->ld;
    const FASTBP_T* x = job->x;
    FASTBP_T* xp = job->xp;
    FASTBP_IV bits = FASTBP_I_ZERO;
    ptrdiff_t i = job->i0;
    for (; i + 4 <= m; i += 4) {
        FASTBP_LOCAL(pack_check)(4, k, x + i * k, k, ld, xp, &bits);
        FASTBP_LOCAL(narrow_tile4)(n, ld, xp, job->wp, job->c + i * n,
                                   i + 8 <= m ? x + (i + 4) * k : NULL, k);
    }
    for (; i < m; i++) {
        FASTBP_LOCAL(pack_check)(1, k, x + i * k, k, ld, xp, &bits);
        FASTBP_LOCAL(narrow_tile1)(n, ld, xp, job->wp, job->c + i * n, NULL, k);
    }
    job->bad = FASTBP_I_SIGNS(bits);
    return NULL;
}

/* C (m, n) = X (m, k) @ W.T for W (n, k), all contiguous row-major; with bad !=
   NULL, also *bad = whether X holds NaN or inf. W and each tile of X are first
   copied to 64-byte-aligned buffers (one scratch, fastbp_scratch) padded with
   zeros to whole vectors: NumPy's large arrays start 16 bytes past a page, and a
   load that straddles two cache lines costs two. The copy of X also checks it.
   The rows are split between up to `threads` threads (this one and fastbp_run's
   workers; narrow_gemm caps `threads` so each gets NARROW_THREAD_ROWS), whole
   tiles of 4 rows to every thread but the last; every entry of C is computed the
   same way whichever thread computes it, so results do not depend on the thread
   count. Returns 0, having written nothing, when out of memory. */
FASTBP_ISA int FASTBP_GLOBAL(narrow_gemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                          const FASTBP_T* x, const FASTBP_T* w,
                                          FASTBP_T* c, int* bad, int threads) {
    const ptrdiff_t ld = (k + FASTBP_LANES - 1) / FASTBP_LANES * FASTBP_LANES;
    const ptrdiff_t line = 64 / sizeof(FASTBP_T);
    /* W's copy, then each thread's 4 rows of X, each on whole cache lines */
    const ptrdiff_t w_size = (n * ld + line - 1) / line * line, x_size = 4 * ld;
    FASTBP_LOCAL(narrow_job) jobs[FASTBP_MAX_THREADS];
    int any_bad = 0;
    FASTBP_T* wp;
    FASTBP_IV bits = FASTBP_I_ZERO;                 /* W's values are not checked */
    if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;
    if (threads < 1) threads = 1;
    wp = (FASTBP_T*)fastbp_scratch((size_t)(w_size + threads * x_size) * sizeof(FASTBP_T));
    if (wp == NULL) return 0;
    FASTBP_LOCAL(pack_check)(n, k, w, k, ld, wp, &bits);
    for (int t = 0; t < threads; t++) {
        const ptrdiff_t i0 = m * t / threads / 4 * 4;
        const ptrdiff_t i1 = t + 1 < threads ? m * (t + 1) / threads / 4 * 4 : m;
        jobs[t] = (FASTBP_LOCAL(narrow_job)){i0, i1, n, k, ld, x, wp, c,
                                             wp + w_size + t * x_size, 0};
    }
    fastbp_run(FASTBP_LOCAL(narrow_rows), jobs, sizeof(jobs[0]), threads);
    for (int t = 0; t < threads; t++) any_bad |= jobs[t].bad;
    if (bad) *bad = any_bad;
    return 1;
}
