/* CPU detection and the per-instruction-set table of kernels (see kernels.h);
   which path computes a product is the planner's choice (planner.c). */
#include "kernels.h"
#include "pool.h"
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
    void (*gemv_d)(ptrdiff_t, ptrdiff_t, const double*, const double*, double*);
    void (*gemv_f)(ptrdiff_t, ptrdiff_t, const float*, const float*, float*);
    void (*dots_d)(ptrdiff_t, ptrdiff_t, ptrdiff_t, double, const double*, ptrdiff_t,
                   const double*, ptrdiff_t, double, double*, ptrdiff_t);
    void (*dots_f)(ptrdiff_t, ptrdiff_t, ptrdiff_t, float, const float*, ptrdiff_t,
                   const float*, ptrdiff_t, float, float*, ptrdiff_t);
    void (*bp4_d)(ptrdiff_t, ptrdiff_t, ptrdiff_t, double, const double*, ptrdiff_t,
                  const double*, ptrdiff_t, double, double*, ptrdiff_t);
    void (*bp4_f)(ptrdiff_t, ptrdiff_t, ptrdiff_t, float, const float*, ptrdiff_t,
                  const float*, ptrdiff_t, float, float*, ptrdiff_t);
    int gemm_tile_bytes;            /* the width of the GEMM's column tiles */
} fastbp_kernel_table;

