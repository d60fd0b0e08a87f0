/* The body of fastbp's GEMM (see kernels.h), for one instruction set and element
   type: the including file defines FASTBP_DOUBLE, includes a vocabulary
   (vec_avx512.h, vec_avx2.h), defines the tile's width FASTBP_GEMM_NV (vectors of
   columns), and includes this file.

   The products of mini-batch training: a batch of 128 makes products with one side
   of 128 (W3's 128 x 784 -> 512 and its BP2 and BP4), and OpenBLAS runs those at
   45-65 % of its rate for large squares; this kernel runs them 10-20 % faster on
   one thread, and splits them between threads better. It is the textbook
   outer-product scheme: a tile of 6 rows and NV vectors of columns of C sits in
   6 NV accumulators; each step over p broadcasts 6 elements of op(A) and
   multiplies them into one row of the tile's columns of op(B), which were first
   packed into a contiguous, aligned panel (transposed, for op(B) = B.T). On
   AVX-512's 32 registers, 6 x 4 loads 10 registers per 24 multiply-adds where
   12 x 2 loads 14: 10-16 % faster, and 4 % more with the loop over p unrolled by
   4. On AVX2's 16, 6 x 2 (12 accumulators, 2 vectors of Bp, 1 broadcast) is the
   textbook shape (BLIS's haswell kernels use it).

   Each entry of C is summed over p = 0..k-1 in order, with one FMA a step, in its
   own accumulator lane, so its bits do not depend on the tile it falls in, the
   thread that computes it, or the instruction set. */
#include "check_body.h"

#define FASTBP_GEMM_NR (FASTBP_GEMM_NV * FASTBP_LANES)

/* One tile of C: rows [0, MR) and NR columns, C = alpha * op(A) @ Bp + beta * C.
   op(A)[i, p] is a[i * lda + p], or a[p * lda + i] with AT (broadcast from where
   they lie: no copy of A). Bp: the tile's columns of op(B), packed as k rows of
   NR. mk[v]: which columns of the tile's vector v exist; full[v]: all of them. */
#define FASTBP_GEMM_TILE(NAME, MR, AT)                                             \
static inline __attribute__((always_inline)) FASTBP_ISA void FASTBP_LOCAL(NAME)(    \
        ptrdiff_t k, const FASTBP_T* a, ptrdiff_t lda, const FASTBP_T* bp,         \
        const FASTBP_MASK* mk, const int* full, FASTBP_T alpha, FASTBP_T beta,     \
        FASTBP_T* c, ptrdiff_t ldc) {                                              \
    FASTBP_V acc[MR][FASTBP_GEMM_NV];                                              \
    FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)                   \
            acc[i][v] = FASTBP_V_ZERO;                                             \
    _Pragma("GCC unroll 4") for (ptrdiff_t p = 0; p < k; p++) {                    \
        FASTBP_V b[FASTBP_GEMM_NV];                                                \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)                   \
            b[v] = FASTBP_V_LOAD(bp + (p * FASTBP_GEMM_NV + v) * FASTBP_LANES);    \
        FASTBP_UNROLLED for (int i = 0; i < MR; i++) {                             \
            const FASTBP_V ai = FASTBP_V_SET1(AT ? a[p * lda + i] : a[i * lda + p]); \
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)               \
                acc[i][v] = FASTBP_V_FMA(ai, b[v], acc[i][v]);                     \
        }                                                                          \
    }                                                                              \
    const FASTBP_V va = FASTBP_V_SET1(alpha), vb = FASTBP_V_SET1(beta);            \
    FASTBP_UNROLLED for (int i = 0; i < MR; i++)                                   \
        FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++) {                 \
            FASTBP_T* cv = c + i * ldc + v * FASTBP_LANES;                         \
            FASTBP_V r = FASTBP_V_MUL(va, acc[i][v]);                              \
            if (beta != 0)          /* beta = 0: C is not read (it may be NaN) */  \
                r = FASTBP_V_FMA(vb, FASTBP_V_LOADM(cv, full[v], mk[v]), r);       \
            FASTBP_V_STOREM(cv, full[v], mk[v], r);                                \
        }                                                                          \
}
FASTBP_GEMM_TILE(gemm_r6, 6, 0)
FASTBP_GEMM_TILE(gemm_r6t, 6, 1)
FASTBP_GEMM_TILE(gemm_r2, 2, 0)
FASTBP_GEMM_TILE(gemm_r2t, 2, 1)
FASTBP_GEMM_TILE(gemm_r1, 1, 0)
FASTBP_GEMM_TILE(gemm_r1t, 1, 1)
#undef FASTBP_GEMM_TILE

