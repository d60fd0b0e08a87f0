"""``from_onnx``: no file read through a model, and every error inside the contract.

Models are mutated field by field in a seeded loop; each mutant is either refused with
ValueError or read into a network that computes what onnxruntime computes on the same
mutant. Without onnx and onnxruntime these tests skip on a developer machine and fail
under CI=true (the test extra installs both).
"""
import copy
import os
import threading

import numpy as np
import pytest

import fastbp
from test_interop import need

onnx = need("onnx")
ort = need("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.external_data_helper import convert_model_to_external_data  # noqa: E402

from fastbp.onnx import from_onnx  # noqa: E402


def base_models():
    nets = [fastbp.Network([4, 6, 3], activation="tanh", cost="log_likelihood", seed=0),
            fastbp.Network([4, 5, 5, 2], activation="relu", output_activation="sigmoid",
                           cost="cross_entropy", dtype="float32", seed=1),
            fastbp.Network([4, 3], activation="identity", seed=2)]
    return [net.to_onnx() for net in nets]


def make_external(model, folder, name="weights.bin"):
    """The model saved in ``folder`` with its tensors in the external file ``name``."""
    model = copy.deepcopy(model)
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location=name,
                                   size_threshold=0)
    path = folder / "model.onnx"
    onnx.save_model(model, str(path))
    return path


# -- item 4: models never make fastbp read other files ----------------------------


def test_bytes_and_protos_never_read_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.bin").write_bytes(np.arange(12.0).tobytes())
    locations = ["secret.bin", str(tmp_path / "secret.bin"), "./secret.bin",
                 "../secret.bin", "missing.bin", "", "/dev/zero"]
    rng = np.random.default_rng(4)
    for model in base_models():
        for trial in range(10):
            m = copy.deepcopy(model)
            tensor = m.graph.initializer[int(rng.integers(len(m.graph.initializer)))]
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", str(rng.choice(locations))
            for source in (m, m.SerializeToString(), bytearray(m.SerializeToString())):
                with pytest.raises(ValueError, match="never reads files"):
                    from_onnx(source)


def test_a_path_reads_external_data_only_when_allowed_and_inside_its_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(np.arange(100.0).tobytes())
    for index, model in enumerate(base_models()):
        folder = tmp_path / f"model{index}"
        (folder / "sub").mkdir(parents=True)
        path = make_external(model, folder)
        reference = from_onnx(model)
        with pytest.raises(ValueError, match="external_data=True"):
            from_onnx(path)
        net = from_onnx(path, external_data=True)
        for w, v in zip(net.weights + net.biases, reference.weights + reference.biases):
            np.testing.assert_array_equal(w, v)
        os.rename(folder / "weights.bin", folder / "sub" / "weights.bin")
        os.symlink(outside / "secret.bin", folder / "escape.bin")
        os.mkfifo(folder / "fifo.bin")
        bad = {"../outside/secret.bin": "outside", str(outside / "secret.bin"): "outside",
               "sub/../../outside/secret.bin": "outside", "escape.bin": "outside",
               "sub": "not a regular file", "fifo.bin": "not a regular file",
               "nothing.bin": "not a regular file", ".": "outside"}
        for location, message in bad.items():
            mutant = onnx.load_model(str(path), load_external_data=False)
            for tensor in mutant.graph.initializer:
                for entry in tensor.external_data:
                    if entry.key == "location":
                        entry.value = location
            mutant_path = folder / "mutant.onnx"
            onnx.save_model(mutant, str(mutant_path))
            result = {}
            worker = threading.Thread(target=lambda: result.update(
                error=_error(from_onnx, mutant_path, external_data=True)), daemon=True)
            worker.start()
            worker.join(timeout=60)
            assert not worker.is_alive(), f"from_onnx blocked on {location!r}"
            assert isinstance(result["error"], ValueError), (location, result)
            assert message in str(result["error"]), (location, result["error"])
        # Offsets and lengths outside the file, inside the folder.
        for offset, length in ((10**9, None), (0, 10**9), (-8, None), (8, 8)):
            mutant = onnx.load_model(str(path), load_external_data=False)
            tensor = mutant.graph.initializer[0]
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = "sub/weights.bin"
            del tensor.external_data[1:]
            for key, value in (("offset", offset), ("length", length)):
                if value is not None:
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, str(value)
            onnx.save_model(mutant, str(folder / "mutant.onnx"))
            with pytest.raises(ValueError, match="tensor"):
                from_onnx(folder / "mutant.onnx", external_data=True)


