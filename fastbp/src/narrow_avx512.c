/* fastbp's narrow kernel (narrow_body.h) for AVX-512: tiles of 4 rows of X by 6
   rows of W, 24 accumulators, the 4 vectors of X and one of W in the 32
   registers. */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#define FASTBP_NARROW_NW 6
#define FASTBP_NARROW_X_IN_REGISTERS 1

#define FASTBP_DOUBLE 1
#include "vec_avx512.h"
#include "narrow_body.h"
#undef FASTBP_DOUBLE
#define FASTBP_DOUBLE 0
#include "vec_avx512.h"
#include "narrow_body.h"
#endif
