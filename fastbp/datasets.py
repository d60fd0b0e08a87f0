"""Loaders for the data sets used with fastbp.

``load_mnist`` reads MNIST from the four standard IDX files, downloading them into a
cache folder on request, and splits it as in Nielsen's *Neural Networks and Deep
Learning*; ``load_digits`` returns the small UCI 8x8 digits set shipped inside the
package, handy for tests and quick experiments.

Both return images as rows of a C-contiguous float array scaled to [0, 1] and labels
as int64, ready for ``Network.fit``.
"""
import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
from importlib import resources

import numpy as np

from . import _io
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

# Base URLs tried in order by ``load_mnist(download=True)``; the environment variable
# FASTBP_MNIST_URL replaces them with a single base URL.
MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# SHA-256 of the gzipped files the mirrors serve, as published by TensorFlow Datasets
# (tensorflow_datasets/url_checksums/mnist.txt). Re-compressed copies of the same data
# differ here, so files already on disk are checked by the digests below instead.
_MNIST_GZ_SHA256 = {
    "train_images": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train_labels": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "test_images": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "test_labels": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# SHA-256 of the decompressed IDX files, whatever their compression or spelling.
_MNIST_SHA256 = {
    "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Per socket operation: a stalled mirror should fail, not hang the caller forever.
_DOWNLOAD_TIMEOUT = 60


def load_mnist(path=None, download=False, dtype="float64"):
    """Load MNIST from a directory of IDX files, split as in Nielsen's book.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``. Each may also be
        gzipped (``.gz`` suffix) or spelled with a dot (``train-images.idx3-ubyte``).
        If several spellings of one file are present, the uncompressed dash spelling
        wins, then the dash ``.gz``, then the dot spellings in the same order.
        By default, the ``mnist`` folder of the cache directory: ``$FASTBP_DATA`` if
        that environment variable is set, else ``~/.cache/fastbp``.
    download : bool, default False
        If true, first fetch each of the four files missing from the directory
        (creating it if needed) as ``<name>.gz`` from the mirrors in ``MNIST_URLS``,
        tried in order, or from the single base URL in the environment variable
        ``FASTBP_MNIST_URL`` if set. Each download goes to a temporary file in the
        directory and is moved into place only once the SHA-256 of its gzipped
        bytes matches the published one. Then every file, downloaded or already
        there, is checked against the SHA-256 of the standard decompressed data.
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
        If, without ``download``, the directory does not exist or any of the four
        files is missing; the message names the directory and every missing file.
    NotADirectoryError
        If the path exists but is not a directory.
    OSError
        If, with ``download``, a missing file could be fetched from none of the
        mirrors (HTTP error, no connection, ...); the message names every URL tried.
    ValueError
        If a downloaded file's SHA-256 differs from the published one (a truncated
        or corrupt download), naming the file and both digests; nothing is left on
        disk then. With ``download``, if a file already present does not hold the
        standard MNIST data; the message says to delete it. Otherwise, if a file is
        not valid MNIST: corrupt gzip data, wrong magic number, images that are not
        28x28, data shorter or longer than its header says, labels outside 0..9,
        image and label counts that disagree, or not 60,000 training and 10,000
        test examples. The message names the file. Also raised, like TypeError,
        for a ``dtype`` other than float32 or float64.

    Notes
    -----
    A download whose digest is wrong raises at once rather than falling back to the
    next mirror: a mirror serving other bytes than MNIST's deserves attention.
    """
    dtype = check_dtype(dtype)
    directory = _mnist_cache_dir() if path is None else os.fspath(path)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise NotADirectoryError(f"MNIST path {directory!r} is not a directory")
    if download:
        _download_missing(directory)
    elif not os.path.exists(directory):
        raise FileNotFoundError(f"MNIST directory {directory!r} does not exist; pass "
                                f"download=True to fetch MNIST into it")
    files = _find_mnist_files(directory)
    digests = _MNIST_SHA256 if download else dict.fromkeys(_MNIST_SHA256)

    train_images = _read_idx(files["train_images"], _IMAGES_MAGIC, digests["train_images"])
    train_labels = _read_idx(files["train_labels"], _LABELS_MAGIC, digests["train_labels"])
    test_images = _read_idx(files["test_images"], _IMAGES_MAGIC, digests["test_images"])
    test_labels = _read_idx(files["test_labels"], _LABELS_MAGIC, digests["test_labels"])

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


def _mnist_cache_dir():
    """The default MNIST directory: ``mnist`` in $FASTBP_DATA or ~/.cache/fastbp."""
    cache = os.environ.get("FASTBP_DATA") or os.path.expanduser("~/.cache/fastbp")
    return os.path.join(cache, "mnist")


def _find_mnist_file(directory, stem, kind):
    """Return the path of the first existing spelling of one MNIST file, or None."""
    for name in (f"{stem}{sep}{kind}{gz}" for sep in "-." for gz in ("", ".gz")):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _find_mnist_files(directory):
    """Map each key of ``_MNIST_FILES`` to the path of an existing spelling of it."""
    found = {key: _find_mnist_file(directory, stem, kind)
             for key, (stem, kind) in _MNIST_FILES.items()}
    missing = [f"{stem}-{kind}[.gz] (or {stem}.{kind}[.gz])"
               for key, (stem, kind) in _MNIST_FILES.items() if found[key] is None]
    if missing:
        raise FileNotFoundError(
            f"MNIST file(s) not found in {directory!r}: {', '.join(missing)}; pass "
            f"download=True to fetch them")
    return found


def _download_missing(directory):
    """Download into ``directory`` each MNIST file that has no spelling there yet."""
    os.makedirs(directory, exist_ok=True)
    for key, (stem, kind) in _MNIST_FILES.items():
        if _find_mnist_file(directory, stem, kind) is None:
            _download(f"{stem}-{kind}.gz", directory, _MNIST_GZ_SHA256[key])


def _download(name, directory, sha256):
    """Fetch ``name`` into ``directory`` from the first mirror that answers.

    Raises OSError if no mirror serves it, ValueError if its SHA-256 is not
    ``sha256``; either way no partial file is left behind.
    """
    override = os.environ.get("FASTBP_MNIST_URL")
    failures = []
    for base in [override] if override else MNIST_URLS:
        url = f"{base.rstrip('/')}/{name}"
        # Same folder as the target, so that os.replace is an atomic rename and an
        # interrupted download never looks like a cached file.
        fd, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    actual, size = _fetch(url, out)
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(f"{url} ({exc})")
                    continue
            if actual != sha256:
                raise ValueError(
                    f"{name}: downloaded {size} bytes from {url} with SHA-256 {actual}, "
                    f"expected {sha256}; the download is truncated or corrupt")
            os.replace(partial, os.path.join(directory, name))
            return
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    raise OSError(f"could not download {name}: {'; '.join(failures)}")


def _fetch(url, out):
    """Copy the body at ``url`` into the binary file ``out``; return (SHA-256, size)."""
    digest, size = hashlib.sha256(), 0
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
        while chunk := response.read(1 << 16):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_idx(filename, magic, sha256=None):
    """The uint8 array of an MNIST IDX file (``_io.read_idx``), checked against
    ``sha256`` when given."""
    # Digests come only from load_mnist(download=True), which fetches a fresh copy
    # once the bad file is gone: deleting it is the cure.
    advice = ("; this is not the standard MNIST file: delete it and call load_mnist "
              "with download=True again to fetch a fresh copy") if sha256 else ""
    return _io.read_idx(filename, magic, sha256, advice)


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
