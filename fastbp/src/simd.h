/* The element-wise loops (activations.c, finite.c, optimizers.c) compiled for
   x86-64-v4 (AVX-512), x86-64-v3 (AVX2 and FMA) and baseline x86-64 from one
   source, since a distributable build cannot assume -march=native, and chosen
   by fastbp's own dispatch: the variant follows the kernels that
   fastbp_cpu_init chose (kernels.h), so FASTBP_DISABLE_CPU_FEATURES governs these
   loops as it governs the kernels (GCC's target_clones, used before, chose by
   the CPU alone). The build turns floating-point contraction off
   (-ffp-contract=off), so every variant gives the same bits.

   Each extension module with such loops holds its own pointer to the choice
   (FASTBP_SIMD_MODULE, in one of its C files), bound at import to _blas's
   (fastbp_simd_level_of_kernels) by fastbp_simd_bind. */
#ifndef FASTBP_SIMD_H
#define FASTBP_SIMD_H
#include "platform.h"

enum { FASTBP_SIMD_BASELINE = 0, FASTBP_SIMD_V3 = 1, FASTBP_SIMD_V4 = 2 };

/* Choose the variant the kernels' choice allows on this CPU (in _blas, after each
   fastbp_cpu_init), and where the choice is kept for the modules to read. */
void fastbp_simd_choose(void);
const int* fastbp_simd_level_of_kernels(void);
/* Point this module's dispatch at the choice; the variant it runs now ("x86-64-v4",
   "x86-64-v3" or "baseline": a test hook, from a function compiled like the loops). */
void fastbp_simd_bind(const int* level);
const char* fastbp_simd_variant(void);

#if FASTBP_HAVE_OWN_KERNELS
extern const int* fastbp_simd_level;
/* NAME_v4, NAME_v3 and NAME_base from one body (the function's braces and what
   they hold); inside, fastbp_simd_here is the variant's level. noinline: each
   stays a function of its own, whatever the dispatcher's target. */
#define FASTBP_SIMD_VARIANTS(RET, NAME, PARAMS, ...)                                \
static __attribute__((noinline, target("arch=x86-64-v4"))) RET NAME##_v4 PARAMS {  \
    enum { fastbp_simd_here = FASTBP_SIMD_V4 }; __VA_ARGS__ }                      \
static __attribute__((noinline, target("arch=x86-64-v3"))) RET NAME##_v3 PARAMS {  \
    enum { fastbp_simd_here = FASTBP_SIMD_V3 }; __VA_ARGS__ }                      \
static __attribute__((noinline)) RET NAME##_base PARAMS {                         \
    enum { fastbp_simd_here = FASTBP_SIMD_BASELINE }; __VA_ARGS__ }
/* The variant of NAME that the choice selects. */
#define FASTBP_SIMD_PICK(NAME)                                                     \
    (*fastbp_simd_level == FASTBP_SIMD_V4 ? NAME##_v4                              \
     : *fastbp_simd_level == FASTBP_SIMD_V3 ? NAME##_v3 : NAME##_base)
#else
#define FASTBP_SIMD_VARIANTS(RET, NAME, PARAMS, ...)                                \
static RET NAME##_base PARAMS { enum { fastbp_simd_here = FASTBP_SIMD_BASELINE }; __VA_ARGS__ }
#define FASTBP_SIMD_PICK(NAME) NAME##_base
#endif

/* The binding and the hook, once in each module that has element-wise loops. */
#if FASTBP_HAVE_OWN_KERNELS
#define FASTBP_SIMD_LEVEL_STATE                                                    \
static const int fastbp_simd_unbound = FASTBP_SIMD_BASELINE;                        \
const int* fastbp_simd_level = &fastbp_simd_unbound;                               \
void fastbp_simd_bind(const int* level) { if (level != NULL) fastbp_simd_level = level; }
#else
#define FASTBP_SIMD_LEVEL_STATE                                                    \
void fastbp_simd_bind(const int* level) { (void)level; }
#endif
#define FASTBP_SIMD_MODULE                                                         \
FASTBP_SIMD_LEVEL_STATE                                                            \
FASTBP_SIMD_VARIANTS(const char*, fastbp_simd_variant, (void), {                   \
    return (int)fastbp_simd_here == FASTBP_SIMD_V4 ? "x86-64-v4"                        \
           : (int)fastbp_simd_here == FASTBP_SIMD_V3 ? "x86-64-v3" : "baseline"; })     \
const char* fastbp_simd_variant(void) { return FASTBP_SIMD_PICK(fastbp_simd_variant)(); }

#endif
