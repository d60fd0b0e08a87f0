"""ONNX export and import of fastbp networks.

``to_onnx`` writes a network (or a fitted ``fastbp.sklearn`` estimator) as a plain
ONNX graph, ``Gemm`` plus an activation op per layer, that onnxruntime and other
runtimes serve. ``from_onnx`` (also ``fastbp.Network.from_onnx``) reads such graphs
back, and the MLP graphs of ``torch.onnx.export`` and skl2onnx.

Needs the ``onnx`` package (``pip install onnx``; ``pip install ".[onnx]"`` from a
checkout adds onnxruntime and skl2onnx too). ``import fastbp`` does not
import this module or onnx.
"""
import copy
import os

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(f"fastbp.onnx needs the onnx package: pip install onnx "
                      f"({exc})") from exc

from . import interop
from ._tables import FLOAT_DTYPES, ONNX_ACTIVATIONS, ONNX_OPS, cost_fits
from ._version import __version__
from ._io import MissingFileError, write_atomic
from .network import Network

__all__ = ["to_onnx", "from_onnx", "DEFAULT_OPSET"]

#: The opset ``to_onnx`` writes unless told otherwise (Softmax over one axis from 13).
DEFAULT_OPSET = 17

_ELEM_TYPES = {np.dtype(np.float32): TensorProto.FLOAT,
               np.dtype(np.float64): TensorProto.DOUBLE}


# -- export -------------------------------------------------------------------------