/* Bp (k rows of NR, aligned, room for LANES rows more) = the columns of op(B) that
   cols selects (the first cols[v] of vector v; mk[v] and full[v] as in the tile),
   zero elsewhere. op(B)[p, j] is b[p * ldb + j], or b[j * ldb + p] with bt: then
   LANES x LANES blocks of B are loaded a row at a time and transposed in
   registers, which reads B in order; gathering each vector of Bp from LANES rows
   took 6 % of W3's time. */
static inline FASTBP_ISA void FASTBP_LOCAL(gemm_pack)(
        int bt, ptrdiff_t k, const FASTBP_T* b, ptrdiff_t ldb, const ptrdiff_t* cols,
        const FASTBP_MASK* mk, const int* full, FASTBP_T* bp) {
    if (bt) {
        for (int v = 0; v < FASTBP_GEMM_NV; v++) {
            const FASTBP_T* rows = b + v * FASTBP_LANES * ldb;
            for (ptrdiff_t p0 = 0; p0 < k; p0 += FASTBP_LANES) {
                const int whole = k - p0 >= FASTBP_LANES;
                const FASTBP_MASK pm = FASTBP_MASK_FIRST(k - p0);
                FASTBP_V r[FASTBP_LANES];
                /* rows past the last column of C load as zeros, and touch nothing */
                FASTBP_UNROLLED for (int i = 0; i < FASTBP_LANES; i++)
                    r[i] = FASTBP_V_LOADM(rows + i * ldb + p0, i < cols[v] && whole,
                                          i < cols[v] ? pm : FASTBP_MASK_NONE);
                FASTBP_V_TRANSPOSE(r);
                /* rows of Bp past k are written, never read */
                FASTBP_UNROLLED for (int q = 0; q < FASTBP_LANES; q++)
                    FASTBP_V_STORE(bp + ((p0 + q) * FASTBP_GEMM_NV + v) * FASTBP_LANES,
                                   r[q]);
            }
        }
    } else {
        for (ptrdiff_t p = 0; p < k; p++)
            FASTBP_UNROLLED for (int v = 0; v < FASTBP_GEMM_NV; v++)
                FASTBP_V_STORE(bp + (p * FASTBP_GEMM_NV + v) * FASTBP_LANES,
                               FASTBP_V_LOADM(b + p * ldb + v * FASTBP_LANES, full[v], mk[v]));
    }
}

/* Column tiles of C (NR wide), each packed into bp and then run against the rows
   of op(A) of one block (all of them, when blocks = 1): 6 rows at a time, the
   rest 2 and 1 at a time. One thread's share: each thread takes the next unit
   (tile, block) not yet taken (*next) until none are left, so a thread that
   starts late or runs slow (the one whose cache does not hold op(A) yet) does
   less, and none waits for it; it packs a tile only when it moves to another.
   Units go tile by tile, or block by block (block_major, see below). With check
   (op(A) = A), each tile of rows of A is checked for NaN and inf right after it
   is multiplied, while it is in cache; the result goes to bad. */
