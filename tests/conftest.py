"""Fixtures shared by the test modules."""
import os

import pytest

try:
    import fastbp  # noqa: F401
except ImportError as exc:  # most often: the unbuilt source tree shadows the install
    raise pytest.UsageError(
        f"cannot import the compiled fastbp ({exc}). Install it with "
        f"pip install '.[test]' and run `pytest` from the repository root; "
        f"`python -m pytest` puts the source tree, without its compiled modules, first "
        f"on sys.path.") from None

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(scope="session")
def mnist_dir():
    """Directory of the real MNIST IDX files, from the FASTBP_MNIST_DIR variable.

    Without it the MNIST tests are skipped on a developer machine, but fail under CI
    (CI=true), where silently skipping them would let a broken loader pass.
    """
    directory = os.environ.get("FASTBP_MNIST_DIR")
    if not directory:
        problem = "FASTBP_MNIST_DIR is not set"
    else:
        # Each file may be gzipped or not; load_mnist also accepts dotted spellings,
        # but the standard names are what the MNIST tests are written against.
        missing = [name for name in MNIST_FILES
                   if not any(os.path.isfile(os.path.join(directory, name + gz))
                              for gz in ("", ".gz"))]
        if not missing:
            return directory
        problem = f"FASTBP_MNIST_DIR={directory!r} lacks " + \
            ", ".join(f"{name}[.gz]" for name in missing)
    message = f"MNIST data unavailable: {problem}; point it at the four MNIST IDX files"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def use_kernels(monkeypatch):
    """A function that makes fastbp run one instruction set's own kernels ("AVX512F",
    "AVX2") or none, chosen as FASTBP_DISABLE_CPU_FEATURES chooses them; the
    import-time choice is restored after the test."""
    from fastbp import _blas

    before = _blas._config()["kernels"]

    def use(isa):
        off = {"AVX512F": "", "AVX2": "AVX512F", "none": "AVX512F,AVX2"}[isa]
        monkeypatch.setenv("FASTBP_DISABLE_CPU_FEATURES", off)
        _blas._init_cpu()
        assert _blas._config()["kernels"] == isa
        return isa

    yield use
    monkeypatch.undo()      # the variable as it was at import, read again
    _blas._init_cpu()
    assert _blas._config()["kernels"] == before
