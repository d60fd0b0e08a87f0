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
#endif

/* The element-wise loops (activations, the NaN/inf check), compiled for AVX-512,
   AVX2 and baseline x86-64 and picked at load time by the CPU (GCC's function
   multiversioning), since a distributable build cannot assume -march=native.
   noinline: inlined into a caller, the clones' dispatch would be bypassed. The
   build turns floating-point contraction off (-ffp-contract=off), so every clone,
   and a build without clones (clang, other architectures), gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTBP_SIMD_CLONES __attribute__((noinline, \
    target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FASTBP_SIMD_CLONES
#endif

#endif