typedef struct {
    int at, bt; ptrdiff_t m, n, k, lda, ldb, ldc, tiles, blocks, block_rows;
    int block_major; ptrdiff_t* next;
    FASTBP_T alpha, beta; const FASTBP_T* a; const FASTBP_T* b; FASTBP_T* c; FASTBP_T* bp;
    int check, bad;
} FASTBP_LOCAL(gemm_job);
static FASTBP_ISA void* FASTBP_LOCAL(gemm_columns)(void* arg) {
    FASTBP_LOCAL(gemm_job)* job = (FASTBP_LOCAL(gemm_job)*)arg;
    const unsigned csr = _mm_getcsr();
    const ptrdiff_t m = job->m, k = job->k, lda = job->lda, ldc = job->ldc;
    const ptrdiff_t kv = (k + FASTBP_LANES - 1) / FASTBP_LANES * FASTBP_LANES;
    const FASTBP_T alpha = job->alpha, beta = job->beta;
    const FASTBP_T* a = job->a;
    FASTBP_T* bp = job->bp;
    ptrdiff_t packed = -1;
    FASTBP_IV bits = FASTBP_I_ZERO;
    _mm_setcsr(csr | FASTBP_FTZ_DAZ);
    for (;;) {
        const ptrdiff_t unit = __atomic_fetch_add(job->next, 1, __ATOMIC_RELAXED);
        const ptrdiff_t tile = job->block_major ? unit % job->tiles : unit / job->blocks;
        const ptrdiff_t block = job->block_major ? unit / job->tiles : unit % job->blocks;
        const ptrdiff_t j = tile * FASTBP_GEMM_NR;
        const ptrdiff_t i1 = block + 1 < job->blocks ? (block + 1) * job->block_rows : m;
        /* op(A)'s rows are checked once, with the first column tile, in L1 */
        const int check = job->check && tile == 0;
        ptrdiff_t cols[FASTBP_GEMM_NV];
        FASTBP_MASK mk[FASTBP_GEMM_NV];
        int full[FASTBP_GEMM_NV];
        if (tile >= job->tiles || block >= job->blocks) break;
        for (int v = 0; v < FASTBP_GEMM_NV; v++) {
            const ptrdiff_t left = job->n - j - v * FASTBP_LANES;
            cols[v] = left > FASTBP_LANES ? FASTBP_LANES : left > 0 ? left : 0;
            mk[v] = FASTBP_MASK_FIRST(cols[v]);
            full[v] = cols[v] == FASTBP_LANES;
        }
        FASTBP_T* c = job->c + j;
        ptrdiff_t i = block * job->block_rows;
        if (tile != packed) {
            FASTBP_LOCAL(gemm_pack)(job->bt, k, job->bt ? job->b + j * job->ldb : job->b + j,
                                    job->ldb, cols, mk, full, bp);
            packed = tile;
        }
        if (job->at) {
            for (; i + 6 <= i1; i += 6)
                FASTBP_LOCAL(gemm_r6t)(k, a + i, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc);
            for (; i + 2 <= i1; i += 2)
                FASTBP_LOCAL(gemm_r2t)(k, a + i, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc);
            for (; i < i1; i++)
                FASTBP_LOCAL(gemm_r1t)(k, a + i, lda, bp, mk, full, alpha, beta, c + i * ldc, ldc);
        } else {
            for (; i + 6 <= i1; i += 6) {
                FASTBP_LOCAL(gemm_r6)(k, a + i * lda, lda, bp, mk, full, alpha, beta,
                                      c + i * ldc, ldc);
                if (check) FASTBP_LOCAL(pack_check)(6, k, a + i * lda, lda, kv, NULL, &bits);
            }
            for (; i + 2 <= i1; i += 2) {
                FASTBP_LOCAL(gemm_r2)(k, a + i * lda, lda, bp, mk, full, alpha, beta,
                                      c + i * ldc, ldc);
                if (check) FASTBP_LOCAL(pack_check)(2, k, a + i * lda, lda, kv, NULL, &bits);
            }
            for (; i < i1; i++) {
                FASTBP_LOCAL(gemm_r1)(k, a + i * lda, lda, bp, mk, full, alpha, beta,
                                      c + i * ldc, ldc);
                if (check) FASTBP_LOCAL(pack_check)(1, k, a + i * lda, lda, kv, NULL, &bits);
            }
        }
    }
    job->bad = FASTBP_I_SIGNS(bits);
    _mm_setcsr(csr);
    return NULL;
}