def to_onnx(model, path=None, *, opset=DEFAULT_OPSET, input_name="input",
            output_name=None, label=True):
    """Write a network as an ONNX model.

    Parameters
    ----------
    model : fastbp.Network, or a fitted fastbp.sklearn.MLPClassifier / MLPRegressor
        (or scikit-learn's own, converted by ``Network.from_sklearn``)
    path : str, bytes or os.PathLike, optional
        Also save the model there, atomically as ``Network.save`` writes: to a
        temporary file in the same folder, flushed to disk and renamed into place, so
        an interrupted export never leaves a truncated model at ``path``. A symbolic
        link is followed; a ``path`` that exists and is not a regular file (a
        directory, FIFO or device) is refused with ValueError.
    opset : int >= 13
        ONNX opset of the graph.
    input_name : str
        Name of the graph input, of shape ("batch", n_0) and the network's dtype;
        the batch dimension is dynamic (1 or many rows).
    output_name : str or None
        Name of the network output a^L, shape ("batch", n_L), the network's dtype.
        None: "output" for a Network, "probabilities" for a classifier and
        "predictions" for a regressor. The two names must be non-empty, differ,
        and not be a name the graph uses inside (``w1``, ``b1``, ``z1``, ``a1``, ...
        for each layer; ``classes``, ``label_index`` and ``label`` with the label
        output): such names are refused with ValueError.
    label : bool
        For a classifier with a softmax output (fastbp's always; scikit-learn's
        unless multi-label): add a second output "label" ("batch",), the class
        ``classes_[argmax_j a^L_j]`` of each row (ArgMax, then Gather from
        ``classes_``), equal to ``predict``. Classes must be numbers, bools or
        strings.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker``. Each layer is ``Gemm(a, w^l, b^l, transB=1)``
        with w^l stored as (n_l, n_{l-1}), then Sigmoid/Tanh/Relu/Softmax(axis=-1),
        nothing for the identity. The network's activation, output activation and
        cost are kept in ``metadata_props`` ("fastbp.*"), so ``from_onnx`` gives back
        the same network.

    Notes
    -----
    The outputs of an exported classifier are "probabilities" (m, n_classes), equal
    to ``predict_proba``, and, with ``label=True``, "label" (m,), equal to
    ``predict``. A regressor's single output "predictions" is (m, n_outputs), also
    for one output (``predict`` gives (m,) then).
    """
    opset = int(opset)
    if opset < 13:
        raise ValueError(f"opset must be at least 13, got {opset}")
    for name, value in (("input_name", input_name), ("output_name", output_name)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    classes = None
    if isinstance(model, Network):
        net, default_output = model, "output"
    else:
        net = interop.from_sklearn(model)
        is_classifier = hasattr(model, "classes_")
        default_output = "probabilities" if is_classifier else "predictions"
        if is_classifier and label and net.output_activation == "softmax":
            classes = np.asarray(model.classes_)
    output_name = default_output if output_name is None else output_name
    _check_names(input_name, output_name, len(net.weights), classes is not None)
    dtype = net.dtype
    elem = _ELEM_TYPES[dtype]
    nodes, initializers = [], []
    current = input_name
    L = len(net.weights)
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        act = net.output_activation if l == L else net.activation
        initializers.append(numpy_helper.from_array(np.asarray(w), f"w{l}"))
        initializers.append(numpy_helper.from_array(np.asarray(b), f"b{l}"))
        z = output_name if l == L and act == "identity" else f"z{l}"
        nodes.append(helper.make_node("Gemm", [current, f"w{l}", f"b{l}"], [z],
                                      name=f"layer{l}", transB=1))
        if act == "identity":
            current = z
            continue
        a = output_name if l == L else f"a{l}"
        attrs = {"axis": -1} if act == "softmax" else {}
        nodes.append(helper.make_node(ONNX_OPS[act], [z], [a], name=f"{act}{l}",
                                      **attrs))
        current = a
    outputs = [helper.make_tensor_value_info(output_name, elem, ["batch", net.sizes[-1]])]
    if classes is not None:
        classes_tensor, classes_elem = _classes_tensor(classes)
        initializers.append(classes_tensor)
        nodes.append(helper.make_node("ArgMax", [output_name], ["label_index"],
                                      name="argmax", axis=1, keepdims=0))
        nodes.append(helper.make_node("Gather", ["classes", "label_index"], ["label"],
                                      name="label", axis=0))
        outputs.append(helper.make_tensor_value_info("label", classes_elem, ["batch"]))
    graph = helper.make_graph(
        nodes, "fastbp_network",
        [helper.make_tensor_value_info(input_name, elem, ["batch", net.sizes[0]])],
        outputs, initializer=initializers)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                   producer_name="fastbp")
    onnx_model.producer_version = __version__
    onnx_model.doc_string = repr(net)
    helper.set_model_props(onnx_model, {
        "fastbp.sizes": ",".join(map(str, net.sizes)),
        "fastbp.activation": net.activation,
        "fastbp.output_activation": net.output_activation,
        "fastbp.cost": net.cost})
    onnx.checker.check_model(onnx_model, full_check=True)
    if path is not None:
        data = onnx_model.SerializeToString()
        write_atomic(path, lambda f: f.write(data))
    return onnx_model


def _check_names(input_name, output_name, n_layers, label):
    """Refuse graph input and output names that are empty, equal, or the name of a
    tensor the graph holds (an initializer or an intermediate value)."""
    taken = {f"{kind}{l}" for kind in "wbza" for l in range(1, n_layers + 1)}
    if label:
        taken |= {"classes", "label_index", "label"}
    for name, value in (("input_name", input_name), ("output_name", output_name)):
        if not value:
            raise ValueError(f"{name} must not be empty")
        if value in taken:
            raise ValueError(f"{name}={value!r} is the name of a tensor inside the "
                             f"graph ({', '.join(sorted(taken))}); choose another")
    if input_name == output_name:
        raise ValueError(f"input_name and output_name must differ, both are "
                         f"{input_name!r}")


def _classes_tensor(classes):
    """``classes_`` as an ONNX tensor named "classes", and its element type."""
    kind = classes.dtype.kind
    if kind in "OUS":
        if not all(isinstance(c, str) for c in classes.tolist()):
            raise ValueError("to_onnx: classes_ of mixed types cannot be an ONNX "
                             "tensor; pass label=False")
        values = np.array(classes.tolist(), dtype=object)
    elif kind in "iu":
        values = classes.astype(np.int64)
    elif kind in "fb":
        values = classes
    else:
        raise ValueError(f"to_onnx: classes_ of dtype {classes.dtype} cannot be an "
                         f"ONNX tensor; pass label=False")
    tensor = numpy_helper.from_array(values, "classes")
    return tensor, tensor.data_type


