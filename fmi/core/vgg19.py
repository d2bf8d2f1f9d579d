"""VGG-19's convolutional body as an MXNet symbol, built from one spec table.

Layer names follow the paper: ``conv{b}_{i}``/``relu{b}_{i}`` for block b and
position i, ``pool{b}`` after blocks 1-4. Only the graph up to the deepest
requested layer is built, so a relu1_2 inversion never pays for block 5. The tables load
without MXNet; ``build`` imports it. ``VGG19`` is the network as a ``fmi.core.network.Network``, the
default of every figure.
"""
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from fmi.core.network import Network
from fmi.errors import FmiError

if TYPE_CHECKING:  # for the checker only: MXNet loads in build, when a network is built
    import mxnet as mx

# block -> number of convolutions, and the width of each block
BLOCK_DEPTHS = (2, 2, 4, 4, 4)
BLOCK_WIDTHS = (64, 128, 256, 512, 512)

RELU_LAYERS = tuple(
    f"relu{block}_{i}"
    for block, depth in enumerate(BLOCK_DEPTHS, start=1)
    for i in range(1, depth + 1)
)
CONV_LAYERS = tuple(name.replace("relu", "conv") for name in RELU_LAYERS)
Pooling = Literal["avg", "max"]
POOLING_TYPES: tuple[str, ...] = get_args(Pooling)


def check_layer(layer: str) -> None:
    """Raise FmiError unless ``layer`` is one of VGG-19's relu outputs."""
    if layer not in RELU_LAYERS:
        raise FmiError(
            f"unknown layer {layer!r}; valid layers are {', '.join(RELU_LAYERS)}"
        )


def _block_of(layer: str) -> int:
    check_layer(layer)
    return int(layer[len("relu")])


def channels(layer: str) -> int:
    """Number of channels (filters) of a relu layer, e.g. 512 for relu4_2."""
    return BLOCK_WIDTHS[_block_of(layer) - 1]


def downsampling(layer: str) -> int:
    """How many times the input is halved before ``layer``: 2**(block-1)."""
    return 2 ** (_block_of(layer) - 1)


def check_input_size(layers: Sequence[str], height: int, width: int) -> None:
    """Raise FmiError unless every layer of ``layers`` keeps at least one position for an input
    of ``height`` x ``width``."""
    for layer in layers:
        needed = downsampling(layer)
        if min(height, width) < needed:
            raise FmiError(f"image {height}x{width} is too small for {layer}: it needs at least "
                           f"{needed} px on each side; use a larger image or size")


def output_size(layer: str, height: int, width: int) -> tuple[int, int]:
    """Spatial size (H, W) of ``layer`` for an input of ``height`` x ``width``.

    Each 2x2 stride-2 pooling floors the size, as MXNet's 'valid' convention does.
    """
    for _ in range(_block_of(layer) - 1):
        height, width = height // 2, width // 2
    return height, width


def flops(layer: str, height: int, width: int) -> int:
    """Forward FLOPs of the convolutions up to ``layer`` (2 per multiply-add) for one image."""
    total, in_channels = 0, 3
    for relu in RELU_LAYERS[:RELU_LAYERS.index(layer) + 1]:
        h, w = output_size(relu, height, width)
        total += 2 * in_channels * channels(relu) * 9 * h * w
        in_channels = channels(relu)
    return total


def build(layers: Sequence[str], pooling: str = "avg") -> "mx.sym.Symbol":
    """Return an ``mx.sym.Group`` of the requested relu outputs, in the order given.

    Arguments of the symbol are ``data`` (N, 3, H, W) and ``conv{b}_{i}_weight`` /
    ``conv{b}_{i}_bias`` for every convolution up to the deepest requested layer.
    """
    layers = list(layers)
    if not layers:
        raise FmiError(f"no layers requested; valid layers are {', '.join(RELU_LAYERS)}")
    for layer in layers:
        check_layer(layer)
    if pooling not in POOLING_TYPES:
        raise FmiError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLING_TYPES)}")
    deepest = max(RELU_LAYERS.index(layer) for layer in layers)
    import mxnet as mx  # here, so the layer tables (and --help) never wait for MXNet to load

    outputs = {}
    net = mx.sym.Variable("data")
    for block, (depth, width) in enumerate(zip(BLOCK_DEPTHS, BLOCK_WIDTHS), start=1):
        for i in range(1, depth + 1):
            net = mx.sym.Convolution(
                net, kernel=(3, 3), pad=(1, 1), stride=(1, 1),
                num_filter=width, name=f"conv{block}_{i}",
            )
            net = mx.sym.Activation(net, act_type="relu", name=f"relu{block}_{i}")
            outputs[f"relu{block}_{i}"] = net
            if len(outputs) > deepest:
                return mx.sym.Group([outputs[layer] for layer in layers])
        net = mx.sym.Pooling(
            net, kernel=(2, 2), stride=(2, 2), pool_type=pooling, name=f"pool{block}"
        )
    raise AssertionError("unreachable: the deepest layer is always built")


def parameter_shapes() -> dict[str, tuple[int, ...]]:
    """Shapes of every convolution's weight and bias, keyed as in ``build``'s arguments."""
    shapes: dict[str, tuple[int, ...]] = {}
    in_channels = 3
    for conv, relu in zip(CONV_LAYERS, RELU_LAYERS):
        out_channels = channels(relu)
        shapes[f"{conv}_weight"] = (out_channels, in_channels, 3, 3)
        shapes[f"{conv}_bias"] = (out_channels,)
        in_channels = out_channels
    return shapes


class VGG19(Network):
    """VGG-19 as a ``Network``: its tables and ``build`` above, with its pooling (the authors' avg, or max)."""

    source = "vgg19"
    layers = RELU_LAYERS

    def __init__(self, pooling: str = "avg") -> None:
        if pooling not in POOLING_TYPES:
            raise FmiError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLING_TYPES)}")
        self.pooling = pooling

    @property
    def max_pooling(self) -> bool:
        return self.pooling == "max"

    def layers_hint(self) -> str:
        return f"valid layers are {', '.join(RELU_LAYERS)}"

    def unknown_layer(self, layer: str) -> str:
        return f"unknown layer {layer!r}; {self.layers_hint()}"

    def channels(self, layer: str) -> int:
        return channels(layer)

    def output_size(self, layer: str, height: int, width: int) -> tuple[int, int]:
        return output_size(layer, height, width)

    def flops(self, layer: str, height: int, width: int) -> int:
        return flops(layer, height, width)

    def build(self, layers: Sequence[str]) -> "mx.sym.Symbol":
        return build(layers, self.pooling)

    def check_input_size(self, layers: Sequence[str], height: int, width: int) -> None:
        check_input_size(layers, height, width)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "pooling": self.pooling}
