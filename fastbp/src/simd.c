/* The element-wise loops' variant (simd.h): the widest that the kernels chosen by
   fastbp_cpu_init allow on this CPU, so FASTBP_DISABLE_CPU_FEATURES=AVX512F runs
   the x86-64-v3 loops and =AVX512F,AVX2 the baseline ones. x86-64-v4 needs
   AVX-512 F, CD, BW, DQ and VL; x86-64-v3 AVX2, FMA, BMI1 and BMI2 (CPUs with
   these have its other features). */
#include "simd.h"
#include "kernels.h"
#include <string.h>

static int fastbp_simd_chosen = FASTBP_SIMD_BASELINE;

void fastbp_simd_choose(void) {
    int level = FASTBP_SIMD_BASELINE;
#if FASTBP_HAVE_OWN_KERNELS
    const char* isa = fastbp_kernels_isa();
    __builtin_cpu_init();
    const int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                   && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    const int v4 = v3 && __builtin_cpu_supports("avx512f")
                   && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw")
                   && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (strcmp(isa, "AVX512F") == 0 && v4)
        level = FASTBP_SIMD_V4;
    else if ((strcmp(isa, "AVX512F") == 0 || strcmp(isa, "AVX2") == 0) && v3)
        level = FASTBP_SIMD_V3;
#endif
    __atomic_store_n(&fastbp_simd_chosen, level, __ATOMIC_RELAXED);
}
const int* fastbp_simd_level_of_kernels(void) { return &fastbp_simd_chosen; }
