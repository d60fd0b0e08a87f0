"""Shared pieces of the benchmark suite: workloads, data, initial parameters,
mini-batch order, FLOP counts, timing and thread control.

Every implementation (fastbp and its peers) gets its data, its initial parameters and
its mini-batch order from here, so that all of them do the same arithmetic.
"""
from __future__ import annotations

import gzip
import os
import platform
import statistics
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import sys

import numpy as np

#: The repository root goes at the END of sys.path: an installed fastbp wins, and an
#: in-place build (``python setup.py build_ext --inplace``) is found otherwise.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

#: Environment variables that cap the threads of BLAS and OpenMP runtimes. They must be
#: set before the libraries are imported, hence one subprocess per thread count.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

#: OpenBLAS tuning variables that change its kernels; noted in the results when set.
OPENBLAS_TUNING_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE")

#: The four MNIST IDX files, each gzipped (``.gz``) or not.
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_dir() -> str:
    """Where the benchmarks read MNIST: ``$FASTBP_MNIST_DIR``, else the folder that
    ``fastbp train --mnist --download`` fills, ``$FASTBP_DATA/mnist`` or
    ``~/.cache/fastbp/mnist`` (fastbp.datasets.load_mnist's default)."""
    path = os.environ.get("FASTBP_MNIST_DIR")
    if path:
        return path
    cache = os.environ.get("FASTBP_DATA") or os.path.expanduser("~/.cache/fastbp")
    return os.path.join(cache, "mnist")


def missing_mnist() -> str | None:
    """A one-line description of what is missing from ``mnist_dir()``, or None."""
    path = mnist_dir()
    missing = [name for name in MNIST_FILES
               if not any(os.path.isfile(os.path.join(path, name + gz)) for gz in (".gz", ""))]
    if not missing:
        return None
    return (f"MNIST not found: {path} lacks {', '.join(missing)} (gzipped or not); set "
            f"FASTBP_MNIST_DIR to the folder of the four IDX files, or fetch them into "
            f"{path} with `fastbp train --mnist --download`")


@dataclass(frozen=True)
class TrainSpec:
    """A training workload: network shape and SGD hyperparameters."""

    name: str
    sizes: tuple
    batch_size: int
    learning_rate: float
    dtype: str

    def describe(self) -> str:
        """One-line description for tables and the README."""
        return (f"{list(self.sizes)}, sigmoid, quadratic, batch {self.batch_size}, "
                f"lr {self.learning_rate}, {self.dtype}")


TRAIN_WORKLOADS = {
    "W1": TrainSpec("W1", (784, 30, 10), 10, 3.0, "float64"),
    "W2": TrainSpec("W2", (784, 100, 10), 10, 3.0, "float64"),
    "W3": TrainSpec("W3", (784, 512, 512, 10), 128, 0.1, "float32"),
}

#: Every workload name that ``--workloads`` accepts, in the order they run.
ALL_WORKLOADS = ("W1", "W2", "W3", "W4", "scaling", "memory", "gil", "W5")

#: W5, the scikit-learn user's job: ``MLPClassifier`` with its defaults (one hidden
#: layer of 100 ReLU, Adam, batch 200, alpha 1e-4, float64) on the MNIST training
#: images, fastbp.sklearn's against scikit-learn's, and a deeper variant. Only
#: ``max_iter`` is set (3 epochs, 1 in a quick run; the ``tol`` rule needs 10 epochs
#: without improvement to stop earlier, so both always run them all).
W5_CONFIGS = {
    "defaults": {},
    "(256, 128), batch 64": {"hidden_layer_sizes": (256, 128), "batch_size": 64},
}


@dataclass(frozen=True)
class Sizes:
    """How much data and how many repeats a run uses (full or --quick)."""

    n_train: int
    scaling: tuple
    memory: tuple
    gil_n: int
    single_calls: int
    repeats: int

    @classmethod
    def for_run(cls, quick: bool, repeats: int) -> "Sizes":
        if quick:
            return cls(5_000, (2_000, 5_000, 10_000), (2_000, 10_000), 5_000, 500, repeats)
        return cls(50_000, (10_000, 20_000, 50_000), (10_000, 50_000), 20_000, 2_000,
                   repeats)


