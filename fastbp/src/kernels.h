/* fastbp's own kernels: prototypes, and the one table that chooses among them.

   Three families, each where it measurably beats OpenBLAS (benchmarks/tried.md):
   - gemm:   C = alpha * op(A) @ op(B) + beta * C for the products of mini-batch
             training and for many rows through a layer that fills its column tiles;
   - narrow: C = X @ W.T for many rows X through a layer W of few neurons;
   - gemv:   y = W @ x for one example.
   Each entry point below returns 0, having written nothing the caller relies on,
   where no kernel runs (none for this CPU, turned off, or a shape it declines): the
   caller then uses the BLAS. Results never depend on the thread count.

   Which instruction set's kernels run is decided once, by fastbp_cpu_init, from the
   CPU's features less those named in FASTBP_DISABLE_CPU_FEATURES. */
#ifndef FASTBP_KERNELS_H
#define FASTBP_KERNELS_H
#include <stddef.h>
#include "platform.h"

/* With bad != NULL (op(A) = A only), *bad = whether A holds NaN or inf. A product
   C = alpha A B^T + beta C of at most FASTBP_DOTS_MAX_ROWS rows (a mini-batch's
   forward product) runs the dots kernel on one thread, any other the GEMM. */
#define FASTBP_DOTS_MAX_ROWS 16
/* A product C = alpha A^T B + beta C over at most FASTBP_BP4_MAX_K rows of A and B
   (BP4's update at a mini-batch, w += alpha Delta^T A_prev, where the engine gives
   it to the own kernels) runs the bp4 kernel on one thread. */
#define FASTBP_BP4_MAX_K 16
int fastbp_gemm_d(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                  const double* a, ptrdiff_t lda, const double* b, ptrdiff_t ldb,
                  double beta, double* c, ptrdiff_t ldc, int threads, int* bad);
int fastbp_gemm_f(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                  const float* a, ptrdiff_t lda, const float* b, ptrdiff_t ldb,
                  float beta, float* c, ptrdiff_t ldc, int threads, int* bad);
/* With bad != NULL, *bad = whether X holds NaN or inf. */
int fastbp_narrow_gemm_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double* x,
                         const double* w, double* c, int* bad, int threads);
int fastbp_narrow_gemm_f(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float* x,
                         const float* w, float* c, int* bad, int threads);
int fastbp_gemv_rows_d(ptrdiff_t n, ptrdiff_t k, const double* w, const double* x,
                       double* y);
int fastbp_gemv_rows_f(ptrdiff_t n, ptrdiff_t k, const float* w, const float* x,
                       float* y);

/* Detect the CPU's features, drop those named in `disable` (a comma- or
   space-separated list such as "AVX512F", case ignored; NULL: none) and choose the
   kernels. Returns the number of names in `disable` that fastbp does not know. */
int fastbp_cpu_init(const char* disable);
/* The features fastbp can use that this CPU has, and those left after `disable`
   (space-separated names, e.g. "AVX512F AVX2 FMA"). */
const char* fastbp_cpu_features(void);
const char* fastbp_cpu_enabled(void);
/* The compiler this file was built with, and its version. */
const char* fastbp_compiler(void);
/* The instruction set whose kernels run ("AVX512F", "AVX2"), or "none". */
const char* fastbp_kernels_isa(void);
/* The width in bytes of the column tiles of the GEMM that runs (0: none). */
int fastbp_gemm_tile_bytes(void);
/* Turn the kernels off and on again (a test switch; not thread-safe against calls
   in flight): returns the previous setting. */
int fastbp_use_own_kernels(int enabled);
int fastbp_own_kernels_active(void);

/* One-example products shared with a worker thread during a burst of calls (see
   kernels.c): the switch (a test hook) and the count so far. */
extern int fastbp_gemv_split;
/* How many products the own GEMM has computed since import (a test hook). */
long fastbp_gemm_count(void);
long fastbp_gemv_split_count(void);

