/* fastbp's own kernels: prototypes, and the per-instruction-set table behind them.

   Three families, each where it measurably beats OpenBLAS (benchmarks/tried.md):
   - gemm:   C = alpha * op(A) @ op(B) + beta * C for the products of mini-batch
             training and for many rows through a layer that fills its column tiles;
   - narrow: C = X @ W.T for many rows X through a layer W of few neurons;
   - gemv:   y = W @ x for one example.
   plus "dots" (C = alpha A B^T + beta C for a few rows of A, no operand packed)
   and "bp4" (C = alpha A^T B + beta C over a few rows of A and B: BP4's update at a
   mini-batch, C streamed once, nothing packed).
   Each entry point below returns 0, having written nothing the caller relies on,
   where no kernel runs (none for this CPU, turned off, or a shape it declines): the
   caller then uses the BLAS. Results never depend on the thread count. Which of
   them computes a product, and every threshold that decides it, is the planner's
   (planner.c, planner.h), not theirs.

   Which instruction set's kernels run is decided once, by fastbp_cpu_init, from the
   CPU's features less those named in FASTBP_DISABLE_CPU_FEATURES.

   Each family is written once, as a body (gemm_body.h, narrow_body.h, gemv_body.h,
   dots_body.h, bp4_body.h) that a small file per instruction set (gemm_avx512.c, gemm_avx2.c,
   ...) includes once per element type after a vector vocabulary (vec_avx512.h,
   vec_avx2.h); the element-wise loops elsewhere follow the same choice (simd.h). */
#ifndef FASTBP_KERNELS_H
#define FASTBP_KERNELS_H
#include <stddef.h>
#include "platform.h"

/* With bad != NULL (op(A) = A only), *bad = whether A holds NaN or inf. */
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
/* share: the rows may be shared with an awake worker (see kernels.c). */
int fastbp_gemv_rows_d(ptrdiff_t n, ptrdiff_t k, const double* w, const double* x,
                       double* y, int share);
int fastbp_gemv_rows_f(ptrdiff_t n, ptrdiff_t k, const float* w, const float* x,
                       float* y, int share);
/* C = alpha A B^T + beta C, on one thread. */
int fastbp_dots_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double* a,
                  ptrdiff_t lda, const double* b, ptrdiff_t ldb, double beta, double* c,
                  ptrdiff_t ldc);
int fastbp_dots_f(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float* a,
                  ptrdiff_t lda, const float* b, ptrdiff_t ldb, float beta, float* c,
                  ptrdiff_t ldc);

/* C = alpha A^T B + beta C, on one thread. */
int fastbp_bp4_d(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha, const double* a,
                 ptrdiff_t lda, const double* b, ptrdiff_t ldb, double beta, double* c,
                 ptrdiff_t ldc);
int fastbp_bp4_f(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float* a,
                 ptrdiff_t lda, const float* b, ptrdiff_t ldb, float beta, float* c,
                 ptrdiff_t ldc);

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
/* The planner's column for the kernels in use: 0 AVX-512, 1 AVX2, 2 none (or off). */
int fastbp_kernels_column(void);
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
/* The AVX-512 implementations (gemm_body.h, narrow_body.h and gemv_body.h, built by
   gemm_avx512.c, narrow_avx512.c, gemv_avx512.c); the gemv kernels compute all n
   rows (kernels.c shares them out). */
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
/* The AVX2 and FMA implementations (the same bodies, built by gemm_avx2.c,
   narrow_avx2.c, gemv_avx2.c). */
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
