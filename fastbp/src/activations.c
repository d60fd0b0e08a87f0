/* The activations' element-wise loops: sigmoid and exp, written so that
   compilers vectorise them, once for each instruction set (simd.h). */
#include "activations.h"
#include <stdint.h>
#include <string.h>
#include "simd.h"

FASTBP_SIMD_MODULE

/* e^x for x <= 0 (NaN passes through), within about 1 ulp. Written without
   branches or libm calls so that loops over it vectorise, which libm's exp()
   does not allow without -ffast-math: the sigmoid and softmax loops spend most of
   their time here. x = k ln2 + r with |r| <= ln2/2 (k by the 1.5 * 2^52 rounding
   trick), e^r by its Taylor series, 2^k built in the exponent bits. */
static inline double fastbp_exp_nonpos(double x) {
    const double magic = 6755399441055744.0;          /* 1.5 * 2^52 */
    double xc = x < -708.0 ? -708.0 : x;
    double t = xc * 1.4426950408889634 + magic;
    double k = t - magic;
    double r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t bits, kbits;
    memcpy(&bits, &t, sizeof bits);
    kbits = (bits - 0x4338000000000000LL + 1023) << 52;
    double scale;
    memcpy(&scale, &kbits, sizeof scale);
    double result = p * scale;
    return x < -708.0 ? 0.0 : result;
}
static inline float fastbp_expf_nonpos(float x) {
    const float magic = 12582912.0f;                   /* 1.5 * 2^23 */
    float xc = x < -87.0f ? -87.0f : x;
    float t = xc * 1.44269504088896341f + magic;
    float k = t - magic;
    float r = (xc - k * 0.693359375f) - k * -2.12194440e-4f;
    float p = 1.0f / 40320.0f;
    p = p * r + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits, kbits;
    memcpy(&bits, &t, sizeof bits);
    kbits = (bits - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &kbits, sizeof scale);
    float result = p * scale;
    return x < -87.0f ? 0.0f : result;
}

/* z[i, j] = sigma(z[i, j] + b[j]) for z (m, n), with exp() seeing only -|.|.
   A row of n elements that is not a whole number of vectors leaves a scalar
   tail in every row (10 neurons: 2 of every 10 elements, twice the time per
   element). So for short rows, FASTBP_SIGMOID_BLOCK rows at a time are run as
   one flat loop against b repeated that many times: a whole number of vectors
   of any width up to 16 lanes. */
#define FASTBP_SIGMOID_BLOCK 16
#define FASTBP_SIGMOID_MAX_N 128          /* bb: 16 KB of stack in float64 */
#define FASTBP_SIGMOID_LOOP(T, EXP, z, b, count)                             \
    for (ptrdiff_t j = 0; j < (count); j++) {                                \
        T v = (z)[j] + (b)[j];                                               \
        T e = EXP(-(v < 0 ? -v : v));                                        \
        T factor = v >= 0 ? (T)1 : e;                                        \
        (z)[j] = factor / (1 + e);                                           \
    }
#define FASTBP_SIGMOID_ROWS(NAME, T, EXP)                                    \
FASTBP_SIMD_VARIANTS(void, NAME, (T* z, const T* b, ptrdiff_t m, ptrdiff_t n), { \
    ptrdiff_t i = 0;                                                         \
    if (n % FASTBP_SIGMOID_BLOCK && n <= FASTBP_SIGMOID_MAX_N                \
            && m >= FASTBP_SIGMOID_BLOCK) {                                  \
        T bb[FASTBP_SIGMOID_BLOCK * FASTBP_SIGMOID_MAX_N];                   \
        const ptrdiff_t len = FASTBP_SIGMOID_BLOCK * n;                      \
        for (int r = 0; r < FASTBP_SIGMOID_BLOCK; r++)                       \
            memcpy(bb + r * n, b, n * sizeof(T));                            \
        for (; i + FASTBP_SIGMOID_BLOCK <= m; i += FASTBP_SIGMOID_BLOCK) {   \
            T* block = z + i * n;                                            \
            FASTBP_SIGMOID_LOOP(T, EXP, block, bb, len)                      \
        }                                                                    \
    }                                                                        \
    for (; i < m; i++) {                                                     \
        T* row = z + i * n;                                                  \
        FASTBP_SIGMOID_LOOP(T, EXP, row, b, n)                               \
    }                                                                        \
})                                                                           \
void NAME(T* z, const T* b, ptrdiff_t m, ptrdiff_t n) {                      \
    FASTBP_SIMD_PICK(NAME)(z, b, m, n);                                      \
}
FASTBP_SIGMOID_ROWS(fastbp_sigmoid_rows_d, double, fastbp_exp_nonpos)
FASTBP_SIGMOID_ROWS(fastbp_sigmoid_rows_f, float, fastbp_expf_nonpos)

/* x[j] = exp(x[j]) for x[j] <= 0 */
#define FASTBP_EXP_INPLACE(NAME, T, EXP)                                     \
FASTBP_SIMD_VARIANTS(void, NAME, (T* x, ptrdiff_t n), {                     \
    for (ptrdiff_t j = 0; j < n; j++) x[j] = EXP(x[j]);                      \
})                                                                           \
void NAME(T* x, ptrdiff_t n) { FASTBP_SIMD_PICK(NAME)(x, n); }
FASTBP_EXP_INPLACE(fastbp_exp_nonpos_inplace_d, double, fastbp_exp_nonpos)
FASTBP_EXP_INPLACE(fastbp_exp_nonpos_inplace_f, float, fastbp_expf_nonpos)
