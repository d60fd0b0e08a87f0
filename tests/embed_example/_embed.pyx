# cython: language_level=3, boundscheck=False, wraparound=False
"""A downstream Cython extension that uses fastbp's C-level API.

It is what a user's own compiled code would do: take the engine of a
``fastbp.Network`` (``net.compiled()``) and run the forward pass through
``feedforward_rows`` on its own buffers, with the GIL released, a few rows at a time.
Built by tests/test_embedding.py against the *installed* fastbp, whose
``_backprop.pxd`` (and the ``.pxd`` files it cimports) must ship in the wheel.
"""
from cython cimport floating

from fastbp._backprop cimport Engine, feedforward_rows

import numpy as np


def feedforward_batches(Engine engine, const floating[:, ::1] X, Py_ssize_t batch_size):
    """Return a^L for the rows of X, computed ``batch_size`` rows per call to
    ``feedforward_rows`` inside one ``nogil`` loop.

    X must be C-contiguous, with the network's dtype and n_0 columns.
    """
    cdef Py_ssize_t m = X.shape[0], start, rows
    cdef int n_in = engine.net.n[0], n_out = engine.net.n[engine.net.L]
    cdef int status = 0
    dtype = np.float64 if floating is double else np.float32
    # feedforward_rows trusts its caller: the parameters behind the engine have one
    # dtype, which must be the buffers' dtype, and X must have n_0 columns.
    if engine.weights[0].dtype != dtype:
        raise TypeError(f"X has dtype {np.dtype(dtype)}, the network "
                        f"{engine.weights[0].dtype}")
    if X.shape[1] != n_in:
        raise ValueError(f"X has {X.shape[1]} columns, the network {n_in} inputs")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    out = np.empty((m, n_out), dtype=dtype)
    cdef floating[:, ::1] A = out
    if m == 0:
        return out
    with nogil:
        start = 0
        while start < m and status == 0:
            rows = min(batch_size, m - start)
            status = feedforward_rows(&engine.net, <int>rows, &X[start, 0], &A[start, 0])
            start += rows
    if status != 0:
        raise MemoryError()
    return out
