"""Models in: build a ``fastbp.Network`` from a model trained by another library.

``Network.from_sklearn`` and ``Network.from_torch`` delegate here, and
``fastbp.onnx.from_onnx`` ends here too: each reader turns its model into a list of
layers ``(w^l, b^l, σ^l)`` in the book's layout (w^l of shape (n_l, n_{l-1}), b^l of
shape (n_l,)), and ``network_from_layers`` checks that list against what a
``Network`` can hold: one σ for all hidden layers and any supported σ on the output.

Neither scikit-learn nor torch is imported unless a model from it is passed in. The
adapters sit above ``network`` and build networks through its public API;
``Network.from_sklearn``/``from_torch`` import this module only when called.
"""
import copy

import numpy as np

from . import _validation as check
from ._tables import (ACTIVATIONS, FLOAT_DTYPES, OUTPUT_ONLY, SKLEARN_ACTIVATIONS,
                      TORCH_ACTIVATIONS, default_cost)
from .network import Network

__all__ = ["network_from_layers", "from_sklearn", "from_torch"]


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
    activation = getattr(estimator, "activation", None)
    out_activation = getattr(estimator, "out_activation_", None)
    hidden = SKLEARN_ACTIVATIONS.get(activation) if isinstance(activation, str) else None
    output = SKLEARN_ACTIVATIONS.get(out_activation) \
        if isinstance(out_activation, str) else None
    if hidden is None or hidden == "softmax":
        raise ValueError(f"{name}: hidden activation {activation!r} is not "
                         f"supported")
    if output not in ({"softmax", "sigmoid"} if name == "MLPClassifier"
                      else {"identity", "exp"}):
        raise ValueError(f"{name}: output activation {out_activation!r} "
                         f"(loss={getattr(estimator, 'loss', None)!r}) has no fastbp "
                         f"counterpart; supported: softmax and logistic for a classifier, "
                         f"identity and exp (loss='poisson') for a regressor")
    coefs = _fitted_arrays(estimator, "coefs_", 2, name)
    intercepts = _fitted_arrays(estimator, "intercepts_", 1, name)
    if len(coefs) != len(intercepts) or not coefs:
        raise ValueError(f"{name}: coefs_ has {len(coefs)} arrays and intercepts_ "
                         f"{len(intercepts)}; a fitted MLP has one of each per layer")
    layers = [(c.T, b, hidden) for c, b in zip(coefs, intercepts)]
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


def _fitted_arrays(estimator, attr, ndim, name):
    """The list ``estimator.<attr>`` as numeric arrays of ``ndim`` dimensions."""
    value = getattr(estimator, attr, None)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name}: {attr} is a {type(value).__name__}, not the list of "
                         f"arrays of a fitted MLP")
    arrays = []
    for i, a in enumerate(value):
        try:
            a = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}: {attr}[{i}] is not an array ({exc})") from None
        if a.ndim != ndim or a.dtype.kind not in "fiu":
            raise ValueError(f"{name}: {attr}[{i}] has shape {a.shape} and dtype "
                             f"{a.dtype}; a fitted MLP's are {ndim}-d numbers")
        arrays.append(a)
    return arrays


# -- torch --------------------------------------------------------------------------

# The torch.nn classes read, by exact type: a subclass may compute anything in its own
# forward, so it is refused rather than read as its base.
_TORCH_PASS_THROUGH = ("Identity", "Flatten", "Dropout")


def _torch_leaves(module, torch):
    """(name, leaf) of nested Sequentials, in the order Sequential.forward runs them,
    each module checked to compute what its class's forward computes (no hooks, no
    parametrizations, no instance ``forward``). Walked without recursion."""
    stack = [("module", module)]
    while stack:
        name, current = stack.pop()
        _check_plain_module(current, name, torch)
        if type(current) is torch.nn.Sequential:
            children = list(current._modules.items())
            for key, child in reversed(children):
                if child is None:
                    raise ValueError(f"unsupported layer {name}.{key}: an empty slot "
                                     f"(None) in a Sequential")
                stack.append((f"{name}.{key}" if name != "module" else key, child))
        else:
            yield name, current


