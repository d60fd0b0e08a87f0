/* CPU detection and the table of kernels: the one place that decides which of
   fastbp's own kernels run (see kernels.h). */
#include "kernels.h"
#include <ctype.h>
#include <string.h>

typedef struct {
    const char* isa;
    int (*gemm_d)(int, int, ptrdiff_t, ptrdiff_t, ptrdiff_t, double, const double*,
                  ptrdiff_t, const double*, ptrdiff_t, double, double*, ptrdiff_t, int,
                  int*);
    int (*gemm_f)(int, int, ptrdiff_t, ptrdiff_t, ptrdiff_t, float, const float*,
                  ptrdiff_t, const float*, ptrdiff_t, float, float*, ptrdiff_t, int,
                  int*);
    int (*narrow_d)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double*, const double*,
                    double*, int*, int);
    int (*narrow_f)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float*, const float*,
                    float*, int*, int);
    int (*gemv_d)(ptrdiff_t, ptrdiff_t, const double*, const double*, double*);
    int (*gemv_f)(ptrdiff_t, ptrdiff_t, const float*, const float*, float*);
} fastbp_kernel_table;

static const fastbp_kernel_table fastbp_no_kernels = {"none", 0, 0, 0, 0, 0, 0};
#if FASTBP_HAVE_OWN_KERNELS
static const fastbp_kernel_table fastbp_avx512_kernels = {
    "AVX512F", fastbp_gemm_d_avx512, fastbp_gemm_f_avx512,
    fastbp_narrow_gemm_d_avx512, fastbp_narrow_gemm_f_avx512,
    fastbp_gemv_rows_d_avx512, fastbp_gemv_rows_f_avx512};
#endif

/* The features fastbp knows, in the order it prefers them. */
enum { FASTBP_AVX512F = 1, FASTBP_AVX2 = 2, FASTBP_FMA = 4 };
static const struct { const char* name; int bit; } fastbp_features[] = {
    {"AVX512F", FASTBP_AVX512F}, {"AVX2", FASTBP_AVX2}, {"FMA", FASTBP_FMA}};
#define FASTBP_N_FEATURES (sizeof(fastbp_features) / sizeof(fastbp_features[0]))

static int fastbp_found, fastbp_enabled;
static char fastbp_found_names[64], fastbp_enabled_names[64];
static const fastbp_kernel_table* fastbp_chosen = &fastbp_no_kernels;
static int fastbp_kernels_on = 1;

static void fastbp_names(int bits, char* out, size_t size) {
    out[0] = '\0';
    for (size_t i = 0; i < FASTBP_N_FEATURES; i++) {
        if (!(bits & fastbp_features[i].bit)) continue;
        if (out[0] != '\0') strncat(out, " ", size - strlen(out) - 1);
        strncat(out, fastbp_features[i].name, size - strlen(out) - 1);
    }
}

int fastbp_cpu_init(const char* disable) {
    int unknown = 0;
    fastbp_found = 0;
#if FASTBP_HAVE_OWN_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) fastbp_found |= FASTBP_AVX512F;
    if (__builtin_cpu_supports("avx2")) fastbp_found |= FASTBP_AVX2;
    if (__builtin_cpu_supports("fma")) fastbp_found |= FASTBP_FMA;
#endif
    fastbp_enabled = fastbp_found;
    while (disable != NULL && *disable != '\0') {
        char name[32];
        size_t len = 0;
        while (*disable == ',' || isspace((unsigned char)*disable)) disable++;
        while (*disable != '\0' && *disable != ',' && !isspace((unsigned char)*disable)) {
            if (len + 1 < sizeof(name)) name[len++] = (char)toupper((unsigned char)*disable);
            disable++;
        }
        if (len == 0) continue;
        name[len] = '\0';
        int known = 0;
        for (size_t i = 0; i < FASTBP_N_FEATURES; i++)
            if (strcmp(name, fastbp_features[i].name) == 0) {
                fastbp_enabled &= ~fastbp_features[i].bit;
                known = 1;
            }
        unknown += !known;
    }
    fastbp_names(fastbp_found, fastbp_found_names, sizeof(fastbp_found_names));
    fastbp_names(fastbp_enabled, fastbp_enabled_names, sizeof(fastbp_enabled_names));
    fastbp_chosen = &fastbp_no_kernels;
#if FASTBP_HAVE_OWN_KERNELS
    if (fastbp_enabled & FASTBP_AVX512F) fastbp_chosen = &fastbp_avx512_kernels;
#endif
    return unknown;
}

const char* fastbp_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}

const char* fastbp_cpu_features(void) { return fastbp_found_names; }
const char* fastbp_cpu_enabled(void) { return fastbp_enabled_names; }
const char* fastbp_kernels_isa(void) { return fastbp_chosen->isa; }


int fastbp_own_kernels_active(void) {
    return fastbp_kernels_on && fastbp_chosen != &fastbp_no_kernels;
}

int fastbp_use_own_kernels(int enabled) {
    const int previous = fastbp_own_kernels_active();
    fastbp_kernels_on = enabled != 0;
    return previous;
}

static const fastbp_kernel_table* fastbp_table(void) {
    return fastbp_kernels_on ? fastbp_chosen : &fastbp_no_kernels;
}

int fastbp_gemm_d(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                  const double* a, ptrdiff_t lda, const double* b, ptrdiff_t ldb,
                  double beta, double* c, ptrdiff_t ldc, int threads, int* bad) {
    const fastbp_kernel_table* t = fastbp_table();
    return t->gemm_d != NULL
           && t->gemm_d(at, bt, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, bad);
}
int fastbp_gemm_f(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                  const float* a, ptrdiff_t lda, const float* b, ptrdiff_t ldb,
                  float beta, float* c, ptrdiff_t ldc, int threads, int* bad) {
    const fastbp_kernel_table* t = fastbp_table();
    return t->gemm_f != NULL
           && t->gemm_f(at, bt, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, bad);
}
int fastbp_narrow_gemm_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double* x,
                         const double* w, double* c, int* bad, int threads) {
    const fastbp_kernel_table* t = fastbp_table();
    return t->narrow_d != NULL && t->narrow_d(m, n, k, x, w, c, bad, threads);
}
int fastbp_narrow_gemm_f(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float* x,
                         const float* w, float* c, int* bad, int threads) {
    const fastbp_kernel_table* t = fastbp_table();
    return t->narrow_f != NULL && t->narrow_f(m, n, k, x, w, c, bad, threads);
}
int fastbp_gemv_rows_d(ptrdiff_t n, ptrdiff_t k, const double* w, const double* x,
                       double* y) {
    const fastbp_kernel_table* t = fastbp_table();
    return t->gemv_d != NULL && t->gemv_d(n, k, w, x, y);
}
int fastbp_gemv_rows_f(ptrdiff_t n, ptrdiff_t k, const float* w, const float* x,
                       float* y) {
    const fastbp_kernel_table* t = fastbp_table();
    return t->gemv_f != NULL && t->gemv_f(n, k, w, x, y);
}