# -- import -------------------------------------------------------------------------


class _Stream:
    """The value flowing from the graph input: finished layers and a pending affine map.

    ``pending`` is (W, b) of w a + b not yet passed through an activation. ``complement``
    marks 1 - a^L for a single sigmoid output (skl2onnx's binary classifier), whose
    ``base`` is the stream of a^L itself.
    """

    def __init__(self, width, layers=(), pending=None, complement=False, base=None):
        self.width, self.layers, self.pending = width, tuple(layers), pending
        self.complement, self.base = complement, base

    def affine(self, W, b):
        """This stream followed by w a + b (a Linear after a Linear: identity between)."""
        layers = self.layers if self.pending is None else \
            self.layers + ((*self.pending, "identity"),)
        return _Stream(W.shape[0], layers, (W, b))

    def activate(self, act):
        return _Stream(self.width, self.layers + ((*self.pending, act),))

    def finished(self):
        return list(self.layers) if self.pending is None else \
            list(self.layers) + [(*self.pending, "identity")]


def _load(source, external_data):
    """The ModelProto of ``source``, with every tensor's data in the model itself.

    A model given as a ModelProto or bytes never reads a file: a tensor whose data is
    kept outside (data_location EXTERNAL) is refused. A model given by path reads such
    data only with ``external_data=True``, and only from regular files inside the
    model's own folder (onnxruntime's rule: a relative location that resolves, links
    followed, to a file under the model's directory).
    """
    if isinstance(source, onnx.ModelProto):
        model, base = source, None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        model, base = onnx.ModelProto(), None
        try:
            model.ParseFromString(bytes(source))
        except Exception as exc:  # protobuf's DecodeError, RecursionError, ...
            raise ValueError(f"source: the bytes are not an ONNX model "
                             f"({type(exc).__name__}: {exc})") from None
    else:
        try:
            path = os.fsdecode(os.fspath(source))
        except TypeError:
            raise TypeError(f"from_onnx reads an onnx.ModelProto, bytes or a path, not "
                            f"{type(source).__name__}") from None
        if not path:
            raise ValueError("source: the path is empty")
        if not os.path.exists(path):
            raise MissingFileError(2, "source: no such ONNX file", path)
        if not os.path.isfile(path):  # a FIFO would block, a device never end
            raise ValueError(f"source: {path!r} is not a regular file")
        model = onnx.ModelProto()
        try:
            with open(path, "rb") as f:
                model.ParseFromString(f.read())
        except Exception as exc:
            raise ValueError(f"source: {path!r} is not a readable ONNX model "
                             f"({type(exc).__name__}: {exc})") from None
        base = os.path.dirname(os.path.abspath(path))
    external = [t for t in _all_tensors(model.graph)
                if t.data_location == TensorProto.EXTERNAL]
    if external and base is None:
        raise ValueError(f"source: tensor {external[0].name!r} keeps its data in an "
                         f"external file; a model given as bytes or a ModelProto "
                         f"never reads files (pass the model's path, and "
                         f"external_data=True)")
    if external and not external_data:
        raise ValueError(f"source: tensor {external[0].name!r} keeps its data in an "
                         f"external file; pass external_data=True to read it from the "
                         f"model's folder")
    if external:
        if model is source:
            model = copy.deepcopy(model)
        for tensor in _all_tensors(model.graph):
            if tensor.data_location == TensorProto.EXTERNAL:
                _read_external(tensor, base)
    return model


def _all_tensors(graph):
    """Every TensorProto of a graph: initializers (sparse ones too) and node
    attributes, subgraphs included (walked without recursion)."""
    graphs = [graph]
    while graphs:
        g = graphs.pop()
        yield from g.initializer
        for sparse in g.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("g"):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)


