"""Models in: build a ``fastbp.Network`` from a model trained by another library.

``Network.from_sklearn`` and ``Network.from_torch`` delegate here, and
``fastbp.onnx.from_onnx`` ends here too: each reader turns its model into a list of
layers ``(w^l, b^l, σ^l)`` in the book's layout (w^l of shape (n_l, n_{l-1}), b^l of
shape (n_l,)), and ``network_from_layers`` checks that list against what a
``Network`` can hold: one σ for all hidden layers and any supported σ on the output.

Neither scikit-learn nor torch is imported unless a model from it is passed in.
"""
import copy

import numpy as np

from . import _validation as check
from ._activations import ACTIVATIONS, OUTPUT_ONLY

__all__ = ["network_from_layers", "from_sklearn", "from_torch", "default_cost",
           "cost_fits", "FLOAT_DTYPES"]

#: The dtypes a Network computes in.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# scikit-learn's activation names -> fastbp's.
_SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                        "relu": "relu", "softmax": "softmax", "exp": "exp"}


def default_cost(output_activation):
    """The cost a network read from elsewhere gets unless one is asked for.

    softmax -> "log_likelihood", sigmoid -> "cross_entropy" (the book's pairings, under
    which BP1 is δ^L = a^L - y), exp -> "poisson" (likewise), anything else ->
    "quadratic". The cost only matters for further training; ``feedforward`` does not
    depend on it.
    """
    return {"softmax": "log_likelihood", "sigmoid": "cross_entropy",
            "exp": "poisson"}.get(output_activation, "quadratic")


def cost_fits(cost, output_activation):
    """Whether a Network takes ``cost`` with ``output_activation``.

    The quadratic cost takes any output; the others only their pairing.
    """
    return cost == "quadratic" or (cost is not None and
                                   cost == default_cost(output_activation))


def network_from_layers(layers, *, dtype=None, cost=None, activation=None,
                        source="the model", network_class=None):
    """Build a Network holding ``layers``.

    Parameters
    ----------
    layers : list of (W, b, act)
        W of shape (n_l, n_{l-1}), b of shape (n_l,), act a fastbp activation name
        ("sigmoid", "tanh", "relu", "identity", or "softmax" on the last layer).
    dtype : {"float32", "float64"} or None
        None: the dtype of the weights (float32 or float64).
    cost : str or None
        None: ``default_cost(output activation)``.
    activation : str or None
        Hidden σ for a network without hidden layers (where no layer says it);
        None means "identity".
    source : str
        How error messages name the model.
    network_class : type or None
        The class to build (a Network subclass); None means ``fastbp.Network``.

    Returns
    -------
    Network with sizes ``[n_0, n_1, ..., n_L]`` whose ``feedforward`` computes the
    layers' a^l = σ(w^l a^{l-1} + b^l).
    """
    from .network import Network
    network_class = Network if network_class is None else network_class
    if not layers:
        raise ValueError(f"{source} has no affine (Linear/Gemm/MatMul) layer")
    sizes = [int(np.shape(layers[0][0])[1])]
    for l, (W, b, act) in enumerate(layers, start=1):
        W, b = np.asarray(W), np.asarray(b)
        if W.ndim != 2 or W.shape[1] != sizes[-1]:
            raise ValueError(f"{source}: layer {l} has weights of shape {W.shape}, "
                             f"expected (n_{l}, {sizes[-1]})")
        if b.shape != (W.shape[0],):
            raise ValueError(f"{source}: layer {l} has a bias of shape {b.shape}, "
                             f"expected ({W.shape[0]},)")
        if act not in ACTIVATIONS:
            raise ValueError(f"{source}: layer {l} has activation {act!r}, which "
                             f"fastbp does not support")
        sizes.append(W.shape[0])
    hidden = sorted({act for _, _, act in layers[:-1]})
    if any(act in OUTPUT_ONLY for act in hidden):
        raise ValueError(f"{source}: softmax on a hidden layer; fastbp supports it on "
                         f"the output layer only")
    if len(hidden) > 1:
        raise ValueError(f"{source}: its hidden layers use different activations "
                         f"{hidden}; a fastbp.Network has one activation for all "
                         f"hidden layers")
    hidden = hidden[0] if hidden else (activation or "identity")
    output = layers[-1][2]
    if dtype is None:
        dtype = np.result_type(*[np.asarray(p).dtype for W, b, _ in layers
                                 for p in (W, b)])
        if np.dtype(dtype) not in FLOAT_DTYPES:
            raise ValueError(f"{source} has parameters of dtype {np.dtype(dtype)}; "
                             f"fastbp computes in float32 or float64: pass dtype=")
    dtype = check.check_dtype(dtype)
    net = network_class(sizes, activation=hidden, output_activation=output,
                        cost=default_cost(output) if cost is None else cost,
                        init="xavier", dtype=dtype, seed=0)
    for l, (W, b, _) in enumerate(layers):
        # Copied into the network's own (64-byte aligned) arrays.
        with np.errstate(over="ignore"):  # a value too large for float32 is refused below
            net.weights[l][...] = W
            net.biases[l][...] = b
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ValueError(f"{source}: layer {l} has NaN or infinite parameters "
                             f"(in {dtype})")
    return net


