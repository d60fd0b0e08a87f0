/* The body of the "dots" kernel, C = alpha A B^T + beta C for a few rows of A: each
   element of C is the dot product of a row of A and a row of B, both read in place
   (no packing: at the book's 10 rows, packing B, 784 x 30 weights, costs as much as
   the product; see benchmarks/tried.md). One source for every instruction set and
   type: the including file defines

     FASTBP_DOTS_NAME   the function's name        FASTBP_DOTS_ISA  its target attribute
     FASTBP_DOTS_T      the element type           FASTBP_DOTS_V    the vector type
     FASTBP_DOTS_LANES  elements per vector        FASTBP_DOTS_MR/NR rows of A / B per tile
     FASTBP_DOTS_LOAD(p), FASTBP_DOTS_LOAD_FIRST(p, count), FASTBP_DOTS_FMA(a, b, c),
     FASTBP_DOTS_ZERO, FASTBP_DOTS_SUM(v)  (the sum of v's lanes in a fixed order)

   and includes this file (which undefines them). Each element's lanes are summed
   in the same order whatever the shape, the alignment or the thread count, so its
   bits depend on its two rows alone. A tile's rows past the edge of A or B repeat
   the last row and are not stored. */
#define FASTBP_DOTS_TILE FASTBP_DOTS_CAT(FASTBP_DOTS_NAME, _tile)
#define FASTBP_DOTS_CAT(a, b) FASTBP_DOTS_CAT2(a, b)
#define FASTBP_DOTS_CAT2(a, b) a##b

static inline __attribute__((always_inline)) FASTBP_DOTS_ISA void FASTBP_DOTS_TILE(
        ptrdiff_t mr, ptrdiff_t nr, ptrdiff_t k, FASTBP_DOTS_T alpha,
        const FASTBP_DOTS_T* a, ptrdiff_t lda, const FASTBP_DOTS_T* b, ptrdiff_t ldb,
        FASTBP_DOTS_T beta, FASTBP_DOTS_T* c, ptrdiff_t ldc) {
    const FASTBP_DOTS_T* ar[FASTBP_DOTS_MR];
    const FASTBP_DOTS_T* br[FASTBP_DOTS_NR];
    FASTBP_DOTS_V acc[FASTBP_DOTS_MR][FASTBP_DOTS_NR];
    ptrdiff_t p = 0;
    FASTBP_UNROLLED
    for (int r = 0; r < FASTBP_DOTS_MR; r++) ar[r] = a + (r < mr ? r : mr - 1) * lda;
    FASTBP_UNROLLED
    for (int s = 0; s < FASTBP_DOTS_NR; s++) br[s] = b + (s < nr ? s : nr - 1) * ldb;
    FASTBP_UNROLLED
    for (int r = 0; r < FASTBP_DOTS_MR; r++)
        FASTBP_UNROLLED
        for (int s = 0; s < FASTBP_DOTS_NR; s++) acc[r][s] = FASTBP_DOTS_ZERO;
    /* the part of k that is not a whole number of vectors comes first, masked, so
       the loop below has no tail */
    if (k % FASTBP_DOTS_LANES) {
        const ptrdiff_t first = k % FASTBP_DOTS_LANES;
        FASTBP_DOTS_V bv[FASTBP_DOTS_NR];
        FASTBP_UNROLLED
        for (int s = 0; s < FASTBP_DOTS_NR; s++) bv[s] = FASTBP_DOTS_LOAD_FIRST(br[s], first);
        FASTBP_UNROLLED
        for (int r = 0; r < FASTBP_DOTS_MR; r++) {
            const FASTBP_DOTS_V av = FASTBP_DOTS_LOAD_FIRST(ar[r], first);
            FASTBP_UNROLLED
            for (int s = 0; s < FASTBP_DOTS_NR; s++)
                acc[r][s] = FASTBP_DOTS_FMA(av, bv[s], acc[r][s]);
        }
        p = first;
    }
    for (; p < k; p += FASTBP_DOTS_LANES) {
        FASTBP_DOTS_V bv[FASTBP_DOTS_NR];
        FASTBP_UNROLLED
        for (int s = 0; s < FASTBP_DOTS_NR; s++) bv[s] = FASTBP_DOTS_LOAD(br[s] + p);
        FASTBP_UNROLLED
        for (int r = 0; r < FASTBP_DOTS_MR; r++) {
            const FASTBP_DOTS_V av = FASTBP_DOTS_LOAD(ar[r] + p);
            FASTBP_UNROLLED
            for (int s = 0; s < FASTBP_DOTS_NR; s++)
                acc[r][s] = FASTBP_DOTS_FMA(av, bv[s], acc[r][s]);
        }
    }
    FASTBP_UNROLLED
    for (int r = 0; r < FASTBP_DOTS_MR; r++)
        FASTBP_UNROLLED
        for (int s = 0; s < FASTBP_DOTS_NR; s++) {
            if (r >= mr || s >= nr) continue;
            const FASTBP_DOTS_T v = alpha * FASTBP_DOTS_SUM(acc[r][s]);
            FASTBP_DOTS_T* out = c + r * ldc + s;
            /* beta 0: C is not read (it may hold NaN), as in BLAS */
            *out = beta == 0 ? v : v + beta * *out;
        }
}

FASTBP_DOTS_ISA void FASTBP_DOTS_NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                      FASTBP_DOTS_T alpha, const FASTBP_DOTS_T* a,
                                      ptrdiff_t lda, const FASTBP_DOTS_T* b,
                                      ptrdiff_t ldb, FASTBP_DOTS_T beta,
                                      FASTBP_DOTS_T* c, ptrdiff_t ldc) {
    /* A's tile of rows stays in L1 while B's rows stream past it from L2 */
    for (ptrdiff_t i = 0; i < m; i += FASTBP_DOTS_MR) {
        const ptrdiff_t mr = m - i < FASTBP_DOTS_MR ? m - i : FASTBP_DOTS_MR;
        for (ptrdiff_t j = 0; j < n; j += FASTBP_DOTS_NR)
            FASTBP_DOTS_TILE(mr, n - j < FASTBP_DOTS_NR ? n - j : FASTBP_DOTS_NR, k, alpha,
                             a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc);
    }
}

#undef FASTBP_DOTS_TILE
#undef FASTBP_DOTS_NAME
#undef FASTBP_DOTS_ISA
#undef FASTBP_DOTS_T
#undef FASTBP_DOTS_V
#undef FASTBP_DOTS_LANES
#undef FASTBP_DOTS_MR
#undef FASTBP_DOTS_NR
#undef FASTBP_DOTS_LOAD
#undef FASTBP_DOTS_LOAD_FIRST
#undef FASTBP_DOTS_FMA
#undef FASTBP_DOTS_ZERO
#undef FASTBP_DOTS_SUM