def _read_external(tensor, base):
    """Load an external tensor's bytes from a regular file under ``base``."""
    name = tensor.name
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    resolved = os.path.realpath(os.path.join(base, location))
    if not location or os.path.isabs(location) or \
            os.path.commonpath([resolved, os.path.realpath(base)]) != \
            os.path.realpath(base) or resolved == os.path.realpath(base):
        raise ValueError(f"source: tensor {name!r} names external data {location!r} "
                         f"outside the model's folder; fastbp reads external data "
                         f"only from files inside it")
    if not os.path.isfile(resolved):
        raise ValueError(f"source: tensor {name!r}: its external data {location!r} "
                         f"is not a regular file in the model's folder")
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise ValueError(f"source: tensor {name!r} has a malformed external-data "
                         f"offset or length") from None
    size = os.path.getsize(resolved)
    if offset < 0 or offset > size or (length is not None and
                                       (length < 0 or offset + length > size)):
        raise ValueError(f"source: tensor {name!r}: bytes {offset}..{length} lie "
                         f"outside its external file of {size} bytes")
    available = size - offset if length is None else length
    try:
        needed = int(np.prod(tensor.dims, dtype=np.int64)) * \
            np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except (KeyError, ValueError, TypeError, OverflowError):
        raise ValueError(f"source: tensor {name!r} has an unknown data type or "
                         f"malformed dims") from None
    if needed < 0 or needed > available:
        raise ValueError(f"source: tensor {name!r} needs {needed} bytes, its external "
                         f"data holds {available}")
    with open(resolved, "rb") as f:
        f.seek(offset)
        tensor.raw_data = f.read(needed)
    tensor.data_location = TensorProto.DEFAULT
    del tensor.external_data[:]


def _tensor_array(tensor, what):
    """A TensorProto as an array; a malformed one is a ValueError naming it."""
    try:
        array = numpy_helper.to_array(tensor)
    except Exception as exc:  # onnx/numpy errors of many kinds for malformed fields
        raise ValueError(f"from_onnx: {what} {tensor.name!r} is malformed "
                         f"({type(exc).__name__}: {exc})") from None
    # A complex tensor cast to a real dtype later would drop its imaginary part
    # silently: a wrong network, not an error. (Strings, such as skl2onnx's class
    # labels, are read; any use of one as a number is refused where it is used.)
    if array.dtype.kind == "c":
        raise ValueError(f"from_onnx: {what} {tensor.name!r} has dtype {array.dtype}; "
                         f"fastbp reads real numbers only")
    return array


def _attrs(node):
    try:
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}
    except Exception as exc:
        raise _unsupported(node, f"a malformed attribute ({exc})") from None


def _float_cast(node, to):
    """The NumPy dtype of Cast's ``to``, which must name a known type."""
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(int(to)))
    except (KeyError, ValueError, TypeError):
        raise _unsupported(node, f"a cast to the unknown type {to!r}") from None


# The fewest inputs each op needs.
_MIN_INPUTS = {"Gemm": 2, "MatMul": 2, "Add": 2, "Sub": 2, "Concat": 2, "Reshape": 2,
               "Transpose": 1, "Identity": 1, "Cast": 1, "Flatten": 1, "Dropout": 1,
               "Sigmoid": 1, "Tanh": 1, "Relu": 1, "Softmax": 1, "Exp": 1, "Constant": 0}