# -- scikit-learn -------------------------------------------------------------------


def from_sklearn(estimator, *, dtype=None, cost=None, network_class=None):
    """A Network computing a fitted scikit-learn MLP's outputs.

    Parameters
    ----------
    estimator : fitted sklearn.neural_network.MLPClassifier or MLPRegressor, or a
        fitted fastbp.sklearn.MLPClassifier or MLPRegressor
        Hidden activation "identity", "logistic", "tanh" or "relu"; output "softmax"
        (multi-class), "logistic" (binary or multi-label), "identity" (regression) or
        "exp" (``MLPRegressor(loss="poisson")``).
    dtype : {"float32", "float64"} or None
        None: the dtype of the estimator's ``coefs_``.
    cost : str or None
        None: "log_likelihood" for a softmax output, "cross_entropy" for a logistic
        one, "quadratic" for the regressor ("poisson" for its exp output).

    Returns
    -------
    Network, sizes ``[n_features_in_, *hidden_layer_sizes, n_out]``. ``feedforward(X)``
    of shape (m, n_out) equals

    - multi-class ``MLPClassifier``: ``predict_proba(X)``, n_out = n_classes;
    - binary ``MLPClassifier`` (one logistic unit, in scikit-learn and in
      fastbp.sklearn): ``predict_proba(X)`` too, n_out = 2. The unit's z becomes a
      softmax over (0, z), which is (1 - σ(z), σ(z)); so the network has a softmax
      output (cost "log_likelihood" unless ``cost`` says otherwise) and ``predict``
      gives the index into ``classes_``;
    - multi-label ``MLPClassifier``: ``predict_proba(X)``, sigmoid outputs;
    - ``MLPRegressor``: ``predict(X)`` reshaped to (m, n_outputs).

    Class labels are not part of a Network: ``estimator.classes_[net.predict(X)]``
    gives ``estimator.predict(X)``.

    Raises
    ------
    ValueError
        For an unfitted estimator, another kind of estimator, or an activation fastbp
        has not.
    """
    from .network import Network
    network = getattr(estimator, "__dict__", {}).get("network_")
    name = type(estimator).__name__
    if isinstance(network, Network):  # fastbp's own estimators
        # Two classes: one logistic unit, as in scikit-learn (see below).
        binary = name == "MLPClassifier" and network.output_activation == "sigmoid" \
            and network.sizes[-1] == 1
        if not binary and dtype is None and cost is None \
                and network_class in (None, type(network)):
            return copy.deepcopy(network)
        layers = [(w, b, network.activation if l < len(network.weights) - 1
                   else network.output_activation)
                  for l, (w, b) in enumerate(zip(network.weights, network.biases))]
        if binary:
            layers[-1] = _two_class_softmax(*layers[-1][:2])
        return network_from_layers(
            layers, dtype=network.dtype if dtype is None else dtype,
            cost=network.cost if cost is None and not binary else cost,
            activation=network.activation, source=name, network_class=network_class)
    module = type(estimator).__module__
    if not module.startswith("sklearn.") or name not in ("MLPClassifier", "MLPRegressor"):
        raise ValueError(f"from_sklearn reads scikit-learn's (or fastbp.sklearn's) "
                         f"MLPClassifier and MLPRegressor, not {module}.{name}")
    if not hasattr(estimator, "coefs_"):
        raise ValueError(f"this {name} is not fitted yet: call fit first")
    hidden = _SKLEARN_ACTIVATIONS.get(estimator.activation)
    output = _SKLEARN_ACTIVATIONS.get(estimator.out_activation_)
    if hidden is None or hidden == "softmax":
        raise ValueError(f"{name}: hidden activation {estimator.activation!r} is not "
                         f"supported")
    if output is None:
        raise ValueError(f"{name}: output activation {estimator.out_activation_!r} "
                         f"(loss={getattr(estimator, 'loss', None)!r}) has no fastbp "
                         f"counterpart; supported: softmax, logistic, identity")
    coefs = [np.asarray(c) for c in estimator.coefs_]
    layers = [(c.T, np.asarray(b), hidden) for c, b in
              zip(coefs, estimator.intercepts_)]
    W, b, _ = layers[-1]
    if name == "MLPClassifier" and output == "sigmoid" and W.shape[0] == 1:
        layers[-1] = _two_class_softmax(W, b)
    else:
        layers[-1] = (W, b, output)
    return network_from_layers(layers, dtype=dtype, cost=cost, activation=hidden,
                               source=name, network_class=network_class)


