/* fastbp's one-example kernel for AVX2 and FMA: y = W @ x (see kernels.h), as
   gemv_avx512.c's: one row of W at a time, in four accumulators over consecutive
   vectors (element p lands in accumulator p / LANES % 4, lane p % LANES, whatever
   the alignment), the lanes summed in one fixed order. kernels.c shares the rows
   with a worker thread during a burst of calls. */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <string.h>
#include <immintrin.h>
#include "avx2_common.h"

#define FASTBP_GEMV2_COPY 2048
#define FASTBP_GEMV2_ROWS(NAME, T, V, LANES, S, MASK, SUM)                         \
FASTBP_AVX2 void NAME##_avx2(ptrdiff_t n, ptrdiff_t k, const T* w, const T* x,       \
                             T* y) {                                               \
    const ptrdiff_t tail = k % LANES, body = k - tail;                             \
    const __m256i tail_mask = MASK(tail);                                          \
    T x_copy[FASTBP_GEMV2_COPY] __attribute__((aligned(64)));                     \
    /* x is read once per row of W: an aligned copy saves a split load each time */ \
    if ((size_t)x % 64 && k <= FASTBP_GEMV2_COPY) {                                \
        memcpy(x_copy, x, k * sizeof(T));                                          \
        x = x_copy;                                                                \
    }                                                                              \
    for (ptrdiff_t j = 0; j < n; j++) {                                            \
        const T* row = w + j * k;                                                  \
        V acc[4];                                                                  \
        ptrdiff_t p = 0;                                                           \
        FASTBP_UNROLLED for (int u = 0; u < 4; u++) acc[u] = _mm256_setzero_##S(); \
        for (; p + 4 * LANES <= body; p += 4 * LANES)                              \
            FASTBP_UNROLLED for (int u = 0; u < 4; u++)                            \
                acc[u] = _mm256_fmadd_##S(_mm256_loadu_##S(row + p + u * LANES),   \
                                          _mm256_loadu_##S(x + p + u * LANES), acc[u]); \
        for (int u = 0; p < body; p += LANES, u++)                                 \
            acc[u] = _mm256_fmadd_##S(_mm256_loadu_##S(row + p),                   \
                                      _mm256_loadu_##S(x + p), acc[u]);            \
        if (tail) {                                                                \
            const int u = (int)(body / LANES % 4);                                 \
            acc[u] = _mm256_fmadd_##S(_mm256_maskload_##S(row + p, tail_mask),     \
                                      _mm256_maskload_##S(x + p, tail_mask), acc[u]); \
        }                                                                          \
        y[j] = SUM(_mm256_add_##S(_mm256_add_##S(acc[0], acc[1]),                  \
                                  _mm256_add_##S(acc[2], acc[3])));                \
    }                                                                              \
}

FASTBP_GEMV2_ROWS(fastbp_gemv_rows_d, double, __m256d, 4, pd, fastbp_avx2_mask_d,
                  fastbp_avx2_sum_d)
FASTBP_GEMV2_ROWS(fastbp_gemv_rows_f, float, __m256, 8, ps, fastbp_avx2_mask_f,
                  fastbp_avx2_sum_f)
#endif