def from_onnx(source, *, dtype=None, cost=None, output=None, external_data=False,
              network_class=None):
    """Read an MLP from an ONNX model.

    Parameters
    ----------
    source : onnx.ModelProto, bytes, str or os.PathLike
    dtype : {"float32", "float64"} or None
        None: the dtype of the graph's weights.
    cost : str or None
        None: the cost stored by ``to_onnx``, else "log_likelihood" for a softmax
        output, "cross_entropy" for a sigmoid output and "quadratic" otherwise.
    output : str or None
        Name of the graph output to read. None: the first float tensor output, or the
        tensor under a ZipMap output (skl2onnx's probabilities).
    external_data : bool
        For a model given by path: read tensors whose data the model keeps in
        external files, from regular files inside the model's own folder only (a
        relative location that resolves, links followed, under the model's
        directory: onnxruntime's rule). False (the default) refuses such a model.
        A model given as a ModelProto or bytes never reads any file.
    network_class : type or None
        Network subclass to build.

    Returns
    -------
    fastbp.Network
        ``feedforward(X)``, X of shape (m, n_0), equals the chosen output (m, n_L).

    Notes
    -----
    Read are graphs with one tensor input (m, n_0) whose path to the output is a
    chain of affine maps, ``Gemm`` (transA=0; any alpha, beta, transB) or ``MatMul``
    by a constant then ``Add`` of a constant, each optionally followed by ``Relu``,
    ``Sigmoid``, ``Tanh`` or (last) ``Softmax`` over the last axis. ``Identity``,
    ``Cast`` to float or double, ``Flatten(axis=1)``, ``Reshape`` to (-1, n),
    inference ``Dropout``, ``Constant`` and ``Transpose`` of constants are accepted
    too, and so is skl2onnx's binary-classifier tail ``Concat(1 - σ(z), σ(z))``,
    read as a 2-unit softmax over (0, z). This covers fastbp's own graphs,
    ``torch.onnx.export`` of ``nn.Sequential(Linear, act, ...)`` (TorchScript and
    dynamo exporters) and skl2onnx's MLPClassifier and MLPRegressor. Nodes that do
    not lead to the chosen output (skl2onnx's label branch) are not read.

    Raises
    ------
    ValueError
        Naming the first node op on the path to the output that is not one of the
        above (for example 'Conv', 'BatchNormalization', 'LeakyRelu'), or for
        anything else a Network cannot hold (mixed hidden activations, a second
        graph input, ...); for bytes that are not an ONNX model, a malformed node or
        tensor, and external data that is not allowed (see ``external_data``). A
        missing file raises ``fastbp.MissingFileError`` (a FileNotFoundError and a
        ValueError); a path that is not a regular file (a FIFO, a directory) is
        refused without being opened.
    """
    model = _load(source, external_data)
    try:
        return _read_graph(model, dtype, cost, output, network_class)
    except (KeyError, IndexError, AttributeError, TypeError, OverflowError,
            RecursionError) as exc:
        # A field the checks above did not foresee: still a malformed model.
        raise ValueError(f"from_onnx: malformed model ({type(exc).__name__}: "
                         f"{exc})") from None


