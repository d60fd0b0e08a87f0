/* fastbp's GEMM for AVX-512 (see kernels.h): the products of mini-batch training,
   and many rows through a layer that fills its column tiles. */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <immintrin.h>
#include "avx512_common.h"

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
#define FASTBP_GEMM_TILE(NAME, T, V, LANES, S, MASK, MR, AT)                        \
static inline __attribute__((always_inline)) FASTBP_AVX512 void NAME(               \
    ptrdiff_t k, const T* a, ptrdiff_t lda, const T* bp, const MASK* mk,            \
    T alpha, T beta, T* c, ptrdiff_t ldc) {                                         \
    V acc[MR][FASTBP_GEMM_NV];                                                     \
    FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)                   \
            acc[i][v] = _mm512_setzero_##S();                                      \
    _Pragma("GCC unroll 4") for (ptrdiff_t p = 0; p < k; p++) {                    \
        V b[FASTBP_GEMM_NV];                                                       \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)                   \
            b[v] = _mm512_load_##S(bp + (p * FASTBP_GEMM_NV + v) * LANES);         \
        FASTBP_UNROLLED for (int i = 0; i < MR; i++) {                             \
            const V ai = _mm512_set1_##S(AT ? a[p * lda + i] : a[i * lda + p]);    \
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)               \
                acc[i][v] = _mm512_fmadd_##S(ai, b[v], acc[i][v]);                 \
        }                                                                          \
    }                                                                              \
    const V va = _mm512_set1_##S(alpha), vb = _mm512_set1_##S(beta);               \
    FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++) {                 \
            T* cv = c + i * ldc + v * LANES;                                       \
            V r = _mm512_mul_##S(va, acc[i][v]);                                   \
            if (beta != 0)          /* beta = 0: C is not read (it may be NaN) */  \
                r = _mm512_fmadd_##S(vb, _mm512_maskz_loadu_##S(mk[v], cv), r);    \
            _mm512_mask_storeu_##S(cv, mk[v], r);                                  \
        }                                                                          \
}

/* Bp (k rows of NR, 64-byte aligned, room for LANES rows more) = the columns of
   op(B) that mk selects, zero elsewhere. op(B)[p, j] is b[p * ldb + j], or
   b[j * ldb + p] with bt: then LANES x LANES blocks of B are loaded a row at a
   time and transposed in registers (TR), which reads B in order; gathering
   each vector of Bp from LANES rows took 6 % of W3's time. */
#define FASTBP_GEMM_PACK(NAME, T, V, LANES, S, MASK, TR)                            \
static inline FASTBP_AVX512 void NAME(int bt, ptrdiff_t k, const T* b, ptrdiff_t ldb, \
                                      const MASK* mk, T* bp) {                      \
    if (bt) {                                                                      \
        for (int v = 0; v < FASTBP_GEMM_NV; v++) {                                 \
            const T* rows = b + v * LANES * ldb;                                   \
            for (ptrdiff_t p0 = 0; p0 < k; p0 += LANES) {                          \
                const MASK pm = k - p0 >= LANES ? (MASK)-1                         \
                                                : (MASK)((1u << (k - p0)) - 1);    \
                V r[LANES];                                                        \
                /* rows past the last column of C load as zeros, and touch nothing */ \
                FASTBP_UNROLLED for (int i = 0; i < LANES; i++)                    \
                    r[i] = _mm512_maskz_loadu_##S((mk[v] >> i) & 1 ? pm : (MASK)0, \
                                                  rows + i * ldb + p0);            \
                TR(r);                                                             \
                /* rows of Bp past k are written, never read */                   \
                FASTBP_UNROLLED for (int q = 0; q < LANES; q++)                    \
                    _mm512_store_##S(bp + ((p0 + q) * FASTBP_GEMM_NV + v) * LANES, r[q]); \
            }                                                                      \
        }                                                                          \
    } else {                                                                       \
        for (ptrdiff_t p = 0; p < k; p++)                                          \
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)               \
                _mm512_store_##S(bp + (p * FASTBP_GEMM_NV + v) * LANES,            \
                                 _mm512_maskz_loadu_##S(mk[v], b + p * ldb + v * LANES)); \
    }                                                                              \
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

/* Column tiles of C (NR wide), each packed into bp and then run against the
   rows of op(A) of one block (all of them, when blocks = 1): 6 rows at a time,
   the rest 2 and 1 at a time. One thread's share: each thread takes the next
   (tile, block) not yet taken (*next) until none are left, so a thread that
   starts late or runs slow (the one whose cache does not hold op(A) yet) does
   less, and none waits for it; it packs a tile only when it moves to another.
   With CHECK (op(A) = A), each tile of rows of A is checked for NaN and inf
   right after it is multiplied, while it is in cache; the result goes to bad. */
