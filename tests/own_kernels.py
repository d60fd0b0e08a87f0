"""What the tests of fastbp's own kernels share: the instruction sets this CPU can run
them on, a fixture that chooses each as FASTBP_DISABLE_CPU_FEATURES would, and
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


# The instruction sets whose kernels this CPU can run, best first, and the
# FASTBP_DISABLE_CPU_FEATURES setting that leaves each (or none) in charge.
ISAS = _isas()
DISABLE = {"AVX512F": "", "AVX2": "AVX512F", "none": "AVX512F,AVX2"}
needs_kernels = pytest.mark.skipif(
    not ISAS, reason="fastbp's own kernels need GCC or clang, Linux and AVX2 or AVX-512")


@pytest.fixture(params=ISAS or ["none"])
def isa(request, monkeypatch):
    """Each instruction set whose kernels this CPU can run, chosen as
    FASTBP_DISABLE_CPU_FEATURES chooses it; the import-time choice is restored."""
    before = _blas._config()["kernels"]
    monkeypatch.setenv("FASTBP_DISABLE_CPU_FEATURES", DISABLE[request.param])
    _blas._init_cpu()
    assert _blas._config()["kernels"] == request.param
    yield request.param
    monkeypatch.undo()      # the variable as it was at import, read again
    _blas._init_cpu()
    assert _blas._config()["kernels"] == before


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
