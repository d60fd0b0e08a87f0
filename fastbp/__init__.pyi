from . import datasets as datasets
from .network import Network as Network
from .network import load as load

__version__: str
__all__ = ["Network", "load", "datasets", "__version__"]