#define FASTBP_GEMM_COLUMNS(NAME, T, LANES, MASK, I, PACK, CHECK, R6, R2, R1, R6T, R2T, \
                            R1T)                                                   \
typedef struct {                                                                   \
    int at, bt; ptrdiff_t m, n, k, lda, ldb, ldc, tiles, blocks; ptrdiff_t* next;  \
    T alpha, beta; const T* a; const T* b; T* c; T* bp;                            \
    int check, bad;                                                                \
} NAME##_job;                                                                      \
static FASTBP_AVX512 void* NAME(void* arg) {                                       \
    NAME##_job* job = (NAME##_job*)arg;                                            \
    const unsigned csr = _mm_getcsr();                                             \
    const ptrdiff_t m = job->m, k = job->k, lda = job->lda, ldc = job->ldc;         \
    const ptrdiff_t kv = (k + LANES - 1) / LANES * LANES;                          \
    const T alpha = job->alpha, beta = job->beta;                                  \
    const T* a = job->a;                                                           \
    T* bp = job->bp;                                                               \
    ptrdiff_t packed = -1;                                                         \
    __m512i bits = _mm512_setzero_si512();                                         \
    _mm_setcsr(csr | FASTBP_FTZ_DAZ);                                              \
    for (;;) {                                                                     \
        /* unit: a column tile, and a block of its rows */                         \
        const ptrdiff_t unit = __atomic_fetch_add(job->next, 1, __ATOMIC_RELAXED); \
        const ptrdiff_t tile = unit / job->blocks, block = unit % job->blocks;     \
        const ptrdiff_t j = tile * FASTBP_GEMM_NV * LANES;                         \
        const ptrdiff_t i1 = block + 1 < job->blocks                               \
                             ? (block + 1) * FASTBP_GEMM_BLOCK_ROWS : m;           \
        /* op(A)'s rows are checked once, with the first column tile, in L1 */     \
        const int check = job->check && tile == 0;                                 \
        MASK mk[FASTBP_GEMM_NV];                                                   \
        if (tile >= job->tiles) break;                                             \
        for (int v = 0; v < FASTBP_GEMM_NV; v++) {                                 \
            const ptrdiff_t cols = job->n - j - v * LANES;                         \
            mk[v] = cols >= LANES ? (MASK)-1 : cols > 0 ? (MASK)((1u << cols) - 1) : 0; \
        }                                                                          \
        T* c = job->c + j;                                                         \
        ptrdiff_t i = block * FASTBP_GEMM_BLOCK_ROWS;                              \
        if (tile != packed) {                                                      \
            PACK(job->bt, k, job->bt ? job->b + j * job->ldb : job->b + j, job->ldb, \
                 mk, bp);                                                          \
            packed = tile;                                                         \
        }                                                                          \
        if (job->at) {                                                             \
            for (; i + 6 <= i1; i += 6)                                            \
                R6T(k, a + i, lda, bp, mk, alpha, beta, c + i * ldc, ldc);         \
            for (; i + 2 <= i1; i += 2)                                            \
                R2T(k, a + i, lda, bp, mk, alpha, beta, c + i * ldc, ldc);         \
            for (; i < i1; i++)                                                    \
                R1T(k, a + i, lda, bp, mk, alpha, beta, c + i * ldc, ldc);         \
        } else {                                                                   \
            for (; i + 6 <= i1; i += 6) {                                          \
                R6(k, a + i * lda, lda, bp, mk, alpha, beta, c + i * ldc, ldc);    \
                if (check) CHECK(6, k, a + i * lda, lda, kv, NULL, &bits);         \
            }                                                                      \
            for (; i + 2 <= i1; i += 2) {                                          \
                R2(k, a + i * lda, lda, bp, mk, alpha, beta, c + i * ldc, ldc);    \
                if (check) CHECK(2, k, a + i * lda, lda, kv, NULL, &bits);         \
            }                                                                      \
            for (; i < i1; i++) {                                                  \
                R1(k, a + i * lda, lda, bp, mk, alpha, beta, c + i * ldc, ldc);    \
                if (check) CHECK(1, k, a + i * lda, lda, kv, NULL, &bits);         \
            }                                                                      \
        }                                                                          \
    }                                                                              \
    job->bad = _mm512_cmplt_##I##_mask(bits, _mm512_setzero_si512()) != 0;         \
    _mm_setcsr(csr);                                                               \
    return NULL;                                                                   \
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
#define FASTBP_GEMM(NAME, COLUMNS, T, LANES)                                       \
static FASTBP_AVX512 int NAME##_run(int at, int bt,    ptrdiff_t m, ptrdiff_t n,     \
    ptrdiff_t k, T alpha, const T* a, ptrdiff_t lda, const T* b, ptrdiff_t ldb,      \
    T beta, T* c, ptrdiff_t ldc, int threads, int* bad) {                           \
    const ptrdiff_t nr = FASTBP_GEMM_NV * LANES, tiles = (n + nr - 1) / nr;        \
    const double work = (double)m * n * k;                                         \
    COLUMNS##_job jobs[FASTBP_MAX_THREADS];                                         \
    ptrdiff_t next = 0, blocks = 1;                                                \
    T* bp;                                                                         \
    if (threads > work / FASTBP_GEMM_THREAD_WORK) threads = (int)(work / FASTBP_GEMM_THREAD_WORK); \
    if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;                \
    if (threads > tiles)                                                           \
        blocks = (m + FASTBP_GEMM_BLOCK_ROWS - 1) / FASTBP_GEMM_BLOCK_ROWS;        \
    if (threads > tiles * blocks) threads = (int)(tiles * blocks);                 \
    if (threads < 1) threads = 1;                                                  \
    /* each thread's panel, with room for the rows a transposed block writes past k */ \
    bp = (T*)fastbp_scratch((size_t)threads * (k + LANES) * nr * sizeof(T));       \
    if (bp == NULL) return 0;                                                      \
    for (int t = 0; t < threads; t++)                                              \
        jobs[t] = (COLUMNS##_job){at, bt, m, n, k, lda, ldb, ldc, tiles, blocks,   \
                                  &next, alpha, beta, a, b, c,                     \
                                  bp + t * (k + LANES) * nr, bad != NULL, 0};      \
    fastbp_run(COLUMNS, jobs, sizeof(jobs[0]), threads);                           \
    if (bad != NULL) {                                                             \
        *bad = 0;                                                                  \
        for (int t = 0; t < threads; t++) *bad |= jobs[t].bad;                     \
    }                                                                              \
    return 1;                                                                      \
}                                                                                  \
FASTBP_AVX512 int NAME##_avx512(int at, int bt, ptrdiff_t m, ptrdiff_t n,            \
                ptrdiff_t k, T alpha,                                                \
                const T* a, ptrdiff_t lda, const T* b, ptrdiff_t ldb, T beta, T* c,  \
                ptrdiff_t ldc, int threads, int* bad) {                             \
    if ((at && bt) || (at && bad) || m < 1 || n < 1 || k < 1 || alpha == 0) return 0; \
    if ((double)m * k * sizeof(T) > FASTBP_GEMM_MAX_A_BYTES && n > FASTBP_GEMM_NV * LANES) \
        return 0;                                                                  \
    return NAME##_run(at, bt, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads,    \
                         bad);                                                     \
}

