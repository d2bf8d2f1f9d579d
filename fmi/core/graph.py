"""A network given as an MXNet graph (a Gluon model zoo architecture, an imported ONNX file): ``GraphNetwork``.

Its rectified layers were found in the graph by whoever made it (``fmi.files.networks``); everything
else is read off the symbol: a layer's channels and output size by MXNet's shape inference, its cost
by summing the multiply-adds of the convolutions and dense layers it depends on. BatchNorm always
runs in inference mode (its moving statistics, in the forward pass and in the gradient alike), so a
batch of inverted images never normalises itself.
"""
import copy
import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from fmi.core.network import InputConvention, Network
from fmi.errors import FmiError

if TYPE_CHECKING:  # for the checker only: MXNet loads when a symbol is built
    import mxnet as mx

Shape = tuple[int, int, int]  # a layer's (C, h, w)
# the graph's outputs for the tensors named, in that order, as one symbol reading ``data``
Importer = Callable[[tuple[str, ...]], "mx.sym.Symbol"]


def inference_mode(symbol: "mx.sym.Symbol", size: tuple[int, int] = (224, 224)) -> "mx.sym.Symbol":
    """``symbol`` with every BatchNorm set to its moving statistics (``use_global_stats``) and every Dropout
    to drop nothing, so that it computes the trained network's function in training mode too; and with the
    operators MXNet's ONNX importer writes replaced by the ones MXNet's own networks use, which compute the
    same numbers faster on oneDNN (bench/networks.py): a ReLU as ``Activation``, an addition of two maps of
    one shape as ``elemwise_add``, a padding of zero widths left out, and an edge padding before a max
    pooling made the pooling's own (shapes are read for an input of ``size``)."""
    import mxnet as mx

    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    shapes = _output_shapes(symbol, nodes, size)
    consumers = [0] * len(nodes)
    for node in nodes:
        for entry in node["inputs"]:
            consumers[entry[0]] += 1
    skipped: dict[int, list[int]] = {}  # a node left out -> the input it passes on
    for index, node in enumerate(nodes):
        attrs = node.setdefault("attrs", {})
        if node["op"] == "BatchNorm":
            attrs["use_global_stats"] = "True"
        elif node["op"] == "Dropout":
            attrs["p"] = "0"
        elif node["op"] == "relu":
            node["op"], node["attrs"] = "Activation", {"act_type": "relu"}
        elif node["op"] == "broadcast_add" and len({shapes.get(tuple(entry[:2])) for entry in node["inputs"]}) == 1 \
                and shapes.get(tuple(node["inputs"][0][:2])) is not None:
            node["op"] = "elemwise_add"
        elif node["op"] == "Pad" and not any(_widths(attrs)):
            skipped[index] = node["inputs"][0]
        elif node["op"] == "Pooling" and attrs.get("pool_type") == "max" and "pad" not in attrs:
            source = nodes[node["inputs"][0][0]]
            widths = _widths(source.get("attrs", {})) if source["op"] == "Pad" else []
            kernel = [int(side) for side in re.findall(r"\d+", attrs.get("kernel", ""))]
            if (len(widths) == 8 and not any(widths[:4]) and widths[4] == widths[5] and widths[6] == widths[7]
                    and len(kernel) == 2 and widths[4] < kernel[0] and widths[6] < kernel[1]
                    and source["attrs"].get("mode") == "edge" and consumers[node["inputs"][0][0]] == 1):
                # a window that reaches into an edge padding narrower than itself also covers the edge the
                # padding copies, so its maximum is the maximum over what it covers of the map, as MXNet's
                # own padded pooling takes it
                attrs["pad"] = f"({widths[4]}, {widths[6]})"
                node["inputs"] = [source["inputs"][0]]

    def passed_on(entry: list[int]) -> list[int]:
        while entry[0] in skipped:
            entry = skipped[entry[0]]
        return entry

    for node in nodes:
        node["inputs"] = [passed_on(entry) for entry in node["inputs"]]
    graph["heads"] = [passed_on(entry) for entry in graph["heads"]]
    return mx.sym.load_json(json.dumps(graph))