# --------------------------------------------------------------------------------
# Data

def _read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (big-endian header, then uint8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _private_load_mnist(path, dtype):
    """Fallback MNIST reader with the book's 50k/10k/10k split (same output as fastbp's)."""
    path = Path(path)
    images = _read_idx(path / "train-images-idx3-ubyte.gz").reshape(60_000, 784)
    labels = _read_idx(path / "train-labels-idx1-ubyte.gz").astype(np.int64)
    t_images = _read_idx(path / "t10k-images-idx3-ubyte.gz").reshape(10_000, 784)
    t_labels = _read_idx(path / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    dtype = np.dtype(dtype)

    def scale(a):
        return a.astype(dtype) / dtype.type(255)

    return ((scale(images[:50_000]), labels[:50_000]),
            (scale(images[50_000:]), labels[50_000:]),
            (scale(t_images), t_labels))


def synthetic_instead_of_mnist() -> bool:
    """True when MNIST is absent and nobody asked for it by name: FASTBP_MNIST_DIR is
    unset and the download cache lacks it. (A FASTBP_MNIST_DIR that lacks the files is
    a mistake to report, not to paper over.)"""
    return not os.environ.get("FASTBP_MNIST_DIR") and missing_mnist() is not None


#: What the results say the data was when MNIST was absent.
SYNTHETIC_LOADER = ("synthetic data of MNIST's shapes (MNIST was not found; times are "
                    "comparable with MNIST's, accuracies are not)")


def synthetic_mnist(dtype="float64"):
    """Seeded stand-in for MNIST with its shapes, dtype and value range: 50,000, 10,000
    and 10,000 rows of 784 pixels in [0, 1], labels 0-9. Each class is a random set of
    about a fifth of the pixels (MNIST's share of inked pixels), each example that set
    at random intensities with a tenth of it dropped, so the networks learn something
    and the sums into the first layer are of MNIST's size; the arithmetic per epoch is
    the same as on MNIST."""
    rng = np.random.default_rng(0)
    prototypes = (rng.random((10, 784)) < 0.2).astype(np.float32)
    splits = []
    for n in (50_000, 10_000, 10_000):
        y = rng.integers(0, 10, n).astype(np.int64)
        X = prototypes[y] * rng.uniform(0.3, 1.0, (n, 784)).astype(np.float32)
        X[rng.random((n, 784)) < 0.1] = 0
        splits.append((X.astype(dtype, copy=False), y))
    return tuple(splits)


def load_mnist(dtype="float64"):
    """Return ``(train, validation, test, loader_name)``; each split is ``(X, y)``.

    Uses ``fastbp.datasets.load_mnist`` when fastbp imports, else a private reader
    that produces the same arrays. The directory is ``mnist_dir()``; without MNIST
    there (and FASTBP_MNIST_DIR unset), ``synthetic_mnist``.
    """
    if synthetic_instead_of_mnist():
        return (*synthetic_mnist(dtype), SYNTHETIC_LOADER)
    path = mnist_dir()
    try:
        from fastbp.datasets import load_mnist as fastbp_load
    except Exception:  # fastbp not built yet, or half-built
        return (*_private_load_mnist(path, dtype), "benchmarks private IDX reader")
    train, val, test = fastbp_load(path, dtype=dtype)
    return train, val, test, "fastbp.datasets.load_mnist"


def one_hot(y: np.ndarray, n_classes: int, dtype) -> np.ndarray:
    """Labels (m,) -> one-hot targets (m, n_classes)."""
    Y = np.zeros((len(y), n_classes), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


# --------------------------------------------------------------------------------
# Initial parameters and mini-batch order (identical for every implementation)

def initial_parameters(sizes, dtype, seed=0):
    """fastbp's ``init="normal"``: w ~ N(0,1) (n_out, n_in), b ~ N(0,1) (n_out,),
    drawn layer by layer from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(rng.standard_normal((n_out, n_in)).astype(dtype))
        biases.append(rng.standard_normal(n_out).astype(dtype))
    return weights, biases


def epoch_permutation(n: int, seed: int) -> np.ndarray:
    """The example order of one epoch: ``np.random.default_rng(seed).permutation(n)``.

    This is what ``fastbp.Network.fit(..., epochs=1, shuffle=True, seed=seed)`` uses, so
    fastbp and the peers see the same mini-batches.
    """
    return np.random.default_rng(seed).permutation(n)


def batch_slices(n: int, batch_size: int):
    """Slices of the book's mini-batches ``[k, k+B)``; the last one may be shorter."""
    return [slice(k, min(k + batch_size, n)) for k in range(0, n, batch_size)]


# --------------------------------------------------------------------------------
# FLOP counts

def train_flops_per_example(sizes) -> int:
    """Forward + backward GEMM FLOPs of one training example.

    Per layer l (n_in -> n_out): 2*n_in*n_out for z = W a + b, 2*n_in*n_out for the
    weight gradient (BP4), and 2*n_in*n_out for propagating delta back (BP2), which
    the first layer does not need. Element-wise work (sigmoid, biases) is not counted.
    """
    total = 0
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        total += (4 if layer == 0 else 6) * n_in * n_out
    return total


def forward_flops_per_example(sizes) -> int:
    """Forward GEMM FLOPs of one example: sum over layers of 2*n_in*n_out."""
    return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))


# --------------------------------------------------------------------------------
# Timing

class Timer:
    """Wall and process CPU time of a block; ``cpu_util`` = CPU seconds / wall seconds
    (about 1 for one busy thread, about 2 when two threads work)."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
        self.cpu_util = self.cpu / self.wall if self.wall > 0 else float("nan")


def measure(fn, repeats: int, warmup: int = 1):
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns a dict with the median, min and max wall time and the median CPU use.
    """
    for _ in range(warmup):
        fn()
    walls, utils = [], []
    for _ in range(repeats):
        with Timer() as t:
            fn()
        walls.append(t.wall)
        utils.append(t.cpu_util)
    return summarize(walls, utils)


def summarize(walls, utils):
    """The median, min and max of the wall times and the median CPU use."""
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "cpu_util": statistics.median(utils), "samples": list(walls)}


