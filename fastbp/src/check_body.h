/* The packing copy that also checks for NaN and inf, for one vocabulary (see
   vec_names.h): the narrow kernel packs X with it, the GEMM checks A with it.
   Included by gemm_body.h and narrow_body.h (once per element type; the second
   inclusion for a type defines nothing). */
#if FASTBP_DOUBLE && !defined(FASTBP_CHECK_D) || !FASTBP_DOUBLE && !defined(FASTBP_CHECK_F)
#if FASTBP_DOUBLE
#define FASTBP_CHECK_D
#else
#define FASTBP_CHECK_F
#endif

/* Copy `rows` rows of k elements (source row stride lds) to dst (row stride ld >=
   k, a multiple of LANES, zero-filled past k; dst NULL: copy nothing), and OR into
   *bits, per lane, (bits & EXP) + ONE of every element: its sign bit ends up set
   iff one of them is NaN or infinite (an exponent field of all ones carries into
   it). FASTBP_I_SIGNS tells from *bits. */
static inline FASTBP_ISA void FASTBP_LOCAL(pack_check)(
        ptrdiff_t rows, ptrdiff_t k, const FASTBP_T* src, ptrdiff_t lds, ptrdiff_t ld,
        FASTBP_T* dst, FASTBP_IV* bits) {
#if FASTBP_DOUBLE
    const FASTBP_IV exp = FASTBP_I_SET1(0x7ff0000000000000LL);
    const FASTBP_IV one = FASTBP_I_SET1(0x0010000000000000LL);
#else
    const FASTBP_IV exp = FASTBP_I_SET1(0x7f800000), one = FASTBP_I_SET1(0x00800000);
#endif
    const FASTBP_MASK tail = FASTBP_MASK_FIRST(k % FASTBP_LANES);
    const ptrdiff_t body = k - k % FASTBP_LANES;
    FASTBP_IV acc = *bits;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const FASTBP_T* s = src + r * lds;
        for (ptrdiff_t p = 0; p < ld; p += FASTBP_LANES) {
            const FASTBP_V v = p < body ? FASTBP_V_LOADU(s + p)
                               : p < k ? FASTBP_V_LOADM(s + p, 0, tail) : FASTBP_V_ZERO;
            const FASTBP_IV b = FASTBP_V_BITS(v);
            acc = FASTBP_I_OR(acc, FASTBP_I_ADD(FASTBP_I_AND(b, exp), one));
            if (dst != NULL) FASTBP_V_STORE(dst + r * ld + p, v);
        }
    }
    *bits = acc;
}
#endif