def _widths(attrs: dict[str, str]) -> list[int]:
    """A Pad node's widths, (before, after) per axis."""
    return [int(width) for width in re.findall(r"-?\d+", attrs.get("pad_width", "(1)"))]


def _output_shapes(symbol: "mx.sym.Symbol", nodes: list[dict[str, Any]],
                   size: tuple[int, int]) -> dict[tuple[int, int], tuple[int, ...]]:
    """{(node index, output index): shape} for an input of ``size``, where MXNet can say."""
    internals = symbol.get_internals()
    try:
        _, shapes, _ = internals.infer_shape_partial(data=(1, 3, *size))
    except Exception:  # noqa: BLE001  (a graph MXNet cannot shape keeps its operators)
        return {}
    by_name = dict(zip(internals.list_outputs(), shapes))
    found = {}
    for index, node in enumerate(nodes):
        shape = by_name.get(f"{node['name']}_output") or by_name.get(node["name"])
        if shape and all(shape):
            found[(index, 0)] = tuple(shape)
    return found


def _flops_to_heads(symbol: "mx.sym.Symbol", height: int, width: int) -> list[int]:
    """For each output of ``symbol``, the forward FLOPs of an input of ``height`` x ``width`` up to it: 2 per
    multiply-add of each convolution and dense layer it depends on."""
    internals = symbol.get_internals()
    arguments, outputs, _ = internals.infer_shape(data=(1, 3, height, width))
    argument_shapes = dict(zip(internals.list_arguments(), arguments))
    output_shapes = dict(zip(internals.list_outputs(), outputs))
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    own = [0] * len(nodes)  # each node's own FLOPs
    for index, node in enumerate(nodes):
        if node["op"] in ("Convolution", "FullyConnected", "Deconvolution"):
            weight = argument_shapes.get(nodes[node["inputs"][1][0]]["name"])
            out = output_shapes.get(f"{node['name']}_output")
            if weight is not None and out is not None:
                own[index] = 2 * int(np.prod(weight)) * int(np.prod(out[2:]))
    found = []
    for head, _, _ in graph["heads"]:
        seen, stack = set(), [head]
        while stack:
            index = stack.pop()
            if index not in seen:
                seen.add(index)
                stack.extend(entry[0] for entry in nodes[index]["inputs"])
        found.append(sum(own[index] for index in seen))
    return found


