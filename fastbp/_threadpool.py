"""fastbp's worker pool as threadpoolctl sees it, and the build's configuration.

fastbp's own kernels share their products between worker threads of its own
(``fastbp/src/pool.c``). They take as many threads as the BLAS may use, and no more
than fastbp's own limit, which this module exposes to threadpoolctl (3.2+) as the
``user_api`` "fastbp": ``threadpoolctl.threadpool_info()`` lists it, and
``threadpoolctl.threadpool_limits(n)`` (or ``user_api="fastbp"``) limits it. The
environment variable ``FASTBP_NUM_THREADS`` sets the limit at import.
"""
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
    instruction set, or none, run; ``FASTBP_NUM_THREADS`` limits fastbp's threads.
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
