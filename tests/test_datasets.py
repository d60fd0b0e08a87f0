"""fastbp.datasets: MNIST from IDX files and the shipped 8x8 digits."""
import gzip
import os
import shutil
import struct

import numpy as np
import pytest

from fastbp import datasets
from fastbp.datasets import load_digits, load_mnist

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
BAD_DTYPES = ["int32", np.int64, "float16", "complex128", "not-a-dtype"]


def write_idx(path, magic, array):
    """Write uint8 ``array`` as an IDX file with ``magic`` and the array's shape as
    header; gzipped when ``path`` ends in .gz. Returns ``path``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(header + array.tobytes())
    return path


def write_tiny_set(directory, n_train=3, n_test=2):
    """Write four small, well-formed IDX files under the standard names.

    load_mnist parses them all, then refuses them for not having 60,000 training
    examples; a test corrupts one file to reach an earlier error instead.
    Returns a dict of the four paths, keyed like MNIST_NAMES.
    """
    paths = {key: directory / name for key, name in MNIST_NAMES.items()}
    write_idx(paths["train_images"], IMAGES_MAGIC, np.zeros((n_train, 28, 28)))
    write_idx(paths["train_labels"], LABELS_MAGIC, np.arange(n_train) % 10)
    write_idx(paths["test_images"], IMAGES_MAGIC, np.zeros((n_test, 28, 28)))
    write_idx(paths["test_labels"], LABELS_MAGIC, np.arange(n_test) % 10)
    return paths


def assert_names(exc_info, *parts):
    message = str(exc_info.value)
    for part in parts:
        assert str(part) in message, f"{part!r} not in error message {message!r}"


# --- real MNIST ------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["float32", "float64"])
def mnist(request, mnist_dir):
    """``(dtype, load_mnist(mnist_dir, dtype))``; pytest orders the tests so that
    each dtype is loaded once."""
    return np.dtype(request.param), load_mnist(mnist_dir, dtype=request.param)


def test_mnist_split_shapes_and_dtypes(mnist):
    dtype, splits = mnist
    assert len(splits) == 3
    for (X, y), m in zip(splits, (50_000, 10_000, 10_000)):
        assert X.shape == (m, 784)
        assert X.dtype == dtype
        assert X.flags.c_contiguous
        assert y.shape == (m,)
        assert y.dtype == np.int64


def test_mnist_values_and_labels_in_range(mnist):
    _, splits = mnist
    for X, y in splits:
        assert X.min() == 0.0
        assert X.max() == 1.0
        assert np.array_equal(np.unique(y), np.arange(10))


def test_mnist_known_labels(mnist):
    _, ((_, y_train), _, (_, y_test)) = mnist
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_mnist_mean_training_pixel(mnist):
    _, ((X_train, _), (X_val, _), _) = mnist
    # Accumulate in float64: a float32 sum over 47 million pixels drifts.
    total = X_train.sum(dtype=np.float64) + X_val.sum(dtype=np.float64)
    mean = 255 * total / (60_000 * 784)
    assert mean == pytest.approx(33.318, abs=5e-4)


@pytest.fixture(scope="module")
def ungzipped_mnist_dir(mnist_dir, tmp_path_factory):
    """A copy of the real MNIST files, decompressed (or copied, if they are not gzipped)."""
    directory = tmp_path_factory.mktemp("mnist_plain")
    for name in MNIST_NAMES.values():
        plain = os.path.join(mnist_dir, name)
        if os.path.isfile(plain):
            shutil.copyfile(plain, directory / name)
        else:
            with gzip.open(plain + ".gz", "rb") as src, open(directory / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return directory


def test_mnist_ungzipped_copies_load_identically(mnist, ungzipped_mnist_dir):
    dtype, splits = mnist
    for (X, y), (X_plain, y_plain) in zip(splits, load_mnist(ungzipped_mnist_dir, dtype=dtype)):
        assert X_plain.dtype == dtype
        assert np.array_equal(X, X_plain)
        assert np.array_equal(y, y_plain)


# --- the split, on a synthetic full-size set --------------------------------------------

@pytest.fixture(scope="module")
def synthetic_mnist(tmp_path_factory):
    """A random set of MNIST's sizes, its four files in four different spellings.

    Returns ``(directory, train_images, train_labels, test_images, test_labels)``,
    the arrays as written (uint8, images (m, 28, 28)).
    """
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, size=(60_000, 28, 28), dtype=np.uint8)
    train_labels = rng.integers(0, 10, size=60_000, dtype=np.uint8)
    test_images = rng.integers(0, 256, size=(10_000, 28, 28), dtype=np.uint8)
    test_labels = rng.integers(0, 10, size=10_000, dtype=np.uint8)
    directory = tmp_path_factory.mktemp("mnist_synthetic")
    write_idx(directory / "train-images.idx3-ubyte", IMAGES_MAGIC, train_images)
    write_idx(directory / "train-labels.idx1-ubyte.gz", LABELS_MAGIC, train_labels)
    write_idx(directory / "t10k-images-idx3-ubyte", IMAGES_MAGIC, test_images)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC, test_labels)
    return directory, train_images, train_labels, test_images, test_labels


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mnist_split_is_first_50000_last_10000_and_t10k(synthetic_mnist, dtype):
    directory, train_images, train_labels, test_images, test_labels = synthetic_mnist
    train, validation, test = load_mnist(str(directory), dtype=dtype)
    expected = [
        (train_images[:50_000], train_labels[:50_000]),
        (train_images[50_000:], train_labels[50_000:]),
        (test_images, test_labels),
    ]
    for (X, y), (images, labels) in zip((train, validation, test), expected):
        scaled = images.reshape(len(images), 784).astype(dtype) / np.dtype(dtype).type(255)
        assert X.dtype == np.dtype(dtype)
        assert X.flags.c_contiguous
        assert np.array_equal(X, scaled)
        assert y.dtype == np.int64
        assert np.array_equal(y, labels)


# --- refused inputs -------------------------------------------------------------------

def test_missing_directory(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(FileNotFoundError) as exc_info:
        load_mnist(missing)
    assert_names(exc_info, missing)


def test_missing_file_is_named_with_the_directory(tmp_path):
    paths = write_tiny_set(tmp_path)
    paths["test_labels"].unlink()
    with pytest.raises(FileNotFoundError) as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, "t10k-labels-idx1-ubyte", tmp_path)
    assert "train-images" not in str(exc_info.value)


def test_all_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError) as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, tmp_path, *MNIST_NAMES.values())


def test_wrong_magic(tmp_path):
    paths = write_tiny_set(tmp_path)
    # A labels file where the images belong: the magic says 1 dimension, not 3.
    write_idx(paths["train_images"], LABELS_MAGIC, np.zeros(3))
    with pytest.raises(ValueError, match="magic") as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, paths["train_images"], "0x00000801", "0x00000803")


@pytest.mark.parametrize("change, problem", [(-1, "truncated"), (+1, "too long")])
def test_data_length_must_match_header(tmp_path, change, problem):
    paths = write_tiny_set(tmp_path)
    data = paths["test_images"].read_bytes()
    data = data[:change] if change < 0 else data + b"\0" * change
    paths["test_images"].write_bytes(data)
    with pytest.raises(ValueError, match=problem) as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, paths["test_images"])


def test_truncated_header(tmp_path):
    paths = write_tiny_set(tmp_path)
    paths["train_labels"].write_bytes(struct.pack(">I", LABELS_MAGIC))
    with pytest.raises(ValueError, match="truncated") as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, paths["train_labels"])


def test_images_must_be_28x28(tmp_path):
    paths = write_tiny_set(tmp_path)
    write_idx(paths["train_images"], IMAGES_MAGIC, np.zeros((3, 27, 28)))
    with pytest.raises(ValueError, match="28x28") as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, paths["train_images"], "27x28")


def test_image_and_label_counts_must_agree(tmp_path):
    paths = write_tiny_set(tmp_path)
    write_idx(paths["train_labels"], LABELS_MAGIC, np.zeros(4))
    with pytest.raises(ValueError) as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, paths["train_images"], paths["train_labels"], "3 images", "4 labels")


def test_labels_must_be_digits(tmp_path):
    paths = write_tiny_set(tmp_path)
    write_idx(paths["train_labels"], LABELS_MAGIC, [0, 10, 1])
    with pytest.raises(ValueError, match="0..9") as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, paths["train_labels"])


def test_wellformed_but_not_full_size_set_is_refused(tmp_path):
    paths = write_tiny_set(tmp_path)
    with pytest.raises(ValueError, match="60000") as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, paths["train_images"])


def _not_gzip(data):
    return b"this is not gzip data" + data


def _cut_short(data):
    return gzip.compress(data)[:-20]


def _bad_checksum(data):
    compressed = bytearray(gzip.compress(data))
    compressed[-8] ^= 0xFF  # the CRC-32 of the trailer
    return bytes(compressed)


@pytest.mark.parametrize("corrupt", [_not_gzip, _cut_short, _bad_checksum])
def test_corrupt_gzip(tmp_path, corrupt):
    paths = write_tiny_set(tmp_path)
    gz = tmp_path / (MNIST_NAMES["train_labels"] + ".gz")
    gz.write_bytes(corrupt(paths["train_labels"].read_bytes()))
    paths["train_labels"].unlink()
    with pytest.raises(ValueError, match="corrupt gzip") as exc_info:
        load_mnist(tmp_path)
    assert_names(exc_info, gz)


@pytest.mark.parametrize("dtype", BAD_DTYPES)
def test_mnist_bad_dtype(tmp_path, dtype):
    # The dtype is checked first, so this needs no data.
    with pytest.raises((ValueError, TypeError), match="dtype"):
        load_mnist(tmp_path, dtype=dtype)


# --- shipped digits -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32])
def test_digits(dtype):
    X, y = load_digits(dtype=dtype)
    assert X.shape == (1797, 64)
    assert X.dtype == np.dtype(dtype)
    assert X.flags.c_contiguous
    assert y.shape == (1797,)
    assert y.dtype == np.int64
    assert X.min() == 0.0
    assert X.max() == 1.0
    # Pixels are counts 0..16 divided by 16, exactly representable in either dtype.
    assert np.array_equal(X * 16, np.round(X * 16))
    counts = np.bincount(y)
    assert len(counts) == 10
    assert ((170 <= counts) & (counts <= 190)).all()


def test_digits_default_is_float64_and_deterministic():
    X, y = datasets.load_digits()
    assert X.dtype == np.float64
    X2, y2 = datasets.load_digits()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert y[:10].tolist() == list(range(10))


@pytest.mark.parametrize("dtype", BAD_DTYPES)
def test_digits_bad_dtype(dtype):
    with pytest.raises((ValueError, TypeError), match="dtype"):
        load_digits(dtype=dtype)
