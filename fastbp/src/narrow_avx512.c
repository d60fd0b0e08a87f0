/* fastbp's narrow kernel for AVX-512: Z = X @ W.T for many rows X through a layer
   of few neurons W (see kernels.h). float and double are instantiated from the
   same macros at the bottom.

   A layer of a few dozen neurons fed many rows makes a product of a tall X (m, k) with
   a few rows of W (n, k): inference on a whole test set through the book's [784, 30,
   10]. OpenBLAS packs and blocks it like any GEMM, and its best orientation runs
   10,000 x 784 -> 30 at ~35 GFLOP/s here. Each entry of Z is a dot product of two
   rows, so the kernel below keeps a 4 x 6 tile of them in 24 AVX-512 accumulators,
   loads each vector of X once per 6 rows of W and each vector of W once per 4 rows of
   X, and reduces across lanes at the end: ~20 % faster than OpenBLAS, and it checks X
   for NaN and inf on the way, which saves inference a pass over its input. Element p
   of a row always goes to lane p % LANES, whatever the arrays' alignment, so results
   are reproducible bit for bit. Its rows are split between as many threads as the
   BLAS may use (X streams from memory, and two cores draw more bandwidth than one).
   Where a layer fills at least 3/4 of gemm_own's 4-vector column tiles (30 neurons in
   float64), gemm_own with its rows shared out in blocks is faster still (the engine
   chooses, in _backprop.forward). */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <stdlib.h>
#include <immintrin.h>
#include "avx512_common.h"


/* C[i, j] = X[i, :] @ W[j, :] for rows i < R of X and j < n of W, both packed
   (64-byte aligned, row stride and length ld, a multiple of LANES; C with row
   stride n), in tiles of R x 6. pf, if not NULL: R rows (row stride k) to
   prefetch meanwhile, the next rows of X, which come from memory. T: the element
   type; V: its AVX-512 vector; LANES: elements per vector; S: the intrinsics'
   suffix (pd or ps). */
#define FASTBP_NARROW_TILE(NAME, T, V, LANES, S, R)                                \
static inline FASTBP_AVX512 void NAME(ptrdiff_t n, ptrdiff_t ld, const T* x,        \
                                      const T* w, T* c, const T* pf, ptrdiff_t k) { \
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 6) {                                      \
        const ptrdiff_t cols = n - j0 < 6 ? n - j0 : 6;                            \
        const T* wr[6];                                                            \
        V acc[R][6], a[R], b;                                                      \
        /* Past the last row of W, repeat it: computed, never stored. */           \
        FASTBP_UNROLLED for (int j = 0; j < 6; j++)                                \
            wr[j] = w + (j0 + (j < cols ? j : 0)) * ld;                            \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            FASTBP_UNROLLED for (int j = 0; j < 6; j++) acc[i][j] = _mm512_setzero_##S(); \
        for (ptrdiff_t p = 0; p < ld; p += LANES) {                                \
            if (pf != NULL && j0 == 0 && p < k)                                    \
                FASTBP_UNROLLED for (int i = 0; i < R; i++)                        \
                    _mm_prefetch((const char*)(pf + i * k + p), _MM_HINT_T0);      \
            FASTBP_UNROLLED for (int i = 0; i < R; i++)                            \
                a[i] = _mm512_load_##S(x + i * ld + p);                            \
            FASTBP_UNROLLED for (int j = 0; j < 6; j++) {                          \
                b = _mm512_load_##S(wr[j] + p);                                    \
                FASTBP_UNROLLED for (int i = 0; i < R; i++)                        \
                    acc[i][j] = _mm512_fmadd_##S(a[i], b, acc[i][j]);              \
            }                                                                      \
        }                                                                          \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            FASTBP_UNROLLED for (int j = 0; j < 6; j++) {                          \
                T dot = _mm512_reduce_add_##S(acc[i][j]);                          \
                if (j < cols) c[i * n + j0 + j] = dot;                             \
            }                                                                      \
    }                                                                              \
}

/* Rows [i0, i1) of C = X @ W.T, with W already packed in wp: one thread's share.
   Each thread copies its own tiles of X (and so checks them) into its own buffer;
   bad receives whether its rows of X hold NaN or inf, ok whether the buffer could
   be allocated. */
