/* fastbp's GEMM for AVX2 and FMA (see kernels.h): the AVX-512 kernel's scheme
   (gemm_avx512.c, which explains it) on 16 registers of 4 doubles or 8 floats. A
   tile of C of 6 rows and 2 vectors of columns sits in 12 accumulators; each step
   over p loads 2 vectors of the packed panel of op(B) and broadcasts 6 elements of
   op(A): 15 registers, the textbook AVX2 shape (BLIS's haswell kernels use it).
   Each entry of C is summed over p in order, with one FMA a step, in its own lane,
   exactly as in the AVX-512 kernel, so both give the same bits.

   AVX2 has no mask registers: partial vectors of C at the right edge go through
   vmaskmov loads and stores (the lanes left out touch no memory), full ones
   through plain unaligned loads and stores. */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <immintrin.h>
#include "avx2_common.h"

#define FASTBP_GEMM2_NV 2

/* One tile of C: rows [0, MR) and NR = 2 LANES columns (see FASTBP_GEMM_TILE in
   gemm_avx512.c). mk[v]: which columns of the tile's vector v exist; full[v]:
   all of them. */
#define FASTBP_GEMM2_TILE(NAME, T, V, LANES, S, MR, AT)                             \
static inline __attribute__((always_inline)) FASTBP_AVX2 void NAME(                 \
    ptrdiff_t k, const T* a, ptrdiff_t lda, const T* bp, const __m256i* mk,         \
    const int* full, T alpha, T beta, T* c, ptrdiff_t ldc) {                        \
    V acc[MR][FASTBP_GEMM2_NV];                                                    \
    FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM2_NV; v++)                  \
            acc[i][v] = _mm256_setzero_##S();                                      \
    _Pragma("GCC unroll 4") for (ptrdiff_t p = 0; p < k; p++) {                    \
        V b[FASTBP_GEMM2_NV];                                                      \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM2_NV; v++)                  \
            b[v] = _mm256_load_##S(bp + (p * FASTBP_GEMM2_NV + v) * LANES);        \
        FASTBP_UNROLLED for (int i = 0; i < MR; i++) {                             \
            const V ai = _mm256_set1_##S(AT ? a[p * lda + i] : a[i * lda + p]);    \
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM2_NV; v++)              \
                acc[i][v] = _mm256_fmadd_##S(ai, b[v], acc[i][v]);                 \
        }                                                                          \
    }                                                                              \
    const V va = _mm256_set1_##S(alpha), vb = _mm256_set1_##S(beta);              \
    FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM2_NV; v++) {                \
            T* cv = c + i * ldc + v * LANES;                                       \
            V r = _mm256_mul_##S(va, acc[i][v]);                                   \
            if (beta != 0)          /* beta = 0: C is not read (it may be NaN) */  \
                r = _mm256_fmadd_##S(vb, full[v] ? _mm256_loadu_##S(cv)            \
                                                 : _mm256_maskload_##S(cv, mk[v]), r); \
            if (full[v])                                                           \
                _mm256_storeu_##S(cv, r);                                          \
            else                                                                   \
                _mm256_maskstore_##S(cv, mk[v], r);                                \
        }                                                                          \
}

/* Bp (k rows of NR, 64-byte aligned, room for LANES rows more) = the columns of
   op(B) that cols selects (the first cols[v] of vector v), zero elsewhere. With
   bt, LANES x LANES blocks of B are loaded a row at a time and transposed in
   registers (TR), which reads B in order. */
