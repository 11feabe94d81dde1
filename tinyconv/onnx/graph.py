"""``OnnxModel``: a Module that runs an ONNX graph node by node with tinyconv operations.

The model is built from ``read.describe``'s JSON-able description of the graph (so that
``tinyconv.save`` stores it as the architecture and ``tinyconv.load`` rebuilds it). Every
initializer is a tensor of the model itself under its ONNX name (``layer1.0.conv1.weight``):
a ``Parameter`` when it is a float tensor in a learned slot, a buffer otherwise, so
``state_dict()`` lists exactly the initializers. Every node is a child module (an
``OnnxNode``, named after the node), so ``summary``, forward hooks and the viewers see each
layer; a node also lists the parameters it uses, for the per-layer counts.

Values that are shapes (``Shape``, ``Gather`` on shapes, ``Concat`` of sizes, as PyTorch's
exporter writes ``x.view(x.size(0), -1)``) stay NumPy arrays; everything else is a Tensor,
so gradients flow from the outputs back to every parameter.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import numpy

from .. import nn
from ..nn.module import Module, Parameter
from ..tensor import Tensor
from .runner import run_node

# what a node calls the learned inputs it holds (viz reads a conv layer's ``weight``)
SLOTS = {
    "Conv": ("x", "weight", "bias"),
    "ConvTranspose": ("x", "weight", "bias"),
    "Gemm": ("x", "weight", "bias"),
    "BatchNormalization": ("x", "weight", "bias"),
}


class OnnxNode(Module):
    """One node of the graph: its op runs in ``forward`` (``run_ops.run_node``).

    Nodes of the layers the viewers look for (convolutions, poolings) are also instances of
    tinyconv's class for that layer (``OnnxConv`` is an ``nn.Conv2d``), without its
    constructor: the node runs the ONNX op, the class only marks what kind of layer it is.
    """

    def __init__(self, index: int, op: str) -> None:
        Module.__init__(self)
        self.index = index
        self.op = op
        self.node: dict[str, Any] = {}
        self.opset = 17

    def forward(self, *inputs: Any) -> Any:
        return run_node(self.node, list(inputs), self.training, self.opset)

    @property
    def output_shape(self) -> Any:  # no formula: summary takes the traced shape alone
        raise AttributeError("output_shape")

    def extra_repr(self) -> str:
        return f"{self.op}, {self.node.get('name', '')!r}"

    def __repr__(self) -> str:
        return f"OnnxNode({self.extra_repr()})"

    def state_dict(self) -> OrderedDict[str, Tensor]:
        return OrderedDict()  # the parameters belong to the OnnxModel, under their ONNX names


class OnnxConv(OnnxNode, nn.Conv2d):
    """A Conv node (a tinyconv ``Conv2d`` for the viewers)."""


class OnnxConvTranspose(OnnxNode, nn.ConvTranspose2d):
    """A ConvTranspose node."""


class OnnxMaxPool(OnnxNode, nn.MaxPool2d):
    """A MaxPool node."""


class OnnxAvgPool(OnnxNode, nn.AvgPool2d):
    """An AveragePool or GlobalAveragePool node."""


NODE_CLASSES: dict[str, type[OnnxNode]] = {
    "Conv": OnnxConv,
    "ConvTranspose": OnnxConvTranspose,
    "MaxPool": OnnxMaxPool,
    "AveragePool": OnnxAvgPool,
    "GlobalAveragePool": OnnxAvgPool,
}


class OnnxModel(Module):
    """The graph ``graph`` (see ``read.describe``) as a tinyconv Module.

    ``forward(x)`` returns the graph's output, or a tuple when it has several (a graph with
    several inputs takes them in order: ``forward(x, y)``). ``input_shape`` is the graph's
    (C, H, W) when its one input declares them.
    """

    def __init__(self, graph: dict[str, Any]) -> None:
        super().__init__()
        self.graph = graph
        for name, t in graph["tensors"].items():
            arr = numpy.zeros(t["shape"], dtype=t["dtype"])
            if t["trainable"]:
                self._parameters[name] = Parameter(arr)
            else:
                self._buffers[name] = Tensor(arr)
        used: set[str] = set()
        for i, node in enumerate(graph["nodes"]):
            child = NODE_CLASSES.get(node["op"], OnnxNode)(i, node["op"])
            child.node = node
            child.opset = int(graph.get("opset", 17))
            slots = SLOTS.get(node["op"], ())
            for k, name in enumerate(node["inputs"]):
                if name in self._parameters:
                    slot = slots[k] if k < len(slots) else f"input{k}"
                    child._parameters[slot] = self._parameters[name]
            label = _module_name(node["name"], node["op"], i, used)
            used.add(label)
            self.add_module(label, child)
        shape = graph["inputs"][0]["shape"] if len(graph["inputs"]) == 1 else []
        if len(shape) > 1 and all(isinstance(d, int) and d > 0 for d in shape[1:]):
            self.input_shape = tuple(shape[1:])
        props = graph.get("properties", {})
        self.metadata = dict(props)

    def forward(self, *xs: Any) -> Any:
        names = [i["name"] for i in self.graph["inputs"]]
        if len(xs) != len(names):
            raise ValueError(
                f"OnnxModel: the graph takes {len(names)} input(s) ({', '.join(names)}), "
                f"got {len(xs)}"
            )
        env: dict[str, Any] = {}
        env.update(self._parameters)
        env.update(self._buffers)
        env.update(zip(names, xs, strict=True))
        for child in self._modules.values():
            node = child.node
            try:
                args = [env[n] if n else None for n in node["inputs"]]
            except KeyError as e:
                raise ValueError(
                    f"OnnxModel: node {node['name']!r} ({node['op']}) reads {e.args[0]!r}, "
                    "which no earlier node made"
                ) from None
            outs = child(*args)
            outs = outs if isinstance(outs, tuple) else (outs,)
            for name, value in zip(node["outputs"], outs, strict=False):
                if name:
                    env[name] = value
        results = tuple(_as_tensor(env[n]) for n in self.graph["outputs"])
        return results[0] if len(results) == 1 else results

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Every initializer by its ONNX name (parameters and buffers of this module only)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for name in self.graph["tensors"]:  # the file's order
            t = self._parameters.get(name)
            out[name] = t if t is not None else self._buffers[name]
        return out


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(numpy.asarray(value))


def _module_name(name: str, op: str, index: int, used: set[str]) -> str:
    """A readable, unique child name: the node name without the characters '.' and '/'."""
    base = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or f"{op}_{index}"
    label = base
    while label in used:
        label = f"{base}_{index}"
        index += 1
    return label
