/* The body of the "bp4" kernel, C = alpha A^T B + beta C for a few rows k of A and
   B: BP4's update w += alpha (Delta^l)^T A^{l-1} at a mini-batch of k rows.
   Row j of C gets alpha sum_i A[i, j] B[i, :] + beta C[j, :]: a rank-k update
   streamed over C, each element of C read and written once, B's k rows (a column
   block at a time, in L1) and A's read in place (no packing: at the book's 10
   rows, packing B costs as much as the product; see benchmarks/tried.md). One
   source for every instruction set and type: the including file defines
   FASTBP_DOUBLE, includes a vocabulary (vec_avx512.h, vec_avx2.h), defines the
   tile, FASTBP_BP4_MR rows of C by FASTBP_BP4_NV vectors of columns, and includes
   this file, which defines FASTBP_GLOBAL(bp4) (fastbp_bp4_d_avx512, ...).

   Each element of C is one chain of multiply-adds over i = 0..k-1 in that order,
   then alpha times it plus beta C (C not read where beta is 0), whatever the tile,
   the alignment or the thread count: its bits depend on its column of A and its
   column of B alone. Subnormal operands and results count as zero during the call
   (MXCSR's FTZ and DAZ, as in the GEMMs; the caller's mode is restored). */
#define FASTBP_BP4_TILE FASTBP_LOCAL(bp4_tile)
#define FASTBP_BP4_ROWS FASTBP_LOCAL(bp4_rows)
/* v's lanes at p: every lane where full (a constant wherever it is inlined), else
   those of mask */
#define FASTBP_BP4_LOAD(p, full, mask) ((full) ? FASTBP_V_LOADU(p) : FASTBP_V_LOADM(p, 0, mask))
#define FASTBP_BP4_STORE(p, full, mask, v) \
    ((full) ? FASTBP_VEC_OP(storeu)(p, v) : FASTBP_V_STOREM(p, 0, mask, v))

/* mr rows of C from row 0 of c, nv vectors of columns (with part, the last one
   masked by `last`); mr, nv and part are constants wherever this is inlined, so the
   loops below unroll to exactly the registers and loads they use. */
static inline __attribute__((always_inline)) FASTBP_ISA void FASTBP_BP4_TILE(
        const int mr, const int nv, const int part, FASTBP_MASK last, ptrdiff_t k,
        FASTBP_T alpha, const FASTBP_T* a, ptrdiff_t lda, const FASTBP_T* b, ptrdiff_t ldb,
        FASTBP_T beta, FASTBP_T* c, ptrdiff_t ldc) {
    FASTBP_V acc[FASTBP_BP4_MR][FASTBP_BP4_NV];
    FASTBP_UNROLLED
    for (int r = 0; r < FASTBP_BP4_MR; r++)
        FASTBP_UNROLLED
        for (int v = 0; v < FASTBP_BP4_NV; v++) acc[r][v] = FASTBP_V_ZERO;
    for (ptrdiff_t i = 0; i < k; i++) {
        const FASTBP_T* bi = b + i * ldb;
        FASTBP_V bv[FASTBP_BP4_NV];
        FASTBP_UNROLLED
        for (int v = 0; v < FASTBP_BP4_NV; v++)
            if (v < nv)
                bv[v] = FASTBP_BP4_LOAD(bi + v * FASTBP_LANES, v + 1 < nv || !part, last);
        FASTBP_UNROLLED
        for (int r = 0; r < FASTBP_BP4_MR; r++) {
            if (r >= mr) continue;
            const FASTBP_V av = FASTBP_V_SET1(a[i * lda + r]);
            FASTBP_UNROLLED
            for (int v = 0; v < FASTBP_BP4_NV; v++)
                if (v < nv) acc[r][v] = FASTBP_V_FMA(av, bv[v], acc[r][v]);
        }
    }
    const FASTBP_V alphav = FASTBP_V_SET1(alpha), betav = FASTBP_V_SET1(beta);
    FASTBP_UNROLLED
    for (int r = 0; r < FASTBP_BP4_MR; r++) {
        if (r >= mr) continue;
        FASTBP_T* cr = c + r * ldc;
        FASTBP_UNROLLED
        for (int v = 0; v < FASTBP_BP4_NV; v++) {
            if (v >= nv) continue;
            FASTBP_T* p = cr + v * FASTBP_LANES;
            FASTBP_V out;
            /* beta 0: C is not read (it may hold NaN), as in BLAS; beta 1: beta C is
               C itself, so its multiply is left out */
            if (beta == 0)
                out = FASTBP_V_MUL(alphav, acc[r][v]);
            else {
                FASTBP_V cv = FASTBP_BP4_LOAD(p, v + 1 < nv || !part, last);
                if (beta != 1) cv = FASTBP_V_MUL(betav, cv);
                out = FASTBP_V_FMA(alphav, acc[r][v], cv);
            }
            FASTBP_BP4_STORE(p, v + 1 < nv || !part, last, out);
        }
    }
}

