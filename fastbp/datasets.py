"""Loaders for the data sets used with fastbp.

``load_mnist`` reads MNIST from the four standard IDX files and splits it as in
Nielsen's *Neural Networks and Deep Learning*; ``load_digits`` returns the small UCI
8x8 digits set shipped inside the package, handy for tests and quick experiments.

Both return images as rows of a C-contiguous float array scaled to [0, 1] and labels
as int64, ready for ``Network.fit``.
"""
import gzip
import os
import struct
import zlib
from importlib import resources

import numpy as np

from ._validation import check_dtype

_N_TRAIN = 50_000
_N_VALIDATION = 10_000
_N_TEST = 10_000
_IMAGE_SHAPE = (28, 28)
_N_CLASSES = 10

# IDX magic numbers: two zero bytes, the element type (0x08 = unsigned byte), then the
# number of dimensions.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801

# Base names of the four files; each may be spelled "<stem>-<kind>" (LeCun's site) or
# "<stem>.<kind>" (common re-distributions), gzipped or not.
_MNIST_FILES = {
    "train_images": ("train-images", "idx3-ubyte"),
    "train_labels": ("train-labels", "idx1-ubyte"),
    "test_images": ("t10k-images", "idx3-ubyte"),
    "test_labels": ("t10k-labels", "idx1-ubyte"),
}


def load_mnist(path, dtype="float64"):
    """Load MNIST from a directory of IDX files, split as in Nielsen's book.

    Parameters
    ----------
    path : str or os.PathLike
        Directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``. Each may also be
        gzipped (``.gz`` suffix) or spelled with a dot (``train-images.idx3-ubyte``).
        If several spellings of one file are present, the uncompressed dash spelling
        wins, then the dash ``.gz``, then the dot spellings in the same order.
    dtype : {"float64", "float32"}, default "float64"
        Floating-point type of the returned images.

    Returns
    -------
    train, validation, test : tuple of (X, y)
        ``train`` holds the first 50,000 training images, ``validation`` the last
        10,000 training images and ``test`` the 10,000 t10k images. In each pair,
        X is a C-contiguous array of shape (m, 784) and type ``dtype``, one
        row-major 28x28 image per row with pixel values divided by 255 (so in
        [0, 1]), and y is an int64 array of shape (m,) with the digits 0..9.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or any of the four files is missing; the message
        names the directory and every missing file.
    NotADirectoryError
        If ``path`` exists but is not a directory.
    ValueError
        If a file is not valid MNIST: corrupt gzip data, wrong magic number, images
        that are not 28x28, data shorter or longer than its header says, labels
        outside 0..9, image and label counts that disagree, or not 60,000 training
        and 10,000 test examples. The message names the file. Also raised, like
        TypeError, for a ``dtype`` other than float32 or float64.
    """
    dtype = check_dtype(dtype)
    directory = os.fspath(path)
    if not os.path.exists(directory):
        raise FileNotFoundError(f"MNIST directory {directory!r} does not exist")
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"MNIST path {directory!r} is not a directory")
    files = _find_mnist_files(directory)

    train_images = _read_idx(files["train_images"], _IMAGES_MAGIC)
    train_labels = _read_idx(files["train_labels"], _LABELS_MAGIC)
    test_images = _read_idx(files["test_images"], _IMAGES_MAGIC)
    test_labels = _read_idx(files["test_labels"], _LABELS_MAGIC)

    X_train, y_train = _images_and_labels(
        train_images, train_labels, files["train_images"], files["train_labels"],
        _N_TRAIN + _N_VALIDATION, dtype)
    X_test, y_test = _images_and_labels(
        test_images, test_labels, files["test_images"], files["test_labels"],
        _N_TEST, dtype)

    # Row slices of a C-contiguous array stay C-contiguous, so the split costs no copy.
    train = (X_train[:_N_TRAIN], y_train[:_N_TRAIN])
    validation = (X_train[_N_TRAIN:], y_train[_N_TRAIN:])
    return train, validation, (X_test, y_test)


