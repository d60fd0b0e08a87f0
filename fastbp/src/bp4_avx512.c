/* The "bp4" kernel (bp4_body.h) for AVX-512: tiles of 6 rows of C by 4 vectors of
   columns, 24 accumulators, 4 vectors of B and a broadcast of A in the 32
   registers (benchmarks/tried.md has the tiles tried). */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#define FASTBP_BP4_MR 6
#define FASTBP_BP4_NV 4

#define FASTBP_DOUBLE 1
#include "vec_avx512.h"
#include "bp4_body.h"
#undef FASTBP_DOUBLE
#define FASTBP_DOUBLE 0
#include "vec_avx512.h"
#include "bp4_body.h"
#endif