class GraphNetwork(Network):
    """A network read from a graph. ``tensors`` maps each rectified layer (its safe name, in graph order)
    to the graph's name of its output; ``unavailable`` says, per further rectified layer, why it cannot be
    used (an operator MXNet lacks before it); ``outputs`` builds the symbol of some tensors."""

    def __init__(self, source: str, tensors: dict[str, str], outputs: Importer, convention: InputConvention,
                 nominal_size: tuple[int, int] = (224, 224), unavailable: Optional[dict[str, str]] = None,
                 identity: Optional[dict[str, Any]] = None) -> None:
        if not tensors:
            raise FmiError(f"{source}: found no rectified layer (Relu) that MXNet can import; "
                           + (f"{next(iter(unavailable.values()))}" if unavailable else "fmi inverts the filters "
                              "of rectified layers"))
        self.source = source
        self.layers = tuple(tensors)
        self.tensors = dict(tensors)
        self.aliases = {tensor: layer for layer, tensor in tensors.items()}
        self.convention = convention
        self.nominal_size = nominal_size
        self.unavailable = dict(unavailable or {})
        self.identity = dict(identity or {})
        self._outputs = lru_cache(maxsize=16)(outputs)
        self.has_max_pooling: Optional[bool] = None

    @property
    def max_pooling(self) -> bool:
        """Whether the graph up to its last rectified layer pools by the maximum."""
        if self.has_max_pooling is None:
            graph = json.loads(self.build(list(self.layers)).tojson())
            self.has_max_pooling = any(node["op"] == "Pooling" and node.get("attrs", {}).get("pool_type") == "max"
                                       for node in graph["nodes"])
        return self.has_max_pooling

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, **self.identity}

    def with_convention(self, convention: InputConvention) -> "GraphNetwork":
        """This network read through another input convention (a config's ``network.input``)."""
        other = copy.copy(self)
        other.convention = convention
        other.identity = {**self.identity, "input": convention.describe()}
        return other

    def canonical(self, layer: str) -> str:
        """``layer`` by its safe name or the graph's own name (an ONNX output as Netron shows it)."""
        layer = self.aliases.get(layer, layer)
        for name in (layer, self.aliases.get(layer)):
            if name in self.unavailable:
                raise FmiError(f"{self.source}: layer {layer!r} cannot be used: {self.unavailable[name]}")
        return super().canonical(layer)

    def build(self, layers: Sequence[str]) -> "mx.sym.Symbol":
        names = [self.canonical(layer) for layer in layers]
        if not names:
            raise FmiError(f"no layers requested; {self.layers_hint()}")
        return self._build(tuple(names))

    @lru_cache(maxsize=32)  # noqa: B019 (one network per source lives for the whole process)
    def _build(self, layers: tuple[str, ...]) -> "mx.sym.Symbol":
        return inference_mode(self._outputs(tuple(self.tensors[layer] for layer in layers)), self.nominal_size)

    @lru_cache(maxsize=64)  # noqa: B019
    def shapes(self, layers: tuple[str, ...], height: int, width: int) -> dict[str, Shape]:
        """{layer: (C, h, w)} for an input of ``height`` x ``width``; FmiError where the input is too small."""
        import mxnet as mx

        symbol = self.build(layers)
        try:
            _, found, _ = symbol.infer_shape(data=(1, 3, height, width))
        except mx.base.MXNetError as error:
            problem = str(error).strip().splitlines()[0][:200]
            raise FmiError(f"{self.source}: an input of {height}x{width} px does not reach "
                           f"{self.deepest(list(layers))} ({problem}); use a larger image or size") from None
        shapes = {layer: tuple(int(v) for v in shape[1:]) for layer, shape in zip(layers, found)}
        for layer, shape in shapes.items():
            if len(shape) != 3 or min(shape) < 1:
                raise FmiError(f"{self.source}: an input of {height}x{width} px leaves {layer} with shape "
                               f"{shape}, no position to invert; use a larger image or size")
        return shapes  # type: ignore[return-value]

    def maps(self, layers: Sequence[str], height: int, width: int) -> dict[str, tuple[int, int, int]]:
        """All in one shape inference."""
        return self.shapes(tuple(self.canonical(layer) for layer in layers), height, width)

    def channels(self, layer: str) -> int:
        layer = self.canonical(layer)
        return self.shapes((layer,), *self.nominal_size)[layer][0]

    def output_size(self, layer: str, height: int, width: int) -> tuple[int, int]:
        layer = self.canonical(layer)
        _, h, w = self.shapes((layer,), height, width)[layer]
        return h, w

    def check_input_size(self, layers: Sequence[str], height: int, width: int) -> None:
        self.shapes(tuple(self.canonical(layer) for layer in layers), height, width)

    def flops(self, layer: str, height: int, width: int) -> int:
        return self.costs((self.canonical(layer),), height, width)[self.canonical(layer)]

    @lru_cache(maxsize=256)  # noqa: B019
    def costs(self, layers: tuple[str, ...], height: int, width: int) -> dict[str, int]:
        """{layer: forward FLOPs up to it} of ``layers``, in one shape inference."""
        return dict(zip(layers, _flops_to_heads(self.build(list(layers)), height, width)))
