/* The AVX2 pieces behind vec_avx2.h's vocabulary (and the dots kernel's): lane
   masks, the sum across lanes, and the in-register transposes. AVX2 has no mask
   registers: a mask is a vector whose lanes are all ones (taken) or all zeros.
   Each piece comes in d (double, 4 lanes) and f (float, 8 lanes). */
#ifndef FASTBP_AVX2_COMMON_H
#define FASTBP_AVX2_COMMON_H
#include "platform.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <immintrin.h>

/* The lanes below `count` (any count: <= 0 none, >= LANES all). */
static inline FASTBP_AVX2 __m256i fastbp_avx2_mask_d(ptrdiff_t count) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3));
}
static inline FASTBP_AVX2 __m256i fastbp_avx2_mask_f(ptrdiff_t count) {
    const int c = count < 0 ? 0 : count > 8 ? 8 : (int)count;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The sum of a vector's lanes, always in the same order. */
static inline FASTBP_AVX2 double fastbp_avx2_sum_d(__m256d v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
static inline FASTBP_AVX2 float fastbp_avx2_sum_f(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* r[i] = row i of a LANES x LANES block; on return r[j] = its column j. */
static inline __attribute__((always_inline)) FASTBP_AVX2 void fastbp_avx2_transpose_d(
        __m256d r[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
static inline __attribute__((always_inline)) FASTBP_AVX2 void fastbp_avx2_transpose_f(
        __m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* t[4h + s] and t[4h + 2 + s], 128-bit lane L: rows 4h..4h+3 of columns
       4L + 2s and 4L + 2s + 1, interleaved by pairs of rows; pick each column's */
    for (int h = 0; h < 2; h++)
        for (int s = 0; s < 2; s++) {
            u[4 * h + 2 * s] = _mm256_shuffle_ps(t[4 * h + s], t[4 * h + 2 + s], 0x44);
            u[4 * h + 2 * s + 1] = _mm256_shuffle_ps(t[4 * h + s], t[4 * h + 2 + s], 0xee);
        }
    /* u[4h + q], 128-bit lane L: rows 4h..4h+3 of column 4L + q */
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
        r[4 + q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
    }
}

#endif
#endif
