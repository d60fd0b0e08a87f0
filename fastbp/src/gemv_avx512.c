/* fastbp's one-example kernel (gemv_body.h) for AVX-512. */
#include "kernels.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <string.h>

#define FASTBP_DOUBLE 1
#include "vec_avx512.h"
#include "gemv_body.h"
#undef FASTBP_DOUBLE
#define FASTBP_DOUBLE 0
#include "vec_avx512.h"
#include "gemv_body.h"
#endif
