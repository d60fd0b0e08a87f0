"""Argument checks shared by the public API.

Every check raises ValueError or TypeError whose message starts with the argument's
name, and runs before anything is modified, so a refused call leaves the network as
it was.
"""
import collections.abc
import numbers
import operator
import sys

import numpy as np

from ._backprop import aligned_copy as aligned, all_finite
from ._tables import FLOAT_DTYPES


def check_dtype(dtype, name="dtype"):
    """Return ``dtype`` as np.float32 or np.float64's dtype, or raise."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: {dtype!r} is not a dtype ({exc})") from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be 'float32' or 'float64', got {dtype!r}")
    return dt


def check_choice(value, name, choices):
    """Return ``value`` if it is one of the strings ``choices``, else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(choices)}; "
                        f"got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_int(value, name, minimum=1, maximum=2**31 - 1):
    """Return ``value`` as an int in [minimum, maximum]; bools and floats are refused.

    The default maximum is what the engine's C ints hold; None: no maximum.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum == 2**31 - 1 and value > maximum:
        raise ValueError(f"{name} must be below 2**31, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_positive_float(value, name):
    """Return ``value`` as a finite float > 0, or raise."""
    return check_real(value, name, low=0, low_open=True)


def check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite float within the bounds given, or raise.

    ``low`` and ``high`` (None: unbounded) are included unless ``low_open`` or
    ``high_open``. Bools are refused (TypeError), like anything not a real number.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    below = low is not None and (value < low or (low_open and value == low))
    above = high is not None and (value > high or (high_open and value == high))
    if np.isfinite(value) and not below and not above:
        return value
    if low is not None and high is not None:
        bounds = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        bounds = f" {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        bounds = f" {'<' if high_open else '<='} {high:g}"
    else:
        bounds = ""
    raise ValueError(f"{name} must be a finite number{bounds}, got {value}")


def non_negative(value, name):
    """Return ``value`` as a finite float >= 0, or raise."""
    return check_real(value, name, low=0)


def fraction(value, name, upper_open=False):
    """Return ``value`` as a float in [0, 1] (or [0, 1) with ``upper_open``), or raise."""
    return check_real(value, name, low=0, high=1, high_open=upper_open)


def flag(value, name):
    """Return ``value`` as a bool if it is one (NumPy's included), else raise TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_sizes(sizes):
    """Return ``sizes`` as a tuple of at least two positive ints, or raise."""
    # A set or a dict has a length but no order: {784, 30, 10} iterates as it likes.
    if isinstance(sizes, (str, bytes)) or not isinstance(
            sizes, (collections.abc.Sequence, np.ndarray)):
        raise TypeError(f"sizes must be a sequence of layer widths (a list or tuple), "
                        f"got {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least two layers (input and output), got {list(sizes)}")
    return tuple(check_int(n, f"sizes[{i}]") for i, n in enumerate(sizes))


def as_numeric_array(X, name):
    """``np.asarray(X)``, refusing what is not an array of real numbers."""
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested lists, unconvertible objects
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} has dtype bool; convert it to numbers first "
                        f"(for example {name}.astype(float))")
    if kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr


def check_features(X, name, n_features, dtype, allow_1d=False, finite=True):
    """Return ``(X, was_1d)``: X as a C-contiguous (m, n_features) array of ``dtype``.

    A 1-d X (one example) is accepted when ``allow_1d`` and returned as one row.
    Integer, big-endian, read-only and non-contiguous input is converted (once).
    ``finite=False`` leaves the check for NaN and infinities to the caller.
    A scipy.sparse X is returned as CSR (see ``check_sparse_features``).
    """
    if is_sparse(X):
        return check_sparse_features(X, name, n_features, dtype, finite), False
    arr = as_numeric_array(X, name)
    was_1d = arr.ndim == 1 and allow_1d
    if was_1d:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        expected = "a 2-d array (m, n_features) or a 1-d example" if allow_1d else \
            "a 2-d array (m, n_features)"
        raise ValueError(f"{name} must be {expected}, got an array of shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows (shape {arr.shape})")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features per example, but the "
                         f"network's input layer has {n_features} neurons")
    return _as_finite(arr, name, dtype, finite), was_1d


