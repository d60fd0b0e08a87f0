"""fastbp: backpropagation for feed-forward networks in typed Cython over BLAS.

The four equations of Nielsen's *Neural Networks and Deep Learning*, chapter 2, run in
compiled code with the GIL released; this package is the thin Python layer on top.

>>> import fastbp
>>> net = fastbp.Network([64, 30, 10], seed=0)
"""
from . import datasets  # noqa: F401
from ._version import __version__
from .network import Network, load
from ._threadpool import show_config
from ._io import MissingFileError
__all__ = ["Network", "load", "MissingFileError", "datasets", "show_config", "__version__"]
