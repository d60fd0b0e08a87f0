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
/* Loops over a tile's rows and columns must unroll completely: any left rolled
   would index the accumulators at run time and keep them in memory. */
#if defined(__clang__)
#define FASTBP_UNROLLED _Pragma("clang loop unroll(full)")
#else
#define FASTBP_UNROLLED _Pragma("GCC unroll 16")
#endif
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