#define FASTBP_GEMM2_PACK(NAME, T, V, LANES, S, MASK, TR)                           \
static inline FASTBP_AVX2 void NAME(int bt, ptrdiff_t k, const T* b, ptrdiff_t ldb,  \
                                    const ptrdiff_t* cols, T* bp) {                 \
    const __m256i none = _mm256_setzero_si256();                                   \
    if (bt) {                                                                      \
        for (int v = 0; v < FASTBP_GEMM2_NV; v++) {                                \
            const T* rows = b + v * LANES * ldb;                                   \
            for (ptrdiff_t p0 = 0; p0 < k; p0 += LANES) {                          \
                const int whole = k - p0 >= LANES;                                 \
                const __m256i pm = MASK(k - p0);                                   \
                V r[LANES];                                                        \
                /* rows past the last column of C load as zeros, and touch nothing */ \
                FASTBP_UNROLLED for (int i = 0; i < LANES; i++)                    \
                    r[i] = i < cols[v] && whole ? _mm256_loadu_##S(rows + i * ldb + p0) \
                           : _mm256_maskload_##S(rows + i * ldb + p0,              \
                                                 i < cols[v] ? pm : none);         \
                TR(r);                                                             \
                /* rows of Bp past k are written, never read */                   \
                FASTBP_UNROLLED for (int q = 0; q < LANES; q++)                    \
                    _mm256_store_##S(bp + ((p0 + q) * FASTBP_GEMM2_NV + v) * LANES, r[q]); \
            }                                                                      \
        }                                                                          \
    } else {                                                                       \
        for (ptrdiff_t p = 0; p < k; p++)                                          \
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM2_NV; v++) {            \
                const T* src = b + p * ldb + v * LANES;                            \
                _mm256_store_##S(bp + (p * FASTBP_GEMM2_NV + v) * LANES,           \
                                 cols[v] >= LANES ? _mm256_loadu_##S(src)          \
                                 : _mm256_maskload_##S(src, MASK(cols[v])));       \
            }                                                                      \
    }                                                                              \
}

/* One thread's share of the column tiles and row blocks of C, as
   FASTBP_GEMM_COLUMNS in gemm_avx512.c (the same units, order and checks). */
#define FASTBP_GEMM2_COLUMNS(NAME, T, LANES, MASK, BAD, PACK, CHECK, R6, R2, R1, R6T, \
                             R2T, R1T)                                             \
