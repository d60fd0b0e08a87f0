"""fastbp: backpropagation for feed-forward networks in typed Cython over BLAS.

The four equations of Nielsen's *Neural Networks and Deep Learning*, chapter 2, run in
compiled code with the GIL released; this package is the thin Python layer on top.

>>> import fastbp
>>> net = fastbp.Network([64, 30, 10], seed=0)
"""
try:
    from . import _backprop  # noqa: F401
except ImportError as _exc:
    import os as _os

    _here = _os.path.dirname(_os.path.abspath(__file__))
    # A checkout holds the .pyx sources next to setup.py but no compiled modules until
    # it is built: Python run from its root imports that tree, not the installed fastbp.
    if (_os.path.isfile(_os.path.join(_os.path.dirname(_here), "setup.py"))
            and not any(name.startswith("_backprop.") and name.endswith((".so", ".pyd"))
                        for name in _os.listdir(_here))):
        raise ImportError(
            f"fastbp is being imported from its source tree ({_here}), whose compiled "
            f"modules have not been built. Run Python from another directory to use an "
            f"installed fastbp, or build this tree in place with `pip install -e .` "
            f"(from {_os.path.dirname(_here)})."
        ) from None
    raise
from . import datasets  # noqa: F401
from ._version import __version__
from .network import Network, load
from ._threadpool import show_config
from ._io import MissingFileError
__all__ = ["Network", "load", "MissingFileError", "datasets", "show_config", "__version__"]
