# The Python-visible part of the compiled engine. Its C-level API (Layers, Engine.net,
# feedforward_rows) is declared for Cython code in _backprop.pxd.
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

_Array = NDArray[np.floating[Any]]

class Engine:
    """Compiled view of one network's parameters: pointers into the live arrays."""

    @property
    def weights(self) -> tuple[_Array, ...]: ...
    @property
    def biases(self) -> tuple[_Array, ...]: ...
    def __init__(self, weights: Sequence[_Array], biases: Sequence[_Array], hidden: str,
                 output: str, cost: str) -> None: ...
    def matches(self, weights: Sequence[_Array], biases: Sequence[_Array]) -> bool: ...
    @property
    def sizes(self) -> list[int]: ...
    def feedforward(self, X: _Array, out: _Array) -> None: ...
    def gradient(self, X: _Array, Y: _Array, S: _Array | None, alpha: float,
                 nabla_w: Sequence[_Array], nabla_b: Sequence[_Array]) -> float: ...
    def train_epoch(self, X: _Array, Y: _Array, S: _Array | None, order: NDArray[np.intp],
                    batch_size: int, hyper: dict[str, Any], state: dict[str, Any],
                    step: int, seed: int,
                    check_input: bool = ...) -> tuple[int, float, int]: ...

def all_finite(x: _Array) -> bool: ...