/* All m rows of C for nv vectors of columns, MR rows at a time, the rest by one
   tile of as many rows as are left. */
static inline __attribute__((always_inline)) FASTBP_ISA void FASTBP_BP4_ROWS(
        const int nv, const int part, FASTBP_MASK last, ptrdiff_t m, ptrdiff_t k,
        FASTBP_T alpha, const FASTBP_T* a, ptrdiff_t lda, const FASTBP_T* b, ptrdiff_t ldb,
        FASTBP_T beta, FASTBP_T* c, ptrdiff_t ldc) {
    ptrdiff_t j = 0;
    for (; j + FASTBP_BP4_MR <= m; j += FASTBP_BP4_MR)
        FASTBP_BP4_TILE(FASTBP_BP4_MR, nv, part, last, k, alpha, a + j, lda, b, ldb, beta,
                        c + j * ldc, ldc);
    switch (m - j) {
#define FASTBP_BP4_REST(R)                                                         \
    case R:                                                                        \
        FASTBP_BP4_TILE(R, nv, part, last, k, alpha, a + j, lda, b, ldb, beta,     \
                        c + j * ldc, ldc);                                         \
        break;
#if FASTBP_BP4_MR > 1
    FASTBP_BP4_REST(1)
#endif
#if FASTBP_BP4_MR > 2
    FASTBP_BP4_REST(2)
#endif
#if FASTBP_BP4_MR > 3
    FASTBP_BP4_REST(3)
#endif
#if FASTBP_BP4_MR > 4
    FASTBP_BP4_REST(4)
#endif
#if FASTBP_BP4_MR > 5
    FASTBP_BP4_REST(5)
#endif
#if FASTBP_BP4_MR > 6
#error "FASTBP_BP4_MR above 6: add its remainders"
#endif
#undef FASTBP_BP4_REST
    default:
        break;
    }
}

FASTBP_ISA void FASTBP_GLOBAL(bp4)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, FASTBP_T alpha,
                                   const FASTBP_T* a, ptrdiff_t lda, const FASTBP_T* b,
                                   ptrdiff_t ldb, FASTBP_T beta, FASTBP_T* c, ptrdiff_t ldc) {
    const ptrdiff_t width = FASTBP_BP4_NV * FASTBP_LANES;
    const FASTBP_MASK all = FASTBP_MASK_FIRST(FASTBP_LANES);
    /* subnormals flushed, as in the GEMMs (platform.h): Delta holds them where
       sigmoids saturate */
    const unsigned csr = _mm_getcsr();
    ptrdiff_t j = 0;
    _mm_setcsr(csr | FASTBP_FTZ_DAZ);
    /* a block of columns at a time: its k rows of B stay in L1 while the tiles of
       C's rows stream past them (a chunk of several blocks, each row's part of it
       one contiguous run of C, was no faster: benchmarks/tried.md) */
    for (; j + width <= n; j += width)
        FASTBP_BP4_ROWS(FASTBP_BP4_NV, 0, all, m, k, alpha, a, lda, b + j, ldb, beta,
                        c + j, ldc);
    /* the columns left: whole vectors one at a time, then the last part-vector */
    for (; j + FASTBP_LANES <= n; j += FASTBP_LANES)
        FASTBP_BP4_ROWS(1, 0, all, m, k, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
    if (j < n)
        FASTBP_BP4_ROWS(1, 1, FASTBP_MASK_FIRST(n - j), m, k, alpha, a, lda, b + j, ldb,
                        beta, c + j, ldc);
    _mm_setcsr(csr);
}

#undef FASTBP_BP4_ROWS
#undef FASTBP_BP4_TILE
#undef FASTBP_BP4_LOAD
#undef FASTBP_BP4_STORE