# --------------------------------------------------------------------------------
# Threads and machine

def thread_env(threads: int) -> dict:
    """Environment variables that cap every runtime at ``threads`` threads."""
    env = {var: str(threads) for var in THREAD_ENV_VARS}
    if threads == 1:
        env["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                            "intra_op_parallelism_threads=1")
    env["JAX_PLATFORMS"] = "cpu"
    return env


def limit_threads_in_process(threads: int):
    """Cap the BLAS/OpenMP pools already loaded (numpy's and scipy's OpenBLAS,
    torch's OpenMP) with threadpoolctl; return the limiter to keep it alive."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    try:  # make sure scipy's bundled OpenBLAS is loaded so it is capped too
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:
        pass
    return threadpool_limits(limits=threads)


def threadpool_summary() -> list:
    """What threadpoolctl sees: one entry per loaded BLAS/OpenMP library."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{"api": i.get("internal_api"), "prefix": i.get("prefix"),
             "version": i.get("version"), "num_threads": i.get("num_threads"),
             "file": os.path.basename(i.get("filepath", "")),
             "arch": i.get("architecture")} for i in threadpool_info()]


def machine_info() -> dict:
    """CPU model and core count from /proc/cpuinfo, plus OS and Python."""
    model, flags = "unknown", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1]
    except OSError:
        pass
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
           if f" {f}" in f" {flags} "]
    return {"cpu": model, "logical_cpus": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)), "isa": " ".join(isa),
            "os": platform.platform(), "python": platform.python_version()}
