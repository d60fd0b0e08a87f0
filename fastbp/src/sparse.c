/* The first layer's products on sparse input (see sparse.h). Plain C, no vector
   intrinsics: each entry costs a gather or a scatter, which the compiler cannot
   vectorise without reordering sums, and every CPU gives the same bits. */
#include "sparse.h"
#include <string.h>
#include "finite.h"

#define REAL double
#define SUFFIX d
#define NONFINITE fastbp_any_nonfinite_d
#include "sparse_body.h"
#undef REAL
#undef SUFFIX
#undef NONFINITE

#define REAL float
#define SUFFIX f
#define NONFINITE fastbp_any_nonfinite_f
#include "sparse_body.h"
#undef REAL
#undef SUFFIX
#undef NONFINITE
