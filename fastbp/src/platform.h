/* The one place that decides what fastbp's native layer builds on.

   FASTBP_HAVE_OWN_KERNELS: fastbp's own kernels and its worker pool are compiled
   in. They need x86-64, a compiler with GCC's extensions (GCC or clang: function
   target attributes, __atomic builtins, __builtin_cpu_supports) and POSIX threads
   with dlopen (Linux). Elsewhere the engine runs on the BLAS alone, and the pool's
   functions run everything on the calling thread. */
#ifndef FASTBP_PLATFORM_H
#define FASTBP_PLATFORM_H
#include <stddef.h>

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define FASTBP_HAVE_OWN_KERNELS 1
#else
#define FASTBP_HAVE_OWN_KERNELS 0
#endif

#if defined(__GNUC__)
/* Symbols that ctypes must find (threadpoolctl's controller); the build hides the
   rest (-fvisibility=hidden). */
#define FASTBP_EXPORT __attribute__((visibility("default")))
#elif defined(_MSC_VER)
#define FASTBP_EXPORT __declspec(dllexport)
#else
#define FASTBP_EXPORT
#endif

#if FASTBP_HAVE_OWN_KERNELS
#define FASTBP_AVX512 __attribute__((target("avx512f")))
#define FASTBP_AVX2 __attribute__((target("avx2,fma")))
/* Loops over a tile's rows and columns must unroll completely: any left rolled
   would index the accumulators at run time and keep them in memory. */
#if defined(__clang__)
#define FASTBP_UNROLLED _Pragma("clang loop unroll(full)")
#else
#define FASTBP_UNROLLED _Pragma("GCC unroll 16")
#endif

/* Subnormal numbers in a product (below 1.2e-38 in float32, 2.2e-308 in float64)
   make each multiply-add that meets them take a microcode assist: a 128 x 512 x 512
   product whose operands are ~1e-36 ran 15x slower here, at ~1e-40 150x slower,
   in OpenBLAS and in fastbp's AVX-512 GEMM alike. Saturated sigmoids give such deltas in
   training. So the GEMMs flush them to zero (MXCSR's FTZ and DAZ bits, as XLA
   sets by default) on every thread of a product, and restore the caller's mode
   before returning; BLAS and the rest of fastbp keep IEEE semantics. */
#define FASTBP_FTZ_DAZ 0x8040u

/* Names built from a vector vocabulary's FASTBP_X (d, f) and FASTBP_SUFFIX
   (avx512, avx2), for the kernels' bodies (vec_names.h): FASTBP_LOCAL(gemm_pack)
   is fastbp_gemm_pack_d, FASTBP_GLOBAL(gemm) fastbp_gemm_d_avx512. */
#define FASTBP_CAT3_(a, b, c) a##b##c
#define FASTBP_CAT3(a, b, c) FASTBP_CAT3_(a, b, c)
#define FASTBP_CAT6_(a, b, c, d, e, f) a##b##c##d##e##f
#define FASTBP_CAT6(a, b, c, d, e, f) FASTBP_CAT6_(a, b, c, d, e, f)
#define FASTBP_LOCAL(name) FASTBP_CAT6(fastbp_, name, _, FASTBP_X, , )
#define FASTBP_GLOBAL(name) FASTBP_CAT6(fastbp_, name, _, FASTBP_X, _, FASTBP_SUFFIX)
#endif

#endif
