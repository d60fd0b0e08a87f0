"""The book's mini-batch products beside LIBXSMM's: build and run small_products.c.

    python benchmarks/small_products.py [--isa-off AVX512F] [--cpu N]

Times each product of a batch-10 training step of W1 and W2 (the first layer's
forward product and BP4, float64, 1 thread) by fastbp's own kernels (the dots kernel,
and the bp4 kernel that the planner gives W2's BP4 at this batch, W1's staying with
OpenBLAS; for BP4 the packing GEMM too), by the OpenBLAS that scipy carries and by LIBXSMM's JIT kernels,
alternated in rounds in one process, with the 2048 x 2048 dgemm rate of the same run.
It needs a C compiler and LIBXSMM's headers and static libraries (Debian's
``libxsmm-dev``); without them it says so and exits with status 0. fastbp's C
sources are compiled into the program, so no installed fastbp is needed.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "fastbp", "src")
# Every kernel source the package's _blas module is built with.
KERNEL_SOURCES = ["kernels.c", "pool.c", "gemm_avx512.c", "narrow_avx512.c",
                  "gemv_avx512.c", "gemm_avx2.c", "narrow_avx2.c", "gemv_avx2.c",
                  "dots_avx512.c", "dots_avx2.c", "bp4_avx512.c", "bp4_avx2.c"]
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O3", "-fno-trapping-math", "-ffp-contract=off",
          "-fno-math-errno"]


def scipy_openblas():
    """The path of the OpenBLAS library scipy's wheel carries, or None."""
    try:
        import scipy
    except ImportError:
        return None
    found = glob.glob(os.path.join(os.path.dirname(scipy.__file__), "..", "scipy.libs",
                                   "libscipy_openblas*.so*"))
    return found[0] if found else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa-off", default=None,
                        help="FASTBP_DISABLE_CPU_FEATURES for fastbp's kernels, e.g. AVX512F")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    args = parser.parse_args(argv)
    cc = os.environ.get("CC", "cc")
    header = any(os.path.isfile(os.path.join(d, "libxsmm.h"))
                 for d in ("/usr/include", "/usr/local/include"))
    if shutil.which(cc) is None or not header:
        print("skipped: LIBXSMM's headers or a C compiler not found "
              "(Debian: apt-get install libxsmm-dev)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "small_products")
        sources = [os.path.join(HERE, "small_products.c")] + \
            [os.path.join(SRC, name) for name in KERNEL_SOURCES]
        subprocess.run([cc, *CFLAGS, "-I", SRC, *sources, "-o", exe, "-lxsmm",
                        "-lxsmmnoblas", "-lpthread", "-ldl", "-lm"], check=True)
        env = dict(os.environ)
        if args.isa_off is not None:
            env["FASTBP_DISABLE_CPU_FEATURES"] = args.isa_off
        command = [exe] + ([scipy_openblas()] if scipy_openblas() else [])
        if args.cpu is not None:
            command = ["taskset", "-c", str(args.cpu)] + command
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
