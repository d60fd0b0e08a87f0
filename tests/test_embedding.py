"""fastbp's C-level API from a third party's Cython extension.

``tests/embed_example/_embed.pyx`` cimports ``Engine`` and ``feedforward_rows`` from
``fastbp/_backprop.pxd`` and runs the forward pass with the GIL released on its own
buffers. It is built here, once per session, against the *installed* fastbp: the
``.pxd`` files must have shipped with it, and the extension must agree bit for bit with
``Network.feedforward``. Needs Cython, NumPy's headers and a C compiler.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import numpy as np
import pytest

import fastbp

EXAMPLE = Path(__file__).parent / "embed_example"
PACKAGE_DIR = Path(fastbp.__file__).resolve().parent


@pytest.fixture(scope="session")
def embed(tmp_path_factory):
    """The example extension, compiled in a temporary directory and imported."""
    if importlib.util.find_spec("Cython") is None:
        message = "building the example needs Cython: pip install '.[test]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    # The compiler setuptools will call: $CC, else the one Python was built with.
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        message = (f"building the example needs a C compiler, and {compiler!r} is not on "
                   f"PATH (Debian/Ubuntu: apt-get install gcc)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("embed_example")
    for name in ("_embed.pyx", "setup.py"):
        shutil.copy(EXAMPLE / name, workdir / name)
    # Build against the very fastbp this test process imported; setup.py would find
    # the same one through sys.path, but the test must not depend on that.
    env = dict(os.environ, FASTBP_INCLUDE=str(PACKAGE_DIR.parent))
    result = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace",
         "--build-temp", str(workdir / "build")],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, \
        f"building the example failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    [library] = [p for p in workdir.iterdir() if p.name.startswith("_embed.")
                 and p.suffix in (".so", ".pyd")]
    spec = importlib.util.spec_from_file_location("_embed", library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pxd_files_are_installed():
    """The wheel ships the declarations a cimport needs, next to the modules."""
    for name in ("_backprop", "_activations", "_costs"):
        assert (PACKAGE_DIR / f"{name}.pxd").is_file(), f"{name}.pxd is not installed"
        assert (PACKAGE_DIR / f"{name}.pyx").is_file(), f"{name}.pyx is not installed"


def by_batches(net, X, batch_size):
    """``net.feedforward`` called on consecutive blocks of ``batch_size`` rows.

    The reference the example must match bit for bit: a row's a^L may differ in the
    last bit with the number of rows computed with it (BLAS picks GEMV for one row and
    GEMM kernels by size), so only the same blocks give the same bits.
    """
    return np.concatenate([net.feedforward(X[start:start + batch_size])
                           for start in range(0, len(X), batch_size)])


def rtol(dtype):
    return 1e-5 if np.dtype(dtype) == np.float32 else 1e-12


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_batch_equals_feedforward(embed, dtype):
    net = fastbp.Network([13, 17, 9, 5], activation="tanh", cost="log_likelihood",
                         dtype=dtype, seed=3)
    X = np.random.default_rng(1).standard_normal((200, 13)).astype(dtype)
    for batch_size in (200, 10_000):
        out = embed.feedforward_batches(net.compiled(), X, batch_size)
        assert out.dtype == np.dtype(dtype) and out.shape == (200, 5)
        np.testing.assert_array_equal(out, net.feedforward(X))
    # One example: the GEMV path.
    np.testing.assert_array_equal(embed.feedforward_batches(net.compiled(), X[:1], 1)[0],
                                  net.feedforward(X[0]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_batches_equal_feedforward_by_batches(embed, dtype, batch_size):
    net = fastbp.Network([13, 17, 9, 5], activation="relu", output_activation="sigmoid",
                         dtype=dtype, seed=4)
    X = np.random.default_rng(2).standard_normal((200, 13)).astype(dtype)
    out = embed.feedforward_batches(net.compiled(), X, batch_size)
    assert out.dtype == np.dtype(dtype) and out.shape == (200, 5)
    np.testing.assert_array_equal(out, by_batches(net, X, batch_size))
    np.testing.assert_allclose(out, net.feedforward(X), rtol=rtol(dtype), atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shipped_digits_network(embed, dtype):
    """A trained network, the shipped data, and a read-only input."""
    X, y = fastbp.datasets.load_digits(dtype=dtype)
    net = fastbp.Network([64, 30, 10], dtype=dtype, seed=0)
    net.fit(X[:1000], y[:1000], epochs=2, batch_size=10, learning_rate=3.0, seed=0)
    X_test = X[1000:]
    X_test.flags.writeable = False
    out = embed.feedforward_batches(net.compiled(), X_test, len(X_test))
    np.testing.assert_array_equal(out, net.feedforward(X_test))
    np.testing.assert_array_equal(embed.feedforward_batches(net.compiled(), X_test, 32),
                                  by_batches(net, X_test, 32))
    assert np.mean(out.argmax(axis=1) == y[1000:]) > 0.8


def test_engine_follows_replaced_parameters(embed):
    """compiled() returns an engine over the current arrays, even after reassignment."""
    net = fastbp.Network([4, 3, 2], seed=0)
    X = np.linspace(-1, 1, 12).reshape(3, 4)
    before = embed.feedforward_batches(net.compiled(), X, 3)
    net.weights = [w * 2 for w in net.weights]
    after = embed.feedforward_batches(net.compiled(), X, 3)
    np.testing.assert_array_equal(after, net.feedforward(X))
    assert not np.array_equal(before, after)


def test_threads_share_one_engine(embed):
    """feedforward_rows runs without the GIL; threads may share one engine."""
    net = fastbp.Network([32, 64, 10], seed=0)
    engine = net.compiled()
    X = np.random.default_rng(0).random((500, 32))
    sizes = [16, 17, 500, 1]
    expected = [by_batches(net, X, b) for b in sizes]
    results = [None] * len(sizes)

    def work(i):
        for _ in range(20):
            results[i] = embed.feedforward_batches(engine, X, sizes[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(sizes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for out, reference in zip(results, expected):
        np.testing.assert_array_equal(out, reference)


def test_example_checks_its_inputs(embed):
    net = fastbp.Network([4, 3, 2], seed=0)
    with pytest.raises(TypeError, match="dtype"):
        embed.feedforward_batches(net.compiled(), np.zeros((2, 4), np.float32), 1)
    with pytest.raises(ValueError, match="columns"):
        embed.feedforward_batches(net.compiled(), np.zeros((2, 5)), 1)
    assert embed.feedforward_batches(net.compiled(), np.zeros((0, 4)), 1).shape == (0, 2)
