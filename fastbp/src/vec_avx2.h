/* The vector vocabulary of fastbp's AVX2 and FMA kernels, for one element type:
   FASTBP_DOUBLE 1 (double, 4 lanes) or 0 (float, 8 lanes); used as vec_avx512.h.
   AVX2 has no mask registers: a FASTBP_MASK is a vector whose lanes are all ones
   (taken) or all zeros, and the masked loads and stores (vmaskmov) touch no memory
   in the lanes left out; where the caller knows every lane is taken (`full`), a
   plain load or store is used instead. */
#include "avx2_common.h"
#include "vec_names.h"

#define FASTBP_ISA FASTBP_AVX2
#define FASTBP_SUFFIX avx2
#define FASTBP_IV __m256i
#define FASTBP_MASK __m256i
#define FASTBP_V_LOADM(p, full, mask) \
    ((full) ? FASTBP_VEC_OP(loadu)(p) : FASTBP_VEC_OP(maskload)(p, mask))
#define FASTBP_V_STOREM(p, full, mask, v) \
    ((full) ? FASTBP_VEC_OP(storeu)(p, v) : FASTBP_VEC_OP(maskstore)(p, mask, v))
#define FASTBP_MASK_NONE _mm256_setzero_si256()
#define FASTBP_I_ZERO _mm256_setzero_si256()
#define FASTBP_I_AND _mm256_and_si256
#define FASTBP_I_OR _mm256_or_si256
#define FASTBP_VEC_OP(op) FASTBP_CAT3(_mm256_, op, FASTBP_VEC_S)

#if FASTBP_DOUBLE
#define FASTBP_X d
#define FASTBP_T double
#define FASTBP_V __m256d
#define FASTBP_LANES 4
#define FASTBP_VEC_S _pd
#define FASTBP_V_BITS _mm256_castpd_si256
#define FASTBP_I_SET1 _mm256_set1_epi64x
#define FASTBP_I_ADD _mm256_add_epi64
#define FASTBP_I_SIGNS(bits) (_mm256_movemask_pd(_mm256_castsi256_pd(bits)) != 0)
#define FASTBP_MASK_FIRST fastbp_avx2_mask_d
#define FASTBP_V_TRANSPOSE fastbp_avx2_transpose_d
#define FASTBP_V_SUM fastbp_avx2_sum_d
#else
#define FASTBP_X f
#define FASTBP_T float
#define FASTBP_V __m256
#define FASTBP_LANES 8
#define FASTBP_VEC_S _ps
#define FASTBP_V_BITS _mm256_castps_si256
#define FASTBP_I_SET1 _mm256_set1_epi32
#define FASTBP_I_ADD _mm256_add_epi32
#define FASTBP_I_SIGNS(bits) (_mm256_movemask_ps(_mm256_castsi256_ps(bits)) != 0)
#define FASTBP_MASK_FIRST fastbp_avx2_mask_f
#define FASTBP_V_TRANSPOSE fastbp_avx2_transpose_f
#define FASTBP_V_SUM fastbp_avx2_sum_f
#endif
