/* The "bp4" kernel (bp4_body.h) for AVX-512: tiles of MR rows of C by NR vectors
   of columns, MR x NR accumulators, NR vectors of B and a broadcast of A in the 32
   registers (benchmarks/tried.md has the tiles tried). */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <immintrin.h>

#define FASTBP_BP4_NAME fastbp_bp4_d_avx512
#define FASTBP_BP4_ISA FASTBP_AVX512
#define FASTBP_BP4_T double
#define FASTBP_BP4_V __m512d
#define FASTBP_BP4_LANES 8
#define FASTBP_BP4_MR 6
#define FASTBP_BP4_NR 4
#define FASTBP_BP4_MASK __mmask8
#define FASTBP_BP4_MASK_FIRST(count) ((__mmask8)((1u << (count)) - 1))
#define FASTBP_BP4_LOAD(p) _mm512_loadu_pd(p)
#define FASTBP_BP4_STORE(p, v) _mm512_storeu_pd(p, v)
#define FASTBP_BP4_LOAD_PART(p, mask) _mm512_maskz_loadu_pd(mask, p)
#define FASTBP_BP4_STORE_PART(p, mask, v) _mm512_mask_storeu_pd(p, mask, v)
#define FASTBP_BP4_SET1 _mm512_set1_pd
#define FASTBP_BP4_FMA _mm512_fmadd_pd
#define FASTBP_BP4_MUL _mm512_mul_pd
#define FASTBP_BP4_ZERO _mm512_setzero_pd()
#include "bp4_body.h"

#define FASTBP_BP4_NAME fastbp_bp4_f_avx512
#define FASTBP_BP4_ISA FASTBP_AVX512
#define FASTBP_BP4_T float
#define FASTBP_BP4_V __m512
#define FASTBP_BP4_LANES 16
#define FASTBP_BP4_MR 6
#define FASTBP_BP4_NR 4
#define FASTBP_BP4_MASK __mmask16
#define FASTBP_BP4_MASK_FIRST(count) ((__mmask16)((1u << (count)) - 1))
#define FASTBP_BP4_LOAD(p) _mm512_loadu_ps(p)
#define FASTBP_BP4_STORE(p, v) _mm512_storeu_ps(p, v)
#define FASTBP_BP4_LOAD_PART(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define FASTBP_BP4_STORE_PART(p, mask, v) _mm512_mask_storeu_ps(p, mask, v)
#define FASTBP_BP4_SET1 _mm512_set1_ps
#define FASTBP_BP4_FMA _mm512_fmadd_ps
#define FASTBP_BP4_MUL _mm512_mul_ps
#define FASTBP_BP4_ZERO _mm512_setzero_ps()
#include "bp4_body.h"
#endif
