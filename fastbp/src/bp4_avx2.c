/* The "bp4" kernel (bp4_body.h) for AVX2 and FMA: tiles of MR rows of C by NR
   vectors of columns, MR x NR accumulators, NR vectors of B and a broadcast of A
   in the 16 registers (benchmarks/tried.md has the tiles tried). AVX2 has no mask
   registers: a mask is a vector of all-ones or all-zero lanes (avx2_common.h). */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#include "avx2_common.h"

#define FASTBP_BP4_NAME fastbp_bp4_d_avx2
#define FASTBP_BP4_ISA FASTBP_AVX2
#define FASTBP_BP4_T double
#define FASTBP_BP4_V __m256d
#define FASTBP_BP4_LANES 4
#define FASTBP_BP4_MR 6
#define FASTBP_BP4_NR 2
#define FASTBP_BP4_MASK __m256i
#define FASTBP_BP4_MASK_FIRST fastbp_avx2_mask_d
#define FASTBP_BP4_LOAD(p) _mm256_loadu_pd(p)
#define FASTBP_BP4_STORE(p, v) _mm256_storeu_pd(p, v)
#define FASTBP_BP4_LOAD_PART(p, mask) _mm256_maskload_pd(p, mask)
#define FASTBP_BP4_STORE_PART(p, mask, v) _mm256_maskstore_pd(p, mask, v)
#define FASTBP_BP4_SET1 _mm256_set1_pd
#define FASTBP_BP4_FMA _mm256_fmadd_pd
#define FASTBP_BP4_MUL _mm256_mul_pd
#define FASTBP_BP4_ZERO _mm256_setzero_pd()
#include "bp4_body.h"

#define FASTBP_BP4_NAME fastbp_bp4_f_avx2
#define FASTBP_BP4_ISA FASTBP_AVX2
#define FASTBP_BP4_T float
#define FASTBP_BP4_V __m256
#define FASTBP_BP4_LANES 8
#define FASTBP_BP4_MR 6
#define FASTBP_BP4_NR 2
#define FASTBP_BP4_MASK __m256i
#define FASTBP_BP4_MASK_FIRST fastbp_avx2_mask_f
#define FASTBP_BP4_LOAD(p) _mm256_loadu_ps(p)
#define FASTBP_BP4_STORE(p, v) _mm256_storeu_ps(p, v)
#define FASTBP_BP4_LOAD_PART(p, mask) _mm256_maskload_ps(p, mask)
#define FASTBP_BP4_STORE_PART(p, mask, v) _mm256_maskstore_ps(p, mask, v)
#define FASTBP_BP4_SET1 _mm256_set1_ps
#define FASTBP_BP4_FMA _mm256_fmadd_ps
#define FASTBP_BP4_MUL _mm256_mul_ps
#define FASTBP_BP4_ZERO _mm256_setzero_ps()
#include "bp4_body.h"
#endif
