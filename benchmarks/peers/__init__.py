"""The implementations the suite compares: fastbp first, then its peers.

Modules are imported lazily (``get``) so that a subprocess can set its thread
environment before torch, JAX or BLAS libraries load.
"""
import importlib

#: name -> (module, class), in table order.
REGISTRY = {
    "fastbp": ("fastbp_net", "FastbpNet"),
    "numpy-matrix": ("numpy_matrix", "NumpyMatrix"),
    "book-loop": ("book_loop", "BookLoop"),
    "torch": ("torch_nn", "TorchNN"),
    "sklearn": ("sklearn_mlp", "SklearnMLP"),
    "jax": ("jax_scan", "JaxScan"),
    "onnxruntime": ("onnxruntime_session", "OnnxRuntimeSession"),
}


def get(name):
    """The Trainer class registered as ``name``."""
    module, cls = REGISTRY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