#if FASTBP_HAVE_OWN_KERNELS
/* The AVX-512 implementations (gemm_avx512.c, narrow_avx512.c, gemv_avx512.c);
   the gemv kernels compute all n rows (kernels.c shares them out). */
int fastbp_gemm_d_avx512(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                         double alpha, const double* a, ptrdiff_t lda, const double* b,
                         ptrdiff_t ldb, double beta, double* c, ptrdiff_t ldc,
                         int threads, int* bad);
int fastbp_gemm_f_avx512(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                         float alpha, const float* a, ptrdiff_t lda, const float* b,
                         ptrdiff_t ldb, float beta, float* c, ptrdiff_t ldc,
                         int threads, int* bad);
int fastbp_narrow_gemm_d_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double* x,
                                const double* w, double* c, int* bad, int threads);
int fastbp_narrow_gemm_f_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float* x,
                                const float* w, float* c, int* bad, int threads);
void fastbp_gemv_rows_d_avx512(ptrdiff_t n, ptrdiff_t k, const double* w,
                               const double* x, double* y);
void fastbp_gemv_rows_f_avx512(ptrdiff_t n, ptrdiff_t k, const float* w,
                               const float* x, float* y);
/* C = alpha A B^T + beta C for a few rows of A, no operand packed (dots_body.h,
   built for each instruction set by dots_avx512.c and dots_avx2.c). */
void fastbp_dots_d_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                          const double* a, ptrdiff_t lda, const double* b, ptrdiff_t ldb,
                          double beta, double* c, ptrdiff_t ldc);
void fastbp_dots_f_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                          const float* a, ptrdiff_t lda, const float* b, ptrdiff_t ldb,
                          float beta, float* c, ptrdiff_t ldc);
void fastbp_dots_d_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                        const double* a, ptrdiff_t lda, const double* b, ptrdiff_t ldb,
                        double beta, double* c, ptrdiff_t ldc);
void fastbp_dots_f_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                        const float* a, ptrdiff_t lda, const float* b, ptrdiff_t ldb,
                        float beta, float* c, ptrdiff_t ldc);
/* C = alpha A^T B + beta C for a few rows of A and B, no operand packed
   (bp4_body.h, built for each instruction set by bp4_avx512.c and bp4_avx2.c). */
void fastbp_bp4_d_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                         const double* a, ptrdiff_t lda, const double* b, ptrdiff_t ldb,
                         double beta, double* c, ptrdiff_t ldc);
void fastbp_bp4_f_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                         const float* a, ptrdiff_t lda, const float* b, ptrdiff_t ldb,
                         float beta, float* c, ptrdiff_t ldc);
void fastbp_bp4_d_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                       const double* a, ptrdiff_t lda, const double* b, ptrdiff_t ldb,
                       double beta, double* c, ptrdiff_t ldc);
void fastbp_bp4_f_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                       const float* a, ptrdiff_t lda, const float* b, ptrdiff_t ldb,
                       float beta, float* c, ptrdiff_t ldc);
/* The AVX2 and FMA implementations (gemm_avx2.c, narrow_avx2.c, gemv_avx2.c). */
int fastbp_gemm_d_avx2(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                       double alpha, const double* a, ptrdiff_t lda, const double* b,
                       ptrdiff_t ldb, double beta, double* c, ptrdiff_t ldc,
                       int threads, int* bad);
int fastbp_gemm_f_avx2(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                       float alpha, const float* a, ptrdiff_t lda, const float* b,
                       ptrdiff_t ldb, float beta, float* c, ptrdiff_t ldc,
                       int threads, int* bad);
int fastbp_narrow_gemm_d_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double* x,
                              const double* w, double* c, int* bad, int threads);
int fastbp_narrow_gemm_f_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float* x,
                              const float* w, float* c, int* bad, int threads);
void fastbp_gemv_rows_d_avx2(ptrdiff_t n, ptrdiff_t k, const double* w,
                             const double* x, double* y);
void fastbp_gemv_rows_f_avx2(ptrdiff_t n, ptrdiff_t k, const float* w,
                             const float* x, float* y);
#endif
#endif
