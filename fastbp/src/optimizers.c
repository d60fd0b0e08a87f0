/* The optimisers' element-wise updates, one pass over a parameter array and its
   state. In C with restrict pointers (p, g and the state never overlap) so that
   compilers vectorise them; the Cython loops they replace were scalar (their
   pointers could alias, and sqrt kept errno). sqrt is IEEE's correctly rounded
   square root in every lane, and the build turns contraction off, so every
   variant (simd.h) gives the bits of the scalar loop. */
#include "optimizers.h"
#include <math.h>
#include "simd.h"

FASTBP_SIMD_MODULE

#if defined(__GNUC__)
#define FASTBP_RESTRICT __restrict__
#else
#define FASTBP_RESTRICT
#endif

/* Adam's state v is a running mean of squares, never negative: a square root
   with no errno to set (the build passes -fno-math-errno) becomes one vector
   instruction. Adam's step is taken in double for float32 too, as it always was
   (the result rounded once to float32), so its bits did not change. */
#define FASTBP_UPDATES(X, T)                                                 \
FASTBP_SIMD_VARIANTS(void, fastbp_momentum_##X, (ptrdiff_t n, T* FASTBP_RESTRICT p,  \
        const T* FASTBP_RESTRICT g, T* FASTBP_RESTRICT v, T eta, T mu, T lam), {    \
    for (ptrdiff_t i = 0; i < n; i++) {                                            \
        const T gi = g[i] + lam * p[i];                                            \
        v[i] = mu * v[i] - eta * gi;                                               \
        p[i] += v[i];                                                              \
    }                                                                              \
})                                                                                 \
void fastbp_momentum_##X(ptrdiff_t n, T* p, const T* g, T* v, T eta, T mu, T lam) { \
    FASTBP_SIMD_PICK(fastbp_momentum_##X)(n, p, g, v, eta, mu, lam);               \
}                                                                                  \
FASTBP_SIMD_VARIANTS(void, fastbp_nesterov_##X, (ptrdiff_t n, T* FASTBP_RESTRICT p,  \
        const T* FASTBP_RESTRICT g, T* FASTBP_RESTRICT v, T eta, T mu, T lam), {    \
    for (ptrdiff_t i = 0; i < n; i++) {                                            \
        const T gi = g[i] + lam * p[i];                                            \
        v[i] = mu * v[i] - eta * gi;                                               \
        p[i] += mu * v[i] - eta * gi;                                              \
    }                                                                              \
})                                                                                 \
void fastbp_nesterov_##X(ptrdiff_t n, T* p, const T* g, T* v, T eta, T mu, T lam) { \
    FASTBP_SIMD_PICK(fastbp_nesterov_##X)(n, p, g, v, eta, mu, lam);               \
}                                                                                  \
FASTBP_SIMD_VARIANTS(void, fastbp_adam_##X, (ptrdiff_t n, T* FASTBP_RESTRICT p,      \
        const T* FASTBP_RESTRICT g, T* FASTBP_RESTRICT m, T* FASTBP_RESTRICT v,     \
        T eta_t, T b1, T b2, T eps, T lam), {                                      \
    for (ptrdiff_t i = 0; i < n; i++) {                                            \
        const T gi = g[i] + lam * p[i];                                            \
        m[i] = b1 * m[i] + (1 - b1) * gi;                                          \
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;                                     \
        p[i] = (T)(p[i] - (double)(eta_t * m[i]) / (sqrt((double)v[i]) + (double)eps)); \
    }                                                                              \
})                                                                                 \
void fastbp_adam_##X(ptrdiff_t n, T* p, const T* g, T* m, T* v, T eta_t, T b1, T b2, \
                     T eps, T lam) {                                               \
    FASTBP_SIMD_PICK(fastbp_adam_##X)(n, p, g, m, v, eta_t, b1, b2, eps, lam);     \
}

FASTBP_UPDATES(d, double)
FASTBP_UPDATES(f, float)
