/* Pieces shared by fastbp's AVX-512 kernel families: the packing copy that also
   checks for NaN and inf (the narrow kernel packs X with it; the GEMM checks A with
   it). Included by gemm_avx512.c and narrow_avx512.c only. */
#ifndef FASTBP_AVX512_COMMON_H
#define FASTBP_AVX512_COMMON_H
#include "platform.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <immintrin.h>

/* Copy `rows` rows of k elements (source row stride lds) to dst (row stride ld >=
   k, zero-filled past k; dst NULL: copy nothing, ld a multiple of LANES), and OR
   into *bits, per lane, (bits & EXP) + ONE of every element: its sign bit ends up
   set iff one of them is NaN or infinite (an exponent field of all ones carries
   into it). I: the integer lanes' suffix (epi64 or epi32). */
#define FASTBP_NARROW_PACK(NAME, T, LANES, S, MASK, I, EXP, ONE)                   \
static inline FASTBP_AVX512 void NAME(ptrdiff_t rows, ptrdiff_t k, const T* src,    \
                                      ptrdiff_t lds, ptrdiff_t ld, T* dst,          \
                                      __m512i* bits) {                             \
    const __m512i exp = _mm512_set1_##I(EXP), one = _mm512_set1_##I(ONE);          \
    __m512i acc = *bits;                                                           \
    for (ptrdiff_t r = 0; r < rows; r++) {                                         \
        for (ptrdiff_t p = 0; p < ld; p += LANES) {                                \
            const MASK mask = k - p >= LANES ? (MASK)-1                            \
                              : k > p ? (MASK)((1u << (k - p)) - 1) : 0;           \
            __m512i v = _mm512_cast##S##_si512(                                    \
                _mm512_maskz_loadu_##S(mask, src + r * lds + p));                  \
            acc = _mm512_or_si512(acc, _mm512_add_##I(_mm512_and_si512(v, exp), one)); \
            if (dst != NULL) _mm512_store_si512((void*)(dst + r * ld + p), v);     \
        }                                                                          \
    }                                                                              \
    *bits = acc;                                                                   \
}

FASTBP_NARROW_PACK(fastbp_narrow_pack_d, double, 8, pd, __mmask8, epi64,
                   0x7ff0000000000000LL, 0x0010000000000000LL)
FASTBP_NARROW_PACK(fastbp_narrow_pack_f, float, 16, ps, __mmask16, epi32,
                   0x7f800000, 0x00800000)

#endif
#endif
