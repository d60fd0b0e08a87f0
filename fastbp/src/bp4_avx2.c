/* The "bp4" kernel (bp4_body.h) for AVX2 and FMA: tiles of 6 rows of C by 2 vectors
   of columns, 12 accumulators, 2 vectors of B and a broadcast of A in the 16
   registers (benchmarks/tried.md has the tiles tried). */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#define FASTBP_BP4_MR 6
#define FASTBP_BP4_NV 2

#define FASTBP_DOUBLE 1
#include "vec_avx2.h"
#include "bp4_body.h"
#undef FASTBP_DOUBLE
#define FASTBP_DOUBLE 0
#include "vec_avx2.h"
#include "bp4_body.h"
#endif
