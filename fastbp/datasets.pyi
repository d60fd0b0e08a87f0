import os
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import DTypeLike, NDArray

MNIST_URLS: tuple[str, ...]

_Float32Like = Literal["float32", "f4", "<f4", "single"] | type[np.float32] | np.dtype[np.float32]
_Float64Like = (Literal["float64", "f8", "<f8", "double"] | type[np.float64]
                | np.dtype[np.float64])
_Path = str | os.PathLike[str]

_Split32 = tuple[NDArray[np.float32], NDArray[np.int64]]
_Split64 = tuple[NDArray[np.float64], NDArray[np.int64]]
_Split = tuple[NDArray[np.floating[Any]], NDArray[np.int64]]

# numpy's stubs make float32 a subtype of floating[_64Bit], so mypy sees the float32 and
# float64 overloads as overlapping; the first match wins, which is the right one.
@overload
def load_mnist(  # type: ignore[overload-overlap]
        path: _Path | None = None, download: bool = False, *,
        dtype: _Float32Like) -> tuple[_Split32, _Split32, _Split32]: ...
@overload
def load_mnist(  # type: ignore[overload-overlap]
        path: _Path | None, download: bool,
        dtype: _Float32Like) -> tuple[_Split32, _Split32, _Split32]: ...
@overload
def load_mnist(path: _Path | None = None, download: bool = False,
               dtype: _Float64Like = "float64") -> tuple[_Split64, _Split64, _Split64]: ...
@overload
def load_mnist(path: _Path | None = None, download: bool = False,
               dtype: DTypeLike = "float64") -> tuple[_Split, _Split, _Split]: ...

@overload
def load_digits(dtype: _Float32Like) -> _Split32: ...  # type: ignore[overload-overlap]
@overload
def load_digits(dtype: _Float64Like = "float64") -> _Split64: ...
@overload
def load_digits(dtype: DTypeLike = "float64") -> _Split: ...

