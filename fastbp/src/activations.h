/* The element-wise loops of the activations (see _activations.pyx). */
#ifndef FASTBP_ACTIVATIONS_H
#define FASTBP_ACTIVATIONS_H
#include <stddef.h>
/* z[i, j] = sigmoid(z[i, j] + b[j]) for z (m, n) row-major. */
void fastbp_sigmoid_rows_d(double* z, const double* b, ptrdiff_t m, ptrdiff_t n);
void fastbp_sigmoid_rows_f(float* z, const float* b, ptrdiff_t m, ptrdiff_t n);
/* x[j] = exp(x[j]) for x[j] <= 0 (NaN passes through). */
void fastbp_exp_nonpos_inplace_d(double* x, ptrdiff_t n);
void fastbp_exp_nonpos_inplace_f(float* x, ptrdiff_t n);
#endif
