import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._backprop import Engine

INITS: tuple[str, ...]

_Activation = Literal["sigmoid", "tanh", "relu", "identity"]
_OutputActivation = Literal["sigmoid", "tanh", "relu", "identity", "softmax"]
_Cost = Literal["quadratic", "cross_entropy", "log_likelihood"]
_Init = Literal["scaled_normal", "normal", "xavier", "he"]
_Optimizer = Literal["sgd", "adam"]
_Schedule = Literal["constant", "invscaling", "plateau"]
# The network's dtype (float32 or float64) is not known statically.
_Array = NDArray[np.floating[Any]]
_History = dict[str, list[float]]
_Path = str | os.PathLike[str]

class Network:
    history: _History
    def __init__(self, sizes: Sequence[int], activation: _Activation = "sigmoid",
                 output_activation: _OutputActivation | None = None,
                 cost: _Cost = "quadratic", init: _Init = "scaled_normal",
                 dtype: DTypeLike = "float64", seed: int | None = None) -> None: ...
    @property
    def sizes(self) -> list[int]: ...
    @property
    def activation(self) -> str: ...
    @property
    def output_activation(self) -> str: ...
    @property
    def cost(self) -> str: ...
    @property
    def init(self) -> str: ...
    @property
    def dtype(self) -> np.dtype[np.floating[Any]]: ...
    @property
    def weights(self) -> list[_Array]: ...
    @weights.setter
    def weights(self, value: Iterable[_Array]) -> None: ...
    @property
    def biases(self) -> list[_Array]: ...
    @biases.setter
    def biases(self, value: Iterable[_Array]) -> None: ...
    def feedforward(self, X: ArrayLike) -> _Array: ...
    def backprop(self, X: ArrayLike, Y: ArrayLike,
                 sample_weight: ArrayLike | None = None) -> tuple[list[_Array], list[_Array]]: ...
    def total_cost(self, X: ArrayLike, Y: ArrayLike, l2: float = 0.0) -> float: ...
    # An array of class indices for rows, one index for a single 1-d example.
    def predict(self, X: ArrayLike) -> NDArray[np.intp] | np.intp: ...
    def evaluate(self, X: ArrayLike, y: ArrayLike) -> float: ...
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int, batch_size: int,
            learning_rate: float,
            validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            shuffle: bool = True, seed: int | None = None, *, l2: float = 0.0,
            optimizer: _Optimizer = "sgd", momentum: float = 0.0, nesterov: bool = False,
            beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
            schedule: _Schedule = "constant", power_t: float = 0.5,
            early_stopping: bool = False, n_iter_no_change: int = 10, tol: float = 1e-4,
            validation_fraction: float = 0.1, dropout: float = 0.0,
            sample_weight: ArrayLike | None = None, monitor_training: bool = False,
            callback: Callable[[Network, int, _History], bool | None] | None = None,
            ) -> _History: ...
    def partial_fit(self, X: ArrayLike, y: ArrayLike, batch_size: int,
                    learning_rate: float, *, shuffle: bool = True, seed: int | None = None,
                    sample_weight: ArrayLike | None = None, l2: float = 0.0,
                    optimizer: _Optimizer = "sgd", momentum: float = 0.0,
                    nesterov: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
                    epsilon: float = 1e-8, dropout: float = 0.0) -> _History: ...
    @classmethod
    def from_sklearn(cls, estimator: Any, *, dtype: DTypeLike | None = None,
                     cost: _Cost | None = None) -> Network: ...
    @classmethod
    def from_torch(cls, module: Any, *, dtype: DTypeLike | None = None,
                   cost: _Cost | None = None) -> Network: ...
    @classmethod
    def from_onnx(cls, model: Any, *, dtype: DTypeLike | None = None,
                  cost: _Cost | None = None, output: str | None = None,
                  external_data: bool = False) -> Network: ...
    def to_onnx(self, path: _Path | None = None, **options: Any) -> Any: ...
    def compiled(self) -> Engine: ...
    def save(self, path: _Path) -> None: ...
    def __getstate__(self) -> dict[str, Any]: ...
    def __setstate__(self, state: dict[str, Any]) -> None: ...

def load(path: _Path) -> Network: ...
