from typing import IO, Optional

from . import datasets as datasets
from .network import Network as Network
from .network import load as load

class MissingFileError(FileNotFoundError, ValueError): ...

__version__: str
__all__ = ["Network", "load", "MissingFileError", "datasets", "show_config", "__version__"]

def show_config(file: Optional[IO[str]] = None) -> None: ...
