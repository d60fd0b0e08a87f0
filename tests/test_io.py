"""fastbp._io: the file formats, and reading a CSV in memory bounded by its width."""
import io

import numpy as np
import pytest

from fastbp import _io


def npy_bytes(array, **kwargs):
    buf = io.BytesIO()
    np.save(buf, array, **kwargs)
    return buf.getvalue()


def test_read_npy_header_reads_what_numpy_writes():
    data = npy_bytes(np.arange(6.0).reshape(2, 3))
    f = io.BytesIO(data)
    assert _io.read_npy_header(f) == ((2, 3), False, np.dtype(float))
    assert len(data) - f.tell() == 6 * 8  # f is at the data


@pytest.mark.parametrize("data, message", [
    (npy_bytes(np.array([{}], dtype=object), allow_pickle=True), "Python objects"),
    (b"\x93NUMPY\x03\x00" + b"\x00" * 40, "format version"),
    (b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8'}  \n", "header is damaged"),
    (b"not npy", "header is damaged"),
])
def test_read_npy_header_refuses_damaged_and_unsafe_headers(data, message):
    with pytest.raises(_io.NpyHeaderError, match=message) as info:
        _io.read_npy_header(io.BytesIO(data))
    assert "allow_pickle" not in str(info.value)