def _error(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except Exception as exc:  # the test inspects the kind
        return exc
    return None


def test_missing_and_special_paths(tmp_path):
    with pytest.raises(fastbp.MissingFileError):
        from_onnx(tmp_path / "nothing.onnx")
    with pytest.raises(FileNotFoundError):
        fastbp.Network.from_onnx(str(tmp_path / "nothing.onnx"))
    with pytest.raises(ValueError, match="not a regular file"):
        from_onnx(tmp_path)
    os.mkfifo(tmp_path / "fifo.onnx")
    with pytest.raises(ValueError, match="not a regular file"):
        from_onnx(tmp_path / "fifo.onnx")
    with pytest.raises(ValueError, match="empty"):
        from_onnx("")
    with pytest.raises(TypeError, match="from_onnx reads"):
        from_onnx(3.5)


# -- item 10: mutated models are refused with ValueError or read correctly ----------

OPS = ["Gemm", "MatMul", "Add", "Sub", "Relu", "Sigmoid", "Tanh", "Softmax", "Cast",
       "Identity", "Flatten", "Reshape", "Transpose", "Dropout", "Concat", "Constant",
       "Conv", "LeakyRelu", "ArgMax", "Gather", ""]


def mutate(model, rng):
    """One random change to one field of a copy of ``model``; returns bytes."""
    m = copy.deepcopy(model)
    g = m.graph
    kind = int(rng.integers(14))
    node = g.node[int(rng.integers(len(g.node)))] if len(g.node) else None
    init = g.initializer[int(rng.integers(len(g.initializer)))] \
        if len(g.initializer) else None
    names = [n for x in g.node for n in list(x.input) + list(x.output)] + \
        ["", "nowhere", g.input[0].name]
    if kind == 0 and node is not None:
        node.op_type = str(rng.choice(OPS))
    elif kind == 1 and node is not None and len(node.input):
        del node.input[int(rng.integers(len(node.input)))]
    elif kind == 2 and node is not None:
        if len(node.input) and rng.random() < 0.7:
            node.input[int(rng.integers(len(node.input)))] = str(rng.choice(names))
        else:
            node.input.append(str(rng.choice(names)))
    elif kind == 3 and node is not None:
        if len(node.output) and rng.random() < 0.5:
            node.output[0] = str(rng.choice(names))
        else:
            del node.output[:]
    elif kind == 4 and node is not None:
        if len(node.attribute) and rng.random() < 0.5:
            del node.attribute[int(rng.integers(len(node.attribute)))]
        else:
            name = str(rng.choice(["to", "axis", "transA", "transB", "alpha", "beta",
                                   "perm", "value", "training_mode"]))
            value = rng.choice([0, 1, 2, -1, 99, 1e300, -0.5])
            attr = helper.make_attribute(name, int(value) if float(value).is_integer()
                                         and abs(value) < 1e9 else float(value))
            node.attribute.append(attr)
    elif kind == 5 and node is not None and len(node.attribute):
        attr = node.attribute[int(rng.integers(len(node.attribute)))]
        attr.type = int(rng.integers(0, 15))
    elif kind == 6 and node is not None:
        node.domain = str(rng.choice(["", "ai.onnx", "ai.onnx.ml", "com.example"]))
    elif kind == 7 and init is not None:
        dims = list(init.dims)
        choice = rng.integers(4)
        if choice == 0 and dims:
            dims.pop()
        elif choice == 1:
            dims.append(int(rng.integers(0, 3)))
        elif choice == 2 and dims:
            dims[int(rng.integers(len(dims)))] = int(rng.choice([0, 1, -1, 2**40]))
        else:
            dims = []
        del init.dims[:]
        init.dims.extend(dims)
    elif kind == 8 and init is not None:
        init.data_type = int(rng.integers(0, 30))
    elif kind == 9 and init is not None:
        raw = init.raw_data
        init.raw_data = raw[:int(rng.integers(len(raw) + 1))] if rng.random() < 0.7 \
            else raw + b"\0" * int(rng.integers(1, 16))
    elif kind == 10:
        if rng.random() < 0.5 and len(g.input):
            del g.input[0]
        else:
            g.input.append(copy.deepcopy(g.input[0]) if len(g.input) else
                           helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]))
            g.input[-1].name = str(rng.choice(names + ["extra"]))
    elif kind == 11:
        if len(g.output) and rng.random() < 0.5:
            g.output[int(rng.integers(len(g.output)))].name = str(rng.choice(names))
        elif len(g.output):
            g.output[0].type.tensor_type.elem_type = int(rng.integers(0, 17))
    elif kind == 12:
        m.opset_import[0].version = int(rng.choice([1, 7, 11, 13, 17, 21, 99]))
    else:
        data = bytearray(m.SerializeToString())
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        if rng.random() < 0.3:
            data = data[:int(rng.integers(len(data)))]
        return bytes(data)
    return m.SerializeToString()


