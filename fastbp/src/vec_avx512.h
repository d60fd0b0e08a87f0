/* The vector vocabulary of fastbp's AVX-512 kernels, for one element type:
   FASTBP_DOUBLE 1 (double, 8 lanes) or 0 (float, 16 lanes). A kernel file defines
   FASTBP_DOUBLE, includes this file, then a body (gemm_body.h, narrow_body.h,
   gemv_body.h), and again for the other type; vec_avx2.h defines the same names
   for AVX2 (vec_names.h lists them). AVX-512 has mask registers: a FASTBP_MASK
   is a bit per lane, and the masked loads and stores touch no memory in the
   lanes it leaves out. */
#include "avx512_common.h"
#include "vec_names.h"

#define FASTBP_ISA FASTBP_AVX512
#define FASTBP_SUFFIX avx512
#define FASTBP_IV __m512i
/* full: all lanes are taken (a hint AVX2 uses; mask says it too) */
#define FASTBP_V_LOADM(p, full, mask) ((void)(full), FASTBP_VEC_OP(maskz_loadu)(mask, p))
#define FASTBP_V_STOREM(p, full, mask, v) \
    ((void)(full), FASTBP_VEC_OP(mask_storeu)(p, mask, v))
#define FASTBP_MASK_NONE ((FASTBP_MASK)0)
#define FASTBP_I_ZERO _mm512_setzero_si512()
#define FASTBP_I_AND _mm512_and_si512
#define FASTBP_I_OR _mm512_or_si512
#define FASTBP_VEC_OP(op) FASTBP_CAT3(_mm512_, op, FASTBP_VEC_S)

#if FASTBP_DOUBLE
#define FASTBP_X d
#define FASTBP_T double
#define FASTBP_V __m512d
#define FASTBP_LANES 8
#define FASTBP_MASK __mmask8
#define FASTBP_VEC_S _pd
#define FASTBP_V_BITS _mm512_castpd_si512
#define FASTBP_I_SET1 _mm512_set1_epi64
#define FASTBP_I_ADD _mm512_add_epi64
#define FASTBP_I_SIGNS(bits) (_mm512_cmplt_epi64_mask(bits, _mm512_setzero_si512()) != 0)
#define FASTBP_MASK_FIRST fastbp_avx512_mask_d
#define FASTBP_V_TRANSPOSE fastbp_avx512_transpose_d
#else
#define FASTBP_X f
#define FASTBP_T float
#define FASTBP_V __m512
#define FASTBP_LANES 16
#define FASTBP_MASK __mmask16
#define FASTBP_VEC_S _ps
#define FASTBP_V_BITS _mm512_castps_si512
#define FASTBP_I_SET1 _mm512_set1_epi32
#define FASTBP_I_ADD _mm512_add_epi32
#define FASTBP_I_SIGNS(bits) (_mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512()) != 0)
#define FASTBP_MASK_FIRST fastbp_avx512_mask_f
#define FASTBP_V_TRANSPOSE fastbp_avx512_transpose_f
#endif
/* the sum of a vector's lanes, always in the same order */
#define FASTBP_V_SUM FASTBP_VEC_OP(reduce_add)