def _read_graph(model, dtype, cost, output, network_class):
    graph = model.graph
    consts = {t.name: _tensor_array(t, "initializer") for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise ValueError(f"from_onnx reads graphs with one input, this one has "
                         f"{[i.name for i in inputs]}")
    producer = {}
    for node in graph.node:
        for name in node.output:
            producer[name] = node
    target = _choose_output(graph, producer, output)
    # The nodes the target depends on, in graph (topological) order.
    needed, todo = set(), [target]
    while todo:
        node = producer.get(todo.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            todo.extend(node.input)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                 DEFAULT_OPSET)
    shape = inputs[0].type.tensor_type.shape.dim
    width = shape[-1].dim_value if len(shape) == 2 and shape[-1].dim_value else None
    values = dict(consts)
    values[inputs[0].name] = _Stream(width)
    for node in graph.node:
        if id(node) in needed:
            _run_node(node, values, opset)
    result = values.get(target)
    if not isinstance(result, _Stream):
        raise ValueError(f"from_onnx: output {target!r} does not depend on the input")
    if result.complement:
        raise ValueError("from_onnx: the output is 1 - σ(z), which a Network cannot "
                         "compute on its own")
    layers = result.finished()
    meta = {p.key: p.value for p in model.metadata_props}
    if cost is None and layers and cost_fits(meta.get("fastbp.cost"), layers[-1][2]):
        cost = meta["fastbp.cost"]  # written by to_onnx (other metadata is ignored)
    if layers and width is not None and layers[0][0].shape[1] != width:
        raise ValueError(f"from_onnx: the input has {width} features but the first "
                         f"layer takes {layers[0][0].shape[1]}")
    return interop.network_from_layers(
        layers, dtype=dtype, cost=cost, activation=meta.get("fastbp.activation"),
        source=f"ONNX graph {graph.name!r}", network_class=network_class)


def _choose_output(graph, producer, output):
    names = [o.name for o in graph.output]
    if output is not None:
        if output not in names:
            raise ValueError(f"from_onnx: output={output!r} is not one of the graph's "
                             f"outputs {names}")
        chosen = output
    else:
        chosen = None
        for o in graph.output:
            if o.type.tensor_type.elem_type in (TensorProto.FLOAT, TensorProto.DOUBLE):
                chosen = o.name
                break
            node = producer.get(o.name)
            if node is not None and node.op_type == "ZipMap":
                chosen = o.name
                break
        if chosen is None:
            raise ValueError(f"from_onnx: the graph has no float tensor output "
                             f"(outputs: {names}); pass output=")
    node = producer.get(chosen)
    if node is not None and node.op_type == "ZipMap":
        chosen = node.input[0]  # the probabilities, as a tensor
    return chosen


def _unsupported(node, why=""):
    return ValueError(
        f"from_onnx: unsupported node op {node.op_type!r} (node {node.name!r}"
        f"{', domain ' + repr(node.domain) if node.domain else ''}){': ' + why if why else ''}"
        f"; fastbp reads MLP graphs of Gemm/MatMul+Add with Relu, Sigmoid, Tanh, "
        f"Softmax, Exp")


def _row_vector(node, c, n_out):
    """A bias constant as an (n_out,) vector, if it broadcasts as one over the rows."""
    c = np.asarray(c)
    if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1) or \
            (c.ndim >= 1 and c.shape[-1] not in (1, n_out)):
        raise _unsupported(node, f"a bias of shape {c.shape} for {n_out} units")
    return np.broadcast_to(c.reshape(-1), (n_out,)).copy()


