/* fastbp's narrow kernel (narrow_body.h) for AVX2 and FMA: tiles of 4 rows of X by 3
   rows of W, 12 accumulators; each vector of X is a memory operand of its FMAs
   (16 registers). */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#define FASTBP_NARROW_NW 3
#define FASTBP_NARROW_X_IN_REGISTERS 0

#define FASTBP_DOUBLE 1
#include "vec_avx2.h"
#include "narrow_body.h"
#undef FASTBP_DOUBLE
#define FASTBP_DOUBLE 0
#include "vec_avx2.h"
#include "narrow_body.h"
#endif
