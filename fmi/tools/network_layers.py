"""A network's rectified layers, as fmi's layer settings name them.

    python -m fmi.network layers vgg19
    python -m fmi.network layers gluon:resnet18_v1 --size 256
    python -m fmi.network layers onnx:models/resnet18.onnx

One line per layer: its name (an ONNX layer also by the name Netron shows, the output of its Relu
node), its channels (the filters Fig. 3 inverts one by one), its output size and the forward cost
up to it for a square input of --size px. Layers after an operator MXNet cannot import are listed
apart, naming the operator and its node.
"""
from dataclasses import dataclass
from typing import Optional

from fmi.core.graph import GraphNetwork
from fmi.errors import FmiError
from fmi.files import networks
from fmi.tools import pages

VGG19_SIZE = 512  # the paper's long edge


@dataclass
class Row:
    name: str
    graph_name: str
    channels: int
    size: str
    gflops: float


def table(source: str, size: Optional[int] = None) -> str:
    """The layers of ``source`` for an input of ``size`` x ``size`` px, as text for a terminal."""
    network = networks.network(source)  # MXNet loaded by the door, which says why where it cannot
    if size is not None and not 1 <= size <= 16384:
        raise FmiError(f"--size {size}: give a side from 1 to 16384 px")
    graph = network if isinstance(network, GraphNetwork) else None
    height, width = (size, size) if size else (graph.nominal_size if graph else (VGG19_SIZE, VGG19_SIZE))
    network.check_input_size(network.layers, height, width)
    costs = network.costs(network.layers, height, width)
    rows = [Row(layer, graph.tensors[layer] if graph else layer, channels, f"{h}x{w}", costs[layer] / 1e9)
            for layer, (channels, h, w) in network.maps(network.layers, height, width).items()]
    convention = (graph.convention.preprocessing().name if graph else "input as its weights say (the authors': "
                  "rgb 0..255 minus the ImageNet mean)")
    return pages.render("layers.txt", network=network, layers=rows, height=height, width=width,
                        convention=convention, unavailable=graph.unavailable if graph else {},
                        width_name=max(len(row.name) for row in rows))
