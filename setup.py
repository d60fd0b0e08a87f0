"""Build the fastbp extension modules.

Set FASTBP_DEBUG=1 to compile with bounds and wraparound checks on (slower, for hunting
memory errors); the default build has them off, as in scikit-learn.
"""
import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

MODULES = ["_blas", "_activations", "_costs", "_optimizers", "_backprop"]

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

extensions = [
    Extension(
        f"fastbp.{name}",
        [f"fastbp/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # -fno-trapping-math (Clang's default) lets GCC vectorise the branch-free
        # element-wise loops (sigmoid, softmax); FP traps are never enabled here, and
        # results are unchanged. Unlike -ffast-math it keeps IEEE semantics.
        # -g0 (last, so it overrides Python's own -g): no debug info in the wheel's
        # modules, which would make them several times larger.
        extra_compile_args=(["-O3", "-fno-trapping-math"] + ([] if DEBUG else ["-g0"])
                            if os.name != "nt" else []),
        **(LINUX_THREADS.get(name, {}) if sys.platform.startswith("linux") else {}),
    )
    for name in MODULES
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