/* C = alpha * op(A) @ op(B) + beta * C, row-major, op(A) (m, k), op(B) (k, n), but
   not both transposed; with bad != NULL (op(A) = A only), also *bad = whether A
   holds NaN or inf. Work is shared out between up to `threads` threads (this one
   and fastbp_run's workers; at least FASTBP_GEMM_THREAD_WORK multiply-adds a
   thread) by column tiles, and by blocks of FASTBP_GEMM_BLOCK_ROWS rows as well
   when there are fewer tiles than threads (inference through a narrow layer);
   every entry is computed the same way whichever thread computes it.

   An op(A) over FASTBP_GEMM_MAX_A_BYTES with more than one column tile would
   stream from memory once per tile (the kernel is made for mini-batches), so such
   a product runs block-major instead: each unit is a block of
   FASTBP_GEMM_STREAM_ROWS rows (which stays in L2) against one column tile, the
   block's tiles in turn, so op(A) streams from memory once; each unit packs its
   tile of op(B) again (k x NR elements against FASTBP_GEMM_STREAM_ROWS times as
   many multiply-adds). Handing it to the BLAS instead would make its bits depend
   on the BLAS's thread count (issue 26).

   Returns 0, having written nothing, for the caller to use BLAS: for both operands
   transposed, an empty product or alpha = 0, or out of memory. */
#ifndef FASTBP_GEMM_THREAD_WORK
#define FASTBP_GEMM_THREAD_WORK (1 << 21)
#define FASTBP_GEMM_MAX_A_BYTES (8 << 20)
#define FASTBP_GEMM_BLOCK_ROWS 192
#define FASTBP_GEMM_STREAM_ROWS 48
#endif
FASTBP_ISA int FASTBP_GLOBAL(gemm)(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                   FASTBP_T alpha, const FASTBP_T* a, ptrdiff_t lda,
                                   const FASTBP_T* b, ptrdiff_t ldb, FASTBP_T beta,
                                   FASTBP_T* c, ptrdiff_t ldc, int threads, int* bad) {
    const ptrdiff_t nr = FASTBP_GEMM_NR, tiles = (n + nr - 1) / nr;
    double work;
    FASTBP_LOCAL(gemm_job) jobs[FASTBP_MAX_THREADS];
    ptrdiff_t next = 0, blocks = 1, block_rows = FASTBP_GEMM_BLOCK_ROWS;
    int block_major = 0;
    FASTBP_T* bp;
    if ((at && bt) || (at && bad) || m < 1 || n < 1 || k < 1 || alpha == 0) return 0;
    work = (double)m * n * k;
    if (threads > work / FASTBP_GEMM_THREAD_WORK) threads = (int)(work / FASTBP_GEMM_THREAD_WORK);
    if (threads > FASTBP_MAX_THREADS) threads = FASTBP_MAX_THREADS;
    if ((double)m * k * sizeof(FASTBP_T) > FASTBP_GEMM_MAX_A_BYTES && tiles > 1) {
        block_major = 1;
        block_rows = FASTBP_GEMM_STREAM_ROWS;
        blocks = (m + block_rows - 1) / block_rows;
    } else if (threads > tiles) {
        blocks = (m + block_rows - 1) / block_rows;
    }
    if (threads > tiles * blocks) threads = (int)(tiles * blocks);
    if (threads < 1) threads = 1;
    /* each thread's panel, with room for the rows a transposed block writes past k */
    bp = (FASTBP_T*)fastbp_scratch((size_t)threads * (k + FASTBP_LANES) * nr * sizeof(FASTBP_T));
    if (bp == NULL) return 0;
    for (int t = 0; t < threads; t++)
        jobs[t] = (FASTBP_LOCAL(gemm_job)){at, bt, m, n, k, lda, ldb, ldc, tiles, blocks,
                                           block_rows, block_major, &next, alpha, beta, a, b,
                                           c, bp + t * (k + FASTBP_LANES) * nr, bad != NULL, 0};
    fastbp_run(FASTBP_LOCAL(gemm_columns), jobs, sizeof(jobs[0]), threads);
    if (bad != NULL) {
        *bad = 0;
        for (int t = 0; t < threads; t++) *bad |= jobs[t].bad;
    }
    return 1;
}
#undef FASTBP_GEMM_NR
