/* The "dots" kernel (dots_body.h) for AVX2 and FMA: tiles of 4 rows of A by 3 rows
   of B, 12 accumulators, 3 rows of B and 1 of A in the 16 registers (5 x 2, 3 x 3
   and 2 x 5 were slower; benchmarks/tried.md). */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#include "avx2_common.h"

#define FASTBP_DOTS_NAME fastbp_dots_d_avx2
#define FASTBP_DOTS_ISA FASTBP_AVX2
#define FASTBP_DOTS_T double
#define FASTBP_DOTS_V __m256d
#define FASTBP_DOTS_LANES 4
#define FASTBP_DOTS_MR 4
#define FASTBP_DOTS_NR 3
#define FASTBP_DOTS_LOAD(p) _mm256_loadu_pd(p)
#define FASTBP_DOTS_LOAD_FIRST(p, count) _mm256_maskload_pd(p, fastbp_avx2_mask_d(count))
#define FASTBP_DOTS_FMA _mm256_fmadd_pd
#define FASTBP_DOTS_ZERO _mm256_setzero_pd()
#define FASTBP_DOTS_SUM fastbp_avx2_sum_d
#include "dots_body.h"

#define FASTBP_DOTS_NAME fastbp_dots_f_avx2
#define FASTBP_DOTS_ISA FASTBP_AVX2
#define FASTBP_DOTS_T float
#define FASTBP_DOTS_V __m256
#define FASTBP_DOTS_LANES 8
#define FASTBP_DOTS_MR 4
#define FASTBP_DOTS_NR 3
#define FASTBP_DOTS_LOAD(p) _mm256_loadu_ps(p)
#define FASTBP_DOTS_LOAD_FIRST(p, count) _mm256_maskload_ps(p, fastbp_avx2_mask_f(count))
#define FASTBP_DOTS_FMA _mm256_fmadd_ps
#define FASTBP_DOTS_ZERO _mm256_setzero_ps()
#define FASTBP_DOTS_SUM fastbp_avx2_sum_f
#include "dots_body.h"
#endif
