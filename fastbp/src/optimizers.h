/* The element-wise parameter updates of momentum, Nesterov momentum and Adam (see
   _optimizers.pyx, which documents each rule). */
#ifndef FASTBP_OPTIMIZERS_H
#define FASTBP_OPTIMIZERS_H
#include <stddef.h>
/* v <- mu v - eta (g + lam p);  p <- p + v. */
void fastbp_momentum_d(ptrdiff_t n, double* p, const double* g, double* v, double eta,
                       double mu, double lam);
void fastbp_momentum_f(ptrdiff_t n, float* p, const float* g, float* v, float eta,
                       float mu, float lam);
/* v <- mu v - eta gl;  p <- p + mu v - eta gl, with gl = g + lam p. */
void fastbp_nesterov_d(ptrdiff_t n, double* p, const double* g, double* v, double eta,
                       double mu, double lam);
void fastbp_nesterov_f(ptrdiff_t n, float* p, const float* g, float* v, float eta,
                       float mu, float lam);
/* m <- b1 m + (1 - b1) gl;  v <- b2 v + (1 - b2) gl^2;  p <- p - eta_t m / (sqrt(v) + eps). */
void fastbp_adam_d(ptrdiff_t n, double* p, const double* g, double* m, double* v,
                   double eta_t, double b1, double b2, double eps, double lam);
void fastbp_adam_f(ptrdiff_t n, float* p, const float* g, float* m, float* v,
                   float eta_t, float b1, float b2, float eps, float lam);
#endif
