"""fastbp's worker pool as threadpoolctl sees it, and the build's configuration.

fastbp's own kernels share their products between worker threads of its own
(``fastbp/src/pool.c``). They take as many threads as the BLAS may use, and no more
than fastbp's own limit, which this module exposes to threadpoolctl (3.2+) as the
``user_api`` "fastbp": ``threadpoolctl.threadpool_info()`` lists it, and
``threadpoolctl.threadpool_limits(n)`` (or ``user_api="fastbp"``) limits it. The
environment variable ``FASTBP_NUM_THREADS`` sets the limit at import.
"""
import os
import subprocess
import sys

from . import _blas
from ._version import __version__

try:
    from threadpoolctl import LibController, register
except ImportError:     # threadpoolctl is optional: without it there is nothing to do
    LibController = register = None


if LibController is not None:
    class FastbpController(LibController):
        """threadpoolctl's handle on fastbp's worker pool (the ``_blas`` module)."""

        user_api = "fastbp"
        internal_api = "fastbp"
        filename_prefixes = ("_blas.",)
        # The symbol that tells fastbp's module from another library's ``_blas``.
        check_symbols = ("fastbp_get_num_threads",)

        def get_num_threads(self):
            get = getattr(self.dynlib, "fastbp_get_num_threads", None)
            return None if get is None else get()

        def set_num_threads(self, num_threads):
            set_ = getattr(self.dynlib, "fastbp_set_num_threads", None)
            if set_ is not None:
                set_(num_threads)

        def get_version(self):
            return __version__

    register(FastbpController)


def show_config(file=None):
    """Print how fastbp's native layer was built and what it runs on this machine.

    Parameters
    ----------
    file : file-like, optional
        Where to print (default: ``sys.stdout``).

    Notes
    -----
    ``FASTBP_DISABLE_CPU_FEATURES`` (for example ``AVX512F`` or ``AVX2``, comma
    separated) turns CPU features off at import, so the kernels of a lesser
    instruction set, or none, run, and the element-wise loops (activations, the
    NaN/inf check, the optimisers' updates) built for it; ``FASTBP_NUM_THREADS``
    limits fastbp's threads.
    """
    import numpy
    import scipy

    config = _blas._config()
    lines = [
        f"fastbp {__version__}",
        f"  python: {sys.version.split()[0]}, numpy {numpy.__version__}, "
        f"scipy {scipy.__version__}",
        f"  compiler: {config['compiler']}",
        f"  own kernels compiled in: {'yes' if config['own_kernels_compiled'] else 'no'}",
        f"  CPU features found: {' '.join(config['cpu_features']) or 'none'}",
        f"  CPU features enabled: {' '.join(config['enabled_features']) or 'none'}",
        f"  kernels in use: {config['kernels']}",
        f"  thread limit: {_blas._get_num_threads()} (fastbp), "
        f"{_blas._kernel_threads()} in effect with the BLAS's",
    ]
    print("\n".join(lines), file=file or sys.stdout)


# -- the BLAS library's threads, for the command line -----------------------------

# Thread-count variables of the BLAS libraries NumPy and SciPy may be built with. They
# are read when the library loads, and the library loads as soon as fastbp is imported.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS")


def rerun_with_thread_variables(argv, threads):
    """Run the command again in a child whose BLAS reads ``threads`` at load time.

    Returns its exit status, or None when the variables are already in effect here.
    """
    if all(os.environ.get(name) == str(threads) for name in THREAD_VARIABLES):
        return None
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    # Not `python -m fastbp`: that would import whatever fastbp the current directory
    # holds (an unbuilt source tree, say), not necessarily this one.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from fastbp.cli import main; sys.exit(main())")
    return subprocess.call([sys.executable, "-c", code, package_parent, *argv], env=env)


def blas_limits(threads):
    """A context manager limiting BLAS to ``threads`` threads, or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")
