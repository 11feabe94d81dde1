"""ONNX export and load (extra ``tinyconv[onnx]``: the ``onnx`` package, imported when used).

    import tinyconv.onnx
    tinyconv.onnx.export(model, "model.onnx", input_shape=(3, 32, 32))
    model = tinyconv.onnx.load("model.onnx")     # a tinyconv Module: eval, fine-tune, save

``export`` traces one forward of the model (``trace.py``) and converts each operation
(``convert.py``); ``load`` checks the file (``read.py``) and builds an ``OnnxModel`` that runs
the graph node by node with tinyconv operations (``graph.py``, ``run_ops.py``), so gradients
flow through it and its initializers are its parameters, under their ONNX names.
"""

from .export import export, to_onnx
from .graph import OnnxModel, OnnxNode
from .read import OnnxFileError, from_proto, load
from .runner import SUPPORTED

__all__ = [
    "SUPPORTED",
    "OnnxFileError",
    "OnnxModel",
    "OnnxNode",
    "export",
    "from_proto",
    "load",
    "to_onnx",
]