#define FASTBP_NARROW_ROWS(NAME, TILE4, TILE1, PACK, T, LANES, I)                  \
typedef struct {                                                                   \
    ptrdiff_t i0, i1, n, k, ld;                                                    \
    const T* x; const T* wp; T* c;                                                 \
    int bad, ok;                                                                   \
} NAME##_job;                                                                      \
static FASTBP_AVX512 void* NAME##_rows(void* arg) {                                \
    NAME##_job* job = (NAME##_job*)arg;                                            \
    const ptrdiff_t m = job->i1, n = job->n, k = job->k, ld = job->ld;             \
    const T* x = job->x;                                                           \
    T* xp = (T*)aligned_alloc(64, (size_t)4 * ld * sizeof(T));                     \
    __m512i bits = _mm512_setzero_si512();                                         \
    ptrdiff_t i = job->i0;                                                         \
    job->ok = xp != NULL;                                                          \
    if (xp == NULL) return NULL;                                                   \
    for (; i + 4 <= m; i += 4) {                                                   \
        PACK(4, k, x + i * k, k, ld, xp, &bits);                                   \
        TILE4(n, ld, xp, job->wp, job->c + i * n,                                  \
              i + 8 <= m ? x + (i + 4) * k : NULL, k);                             \
    }                                                                              \
    for (; i < m; i++) {                                                           \
        PACK(1, k, x + i * k, k, ld, xp, &bits);                                   \
        TILE1(n, ld, xp, job->wp, job->c + i * n, NULL, k);                        \
    }                                                                              \
    free(xp);                                                                      \
    job->bad = _mm512_cmplt_##I##_mask(bits, _mm512_setzero_si512()) != 0;         \
    return NULL;                                                                   \
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
#define FASTBP_NARROW_GEMM(NAME, ROWS, PACK, T, LANES)                             \
FASTBP_AVX512 int NAME##_avx512(   ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,      \
                                       const T* x, const T* w, T* c, int* bad,     \
                                       int threads) {                              \
    const ptrdiff_t ld = (k + LANES - 1) / LANES * LANES;                          \
    ROWS##_job jobs[FASTBP_MAX_THREADS];                                            \
    int ok = 1, any_bad = 0;                                                       \
    T* wp = (T*)aligned_alloc(64, (size_t)n * ld * sizeof(T));                     \
    __m512i bits = _mm512_setzero_si512();         /* W's values are not checked */ \
    if (wp == NULL) return 0;                                                      \
    PACK(n, k, w, k, ld, wp, &bits);                                               \
    if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;                \
    if (threads < 1) threads = 1;                                                  \
    for (int t = 0; t < threads; t++) {                                            \
        /* whole tiles of 4 rows to every thread but the last */                   \
        const ptrdiff_t i0 = m * t / threads / 4 * 4;                              \
        const ptrdiff_t i1 = t + 1 < threads ? m * (t + 1) / threads / 4 * 4 : m;  \
        jobs[t] = (ROWS##_job){i0, i1, n, k, ld, x, wp, c, 0, 0};                  \
    }                                                                              \
    fastbp_run(ROWS##_rows, jobs, sizeof(jobs[0]), threads);                       \
    for (int t = 0; t < threads; t++) {                                            \
        ok &= jobs[t].ok;                                                          \
        any_bad |= jobs[t].bad;                                                    \
    }                                                                              \
    free(wp);                                                                      \
    if (ok && bad) *bad = any_bad;                                                 \
    return ok;                                                                     \
}

FASTBP_NARROW_TILE(fastbp_narrow_tile4_d, double, __m512d, 8, pd, 4)
FASTBP_NARROW_TILE(fastbp_narrow_tile1_d, double, __m512d, 8, pd, 1)
FASTBP_NARROW_TILE(fastbp_narrow_tile4_f, float, __m512, 16, ps, 4)
FASTBP_NARROW_TILE(fastbp_narrow_tile1_f, float, __m512, 16, ps, 1)
FASTBP_NARROW_ROWS(fastbp_narrow_d, fastbp_narrow_tile4_d, fastbp_narrow_tile1_d,
                   fastbp_narrow_pack_d, double, 8, epi64)
FASTBP_NARROW_ROWS(fastbp_narrow_f, fastbp_narrow_tile4_f, fastbp_narrow_tile1_f,
                   fastbp_narrow_pack_f, float, 16, epi32)
FASTBP_NARROW_GEMM(fastbp_narrow_gemm_d, fastbp_narrow_d, fastbp_narrow_pack_d, double, 8)
FASTBP_NARROW_GEMM(fastbp_narrow_gemm_f, fastbp_narrow_f, fastbp_narrow_pack_f, float, 16)
#endif
