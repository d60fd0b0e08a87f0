# The element-wise loops of a module (src/activations.c, finite.c, optimizers.c) follow
# the instruction set of the kernels that _blas chose (src/simd.h): each such module
# calls bind_simd() at import, and offers simd_variant() as a test hook.
from ._blas cimport simd_level

cdef extern from "simd.h" nogil:
    void fastbp_simd_bind(const int* level)
    const char* fastbp_simd_variant()


cdef inline void bind_simd() noexcept:
    """Point this module's element-wise loops at the choice kept in _blas."""
    fastbp_simd_bind(simd_level())


cdef inline str simd_variant():
    """The variant of this module's element-wise loops that runs now: "x86-64-v4",
    "x86-64-v3" or "baseline"."""
    return fastbp_simd_variant().decode()