/* Every piece of the GEMM for one element type (X: its suffix, d or f). */
#define FASTBP_GEMM_ALL(X, T, V, LANES, S, MASK, I)                                \
FASTBP_GEMM_TILE(fastbp_gemm_r6_##X, T, V, LANES, S, MASK, 6, 0)                   \
FASTBP_GEMM_TILE(fastbp_gemm_r6t_##X, T, V, LANES, S, MASK, 6, 1)                  \
FASTBP_GEMM_TILE(fastbp_gemm_r2_##X, T, V, LANES, S, MASK, 2, 0)                   \
FASTBP_GEMM_TILE(fastbp_gemm_r2t_##X, T, V, LANES, S, MASK, 2, 1)                  \
FASTBP_GEMM_TILE(fastbp_gemm_r1_##X, T, V, LANES, S, MASK, 1, 0)                   \
FASTBP_GEMM_TILE(fastbp_gemm_r1t_##X, T, V, LANES, S, MASK, 1, 1)                  \
FASTBP_GEMM_PACK(fastbp_gemm_pack_##X, T, V, LANES, S, MASK, fastbp_transpose_##X) \
FASTBP_GEMM_COLUMNS(fastbp_gemm_columns_##X, T, LANES, MASK, I, fastbp_gemm_pack_##X, \
                    fastbp_narrow_pack_##X,                                        \
                    fastbp_gemm_r6_##X, fastbp_gemm_r2_##X, fastbp_gemm_r1_##X,    \
                    fastbp_gemm_r6t_##X, fastbp_gemm_r2t_##X, fastbp_gemm_r1t_##X) \
FASTBP_GEMM(fastbp_gemm_##X, fastbp_gemm_columns_##X, T, LANES)

FASTBP_GEMM_ALL(d, double, __m512d, 8, pd, __mmask8, epi64)
FASTBP_GEMM_ALL(f, float, __m512, 16, ps, __mmask16, epi32)
#endif
