"""fastbp.datasets.load_mnist: the default cache folder and download=True.

Downloads come from a local HTTP server, never the internet. The MNIST copies under
FASTBP_MNIST_DIR are not byte-identical to what the mirrors serve (a re-compression
changes the gzip bytes, not the data), so the tests replace the table of gzipped
digests with that of the files they serve; the digests of the decompressed data are
the real ones.
"""
import functools
import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from fastbp import datasets
from fastbp.datasets import load_mnist

GZ_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@pytest.fixture(scope="module")
def gz_files(mnist_dir):
    """The four gzipped MNIST files as a mirror serves them: ``{name: bytes}``."""
    files = {}
    for name in GZ_NAMES.values():
        path = os.path.join(mnist_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                files[name] = fh.read()
        else:
            with open(path[:-len(".gz")], "rb") as fh:
                files[name] = gzip.compress(fh.read())
    return files


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """FASTBP_DATA pointing at an empty folder; returns the MNIST folder inside it."""
    monkeypatch.setenv("FASTBP_DATA", str(tmp_path / "data"))
    return tmp_path / "data" / "mnist"


@pytest.fixture
def mirror(gz_files, tmp_path, monkeypatch, cache):
    """Serve ``gz_files`` over HTTP on 127.0.0.1 as FASTBP_MNIST_URL.

    Returns ``serve(changes)``, which writes the files, with ``changes`` (name ->
    bytes, or None to leave the file out) applied, to a fresh folder, serves it and
    returns ``(base_url, requests)``; ``requests`` lists the paths asked for.
    """
    monkeypatch.setattr(datasets, "_MNIST_GZ_SHA256", {
        key: hashlib.sha256(gz_files[name]).hexdigest() for key, name in GZ_NAMES.items()})
    # A proxy set in the environment must not intercept the local server.
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    servers = []

    def serve(changes=None):
        root = tmp_path / f"mirror{len(servers)}"
        root.mkdir()
        for name, data in {**gz_files, **(changes or {})}.items():
            if data is not None:
                (root / name).write_bytes(data)
        requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        base_url = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setenv("FASTBP_MNIST_URL", base_url)
        return base_url, requests

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


def summary(splits):
    """Labels and an exact SHA-256 of the images of each split: equal summaries mean
    equal data, without holding two copies of MNIST in memory."""
    return [(hashlib.sha256(X).hexdigest(), X.dtype, X.shape, y.tolist()) for X, y in splits]


def assert_names(exc_info, *parts):
    message = str(exc_info.value)
    for part in parts:
        assert str(part) in message, f"{part!r} not in error message {message!r}"


def test_download_into_empty_cache_loads_like_the_originals(mirror, cache, mnist_dir):
    _, requests = mirror()
    downloaded = summary(load_mnist(download=True, dtype="float32"))
    assert sorted(requests) == sorted(f"/{name}" for name in GZ_NAMES.values())
    assert sorted(os.listdir(cache)) == sorted(GZ_NAMES.values())
    assert downloaded == summary(load_mnist(mnist_dir, dtype="float32"))


def test_second_call_does_not_download_again(mirror, cache):
    _, requests = mirror()
    load_mnist(download=True, dtype="float32")
    assert len(requests) == 4
    load_mnist(download=True, dtype="float32")
    assert len(requests) == 4


def test_only_missing_files_are_downloaded(mirror, cache, gz_files):
    cache.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        (cache / name).write_bytes(gz_files[name])
    _, requests = mirror()
    load_mnist(download=True, dtype="float32")
    assert sorted(requests) == ["/t10k-labels-idx1-ubyte.gz", "/train-labels-idx1-ubyte.gz"]


def test_explicit_path_is_created_and_filled(mirror, tmp_path):
    mirror()
    target = tmp_path / "new" / "folder"
    (X, y), _, _ = load_mnist(target, download=True, dtype="float32")
    assert X.shape == (50_000, 784)
    assert sorted(os.listdir(target)) == sorted(GZ_NAMES.values())


def test_mirrors_are_tried_in_order(mirror, cache, monkeypatch):
    base_url, requests = mirror()
    monkeypatch.delenv("FASTBP_MNIST_URL")
    monkeypatch.setattr(datasets, "MNIST_URLS", (base_url + "gone/", base_url))
    load_mnist(download=True, dtype="float32")
    # Each file is asked of the dead mirror first, then found on the live one.
    assert requests == [path for name in GZ_NAMES.values()
                        for path in (f"/gone/{name}", f"/{name}")]


def assert_rejected_download(exc_info, cache, name, gz_files):
    """The error names ``name`` and both digests; no trace of it is left in the cache."""
    expected = hashlib.sha256(gz_files[name]).hexdigest()
    assert_names(exc_info, name, "SHA-256", expected)
    left = os.listdir(cache)
    assert not [entry for entry in left if entry.startswith(".") or name in entry], left


def test_truncated_download_is_refused(mirror, cache, gz_files):
    name = "train-labels-idx1-ubyte.gz"
    cut = gz_files[name][:-100]
    mirror({name: cut})
    with pytest.raises(ValueError, match="truncated or corrupt") as exc_info:
        load_mnist(download=True, dtype="float32")
    assert_rejected_download(exc_info, cache, name, gz_files)
    assert_names(exc_info, hashlib.sha256(cut).hexdigest(), f"{len(cut)} bytes")


def test_corrupt_download_is_refused(mirror, cache, gz_files):
    name = "t10k-images-idx3-ubyte.gz"
    flipped = bytearray(gz_files[name])
    flipped[len(flipped) // 2] ^= 0x01
    mirror({name: bytes(flipped)})
    with pytest.raises(ValueError) as exc_info:
        load_mnist(download=True, dtype="float32")
    assert_rejected_download(exc_info, cache, name, gz_files)
    assert_names(exc_info, hashlib.sha256(flipped).hexdigest())


def test_missing_on_the_mirror_raises_oserror_naming_the_url(mirror, cache):
    name = "t10k-labels-idx1-ubyte.gz"
    base_url, _ = mirror({name: None})
    with pytest.raises(OSError, match="404") as exc_info:
        load_mnist(download=True, dtype="float32")
    assert_names(exc_info, base_url + name)
    assert name not in os.listdir(cache)
    assert not [entry for entry in os.listdir(cache) if entry.startswith(".")]


def _flip_gzip_byte(data):
    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0x01
    return bytes(corrupt)


def _other_labels(data):
    """Valid gzip and IDX, one label changed: only the digest can tell."""
    raw = bytearray(gzip.decompress(data))
    raw[-1] = (raw[-1] + 1) % 10
    return gzip.compress(bytes(raw))


@pytest.mark.parametrize("corrupt", [_flip_gzip_byte, _other_labels])
def test_corrupt_cached_file_is_refused_with_advice_to_delete_it(
        mirror, cache, gz_files, corrupt):
    cache.mkdir(parents=True)
    for name, data in gz_files.items():
        (cache / name).write_bytes(data)
    bad = cache / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(corrupt(bad.read_bytes()))
    _, requests = mirror()
    with pytest.raises(ValueError, match="delete it") as exc_info:
        load_mnist(download=True, dtype="float32")
    assert_names(exc_info, bad, "download=True")
    assert requests == []


# --- no data needed -------------------------------------------------------------------

def test_missing_cache_without_download_suggests_it(cache):
    with pytest.raises(FileNotFoundError, match="download=True") as exc_info:
        load_mnist()
    assert_names(exc_info, cache)


def test_missing_files_without_download_suggest_it(cache):
    cache.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="download=True") as exc_info:
        load_mnist()
    assert_names(exc_info, cache, "train-images-idx3-ubyte")


def test_default_cache_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTBP_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as exc_info:
        load_mnist()
    assert_names(exc_info, tmp_path / ".cache" / "fastbp" / "mnist")


def test_path_that_is_a_file_is_refused_before_downloading(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("")
    with pytest.raises(NotADirectoryError):
        load_mnist(target, download=True)
