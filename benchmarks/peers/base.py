"""The interface every implementation under test provides."""
from __future__ import annotations

import importlib.metadata
import importlib.util

import numpy as np

from common import batch_slices, epoch_permutation, one_hot


class Trainer:
    """One implementation training one network with plain mini-batch SGD.

    Subclasses set ``name``, ``requires`` (import names that must be installed) and
    ``workloads``, and implement ``_setup``, ``train_epoch``, ``feedforward`` and
    ``parameters``. The constructor takes the shared initial parameters so that every
    implementation starts from the same point.
    """

    name = "?"
    requires: tuple = ()
    #: Workloads this implementation takes part in.
    workloads = frozenset({"W1", "W2", "W3", "W4", "scaling", "memory", "gil"})
    #: Whether it computes exactly the book's SGD (the --check compares those).
    exact = True
    note = ""
    #: Extra note for the inference (W4) rows.
    inference_note = ""

    def __init__(self, sizes, dtype, weights, biases, batch_size, learning_rate):
        self.sizes = tuple(sizes)
        self.dtype = np.dtype(dtype)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self._setup([np.array(w, self.dtype) for w in weights],
                    [np.array(b, self.dtype) for b in biases])

    # -- availability -------------------------------------------------------------
    @classmethod
    def available(cls) -> bool:
        """True when every package in ``requires`` can be imported."""
        return all(importlib.util.find_spec(mod) is not None for mod in cls.requires)

    @classmethod
    def versions(cls) -> dict:
        """Installed versions of the packages in ``requires``."""
        out = {}
        for mod in cls.requires:
            dist = {"sklearn": "scikit-learn"}.get(mod, mod)
            try:
                out[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                out[dist] = "?"
        return out

    # -- to implement -------------------------------------------------------------
    def _setup(self, weights, biases):
        """Build the model from the initial (n_out, n_in) weights and (n_out,) biases."""
        raise NotImplementedError

    def set_data(self, X, y):
        """Hold the training data (untimed: conversions happen here)."""
        self.X = np.ascontiguousarray(X, self.dtype)
        self.y = np.asarray(y, np.int64)
        self.Y = one_hot(self.y, self.sizes[-1], self.dtype)

    def compile(self):
        """Ahead-of-time compilation for the data set by ``set_data``; returns seconds
        spent, or None when the implementation has no separate compile step."""
        return None

    def train_epoch(self, seed: int):
        """One epoch of SGD over the mini-batches of ``epoch_permutation(n, seed)``."""
        raise NotImplementedError

    def feedforward(self, X) -> np.ndarray:
        """a^L for a batch (m, n_in) or one example (n_in,), as a NumPy array."""
        raise NotImplementedError

    def parameters(self):
        """Current ``(weights, biases)`` as NumPy arrays in fastbp's layout."""
        raise NotImplementedError

    # -- shared helpers -----------------------------------------------------------
    def epoch_batches(self, seed: int):
        """The permutation of this epoch and the slices of its mini-batches."""
        n = len(self.y)
        return epoch_permutation(n, seed), batch_slices(n, self.batch_size)