def load_digits(dtype="float64"):
    """Load the UCI 8x8 handwritten digits shipped with fastbp.

    The "Optical Recognition of Handwritten Digits" set (Alpaydin and Kaynak, UCI
    Machine Learning Repository, 1998; CC BY 4.0), as distributed with scikit-learn:
    1,797 images of 10 classes, about 180 each. See ``fastbp/data/README.md``.

    Parameters
    ----------
    dtype : {"float64", "float32"}, default "float64"
        Floating-point type of the returned images.

    Returns
    -------
    X : ndarray of shape (1797, 64)
        C-contiguous, type ``dtype``: one row-major 8x8 image per row, each pixel a
        count 0..16 divided by 16 (so in [0, 1]).
    y : ndarray of shape (1797,)
        int64 digits 0..9.

    Raises
    ------
    ValueError or TypeError
        If ``dtype`` is not float32 or float64.
    """
    dtype = check_dtype(dtype)
    # importlib.resources rather than a path built from __file__: it asks the
    # package's loader, so it holds for any installation, not only plain directories.
    resource = resources.files(__package__) / "data" / "digits.csv.gz"
    with resource.open("rb") as fh:
        text = gzip.decompress(fh.read()).decode("ascii")
    table = np.loadtxt(text.splitlines(), delimiter=",", dtype=np.int64)
    X = np.divide(table[:, :-1], 16, dtype=dtype)
    y = np.ascontiguousarray(table[:, -1])
    return X, y


def _find_mnist_files(directory):
    """Map each key of ``_MNIST_FILES`` to the path of an existing spelling of it."""
    found, missing = {}, []
    for key, (stem, kind) in _MNIST_FILES.items():
        candidates = [f"{stem}{sep}{kind}{gz}" for sep in "-." for gz in ("", ".gz")]
        for name in candidates:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                found[key] = candidate
                break
        else:
            missing.append(f"{stem}-{kind}[.gz] (or {stem}.{kind}[.gz])")
    if missing:
        raise FileNotFoundError(
            f"MNIST file(s) not found in {directory!r}: {', '.join(missing)}")
    return found


def _read_idx(filename, magic):
    """Return the uint8 contents of an IDX file as an array shaped by its header.

    ``magic`` is the expected magic number, which also fixes the number of
    dimensions. The file is read exactly once; the array is a read-only view of
    those bytes.
    """
    try:
        if filename.endswith(".gz"):
            with gzip.open(filename, "rb") as fh:
                data = fh.read()
        else:
            with open(filename, "rb") as fh:
                data = fh.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{filename}: corrupt gzip data ({exc})") from None

    if len(data) < 4:
        raise ValueError(f"{filename}: truncated: {len(data)} bytes, too short for "
                         f"an IDX magic number")
    (found_magic,) = struct.unpack_from(">I", data, 0)
    if found_magic != magic:
        raise ValueError(f"{filename}: bad magic number 0x{found_magic:08x}, expected "
                         f"0x{magic:08x}; is this the right MNIST file?")
    ndim = magic & 0xFF
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise ValueError(f"{filename}: truncated header: {len(data)} bytes, an IDX "
                         f"header with {ndim} dimension(s) needs {header_size}")
    shape = struct.unpack_from(f">{ndim}I", data, 4)
    expected = header_size + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "too long"
        raise ValueError(f"{filename}: {problem}: header says shape {shape}, so "
                         f"{expected} bytes, but the data has {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def _images_and_labels(images, labels, images_file, labels_file, count, dtype):
    """Check one images/labels pair and return it as ``(X, y)``.

    ``images`` is (m, rows, cols) uint8 and ``labels`` is (n,) uint8, as read by
    ``_read_idx``; the pair must hold ``count`` 28x28 examples. Returns X as a
    C-contiguous (count, 784) array of ``dtype`` in [0, 1] and y as int64 (count,).
    """
    if images.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(f"{images_file}: images are {images.shape[1]}x{images.shape[2]}, "
                         f"expected {_IMAGE_SHAPE[0]}x{_IMAGE_SHAPE[1]}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images_file} holds {images.shape[0]} images but "
                         f"{labels_file} holds {labels.shape[0]} labels")
    if labels.size and labels.max() >= _N_CLASSES:
        raise ValueError(f"{labels_file}: labels must be digits 0..9, found {labels.max()}")
    if images.shape[0] != count:
        raise ValueError(f"{images_file}: expected {count} examples, as in the standard "
                         f"MNIST set, got {images.shape[0]}")
    X = np.divide(images.reshape(count, -1), 255, dtype=dtype)
    return X, labels.astype(np.int64)
