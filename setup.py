"""Build the fastbp extension modules.

Set FASTBP_DEBUG=1 to compile with bounds and wraparound checks on (slower, for hunting
memory errors); the default build has them off, as in scikit-learn.
"""
import os
import shutil
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODULES = ["_blas", "_activations", "_costs", "_optimizers", "_backprop"]

# The hand-written C each module is built with (fastbp/src; headers there too).
C_SOURCES = {
    "_blas": ["kernels.c", "pool.c", "gemm_avx512.c", "narrow_avx512.c", "gemv_avx512.c",
              "gemm_avx2.c", "narrow_avx2.c", "gemv_avx2.c", "dots_avx512.c", "dots_avx2.c",
              "bp4_avx512.c", "bp4_avx2.c", "simd.c", "planner.c"],
    "_activations": ["activations.c"],
    "_backprop": ["finite.c", "sparse.c"],
    "_optimizers": ["optimizers.c"],
}

# Every header of fastbp/src: build_ext rebuilds a module when one of them changes
# (the kernels' bodies and vocabularies are headers, included once per instruction
# set and type).
C_HEADERS = sorted(os.path.join("fastbp", "src", name) for name in os.listdir(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "fastbp", "src"))
    if name.endswith(".h"))

DEBUG = os.environ.get("FASTBP_DEBUG", "0") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "nonecheck": False,
    "cdivision": True,
}

# _blas's own kernels (Linux only) start threads and find the BLAS's thread limit
# with dlsym: older glibc keeps those in libpthread and libdl.
LINUX_THREADS = {"_blas": {"extra_link_args": ["-pthread"], "libraries": ["dl"]}}

# -fno-trapping-math (Clang's default) lets GCC vectorise the branch-free element-wise
# loops (sigmoid, softmax); FP traps are never enabled here, and results are unchanged.
# -ffp-contract=off: GCC would otherwise fuse a * b + c into one FMA where the target
# has it (the element-wise loops' AVX2 and AVX-512 variants, src/simd.h) and not
# elsewhere, so the same code would give other bits on other CPUs and compilers; the
# kernels call their FMAs explicitly.
# -fno-math-errno: sqrt need not set errno (nothing in fastbp reads it), so its loops
# vectorise. Unlike -ffast-math, all three keep IEEE semantics. -fvisibility=hidden:
# only the module init functions and what threadpoolctl calls through ctypes are
# exported.
UNIX_CFLAGS = ["-O3", "-fno-trapping-math", "-ffp-contract=off", "-fno-math-errno",
               "-fvisibility=hidden"]

extensions = [
    Extension(
        f"fastbp.{name}",
        [f"fastbp/{name}.pyx"] + [f"fastbp/src/{c}" for c in C_SOURCES.get(name, [])],
        include_dirs=[np.get_include(), "fastbp/src"],
        depends=C_HEADERS,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # -g0 (last, so it overrides Python's own -g): no debug info in the wheel's
        # modules, which would make them several times larger.
        extra_compile_args=(UNIX_CFLAGS + ([] if DEBUG else ["-g0"])
                            if os.name != "nt" else []),
        **(LINUX_THREADS.get(name, {}) if sys.platform.startswith("linux") else {}),
    )
    for name in MODULES
]



class BuildExt(build_ext):
    """build_ext that names the compiler to install when there is none (setuptools
    would only report a failed subprocess and "Failed building wheel")."""

    def build_extensions(self):
        command = getattr(self.compiler, "compiler_so", None)
        if command and shutil.which(command[0]) is None:
            sys.exit(f"error: building fastbp needs a C compiler and {command[0]!r} was not "
                     f"found: install one (Debian/Ubuntu: apt-get install gcc; Fedora: dnf "
                     f"install gcc; macOS: xcode-select --install), or install a fastbp "
                     f"wheel, which needs none")
        super().build_extensions()


setup(ext_modules=cythonize(extensions, compiler_directives=directives),
      cmdclass={"build_ext": BuildExt})