def _two_class_softmax(W, b):
    """The last layer (w, b, "softmax") equal to a two-class MLP's predict_proba:
    its one logistic unit gives (1 - σ(z), σ(z)) = softmax(0, z)."""
    return (np.vstack([np.zeros_like(W), W]), np.concatenate([np.zeros_like(b), b]),
            "softmax")


# -- torch --------------------------------------------------------------------------

_TORCH_ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
                      "Softmax": "softmax"}


def _torch_children(module, torch):
    """The leaf modules of nested Sequentials, in order."""
    if isinstance(module, torch.nn.Sequential):
        for child in module:
            yield from _torch_children(child, torch)
    else:
        yield module


def from_torch(module, *, dtype=None, cost=None, network_class=None):
    """A Network computing the output of a torch MLP.

    Parameters
    ----------
    module : torch.nn.Sequential (possibly nested) or torch.nn.Linear
        ``Linear`` layers, each optionally followed by ``ReLU``, ``Sigmoid``, ``Tanh``
        or (last layer only) ``Softmax(dim=-1)`` / ``Softmax(dim=1)``; one activation
        for all hidden layers, and a Linear with no activation after it has the
        identity. ``Identity``, ``Flatten()`` (a no-op on (m, n) input) and
        ``Dropout`` in eval mode (also a no-op) are skipped.
    dtype : {"float32", "float64"} or None
        None: the dtype of the Linear weights.
    cost : str or None
        None: "log_likelihood" for a softmax output, "cross_entropy" for a sigmoid
        one, else "quadratic".

    Returns
    -------
    Network whose ``feedforward(X)`` for X of shape (m, in_features) equals
    ``module(torch.from_numpy(X))``, shape (m, out_features).

    Raises
    ------
    ValueError
        Naming the first layer fastbp cannot represent (Conv2d, BatchNorm1d,
        LeakyReLU, LogSoftmax, Dropout in train mode, ...), or for mixed hidden
        activations.
    """
    import torch
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"from_torch reads a torch.nn.Module, not {type(module).__name__}")
    layers = []
    pending = None  # (W, b) of a Linear whose activation is not known yet
    for index, child in enumerate(_torch_children(module, torch)):
        kind = type(child).__name__
        where = f"{kind} (layer {index})"
        if isinstance(child, torch.nn.Linear):
            if pending is not None:
                layers.append((*pending, "identity"))
            W = child.weight.detach().cpu().numpy()
            b = (np.zeros(W.shape[0], dtype=W.dtype) if child.bias is None
                 else child.bias.detach().cpu().numpy())
            pending = (W, b)
        elif kind in _TORCH_ACTIVATIONS and type(child).__module__.startswith("torch.nn"):
            if kind == "Softmax" and child.dim not in (None, 1, -1):
                raise ValueError(f"unsupported layer {where}: softmax over dim="
                                 f"{child.dim}; fastbp's is over the features (dim=-1)")
            if pending is None:
                raise ValueError(f"unsupported layer {where}: an activation that does "
                                 f"not follow a Linear layer")
            layers.append((*pending, _TORCH_ACTIVATIONS[kind]))
            pending = None
        elif isinstance(child, torch.nn.Identity):
            continue
        elif isinstance(child, torch.nn.Flatten) and child.start_dim in (1, -1) \
                and child.end_dim == -1:
            continue
        elif isinstance(child, torch.nn.Dropout):
            if child.training and child.p > 0:
                raise ValueError(f"unsupported layer {where} in train mode: call "
                                 f".eval() first (in eval mode it is a no-op)")
            continue
        else:
            raise ValueError(f"unsupported layer {where}: fastbp reads Linear, ReLU, "
                             f"Sigmoid, Tanh, Softmax, Identity, Flatten and Dropout "
                             f"(eval mode)")
    if pending is not None:
        layers.append((*pending, "identity"))
    return network_from_layers(layers, dtype=dtype, cost=cost,
                               source=type(module).__name__, network_class=network_class)
