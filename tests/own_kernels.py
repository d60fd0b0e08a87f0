"""What the tests of fastbp's own kernels share: the instruction sets this CPU can run
them on, a fixture that runs a test on each (through conftest's ``use_kernels``), and
operands with long row strides or at a chosen alignment."""
import numpy as np
import pytest

from fastbp import _blas


def _isas():
    config = _blas._config()
    if not config["own_kernels_compiled"]:
        return []
    have = config["cpu_features"]
    isas = []
    if "AVX512F" in have:
        isas.append("AVX512F")
    if "AVX2" in have and "FMA" in have:
        isas.append("AVX2")
    return isas


# The instruction sets whose kernels this CPU can run, best first.
ISAS = _isas()
needs_kernels = pytest.mark.skipif(
    not ISAS, reason="fastbp's own kernels need GCC or clang, Linux and AVX2 or AVX-512")


@pytest.fixture(params=ISAS or ["none"])
def isa(request, use_kernels):
    """Each instruction set whose kernels this CPU can run."""
    return use_kernels(request.param)


def strided(rng, rows, cols, dtype, pad):
    """A (rows, cols) view of normal draws whose row stride is cols + pad elements."""
    return rng.normal(size=(rows, cols + pad)).astype(dtype)[:, :cols]


def at_offset(a, offset):
    """a's values in an array that starts `offset` bytes past a 64-byte boundary."""
    raw = np.zeros(a.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out