def is_sparse(X):
    """Whether X is a scipy.sparse matrix or array (without importing scipy.sparse:
    if it was never imported, X cannot be one)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def check_sparse_features(X, name, n_features, dtype, finite=True):
    """Return the scipy.sparse ``X`` as a CSR matrix (m, n_features) of ``dtype``
    whose indptr and indices are one dtype, int32 or int64.

    CSC and the other formats are converted to CSR once, as scikit-learn's
    ``check_array(accept_sparse="csr")`` does; the values are cast to ``dtype``
    (a copy of the stored values only: X is never densified). The structure of a
    compressed matrix (CSR or CSC), which may have been built by hand, is checked
    first: the engine indexes with it. Unsorted and duplicate entries are accepted
    (duplicates add up, as in scipy). ``finite=False`` leaves the check of the
    values for NaN and infinities to the caller.
    """
    import scipy.sparse as sparse
    if len(X.shape) != 2:
        raise ValueError(f"{name} must be a 2-d sparse matrix (m, n_features), got "
                         f"shape {X.shape}")
    kind = X.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} has dtype bool; convert it to numbers first "
                        f"(for example {name}.astype(float))")
    if kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got a sparse matrix of dtype "
                        f"{X.dtype}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows (shape {X.shape})")
    if X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features per example, but the "
                         f"network's input layer has {n_features} neurons")
    if X.format in ("csr", "csc"):
        _check_compressed(X, name)
    elif X.format == "coo":
        _check_coordinates(X, name)
    try:
        csr = X if X.format == "csr" else X.tocsr()
        nnz = int(csr.indptr[-1])
        indptr, indices = csr.indptr, csr.indices[:nnz]
        if indptr.dtype != indices.dtype or indptr.dtype not in (np.int32, np.int64):
            indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
        with np.errstate(over="ignore"):  # float64 -> float32 overflow is reported below
            data = np.ascontiguousarray(csr.data[:nnz], dtype=dtype)
        out = sparse.csr_matrix(X.shape, dtype=dtype)
        out.data, out.indices = data, np.ascontiguousarray(indices)
        out.indptr = np.ascontiguousarray(indptr)
    except MemoryError as exc:
        raise too_large(name, exc) from None
    if finite and not all_finite(data):
        raise ValueError(f"{name} contains NaN or infinite values (after conversion to "
                         f"{dtype})")
    return out


def _check_coordinates(X, name):
    """Refuse a COO matrix whose row or column indices are out of range (scipy's
    conversion to CSR would write out of bounds)."""
    for what, index, size in (("row", X.row, X.shape[0]),
                              ("column", X.col, X.shape[1])):
        index = np.asarray(index)
        if index.ndim != 1 or index.dtype.kind not in "iu" or \
                index.shape[0] != np.asarray(X.data).shape[0]:
            raise TypeError(f"{name}: a COO matrix needs 1-d integer {what} indices, one "
                            f"per stored value")
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{name} has {what} indices outside [0, {size}) (malformed "
                             f"COO matrix)")


def _check_compressed(X, name):
    """Refuse a CSR or CSC matrix whose indptr or indices do not describe one."""
    major, minor = X.shape if X.format == "csr" else X.shape[::-1]
    indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
    what = "column" if X.format == "csr" else "row"
    if (indptr.ndim != 1 or indices.ndim != 1 or indptr.dtype.kind not in "iu"
            or indices.dtype.kind not in "iu" or np.ndim(X.data) != 1):
        raise TypeError(f"{name}: a {X.format.upper()} matrix needs 1-d integer indptr "
                        f"and indices and 1-d data, got {indptr.dtype} {indptr.shape}, "
                        f"{indices.dtype} {indices.shape} and data of shape "
                        f"{np.shape(X.data)}")
    if indptr.shape[0] != major + 1:
        raise ValueError(f"{name}: indptr has {indptr.shape[0]} entries, but a "
                         f"{X.format.upper()} matrix of shape {X.shape} needs {major + 1}")
    nnz = int(indptr[-1])
    if (indptr[0] != 0 or (np.diff(indptr) < 0).any() or nnz > indices.shape[0]
            or nnz > np.asarray(X.data).shape[0]):
        raise ValueError(f"{name}: indptr must start at 0 and not decrease, up to at "
                         f"most the {min(indices.shape[0], np.asarray(X.data).shape[0])} "
                         f"stored entries (malformed {X.format.upper()} matrix)")
    if nnz and (indices[:nnz].min() < 0 or indices[:nnz].max() >= minor):
        raise ValueError(f"{name} has {what} indices outside [0, {minor}) (malformed "
                         f"{X.format.upper()} matrix)")


def too_large(name, exc):
    """The ValueError for an argument whose copy or result cannot be allocated.

    Arrays are sized by the caller's data: a zero-stride view can claim 2**31 rows
    in a few bytes, and the contract is a ValueError naming the argument, not a
    MemoryError from deep inside.
    """
    return ValueError(f"{name} is too large to process here ({exc}); pass fewer rows "
                      f"at a time")


def _as_finite(arr, name, dtype, check=True):
    """C-contiguous ``dtype`` copy (or view) of ``arr``, refusing NaN and infinities."""
    try:
        with np.errstate(over="ignore"):  # float64 -> float32 overflow is reported below
            arr = np.ascontiguousarray(arr, dtype=dtype)
    except MemoryError as exc:
        raise too_large(name, exc) from None
    if check and not all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinite values (after conversion to {dtype})")
    return arr


def check_labels(y, name, n_classes, n_rows=None):
    """Return integer class labels ``y`` (m,) in [0, n_classes) as an intp array."""
    arr = as_numeric_array(y, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d class labels, got shape {arr.shape}")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} labels but X has {n_rows} rows")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} holds labels outside [0, {n_classes}): the network has "
                         f"{n_classes} output neurons (found {arr.min()}..{arr.max()})")
    try:
        return arr.astype(np.intp)
    except MemoryError as exc:
        raise too_large(name, exc) from None


def check_targets(y, name, n_outputs, n_rows, dtype):
    """Return targets as a C-contiguous (n_rows, n_outputs) array of ``dtype``.

    ``y`` is either integer class labels (m,), one-hot encoded here, or an
    (m, n_outputs) array of targets.
    """
    arr = as_numeric_array(y, name)
    if arr.ndim == 1:
        labels = check_labels(arr, name, n_outputs, n_rows)
        try:
            Y = np.zeros((n_rows, n_outputs), dtype=dtype)
        except MemoryError as exc:
            raise too_large(name, exc) from None
        Y[np.arange(n_rows), labels] = 1
        return Y
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-d class labels or a 2-d (m, {n_outputs}) "
                         f"target array, got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n_rows} rows")
    if arr.shape[1] != n_outputs:
        raise ValueError(f"{name} has {arr.shape[1]} columns, but the network's output "
                         f"layer has {n_outputs} neurons")
    return _as_finite(arr, name, dtype)


def check_weights(sample_weight, n_rows, name="sample_weight", signed=False):
    """Return ``sample_weight`` as a finite float64 (n_rows,) array of non-negative
    weights, not all zero (the array itself when it is one already), or raise.
    ``signed``: negative weights are accepted too (scikit-learn's estimators)."""
    arr = as_numeric_array(sample_weight, name)
    if arr.shape != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},), one weight per row "
                         f"of X; got {arr.shape}")
    arr = _as_finite(arr, name, np.float64)
    if signed:
        if not arr.any():
            raise ValueError(f"{name} must contain at least one non-zero number")
        return arr
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative")
    if not arr.max() > 0:
        raise ValueError(f"{name} must have a positive sum, but its weights are all zero")
    return arr


def check_sample_weight(sample_weight, n_rows, dtype):
    """Return None, or ``sample_weight`` as a (n_rows,) array of non-negative weights.

    The weights are divided by the largest (every use of them is a weighted mean,
    which this does not change), so that their sum cannot overflow, nor can products
    with them in float32.
    """
    if sample_weight is None:
        return None
    arr = check_weights(sample_weight, n_rows)
    return np.ascontiguousarray(arr / arr.max(), dtype=dtype)



def check_signed_sample_weight(sample_weight, n_rows, dtype):
    """Return None, or ``sample_weight`` as given, negative weights too (not all
    zero), as a (n_rows,) array of ``dtype``: scikit-learn's weights, whose scale
    matters (each batch's L2 term is divided by its sum of weights)."""
    if sample_weight is None:
        return None
    arr = check_weights(sample_weight, n_rows, signed=True)
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(out).all():
        raise ValueError(f"sample_weight has weights beyond the range of {out.dtype}")
    return out


def is_classification(y, Y):
    """Whether targets are classes: integer labels ``y`` (1-d), or one-hot rows ``Y``."""
    if y is not None and np.ndim(y) == 1:
        return True
    return bool(((Y == 0) | (Y == 1)).all() and (Y.sum(axis=1) == 1).all())
