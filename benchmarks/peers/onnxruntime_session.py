"""onnxruntime serving the W1 network: inference only (W4).

The graph is built here with ``onnx.helper`` (a ``Gemm`` with ``transB=1`` and a
``Sigmoid`` per layer, the weights as initialisers in the network's dtype, a dynamic
batch dimension), independently of fastbp's own exporter, and run by one
``InferenceSession`` with ``intra_op_threads`` intra-op threads (set from the run's
thread count) and one inter-op thread, as a pipeline serving a model would.
"""
import numpy as np

from .base import Trainer


class OnnxRuntimeSession(Trainer):
    name = "onnxruntime"
    requires = ("onnxruntime", "onnx")
    workloads = frozenset({"W4"})
    exact = False
    note = "inference only"
    #: Set by the worker before any session is made (see worker.configure_threads).
    intra_op_threads = 1

    def _setup(self, weights, biases):
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
        elem = TensorProto.DOUBLE if self.dtype == np.float64 else TensorProto.FLOAT
        nodes, inits, name = [], [], "input"
        for l, (w, b) in enumerate(zip(weights, biases), start=1):
            inits += [numpy_helper.from_array(w, f"w{l}"), numpy_helper.from_array(b, f"b{l}")]
            nodes += [helper.make_node("Gemm", [name, f"w{l}", f"b{l}"], [f"z{l}"], transB=1),
                      helper.make_node("Sigmoid", [f"z{l}"], [f"a{l}"])]
            name = f"a{l}"
        graph = helper.make_graph(
            nodes, "mlp", [helper.make_tensor_value_info("input", elem, ["batch", self.sizes[0]])],
            [helper.make_tensor_value_info(name, elem, ["batch", self.sizes[-1]])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])
        self.output = name
        self._parameters = ([w.copy() for w in weights], [b.copy() for b in biases])

    def train_epoch(self, seed):
        raise NotImplementedError("onnxruntime takes part in W4 (inference) only")

    def feedforward(self, X):
        X = np.asarray(X, self.dtype)
        one = X.ndim == 1
        out = self.session.run([self.output], {"input": X.reshape(1, -1) if one else X})[0]
        return out[0] if one else out

    def parameters(self):
        return self._parameters