typedef struct {                                                                   \
    int at, bt; ptrdiff_t m, n, k, lda, ldb, ldc, tiles, blocks, block_rows;       \
    int block_major; ptrdiff_t* next;                                              \
    T alpha, beta; const T* a; const T* b; T* c; T* bp;                            \
    int check, bad;                                                                \
} NAME##_job;                                                                      \
static FASTBP_AVX2 void* NAME(void* arg) {                                         \
    NAME##_job* job = (NAME##_job*)arg;                                            \
    const unsigned csr = _mm_getcsr();                                             \
    const ptrdiff_t m = job->m, k = job->k, lda = job->lda, ldc = job->ldc;         \
    const ptrdiff_t kv = (k + LANES - 1) / LANES * LANES;                          \
    const T alpha = job->alpha, beta = job->beta;                                  \
    const T* a = job->a;                                                           \
    T* bp = job->bp;                                                               \
    ptrdiff_t packed = -1;                                                         \
    __m256i bits = _mm256_setzero_si256();                                         \
    _mm_setcsr(csr | FASTBP_FTZ_DAZ);                                              \
    for (;;) {                                                                     \
        const ptrdiff_t unit = __atomic_fetch_add(job->next, 1, __ATOMIC_RELAXED); \
        const ptrdiff_t tile = job->block_major ? unit % job->tiles : unit / job->blocks; \
        const ptrdiff_t block = job->block_major ? unit / job->tiles : unit % job->blocks; \
        const ptrdiff_t j = tile * FASTBP_GEMM2_NV * LANES;                        \
        const ptrdiff_t i1 = block + 1 < job->blocks ? (block + 1) * job->block_rows : m; \
        const int check = job->check && tile == 0;                                 \
        ptrdiff_t cols[FASTBP_GEMM2_NV];                                           \
        __m256i mk[FASTBP_GEMM2_NV];                                               \
        int full[FASTBP_GEMM2_NV];                                                 \
        if (tile >= job->tiles || block >= job->blocks) break;                     \
        for (int v = 0; v < FASTBP_GEMM2_NV; v++) {                                \
            const ptrdiff_t left = job->n - j - v * LANES;                         \
            cols[v] = left > LANES ? LANES : left > 0 ? left : 0;                  \
            mk[v] = MASK(cols[v]);                                                 \
            full[v] = cols[v] == LANES;                                            \
        }                                                                          \
        T* c = job->c + j;                                                         \
        ptrdiff_t i = block * job->block_rows;                                     \
        if (tile != packed) {                                                      \
            PACK(job->bt, k, job->bt ? job->b + j * job->ldb : job->b + j, job->ldb, \
                 cols, bp);                                                        \
            packed = tile;                                                         \
        }                                                                          \
        if (job->at) {                                                             \
            for (; i + 6 <= i1; i += 6)                                            \
                R6T(k, a + i, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc);   \
            for (; i + 2 <= i1; i += 2)                                            \
                R2T(k, a + i, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc);   \
            for (; i < i1; i++)                                                    \
                R1T(k, a + i, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc);   \
        } else {                                                                   \
            for (; i + 6 <= i1; i += 6) {                                          \
                R6(k, a + i * lda, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc); \
                if (check) CHECK(6, k, a + i * lda, lda, kv, NULL, &bits);         \
            }                                                                      \
            for (; i + 2 <= i1; i += 2) {                                          \
                R2(k, a + i * lda, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc); \
                if (check) CHECK(2, k, a + i * lda, lda, kv, NULL, &bits);         \
            }                                                                      \
            for (; i < i1; i++) {                                                  \
                R1(k, a + i * lda, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc); \
                if (check) CHECK(1, k, a + i * lda, lda, kv, NULL, &bits);         \
            }                                                                      \
        }                                                                          \
    }                                                                              \
    job->bad = BAD(bits);                                                          \
    _mm_setcsr(csr);                                                               \
    return NULL;                                                                   \
}

/* C = alpha * op(A) @ op(B) + beta * C: as fastbp_gemm_*_avx512 (the same
   contract, shares between threads and declined shapes; see gemm_avx512.c), but
   for one case: an op(A) over FASTBP_GEMM2_MAX_A_BYTES with more than one column
   tile, which the AVX-512 kernel declines (it would stream op(A) from memory once
   per tile). AVX2's tiles are half as wide, so inference through the book's 30
   neurons needs 4 of them. Such products run block-major instead: each unit is a
   block of FASTBP_GEMM2_STREAM_ROWS rows (which stays in L2) against one column
   tile, the block's tiles in turn, so op(A) streams from memory once; each unit
   packs its tile of op(B) again (k x NR elements against FASTBP_GEMM2_STREAM_ROWS
   times as many multiply-adds). Each entry of C is computed the same way in
   either order. */
