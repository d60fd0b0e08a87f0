/* fastbp's one-example kernel for AVX-512: y = W @ x (see kernels.h). */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <string.h>
#include <immintrin.h>

/* y[j] = W[j, :] @ x for the n rows of W (n, k): one row at a time, in four
   accumulators over consecutive vectors (element p lands in accumulator
   p / LANES % 4, lane p % LANES, whatever the alignment). One row at a time
   streams W through the cache in order, which OpenBLAS's GEMV, reading four rows
   at once, does not. kernels.c shares the rows with a worker thread during a
   burst of calls. V: the AVX-512 vector type. */
#define FASTBP_GEMV_COPY 2048
#define FASTBP_GEMV_ROWS(NAME, T, V, LANES, S, MASK)                               \
FASTBP_AVX512 void NAME##_avx512(ptrdiff_t n, ptrdiff_t k, const T* w, const T* x,  \
                                 T* y) {                                           \
    const ptrdiff_t tail = k % LANES, body = k - tail;                             \
    T x_copy[FASTBP_GEMV_COPY] __attribute__((aligned(64)));                      \
    /* x is read once per row of W: an aligned copy saves a split load each time */ \
    if ((size_t)x % 64 && k <= FASTBP_GEMV_COPY) {                                 \
        memcpy(x_copy, x, k * sizeof(T));                                          \
        x = x_copy;                                                                \
    }                                                                              \
    const MASK tail_mask = (MASK)((1u << tail) - 1);                               \
    for (ptrdiff_t j = 0; j < n; j++) {                                            \
        const T* row = w + j * k;                                                  \
        V acc[4];                                                                  \
        ptrdiff_t p = 0;                                                           \
        FASTBP_UNROLLED for (int u = 0; u < 4; u++) acc[u] = _mm512_setzero_##S(); \
        for (; p + 4 * LANES <= body; p += 4 * LANES)                              \
            FASTBP_UNROLLED for (int u = 0; u < 4; u++)                            \
                acc[u] = _mm512_fmadd_##S(_mm512_loadu_##S(row + p + u * LANES),   \
                                          _mm512_loadu_##S(x + p + u * LANES), acc[u]); \
        for (int u = 0; p < body; p += LANES, u++)                                 \
            acc[u] = _mm512_fmadd_##S(_mm512_loadu_##S(row + p),                   \
                                      _mm512_loadu_##S(x + p), acc[u]);            \
        if (tail) {                                                                \
            const int u = (int)(body / LANES % 4);                                 \
            acc[u] = _mm512_fmadd_##S(_mm512_maskz_loadu_##S(tail_mask, row + p),  \
                                      _mm512_maskz_loadu_##S(tail_mask, x + p), acc[u]); \
        }                                                                          \
        y[j] = _mm512_reduce_add_##S(_mm512_add_##S(_mm512_add_##S(acc[0], acc[1]), \
                                                    _mm512_add_##S(acc[2], acc[3]))); \
    }                                                                              \
}

FASTBP_GEMV_ROWS(fastbp_gemv_rows_d, double, __m512d, 8, pd, __mmask8)
FASTBP_GEMV_ROWS(fastbp_gemv_rows_f, float, __m512, 16, ps, __mmask16)
#endif
