/* The AVX-512 pieces behind vec_avx512.h's vocabulary: lane masks and the
   in-register transposes. Each piece comes in d (double, 8 lanes) and f (float,
   16 lanes). */
#ifndef FASTBP_AVX512_COMMON_H
#define FASTBP_AVX512_COMMON_H
#include "platform.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <immintrin.h>

/* The lanes below `count` (any count: <= 0 none, >= LANES all). */
static inline FASTBP_AVX512 __mmask8 fastbp_avx512_mask_d(ptrdiff_t count) {
    return count >= 8 ? (__mmask8)-1 : count > 0 ? (__mmask8)((1u << count) - 1) : 0;
}
static inline FASTBP_AVX512 __mmask16 fastbp_avx512_mask_f(ptrdiff_t count) {
    return count >= 16 ? (__mmask16)-1 : count > 0 ? (__mmask16)((1u << count) - 1) : 0;
}

/* The last step of both transposes below: out[l] = the 128-bit lanes l of a, b, c
   and d, in that order. */
static inline __attribute__((always_inline)) FASTBP_AVX512 void fastbp_avx512_transpose_lanes(
        __m512 a, __m512 b, __m512 c, __m512 d, __m512 out[4]) {
    const __m512 ab_even = _mm512_shuffle_f32x4(a, b, 0x88), ab_odd = _mm512_shuffle_f32x4(a, b, 0xdd);
    const __m512 cd_even = _mm512_shuffle_f32x4(c, d, 0x88), cd_odd = _mm512_shuffle_f32x4(c, d, 0xdd);
    out[0] = _mm512_shuffle_f32x4(ab_even, cd_even, 0x88);
    out[1] = _mm512_shuffle_f32x4(ab_odd, cd_odd, 0x88);
    out[2] = _mm512_shuffle_f32x4(ab_even, cd_even, 0xdd);
    out[3] = _mm512_shuffle_f32x4(ab_odd, cd_odd, 0xdd);
}

/* r[i] = row i of a LANES x LANES block; on return r[j] = its column j. */
static inline __attribute__((always_inline)) FASTBP_AVX512 void fastbp_avx512_transpose_f(__m512 r[16]) {
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
        fastbp_avx512_transpose_lanes(r[q], r[4 + q], r[8 + q], r[12 + q], col);
        for (int l = 0; l < 4; l++) t[4 * l + q] = col[l];
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}
static inline __attribute__((always_inline)) FASTBP_AVX512 void fastbp_avx512_transpose_d(__m512d r[8]) {
    __m512d t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    /* t[2i + q], 128-bit lane L: rows 2i, 2i+1 of column 2L + q */
    for (int q = 0; q < 2; q++) {
        __m512 col[4];
        fastbp_avx512_transpose_lanes(_mm512_castpd_ps(t[q]), _mm512_castpd_ps(t[2 + q]),
                               _mm512_castpd_ps(t[4 + q]), _mm512_castpd_ps(t[6 + q]), col);
        for (int l = 0; l < 4; l++) r[2 * l + q] = _mm512_castps_pd(col[l]);
    }
}

#endif
#endif
