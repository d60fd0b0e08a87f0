/* The body of fastbp's one-example kernel, y = W @ x (see kernels.h), for one
   instruction set and element type: the including file defines FASTBP_DOUBLE,
   includes a vocabulary (vec_avx512.h, vec_avx2.h) and this file.

   y[j] = W[j, :] @ x for the n rows of W (n, k): one row at a time, in four
   accumulators over consecutive vectors (element p lands in accumulator
   p / LANES % 4, lane p % LANES, whatever the alignment), the lanes summed in
   one fixed order. One row at a time streams W through the cache in order, which
   OpenBLAS's GEMV, reading four rows at once, does not. kernels.c shares the rows
   with a worker thread during a burst of calls. */
#ifndef FASTBP_GEMV_COPY
#define FASTBP_GEMV_COPY 2048
#endif
FASTBP_ISA void FASTBP_GLOBAL(gemv_rows)(ptrdiff_t n, ptrdiff_t k, const FASTBP_T* w,
                                         const FASTBP_T* x, FASTBP_T* y) {
    const ptrdiff_t tail = k % FASTBP_LANES, body = k - tail;
    const FASTBP_MASK tail_mask = FASTBP_MASK_FIRST(tail);
    FASTBP_T x_copy[FASTBP_GEMV_COPY] __attribute__((aligned(64)));
    /* x is read once per row of W: an aligned copy saves a split load each time */
    if ((size_t)x % 64 && k <= FASTBP_GEMV_COPY) {
        memcpy(x_copy, x, k * sizeof(FASTBP_T));
        x = x_copy;
    }
    for (ptrdiff_t j = 0; j < n; j++) {
        const FASTBP_T* row = w + j * k;
        FASTBP_V acc[4];
        ptrdiff_t p = 0;
        FASTBP_UNROLLED for (int u = 0; u < 4; u++) acc[u] = FASTBP_V_ZERO;
        for (; p + 4 * FASTBP_LANES <= body; p += 4 * FASTBP_LANES)
            FASTBP_UNROLLED for (int u = 0; u < 4; u++)
                acc[u] = FASTBP_V_FMA(FASTBP_V_LOADU(row + p + u * FASTBP_LANES),
                                      FASTBP_V_LOADU(x + p + u * FASTBP_LANES), acc[u]);
        for (int u = 0; p < body; p += FASTBP_LANES, u++)
            acc[u] = FASTBP_V_FMA(FASTBP_V_LOADU(row + p), FASTBP_V_LOADU(x + p), acc[u]);
        if (tail) {
            const int u = (int)(body / FASTBP_LANES % 4);
            acc[u] = FASTBP_V_FMA(FASTBP_V_LOADM(row + p, 0, tail_mask),
                                  FASTBP_V_LOADM(x + p, 0, tail_mask), acc[u]);
        }
        y[j] = FASTBP_V_SUM(FASTBP_V_ADD(FASTBP_V_ADD(acc[0], acc[1]),
                                         FASTBP_V_ADD(acc[2], acc[3])));
    }
}