#define FASTBP_GEMM2_THREAD_WORK (1 << 21)
#define FASTBP_GEMM2_MAX_A_BYTES (8 << 20)
#define FASTBP_GEMM2_BLOCK_ROWS 192
#define FASTBP_GEMM2_STREAM_ROWS 48
#define FASTBP_GEMM2(NAME, COLUMNS, T, LANES)                                      \
FASTBP_AVX2 int NAME##_avx2(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,   \
                            T alpha, const T* a, ptrdiff_t lda, const T* b,          \
                            ptrdiff_t ldb, T beta, T* c, ptrdiff_t ldc, int threads, \
                            int* bad) {                                             \
    const ptrdiff_t nr = FASTBP_GEMM2_NV * LANES, tiles = (n + nr - 1) / nr;       \
    double work;                                                                   \
    COLUMNS##_job jobs[FASTBP_MAX_THREADS];                                         \
    ptrdiff_t next = 0, blocks = 1, block_rows = FASTBP_GEMM2_BLOCK_ROWS;          \
    int block_major = 0;                                                           \
    T* bp;                                                                         \
    if ((at && bt) || (at && bad) || m < 1 || n < 1 || k < 1 || alpha == 0) return 0; \
    work = (double)m * n * k;                                                      \
    if (threads > work / FASTBP_GEMM2_THREAD_WORK) threads = (int)(work / FASTBP_GEMM2_THREAD_WORK); \
    if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;                \
    if ((double)m * k * sizeof(T) > FASTBP_GEMM2_MAX_A_BYTES && tiles > 1) {       \
        block_major = 1;                                                           \
        block_rows = FASTBP_GEMM2_STREAM_ROWS;                                     \
        blocks = (m + block_rows - 1) / block_rows;                                \
    } else if (threads > tiles) {                                                  \
        blocks = (m + block_rows - 1) / block_rows;                                \
    }                                                                              \
    if (threads > tiles * blocks) threads = (int)(tiles * blocks);                 \
    if (threads < 1) threads = 1;                                                  \
    bp = (T*)fastbp_scratch((size_t)threads * (k + LANES) * nr * sizeof(T));       \
    if (bp == NULL) return 0;                                                      \
    for (int t = 0; t < threads; t++)                                              \
        jobs[t] = (COLUMNS##_job){at, bt, m, n, k, lda, ldb, ldc, tiles, blocks,   \
                                  block_rows, block_major, &next, alpha, beta, a, b, \
                                  c, bp + t * (k + LANES) * nr, bad != NULL, 0};   \
    fastbp_run(COLUMNS, jobs, sizeof(jobs[0]), threads);                           \
    if (bad != NULL) {                                                             \
        *bad = 0;                                                                  \
        for (int t = 0; t < threads; t++) *bad |= jobs[t].bad;                     \
    }                                                                              \
    return 1;                                                                      \
}

/* Every piece of the GEMM for one element type (X: its suffix, d or f). */
#define FASTBP_GEMM2_ALL(X, T, V, LANES, S)                                        \
FASTBP_GEMM2_TILE(fastbp_gemm2_r6_##X, T, V, LANES, S, 6, 0)                       \
FASTBP_GEMM2_TILE(fastbp_gemm2_r6t_##X, T, V, LANES, S, 6, 1)                      \
FASTBP_GEMM2_TILE(fastbp_gemm2_r2_##X, T, V, LANES, S, 2, 0)                       \
FASTBP_GEMM2_TILE(fastbp_gemm2_r2t_##X, T, V, LANES, S, 2, 1)                      \
FASTBP_GEMM2_TILE(fastbp_gemm2_r1_##X, T, V, LANES, S, 1, 0)                       \
FASTBP_GEMM2_TILE(fastbp_gemm2_r1t_##X, T, V, LANES, S, 1, 1)                      \
FASTBP_GEMM2_PACK(fastbp_gemm2_pack_##X, T, V, LANES, S, fastbp_avx2_mask_##X,     \
                  fastbp_avx2_transpose_##X)                                       \
FASTBP_GEMM2_COLUMNS(fastbp_gemm2_columns_##X, T, LANES, fastbp_avx2_mask_##X,     \
                     fastbp_avx2_bad_##X, fastbp_gemm2_pack_##X, fastbp_avx2_pack_##X, \
                     fastbp_gemm2_r6_##X, fastbp_gemm2_r2_##X, fastbp_gemm2_r1_##X, \
                     fastbp_gemm2_r6t_##X, fastbp_gemm2_r2t_##X, fastbp_gemm2_r1t_##X) \
FASTBP_GEMM2(fastbp_gemm_##X, fastbp_gemm2_columns_##X, T, LANES)

FASTBP_GEMM2_ALL(d, double, __m256d, 4, pd)
FASTBP_GEMM2_ALL(f, float, __m256, 8, ps)
#endif
