/* The "dots" kernel (dots_body.h) for AVX-512: tiles of 5 rows of A by 5 rows of B,
   25 accumulators of the 32 registers (5 x 4 and 4 x 6 ran 10 x 784 by 784 x 30 in
   8 us, 5 x 5 in 6.6; benchmarks/tried.md). */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <immintrin.h>

static inline __attribute__((always_inline)) FASTBP_AVX512 double fastbp_sum512_d(__m512d v) {
    const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
static inline __attribute__((always_inline)) FASTBP_AVX512 float fastbp_sum512_f(__m512 v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

#define FASTBP_DOTS_NAME fastbp_dots_d_avx512
#define FASTBP_DOTS_ISA FASTBP_AVX512
#define FASTBP_DOTS_T double
#define FASTBP_DOTS_V __m512d
#define FASTBP_DOTS_LANES 8
#define FASTBP_DOTS_MR 5
#define FASTBP_DOTS_NR 5
#define FASTBP_DOTS_LOAD(p) _mm512_loadu_pd(p)
#define FASTBP_DOTS_LOAD_FIRST(p, count) _mm512_maskz_loadu_pd((__mmask8)((1u << (count)) - 1), p)
#define FASTBP_DOTS_FMA _mm512_fmadd_pd
#define FASTBP_DOTS_ZERO _mm512_setzero_pd()
#define FASTBP_DOTS_SUM fastbp_sum512_d
#include "dots_body.h"

#define FASTBP_DOTS_NAME fastbp_dots_f_avx512
#define FASTBP_DOTS_ISA FASTBP_AVX512
#define FASTBP_DOTS_T float
#define FASTBP_DOTS_V __m512
#define FASTBP_DOTS_LANES 16
#define FASTBP_DOTS_MR 5
#define FASTBP_DOTS_NR 5
#define FASTBP_DOTS_LOAD(p) _mm512_loadu_ps(p)
#define FASTBP_DOTS_LOAD_FIRST(p, count) _mm512_maskz_loadu_ps((__mmask16)((1u << (count)) - 1), p)
#define FASTBP_DOTS_FMA _mm512_fmadd_ps
#define FASTBP_DOTS_ZERO _mm512_setzero_ps()
#define FASTBP_DOTS_SUM fastbp_sum512_f
#include "dots_body.h"
#endif
