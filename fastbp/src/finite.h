/* Whether an array of floats holds NaN or infinity (see finite.c), and the count of
   mini-batches gathered on a worker thread (a test hook of _backprop). */
#ifndef FASTBP_FINITE_H
#define FASTBP_FINITE_H
#include <stddef.h>
int fastbp_any_nonfinite_d(const void* data, ptrdiff_t n);
int fastbp_any_nonfinite_f(const void* data, ptrdiff_t n);
void fastbp_count_gathered(void);
long fastbp_gathered(void);
#endif