def runtime_output(data, X):
    """What onnxruntime computes for the first output, or None if it refuses."""
    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        inputs = session.get_inputs()
        if len(inputs) != 1:
            return None
        return session.run(None, {inputs[0].name: X.astype(
            np.float32 if "float)" in inputs[0].type else np.float64)})
    except Exception:  # the runtime refuses the mutant in one of many ways
        return None


@pytest.mark.parametrize("dtype", [TensorProto.COMPLEX64, TensorProto.COMPLEX128,
                                   TensorProto.STRING])
def test_parameters_of_no_real_type_are_refused(dtype):
    """A complex bias cast to the network's dtype would lose its imaginary part; a
    string parameter is no number."""
    rng = np.random.default_rng(dtype)
    for model in base_models():
        for index in range(len(model.graph.initializer)):
            m = copy.deepcopy(model)
            old = m.graph.initializer[index]
            values = numpy_helper.to_array(old)
            if dtype == TensorProto.STRING:
                array = np.array([str(v) for v in values.ravel()], dtype=object)
                array = array.reshape(values.shape)
            else:
                array = (values + 1j * rng.random(values.shape)).astype(
                    helper.tensor_dtype_to_np_dtype(dtype))
            new = numpy_helper.from_array(array, old.name)
            m.graph.initializer[index].CopyFrom(new)
            # A complex tensor is refused by name as it is read; a string one where
            # a node uses it as a number.
            with pytest.raises(ValueError,
                               match=None if dtype == TensorProto.STRING else old.name):
                from_onnx(m)


def test_mutated_models_are_refused_or_read_as_the_runtime_reads_them():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((7, 4))
    outcomes = {"refused": 0, "same as onnxruntime": 0, "runtime refused": 0}
    for round_ in range(400):
        model = base_models()[round_ % 3]
        data = mutate(model, rng)
        try:
            net = from_onnx(data)
        except ValueError:
            outcomes["refused"] += 1
            continue
        except Exception as exc:
            raise AssertionError(f"round {round_}: {type(exc).__name__}: {exc}") from exc
        ours = net.feedforward(X.astype(net.dtype))
        theirs = runtime_output(data, X)
        if theirs is None:
            outcomes["runtime refused"] += 1
            continue
        assert any(np.shape(out) == ours.shape and
                   np.allclose(out, ours, rtol=1e-5, atol=1e-6) for out in theirs), \
            f"round {round_}: fastbp's network differs from onnxruntime's output"
        outcomes["same as onnxruntime"] += 1
    assert outcomes["refused"] > 100 and outcomes["same as onnxruntime"] > 20, outcomes


@pytest.mark.parametrize("junk", [b"", b"\x08", b"\xff" * 50, b"not an onnx model",
                                  bytes(range(256))])
def test_bytes_that_are_no_model(junk):
    with pytest.raises(ValueError, match="source|from_onnx"):
        from_onnx(junk)
