/* The names a vector vocabulary (vec_avx512.h, vec_avx2.h) defines, undefined so
   that the next one can define them for another element type or instruction set,
   and the operations spelled alike in every vocabulary (FASTBP_VEC_OP(op) names
   the intrinsic op for the vocabulary's vector and type):

     FASTBP_ISA        the functions' target attribute   FASTBP_SUFFIX  avx512, avx2
     FASTBP_X          d or f                            FASTBP_T       the element type
     FASTBP_V          the vector type                   FASTBP_LANES   elements per vector
     FASTBP_MASK       a set of lanes                    FASTBP_IV      the integer vector
     FASTBP_MASK_FIRST(count)   the lanes below count (any count)   FASTBP_MASK_NONE
     FASTBP_V_LOADM(p, full, mask), FASTBP_V_STOREM(p, full, mask, v)
                       the lanes of mask (all of them where full), zeros elsewhere
     FASTBP_V_ZERO, _LOAD (aligned), _LOADU, _STORE (aligned), _SET1, _FMA, _MUL,
     _ADD, _SUM (the sum of the lanes in one fixed order), _TRANSPOSE (r[LANES]:
     rows in, columns out), _BITS (the same bits as FASTBP_IV)
     FASTBP_I_ZERO, _SET1, _ADD, _AND, _OR, _SIGNS (whether any lane of the
     element's width has its sign bit set) */
#undef FASTBP_ISA
#undef FASTBP_SUFFIX
#undef FASTBP_X
#undef FASTBP_T
#undef FASTBP_V
#undef FASTBP_LANES
#undef FASTBP_MASK
#undef FASTBP_IV
#undef FASTBP_VEC_S
#undef FASTBP_VEC_OP
#undef FASTBP_MASK_FIRST
#undef FASTBP_MASK_NONE
#undef FASTBP_V_LOADM
#undef FASTBP_V_STOREM
#undef FASTBP_V_ZERO
#undef FASTBP_V_LOAD
#undef FASTBP_V_LOADU
#undef FASTBP_V_STORE
#undef FASTBP_V_SET1
#undef FASTBP_V_FMA
#undef FASTBP_V_MUL
#undef FASTBP_V_ADD
#undef FASTBP_V_SUM
#undef FASTBP_V_TRANSPOSE
#undef FASTBP_V_BITS
#undef FASTBP_I_ZERO
#undef FASTBP_I_SET1
#undef FASTBP_I_ADD
#undef FASTBP_I_AND
#undef FASTBP_I_OR
#undef FASTBP_I_SIGNS

#define FASTBP_V_ZERO FASTBP_VEC_OP(setzero)()
#define FASTBP_V_LOAD FASTBP_VEC_OP(load)
#define FASTBP_V_LOADU FASTBP_VEC_OP(loadu)
#define FASTBP_V_STORE FASTBP_VEC_OP(store)
#define FASTBP_V_SET1 FASTBP_VEC_OP(set1)
#define FASTBP_V_FMA FASTBP_VEC_OP(fmadd)
#define FASTBP_V_MUL FASTBP_VEC_OP(mul)
#define FASTBP_V_ADD FASTBP_VEC_OP(add)
