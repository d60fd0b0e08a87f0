/* Pieces shared by fastbp's AVX2 kernel families (gemm_avx2.c, narrow_avx2.c,
   gemv_avx2.c): lane masks, the packing copy that also checks for NaN and inf, the
   sum across lanes, and the in-register transposes. AVX2 has no mask registers:
   a mask is a vector whose lanes are all ones (taken) or all zeros, and the
   masked loads and stores (vmaskmov) touch no memory in lanes left out. Each
   piece comes in d (double, 4 lanes) and f (float, 8 lanes). */
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

/* Copy `rows` rows of k elements (source row stride lds) to dst (row stride ld >=
   k, a multiple of LANES, zero-filled past k; dst NULL: copy nothing), and OR into
   *bits, per lane, (bits & EXP) + ONE of every element: its sign bit ends up set
   iff one of them is NaN or infinite (an exponent field of all ones carries into
   it). fastbp_avx2_bad_d/_f tell from *bits. I: the integer lanes' suffix. */
#define FASTBP_AVX2_PACK(NAME, T, LANES, S, I, SET1, EXP, ONE, MASK)                \
static inline FASTBP_AVX2 void NAME(ptrdiff_t rows, ptrdiff_t k, const T* src,      \
                                    ptrdiff_t lds, ptrdiff_t ld, T* dst,            \
                                    __m256i* bits) {                               \
    const __m256i exp = SET1(EXP), one = SET1(ONE), tail = MASK(k % LANES);         \
    const ptrdiff_t body = k - k % LANES;                                          \
    __m256i acc = *bits;                                                           \
    for (ptrdiff_t r = 0; r < rows; r++) {                                         \
        const T* s = src + r * lds;                                                \
        for (ptrdiff_t p = 0; p < ld; p += LANES) {                                \
            const __m256i v = _mm256_cast##S##_si256(                              \
                p < body ? _mm256_loadu_##S(s + p)                                 \
                : p < k ? _mm256_maskload_##S(s + p, tail) : _mm256_setzero_##S()); \
            acc = _mm256_or_si256(acc, _mm256_add_##I(_mm256_and_si256(v, exp), one)); \
            if (dst != NULL) _mm256_store_si256((__m256i*)(dst + r * ld + p), v);  \
        }                                                                          \
    }                                                                              \
    *bits = acc;                                                                   \
}
FASTBP_AVX2_PACK(fastbp_avx2_pack_d, double, 4, pd, epi64, _mm256_set1_epi64x,
                 0x7ff0000000000000LL, 0x0010000000000000LL, fastbp_avx2_mask_d)
FASTBP_AVX2_PACK(fastbp_avx2_pack_f, float, 8, ps, epi32, _mm256_set1_epi32,
                 0x7f800000, 0x00800000, fastbp_avx2_mask_f)

/* Whether the bits that FASTBP_AVX2_PACK gathered saw a NaN or an infinity: the
   sign bit of any lane of the element's width. */
static inline FASTBP_AVX2 int fastbp_avx2_bad_d(__m256i bits) {
    return _mm256_movemask_pd(_mm256_castsi256_pd(bits)) != 0;
}
static inline FASTBP_AVX2 int fastbp_avx2_bad_f(__m256i bits) {
    return _mm256_movemask_ps(_mm256_castsi256_ps(bits)) != 0;
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
