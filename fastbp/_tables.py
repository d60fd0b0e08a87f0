"""The name and pairing tables every other module reads: one place for each mapping.

The lowest layer of the Python package (it imports only the compiled ``_activations``
and ``_costs``): ``network``, ``sklearn``, ``interop`` and ``onnx`` take their names
from here instead of keeping copies.
"""
import numpy as np

from ._activations import ACTIVATIONS, OUTPUT_ONLY
from ._costs import COSTS

__all__ = ["FLOAT_DTYPES", "ACTIVATIONS", "OUTPUT_ONLY", "HIDDEN_ACTIVATIONS", "COSTS",
           "COST_OUTPUTS", "default_cost", "cost_fits", "SKLEARN_ACTIVATIONS",
           "TORCH_ACTIVATIONS", "ONNX_ACTIVATIONS", "ONNX_OPS"]

#: The dtypes a Network computes in.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: The activations a hidden layer may have (softmax is output-only).
HIDDEN_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a not in OUTPUT_ONLY)

# The book's chapter 3 pairings, and the Poisson deviance with its log link (a = e^z),
# for which BP1 reduces to δ^L = a^L - y: the cost a network read from elsewhere gets
# for these outputs, and the only outputs these costs are defined for.
_BOOK_PAIRINGS = {"softmax": "log_likelihood", "sigmoid": "cross_entropy",
                  "exp": "poisson"}

#: The output activations each cost is defined for (the quadratic cost takes any).
COST_OUTPUTS = {cost: frozenset(ACTIVATIONS) if cost == "quadratic" else
                frozenset(o for o, c in _BOOK_PAIRINGS.items() if c == cost)
                for cost in COSTS}


def default_cost(output_activation):
    """The cost a network read from elsewhere gets unless one is asked for.

    softmax -> "log_likelihood", sigmoid -> "cross_entropy" (the book's pairings),
    exp -> "poisson", anything else -> "quadratic". The cost only matters for further training;
    ``feedforward`` does not depend on it.
    """
    return _BOOK_PAIRINGS.get(output_activation, "quadratic")


def cost_fits(cost, output_activation):
    """Whether a Network takes ``cost`` with ``output_activation``."""
    return cost in COST_OUTPUTS and output_activation in COST_OUTPUTS[cost]


#: scikit-learn's activation names (``activation``, ``out_activation_``) -> fastbp's.
SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                       "relu": "relu", "softmax": "softmax", "exp": "exp"}

#: torch.nn activation classes (by name, in ``torch.nn``) -> fastbp's activations.
TORCH_ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
                     "Softmax": "softmax"}

#: ONNX activation ops -> fastbp's activations (the identity has no op).
ONNX_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu",
                    "Softmax": "softmax", "Exp": "exp"}

#: fastbp's activations -> the ONNX op that computes them.
ONNX_OPS = {fastbp: op for op, fastbp in ONNX_ACTIVATIONS.items()}