def _run_node(node, values, opset):
    op = node.op_type
    if node.domain not in ("", "ai.onnx") or op not in _MIN_INPUTS:
        raise _unsupported(node)
    if len(node.input) < _MIN_INPUTS[op] or not node.output or not node.output[0] \
            or not all(node.input[:_MIN_INPUTS[op]]):
        raise _unsupported(node, f"{len(node.input)} inputs and {len(node.output)} "
                                 f"outputs")
    if op == "Cast" and "to" not in {a.name for a in node.attribute}:
        raise _unsupported(node, "a cast without 'to'")
    attrs = _attrs(node)
    args = [values.get(name) if name else None for name in node.input]
    for name, arg in zip(node.input, args):
        if name and arg is None:
            raise _unsupported(node, f"input {name!r} is not computed by a supported node")
    streams = [a for a in args if isinstance(a, _Stream)]
    out = node.output[0] if node.output else None

    if not streams:  # constant folding of the few ops used on weights
        if op == "Constant":
            if "value" in attrs:
                values[out] = _tensor_array(attrs["value"], "constant")
            elif "value_float" in attrs or "value_floats" in attrs:
                values[out] = np.array(attrs.get("value_float", attrs.get("value_floats")),
                                       dtype=np.float32)
            else:
                raise _unsupported(node, "a constant that is not a float tensor")
        elif op == "Transpose":
            values[out] = np.transpose(args[0], attrs.get("perm"))
        elif op == "Identity":
            values[out] = args[0]
        elif op == "Cast":
            values[out] = np.asarray(args[0]).astype(_float_cast(node, attrs["to"]))
        else:
            raise _unsupported(node, "on constants")
        return
    s = args[0]
    if op in ("Identity", "Flatten", "Cast", "Dropout", "Reshape"):
        if not isinstance(s, _Stream):
            raise _unsupported(node, "on a constant and the input")
        if op == "Flatten" and attrs.get("axis", 1) != 1:
            raise _unsupported(node, f"axis={attrs['axis']}")
        if op == "Cast" and _float_cast(node, attrs["to"]) not in FLOAT_DTYPES:
            raise _unsupported(node, "a cast to a non-float type")
        if op == "Dropout":
            training = args[2] if len(args) > 2 else None
            if training is not None and (isinstance(training, _Stream) or
                                         bool(np.asarray(training))):
                raise _unsupported(node, "dropout in training mode")
            if len(node.output) > 1 and node.output[1]:
                raise _unsupported(node, "dropout with a mask output")
        if op == "Reshape":
            target = np.asarray(args[1]).tolist() if len(args) > 1 else None
            if isinstance(args[1], _Stream) or target not in ([-1, s.width], [0, s.width]):
                raise _unsupported(node, f"a reshape to {target}, not (-1, {s.width})")
        values[out] = s
    elif op == "Gemm":
        A, B = args[0], args[1]
        C = args[2] if len(args) > 2 else None
        if not isinstance(A, _Stream) or len(streams) != 1 or A.complement:
            raise _unsupported(node, "its A must be the layer input and B, C constants")
        if attrs.get("transA", 0):
            raise _unsupported(node, "transA=1")
        B = np.asarray(B)
        if B.ndim != 2 or B.dtype not in FLOAT_DTYPES:
            raise _unsupported(node, f"a B of shape {B.shape} and dtype {B.dtype}")
        Bp = B.T if attrs.get("transB", 0) else B  # (n_in, n_out)
        W = attrs.get("alpha", 1.0) * Bp.T
        b = np.zeros(W.shape[0], dtype=W.dtype) if C is None else \
            attrs.get("beta", 1.0) * _row_vector(node, C, W.shape[0])
        values[out] = A.affine(W.astype(B.dtype, copy=False), b.astype(B.dtype, copy=False))
    elif op == "MatMul":
        A, B = args[:2]
        if not isinstance(A, _Stream) or isinstance(B, _Stream) or A.complement \
                or np.ndim(B) != 2:
            raise _unsupported(node, "only (layer input) @ (constant matrix)")
        B = np.asarray(B)
        values[out] = A.affine(B.T, np.zeros(B.shape[1], dtype=B.dtype))
    elif op == "Add":
        if len(streams) != 1:
            raise _unsupported(node, "an add of two computed values")
        s = streams[0]
        c = args[1] if args[0] is s else args[0]
        if s.pending is None or s.complement:
            raise _unsupported(node, "an add that is not the bias of a MatMul")
        W, b = s.pending
        values[out] = _Stream(s.width, s.layers,
                              (W, (b + _row_vector(node, c, W.shape[0])).astype(b.dtype)))
    elif op in ONNX_ACTIVATIONS:
        if s.pending is None or s.complement:
            raise _unsupported(node, "an activation that does not follow an affine map")
        if op == "Softmax":
            axis = attrs.get("axis", 1 if opset < 13 else -1)
            if axis not in (1, -1):
                raise _unsupported(node, f"softmax over axis={axis}")
        values[out] = s.activate(ONNX_ACTIVATIONS[op])
    elif op == "Sub":
        # skl2onnx, binary classifier: 1 - σ(z) for its single logistic unit.
        one, s = args[:2]
        if isinstance(one, _Stream) or not _is_single_sigmoid(s) or \
                not np.all(np.asarray(one) == 1) or np.size(one) != 1:
            raise _unsupported(node, "only 1 - σ(z) of a single sigmoid output")
        values[out] = _Stream(1, s.layers, complement=True, base=s)
    elif op == "Concat":
        if len(args) != 2 or attrs.get("axis") not in (1, -1) or \
                not (isinstance(args[0], _Stream) and args[0].complement
                     and args[0].base is args[1]):
            raise _unsupported(node, "only (1 - σ(z), σ(z)) of a single sigmoid output")
        W, b, _ = args[1].layers[-1]
        values[out] = _Stream(2, args[1].layers[:-1] + (
            (np.vstack([np.zeros_like(W), W]), np.concatenate([np.zeros_like(b), b]),
             "softmax"),))
    else:
        raise _unsupported(node)


def _is_single_sigmoid(s):
    return isinstance(s, _Stream) and s.pending is None and not s.complement and \
        s.layers and s.layers[-1][2] == "sigmoid" and s.width == 1
