/* fastbp's one-example kernel for AVX-512: y = W @ x (see kernels.h). */
#include "kernels.h"
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <string.h>
#include <immintrin.h>

/* y[j] = W[j, :] @ x for the n rows of W (n, k): one row at a time, in four
   accumulators over consecutive vectors (element p lands in accumulator
   p / LANES % 4, lane p % LANES, whatever the alignment). One row at a time
   streams W through the cache in order, which OpenBLAS's GEMV, reading four rows
   at once, does not. V: the AVX-512 vector type.

   A W larger than L1 (the book's 30 x 784 float64 is 188 KB) is read from L2 at
   every call, and that read is most of the call's time. So when a second thread
   is allowed and worker 0 is awake (calls come in a burst), the worker computes
   the second half of the rows, from its own core's L2, while this thread computes
   the first: each row is one dot product computed by the same code on either
   thread, so the bits do not change. A sleeping worker is not waited for; the
   calls then run on one thread. fastbp_gemv_splits counts the halves workers
   computed (a test hook). */
#define FASTBP_GEMV_COPY 2048
#define FASTBP_GEMV_SPLIT_BYTES (128 * 1024)
static long fastbp_gemv_splits;
int fastbp_gemv_split = 1;                  /* off: a test hook */
long fastbp_gemv_split_count(void) {
    return __atomic_load_n(&fastbp_gemv_splits, __ATOMIC_RELAXED);
}
#define FASTBP_GEMV_ROWS(NAME, T, V, LANES, S, MASK)                               \
static FASTBP_AVX512 void NAME##_body(  ptrdiff_t n, ptrdiff_t k, const T* w,       \
                                        const T* x, T* y) {                        \
    const ptrdiff_t tail = k % LANES, body = k - tail;                             \
    T x_copy[FASTBP_GEMV_COPY] __attribute__((aligned(64)));                      \
    /* x is read once per row of W: an aligned copy saves a split load each time */ \
    if ((size_t)x % 64 && k <= FASTBP_GEMV_COPY) {                                 \
        memcpy(x_copy, x, k * sizeof(T));                                          \
        x = x_copy;                                                                \
    }                                                                              \
    const MASK tail_mask = (MASK)((1u << tail) - 1);                               \
    for (ptrdiff_t j = 0; j < n; j++) {                                            \
        const T* row = w + j * k;                                                  \
        V acc[4];                                                                  \
        ptrdiff_t p = 0;                                                           \
        FASTBP_UNROLLED for (int u = 0; u < 4; u++) acc[u] = _mm512_setzero_##S(); \
        for (; p + 4 * LANES <= body; p += 4 * LANES)                              \
            FASTBP_UNROLLED for (int u = 0; u < 4; u++)                            \
                acc[u] = _mm512_fmadd_##S(_mm512_loadu_##S(row + p + u * LANES),   \
                                          _mm512_loadu_##S(x + p + u * LANES), acc[u]); \
        for (int u = 0; p < body; p += LANES, u++)                                 \
            acc[u] = _mm512_fmadd_##S(_mm512_loadu_##S(row + p),                   \
                                      _mm512_loadu_##S(x + p), acc[u]);            \
        if (tail) {                                                                \
            const int u = (int)(body / LANES % 4);                                 \
            acc[u] = _mm512_fmadd_##S(_mm512_maskz_loadu_##S(tail_mask, row + p),  \
                                      _mm512_maskz_loadu_##S(tail_mask, x + p), acc[u]); \
        }                                                                          \
        y[j] = _mm512_reduce_add_##S(_mm512_add_##S(_mm512_add_##S(acc[0], acc[1]), \
                                                    _mm512_add_##S(acc[2], acc[3]))); \
    }                                                                              \
}                                                                                  \
typedef struct { ptrdiff_t n, k; const T* w; const T* x; T* y; } NAME##_job;      \
static void* NAME##_task(void* arg) {                                              \
    NAME##_job* job = (NAME##_job*)arg;                                            \
    NAME##_body(job->n, job->k, job->w, job->x, job->y);                         \
    return NULL;                                                                   \
}                                                                                  \
FASTBP_AVX512 int NAME##_avx512(ptrdiff_t n, ptrdiff_t k, const T* w, const T* x,  \
                             T* y) {                                               \
    /* h: a whole number of 64-byte lines of y, so no line of an aligned y is      \
       written by both threads */                                                  \
    const ptrdiff_t h = (n / 2 + LANES - 1) / LANES * LANES;                       \
    int mode;                                                                      \
    if (fastbp_gemv_split && h < n                                                 \
            && (size_t)(n * k) * sizeof(T) >= FASTBP_GEMV_SPLIT_BYTES              \
            && fastbp_threads() > 1 && (mode = fastbp_pool_acquire_awake())) {     \
        NAME##_job job = {n - h, k, w + h * k, x, y + h};                          \
        fastbp_pool_hand_out(NAME##_task, (char*)&job, 0, 2, mode == 2);           \
        NAME##_body(h, k, w, x, y);                                              \
        if (fastbp_pool_cancel())                                                  \
            NAME##_task(&job);                                                     \
        else                                                                       \
            __atomic_add_fetch(&fastbp_gemv_splits, 1, __ATOMIC_RELAXED);          \
        fastbp_pool_release();                                                     \
        return 1;                                                                  \
    }                                                                              \
    NAME##_body(n, k, w, x, y);                                                  \
    return 1;                                                                      \
}

FASTBP_GEMV_ROWS(fastbp_gemv_rows_d, double, __m512d, 8, pd, __mmask8)
FASTBP_GEMV_ROWS(fastbp_gemv_rows_f, float, __m512, 16, ps, __mmask16)
#else
int fastbp_gemv_split = 0;
long fastbp_gemv_split_count(void) { return 0; }
#endif
