/* fastbp's GEMM (gemm_body.h) for AVX-512: tiles of 6 rows by 4 vectors of
   columns, 24 accumulators of the 32 registers; products whose op(A) exceeds
   FASTBP_GEMM_MAX_A_BYTES run block-major (see gemm_body.h). */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#define FASTBP_GEMM_NV 4

#define FASTBP_DOUBLE 1
#include "vec_avx512.h"
#include "gemm_body.h"
#undef FASTBP_DOUBLE
#define FASTBP_DOUBLE 0
#include "vec_avx512.h"
#include "gemm_body.h"
#endif