def _check_plain_module(module, name, torch):
    kind = type(module)
    where = f"{name} ({kind.__module__}.{kind.__qualname__})"
    known = {getattr(torch.nn, k) for k in ("Sequential", "Linear", *TORCH_ACTIVATIONS,
                                             *_TORCH_PASS_THROUGH)}
    if kind not in known:
        raise ValueError(f"unsupported layer {where}: fastbp reads the torch.nn classes "
                         f"Sequential, Linear, ReLU, Sigmoid, Tanh, Softmax, Identity, "
                         f"Flatten and Dropout themselves, not subclasses or other "
                         f"layers, whose forward may compute something else")
    hooks = [h for h in ("_forward_hooks", "_forward_pre_hooks")
             if getattr(module, h, None)]
    if hooks:
        raise ValueError(f"unsupported layer {where}: it has forward hooks "
                         f"({', '.join(hooks)}), which may change its output")
    if "forward" in vars(module):
        raise ValueError(f"unsupported layer {where}: its forward was replaced on the "
                         f"instance")
    if getattr(module, "parametrizations", None) is not None:
        raise ValueError(f"unsupported layer {where}: it has parametrizations (such as "
                         f"spectral or weight norm); call "
                         f"torch.nn.utils.parametrize.remove_parametrizations first")


def _torch_array(module, name, attr, torch, dtype):
    """The parameter ``attr`` of a Linear as a NumPy array, if it is a plain dense
    real tensor whose values can be read exactly."""
    where = f"{name} (Linear), parameter {attr!r}"
    p = module._parameters.get(attr)
    if p is None:
        p = vars(module).get(attr, getattr(module, attr, None))
    if type(p) not in (torch.nn.Parameter, torch.Tensor):
        raise ValueError(f"unsupported layer {where}: a {type(p).__name__}, not a plain "
                         f"torch.nn.Parameter")
    if p.is_meta or p.layout != torch.strided or p.is_quantized or p.is_complex():
        raise ValueError(f"unsupported layer {where}: a {'meta' if p.is_meta else ''}"
                         f"{p.layout} {p.dtype} tensor without real values to read")
    t = p.detach().resolve_neg().resolve_conj().cpu()
    if t.dtype in (torch.float16, torch.bfloat16):
        if dtype is None:
            raise ValueError(f"unsupported layer {where}: its dtype is {t.dtype}; fastbp "
                             f"computes in float32 or float64: pass dtype=")
        t = t.to(torch.float64)  # exact
    if t.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"unsupported layer {where}: dtype {t.dtype}")
    return np.array(t.numpy(), copy=True)


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
        Naming the first module fastbp cannot prove computes what it reads: only the
        exact torch.nn classes above are read, so a subclass (even of ``Linear`` or
        ``Sequential``) with a forward of its own is refused, as are other layers
        (Conv2d, BatchNorm1d, LeakyReLU, LogSoftmax, Dropout in train mode, ...);
        modules with forward hooks or pre-hooks (and global ones), a ``forward``
        replaced on the instance, parametrizations (``spectral_norm``,
        ``weight_norm``), and parameters that are not plain dense real tensors (meta,
        sparse, quantized, complex, tensor subclasses). Also for mixed hidden
        activations.
    """
    import torch
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"from_torch reads a torch.nn.Module, not {type(module).__name__}")
    import torch.nn.modules.module as torch_module
    if any(getattr(torch_module, h, None) for h in ("_global_forward_hooks",
                                                   "_global_forward_pre_hooks")):
        raise ValueError("module: global forward hooks are registered "
                         "(torch.nn.modules.module.register_module_forward_hook), "
                         "which may change every module's output")
    layers = []
    pending = None  # (W, b) of a Linear whose activation is not known yet
    for name, child in _torch_leaves(module, torch):
        kind = type(child).__name__
        where = f"{name} ({kind})"
        if kind == "Linear":
            if pending is not None:
                layers.append((*pending, "identity"))
            W = _torch_array(child, name, "weight", torch, dtype)
            b = np.zeros(W.shape[0], dtype=W.dtype) if child.bias is None else \
                _torch_array(child, name, "bias", torch, dtype)
            pending = (W, b)
        elif kind in TORCH_ACTIVATIONS:
            if kind == "Softmax" and child.dim not in (None, 1, -1):
                raise ValueError(f"unsupported layer {where}: softmax over dim="
                                 f"{child.dim}; fastbp's is over the features (dim=-1)")
            if pending is None:
                raise ValueError(f"unsupported layer {where}: an activation that does "
                                 f"not follow a Linear layer")
            layers.append((*pending, TORCH_ACTIVATIONS[kind]))
            pending = None
        elif kind == "Identity":
            continue
        elif kind == "Flatten":
            if child.start_dim not in (1, -1) or child.end_dim != -1:
                raise ValueError(f"unsupported layer {where}: Flatten(start_dim="
                                 f"{child.start_dim}, end_dim={child.end_dim}) is not a "
                                 f"no-op on (m, n) input")
        else:  # Dropout
            if child.training and child.p > 0:
                raise ValueError(f"unsupported layer {where} in train mode: call "
                                 f".eval() first (in eval mode it is a no-op)")
    if pending is not None:
        layers.append((*pending, "identity"))
    return network_from_layers(layers, dtype=dtype, cost=cost,
                               source=type(module).__name__, network_class=network_class)