static const fastbp_kernel_table fastbp_no_kernels = {"none", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
#if FASTBP_HAVE_OWN_KERNELS
static const fastbp_kernel_table fastbp_avx512_kernels = {
    "AVX512F", fastbp_gemm_d_avx512, fastbp_gemm_f_avx512,
    fastbp_narrow_gemm_d_avx512, fastbp_narrow_gemm_f_avx512,
    fastbp_gemv_rows_d_avx512, fastbp_gemv_rows_f_avx512,
    fastbp_dots_d_avx512, fastbp_dots_f_avx512,
    fastbp_bp4_d_avx512, fastbp_bp4_f_avx512, 4 * 64};
static const fastbp_kernel_table fastbp_avx2_kernels = {
    "AVX2", fastbp_gemm_d_avx2, fastbp_gemm_f_avx2,
    fastbp_narrow_gemm_d_avx2, fastbp_narrow_gemm_f_avx2,
    fastbp_gemv_rows_d_avx2, fastbp_gemv_rows_f_avx2,
    fastbp_dots_d_avx2, fastbp_dots_f_avx2,
    fastbp_bp4_d_avx2, fastbp_bp4_f_avx2, 2 * 32};
#endif

/* The features fastbp knows, in the order it prefers them. */
enum { FASTBP_FEATURE_AVX512F = 1, FASTBP_FEATURE_AVX2 = 2, FASTBP_FEATURE_FMA = 4 };
static const struct { const char* name; int bit; } fastbp_features[] = {
    {"AVX512F", FASTBP_FEATURE_AVX512F},
    {"AVX2", FASTBP_FEATURE_AVX2},
    {"FMA", FASTBP_FEATURE_FMA}};
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
    if (__builtin_cpu_supports("avx512f")) fastbp_found |= FASTBP_FEATURE_AVX512F;
    if (__builtin_cpu_supports("avx2")) fastbp_found |= FASTBP_FEATURE_AVX2;
    if (__builtin_cpu_supports("fma")) fastbp_found |= FASTBP_FEATURE_FMA;
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
    if (fastbp_enabled & FASTBP_FEATURE_AVX512F)
        fastbp_chosen = &fastbp_avx512_kernels;
    else if ((fastbp_enabled & FASTBP_FEATURE_AVX2) && (fastbp_enabled & FASTBP_FEATURE_FMA))
        fastbp_chosen = &fastbp_avx2_kernels;
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
int fastbp_gemm_tile_bytes(void) { return fastbp_chosen->gemm_tile_bytes; }


int fastbp_own_kernels_active(void) {
    return fastbp_kernels_on && fastbp_chosen != &fastbp_no_kernels;
}

int fastbp_kernels_column(void) {
    if (!fastbp_own_kernels_active()) return 2;
#if FASTBP_HAVE_OWN_KERNELS
    if (fastbp_chosen == &fastbp_avx2_kernels) return 1;
#endif
    return 0;
}

/* Returns the switch's previous setting (not whether kernels were in use), so that
   restoring it after a CPU without kernels does not leave them off for good. */
int fastbp_use_own_kernels(int enabled) {
    const int previous = fastbp_kernels_on;
    fastbp_kernels_on = enabled != 0;
    return previous;
}

static const fastbp_kernel_table* fastbp_table(void) {
    return fastbp_kernels_on ? fastbp_chosen : &fastbp_no_kernels;
}

/* How many products the own GEMM has computed since import: a test hook (one
   relaxed atomic add per product, nothing next to the product itself), so tests
   can tell that the engine chose it where both paths give the same bits. */
#if FASTBP_HAVE_OWN_KERNELS
static long fastbp_gemm_calls;
long fastbp_gemm_count(void) { return __atomic_load_n(&fastbp_gemm_calls, __ATOMIC_RELAXED); }
static int fastbp_counted(int done) {
    if (done) __atomic_add_fetch(&fastbp_gemm_calls, 1, __ATOMIC_RELAXED);
    return done;
}
#else
long fastbp_gemm_count(void) { return 0; }
static int fastbp_counted(int done) { return done; }
#endif

int fastbp_gemm_d(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                  const double* a, ptrdiff_t lda, const double* b, ptrdiff_t ldb,
                  double beta, double* c, ptrdiff_t ldc, int threads, int* bad) {
    const fastbp_kernel_table* t = fastbp_table();
    return fastbp_counted(t->gemm_d != NULL
           && t->gemm_d(at, bt, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, bad));
}
int fastbp_gemm_f(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                  const float* a, ptrdiff_t lda, const float* b, ptrdiff_t ldb,
                  float beta, float* c, ptrdiff_t ldc, int threads, int* bad) {
    const fastbp_kernel_table* t = fastbp_table();
    return fastbp_counted(t->gemm_f != NULL
           && t->gemm_f(at, bt, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, bad));
}
/* The dots and bp4 kernels for the planner's few-row products (one thread). */
#define FASTBP_FEW_ROWS_ENTRY(FAMILY, X, T)                                        \
int fastbp_##FAMILY##_##X(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha,          \
                          const T* a, ptrdiff_t lda, const T* b, ptrdiff_t ldb,    \
                          T beta, T* c, ptrdiff_t ldc) {                           \
    const fastbp_kernel_table* t = fastbp_table();                                 \
    if (t->FAMILY##_##X == NULL) return 0;                                         \
    t->FAMILY##_##X(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                 \
    return 1;                                                                      \
}
FASTBP_FEW_ROWS_ENTRY(dots, d, double)
FASTBP_FEW_ROWS_ENTRY(dots, f, float)
FASTBP_FEW_ROWS_ENTRY(bp4, d, double)
FASTBP_FEW_ROWS_ENTRY(bp4, f, float)
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
/* One-example products, y = W @ x. A W larger than L1 (the book's 30 x 784 float64
   is 188 KB) is read from L2 at every call, and that read is most of the call's
   time. So when a second thread is allowed and worker 0 is awake (calls come in a
   burst), the worker computes the second half of the rows, from its own core's
   L2, while this thread computes the first (where the planner allows it: a W of
   well over L1, gemv_share_bytes): each row is one dot product computed
   by the same kernel on either thread, so the bits do not change. A sleeping
   worker is not waited for; the calls then run on one thread. The first half is
   a whole number of 64-byte lines of y, so no line of an aligned y is written by
   both threads. fastbp_gemv_splits counts the halves workers computed (a test
   hook). */
#if FASTBP_HAVE_OWN_KERNELS
static long fastbp_gemv_splits;
int fastbp_gemv_split = 1;                  /* off: a test hook */
long fastbp_gemv_split_count(void) {
    return __atomic_load_n(&fastbp_gemv_splits, __ATOMIC_RELAXED);
}

#define FASTBP_GEMV_SPLIT(X, T)                                                    \
typedef struct {                                                                   \
    void (*rows)(ptrdiff_t, ptrdiff_t, const T*, const T*, T*);                    \
    ptrdiff_t n, k; const T* w; const T* x; T* y;                                  \
} fastbp_gemv_job_##X;                                                             \
static void* fastbp_gemv_task_##X(void* arg) {                                     \
    fastbp_gemv_job_##X* job = (fastbp_gemv_job_##X*)arg;                          \
    job->rows(job->n, job->k, job->w, job->x, job->y);                             \
    return NULL;                                                                   \
}                                                                                  \
int fastbp_gemv_rows_##X(ptrdiff_t n, ptrdiff_t k, const T* w, const T* x, T* y,   \
                         int share) {                                               \
    const fastbp_kernel_table* t = fastbp_table();                                 \
    const ptrdiff_t line = 64 / sizeof(T), h = (n / 2 + line - 1) / line * line;   \
    int mode;                                                                      \
    if (t->gemv_##X == NULL) return 0;                                             \
    if (share && fastbp_gemv_split && h < n && fastbp_threads() > 1                \
            && (mode = fastbp_pool_acquire_awake())) {                             \
        fastbp_gemv_job_##X job = {t->gemv_##X, n - h, k, w + h * k, x, y + h};    \
        fastbp_pool_hand_out(fastbp_gemv_task_##X, (char*)&job, 0, 2, mode == 2);  \
        t->gemv_##X(h, k, w, x, y);                                                \
        if (fastbp_pool_cancel())                                                  \
            fastbp_gemv_task_##X(&job);                                            \
        else                                                                       \
            __atomic_add_fetch(&fastbp_gemv_splits, 1, __ATOMIC_RELAXED);          \
        fastbp_pool_release();                                                     \
        return 1;                                                                  \
    }                                                                              \
    t->gemv_##X(n, k, w, x, y);                                                    \
    return 1;                                                                      \
}
FASTBP_GEMV_SPLIT(d, double)
FASTBP_GEMV_SPLIT(f, float)
#else
int fastbp_gemv_split = 0;
long fastbp_gemv_split_count(void) { return 0; }
int fastbp_gemv_rows_d(ptrdiff_t n, ptrdiff_t k, const double* w, const double* x,
                       double* y, int share) {
    (void)n; (void)k; (void)w; (void)x; (void)y; (void)share;
    return 0;
}
int fastbp_gemv_rows_f(ptrdiff_t n, ptrdiff_t k, const float* w, const float* x,
                       float* y, int share) {
    (void)n; (void)k; (void)w; (void)x; (void)y; (void)share;
    return 0;
}
#endif
