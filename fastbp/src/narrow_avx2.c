/* fastbp's narrow kernel for AVX2 and FMA: Z = X @ W.T for many rows X through a
   layer of few neurons W (see kernels.h, and narrow_avx512.c for the scheme). On 16
   registers the tile is 4 rows of X by 3 rows of W: 12 accumulators, each vector
   of X loaded once per 3 rows of W (a memory operand of its FMA) and each vector of
   W once per 4 rows of X. Element p of a row always goes to lane p % LANES and the
   lanes are summed in one fixed order, so results are reproducible bit for bit;
   they differ from the AVX-512 kernel's in the last bits (other lane counts). */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <stdlib.h>
#include <immintrin.h>
#include "avx2_common.h"

#define FASTBP_NARROW2_NW 3

/* C[i, j] = X[i, :] @ W[j, :] for rows i < R of X and j < n of W, both packed
   (64-byte aligned, row stride and length ld, a multiple of LANES; C with row
   stride n), in tiles of R x NW. pf, if not NULL: R rows (row stride k) to
   prefetch meanwhile, the next rows of X, which come from memory. */
#define FASTBP_NARROW2_TILE(NAME, T, V, LANES, S, SUM, R)                          \
static inline FASTBP_AVX2 void NAME(ptrdiff_t n, ptrdiff_t ld, const T* x,          \
                                    const T* w, T* c, const T* pf, ptrdiff_t k) {   \
    for (ptrdiff_t j0 = 0; j0 < n; j0 += FASTBP_NARROW2_NW) {                      \
        const ptrdiff_t cols = n - j0 < FASTBP_NARROW2_NW ? n - j0 : FASTBP_NARROW2_NW; \
        const T* wr[FASTBP_NARROW2_NW];                                            \
        V acc[R][FASTBP_NARROW2_NW], b;                                            \
        /* Past the last row of W, repeat it: computed, never stored. */           \
        FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW2_NW; j++)                \
            wr[j] = w + (j0 + (j < cols ? j : 0)) * ld;                            \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW2_NW; j++)            \
                acc[i][j] = _mm256_setzero_##S();                                  \
        for (ptrdiff_t p = 0; p < ld; p += LANES) {                                \
            if (pf != NULL && j0 == 0 && p < k && p % (64 / sizeof(T)) == 0)       \
                FASTBP_UNROLLED for (int i = 0; i < R; i++)                        \
                    _mm_prefetch((const char*)(pf + i * k + p), _MM_HINT_T0);      \
            FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW2_NW; j++) {          \
                b = _mm256_load_##S(wr[j] + p);                                    \
                FASTBP_UNROLLED for (int i = 0; i < R; i++)                        \
                    acc[i][j] = _mm256_fmadd_##S(_mm256_load_##S(x + i * ld + p), b, \
                                                 acc[i][j]);                       \
            }                                                                      \
        }                                                                          \
        FASTBP_UNROLLED for (int i = 0; i < R; i++)                                \
            FASTBP_UNROLLED for (int j = 0; j < FASTBP_NARROW2_NW; j++) {          \
                const T dot = SUM(acc[i][j]);                                      \
                if (j < cols) c[i * n + j0 + j] = dot;                             \
            }                                                                      \
    }                                                                              \
}

/* Rows [i0, i1) of C = X @ W.T, with W already packed in wp: one thread's share
   (as FASTBP_NARROW_ROWS in narrow_avx512.c). */
#define FASTBP_NARROW2_ROWS(NAME, TILE4, TILE1, PACK, BAD, T)                      \
typedef struct {                                                                   \
    ptrdiff_t i0, i1, n, k, ld;                                                    \
    const T* x; const T* wp; T* c;                                                 \
    int bad, ok;                                                                   \
} NAME##_job;                                                                      \
static FASTBP_AVX2 void* NAME##_rows(void* arg) {                                  \
    NAME##_job* job = (NAME##_job*)arg;                                            \
    const ptrdiff_t m = job->i1, n = job->n, k = job->k, ld = job->ld;             \
    const T* x = job->x;                                                           \
    T* xp = (T*)aligned_alloc(64, (size_t)4 * ld * sizeof(T));                     \
    __m256i bits = _mm256_setzero_si256();                                         \
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
    job->bad = BAD(bits);                                                          \
    return NULL;                                                                   \
}

/* C (m, n) = X (m, k) @ W.T: as fastbp_narrow_gemm_*_avx512 (the same contract
   and shares between threads; see narrow_avx512.c). */
#define FASTBP_NARROW2_GEMM(NAME, ROWS, PACK, T, LANES)                            \
FASTBP_AVX2 int NAME##_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* x,       \
                            const T* w, T* c, int* bad, int threads) {              \
    const ptrdiff_t ld = (k + LANES - 1) / LANES * LANES;                          \
    ROWS##_job jobs[FASTBP_MAX_THREADS];                                            \
    int ok = 1, any_bad = 0;                                                       \
    T* wp = (T*)aligned_alloc(64, (size_t)n * ld * sizeof(T));                     \
    __m256i bits = _mm256_setzero_si256();         /* W's values are not checked */ \
    if (wp == NULL) return 0;                                                      \
    PACK(n, k, w, k, ld, wp, &bits);                                               \
    if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;                \
    if (threads < 1) threads = 1;                                                  \
    for (int t = 0; t < threads; t++) {                                            \
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

FASTBP_NARROW2_TILE(fastbp_narrow2_tile4_d, double, __m256d, 4, pd, fastbp_avx2_sum_d, 4)
FASTBP_NARROW2_TILE(fastbp_narrow2_tile1_d, double, __m256d, 4, pd, fastbp_avx2_sum_d, 1)
FASTBP_NARROW2_TILE(fastbp_narrow2_tile4_f, float, __m256, 8, ps, fastbp_avx2_sum_f, 4)
FASTBP_NARROW2_TILE(fastbp_narrow2_tile1_f, float, __m256, 8, ps, fastbp_avx2_sum_f, 1)
FASTBP_NARROW2_ROWS(fastbp_narrow2_d, fastbp_narrow2_tile4_d, fastbp_narrow2_tile1_d,
                    fastbp_avx2_pack_d, fastbp_avx2_bad_d, double)
FASTBP_NARROW2_ROWS(fastbp_narrow2_f, fastbp_narrow2_tile4_f, fastbp_narrow2_tile1_f,
                    fastbp_avx2_pack_f, fastbp_avx2_bad_f, float)
FASTBP_NARROW2_GEMM(fastbp_narrow_gemm_d, fastbp_narrow2_d, fastbp_avx2_pack_d, double, 4)
FASTBP_NARROW2_GEMM(fastbp_narrow_gemm_f, fastbp_narrow2_f, fastbp_avx2_pack_f, float, 8)
#endif
