"""What fmi needs of a network, whichever it is: ``Network``, and the input convention it was trained with.

A network is a value: its rectified layers in order (the layers whose filters the paper inverts), each
layer's channels, its output size and forward cost for an input size, the MXNet symbol up to the
requested layers, and how a picture becomes its input (``InputConvention``). VGG-19 is one
(``fmi.core.vgg19.VGG19``, built from its table); a network of Gluon's model zoo or an ONNX file is
another (``fmi.core.graph.GraphNetwork``). Layer names are the network's own, made safe for file
names (``safe_name``): a cell's key holds its layer.
"""
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fmi.errors import FmiError

if TYPE_CHECKING:  # for the checker only: MXNet loads when a symbol is built, OpenCV when a picture is read
    import mxnet as mx

    from fmi.core.preprocessing import Preprocessing

ChannelOrder = Literal["rgb", "bgr"]
LAYERS_HINT = "'python -m fmi.network layers {source}' lists them"


@dataclass(frozen=True)
class InputConvention:
    """How a picture becomes the network's input: x = (pixel in [0, 1] x ``range`` - mean) / std, per channel
    in ``channels`` order (the mean and std in that order too)."""

    channels: ChannelOrder
    range: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def preprocessing(self) -> "Preprocessing":
        """The affine map of ``fmi.core.preprocessing`` for this convention (from RGB on 0..255)."""
        from fmi.core.preprocessing import Preprocessing

        in_rgb = (lambda values: values[::-1]) if self.channels == "bgr" else (lambda values: values)
        mean, std = tuple(map(float, in_rgb(self.mean))), tuple(map(float, in_rgb(self.std)))
        name = (f"{self.channels} 0..{self.range:g} minus mean ({', '.join(f'{v:g}' for v in self.mean)})"
                + (f" over std ({', '.join(f'{v:g}' for v in self.std)})" if any(v != 1 for v in self.std) else ""))
        return Preprocessing(scale=self.range / 255.0, mean=mean, std=std, name=name,  # type: ignore[arg-type]
                             order=self.channels)

    def describe(self) -> dict[str, Any]:
        return {"channels": self.channels, "range": self.range, "mean": list(self.mean), "std": list(self.std)}


SOURCE_HELP = "a network is vgg19, gluon:NAME (Gluon's model zoo, e.g. gluon:resnet18_v1) or onnx:PATH"


def kind_of(source: str) -> tuple[str, str]:
    """('vgg19' | 'gluon' | 'onnx', the rest): what a network source names, or FmiError."""
    source = str(source)
    if source == "vgg19":
        return "vgg19", ""
    kind, colon, rest = source.partition(":")
    if colon and kind in ("gluon", "onnx") and rest:
        return kind, rest
    shown = source if len(source) <= 80 else source[:77] + "..."
    raise FmiError(f"network {shown!r}: {SOURCE_HELP}")


# ImageNet's convention of Gluon's model zoo and of torchvision's models
IMAGENET = InputConvention("rgb", 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def safe_name(name: str) -> str:
    """A layer name as fmi's file names and cell keys hold it: '/layer1/relu_2/Relu_output_0' ->
    'layer1.relu_2.Relu_output_0' (slashes become dots, other characters outside letters, digits, '.',
    '_' and '-' become '_', and it starts with a letter or digit)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", ".")).lstrip("._-")
    return safe[:200] or "layer"


class Network(ABC):
    """A CNN as fmi sees it. ``source`` says where it came from (``vgg19``, ``gluon:NAME``, ``onnx:PATH``);
    ``layers`` are its rectified layers in the order of its graph."""

    source: str
    layers: tuple[str, ...]

    @property
    def is_vgg19(self) -> bool:
        return self.source == "vgg19"

    @property
    def max_pooling(self) -> bool:
        """Whether the graph has max pooling, whose gradient MXNet 1.9.1 computes only after a forward pass in
        training mode (after an inference-mode pass its gradient is wrong: tests/core/test_invert.py)."""
        return True

    @property
    def title(self) -> str:
        """How figures and logs name it."""
        return "VGG-19" if self.is_vgg19 else self.source

    @abstractmethod
    def channels(self, layer: str) -> int:
        """Number of channels (filters) of ``layer``."""

    @abstractmethod
    def output_size(self, layer: str, height: int, width: int) -> tuple[int, int]:
        """Spatial size (h, w) of ``layer`` for an input of ``height`` x ``width``."""

    @abstractmethod
    def flops(self, layer: str, height: int, width: int) -> int:
        """Forward FLOPs (2 per multiply-add) of the convolutions up to ``layer``, for one image."""

    @abstractmethod
    def build(self, layers: Sequence[str]) -> "mx.sym.Symbol":
        """An ``mx.sym.Group`` of the requested layers' outputs, in the order given, reading the input
        ``data`` (N, 3, H, W); only the graph they need is built."""

    @abstractmethod
    def check_input_size(self, layers: Sequence[str], height: int, width: int) -> None:
        """Raise FmiError unless every layer of ``layers`` keeps at least one position for an input of
        ``height`` x ``width``."""

    def maps(self, layers: Sequence[str], height: int, width: int) -> dict[str, tuple[int, int, int]]:
        """{layer: (C, h, w)} of ``layers`` for an input of ``height`` x ``width``."""
        return {layer: (self.channels(layer), *self.output_size(layer, height, width)) for layer in layers}

    def costs(self, layers: tuple[str, ...], height: int, width: int) -> dict[str, int]:
        """{layer: ``flops`` up to it} of ``layers`` for an input of ``height`` x ``width``."""
        return {layer: self.flops(layer, height, width) for layer in layers}

    def describe(self) -> dict[str, Any]:
        """What the run record says of the network (beside its weights)."""
        return {"source": self.source}

    def layers_hint(self) -> str:
        """Where a user finds the network's layers."""
        return LAYERS_HINT.format(source=self.source)

    def unknown_layer(self, layer: str) -> str:
        """Why ``layer`` is refused, and where to look."""
        shown = ", ".join(self.layers) if len(self.layers) <= 20 else f"{len(self.layers)} rectified layers"
        return f"{self.title} has no rectified layer {layer!r} ({shown}); {self.layers_hint()}"

    def canonical(self, layer: str) -> str:
        """``layer`` as the network names it, or FmiError (``unknown_layer``)."""
        if layer not in self.layers:
            raise FmiError(self.unknown_layer(layer))
        return layer

    def index(self, layer: str) -> int:
        """The position of ``layer`` in the network's order."""
        return self.layers.index(self.canonical(layer))

    def deepest(self, layers: Sequence[str]) -> str:
        """The last of ``layers`` in the network's order."""
        if not layers:
            raise FmiError(f"no layers requested; {self.layers_hint()}")
        return max(layers, key=self.index)

    def ordered(self, layers: Sequence[str]) -> list[str]:
        """``layers`` without repeats, in the network's order."""
        return sorted(set(layers), key=self.index)

    def up_to(self, layer: str) -> tuple[str, ...]:
        """The rectified layers from the first to ``layer``."""
        return self.layers[:self.index(layer) + 1]


class RecordedNetwork(Network):
    """A network as a run record describes it: its rectified layers and the channels of those the run used.
    The tools read a run folder through it, made on another machine perhaps, without the network's file;
    what needs the network itself says so."""

    def __init__(self, source: str, layers: Sequence[str], channels: dict[str, int]) -> None:
        self.source, self.layers, self.recorded = source, tuple(layers), dict(channels)

    def channels(self, layer: str) -> int:
        if layer not in self.recorded:
            raise FmiError(f"the run record gives no channels of {self.canonical(layer)!r} of {self.source}; "
                           f"it names the channels of the layers the run used only")
        return self.recorded[layer]

    def _needs_network(self) -> FmiError:
        return FmiError(f"this needs the network {self.source} itself, not the run record's description of it")

    def output_size(self, layer: str, height: int, width: int) -> tuple[int, int]:
        raise self._needs_network()

    def flops(self, layer: str, height: int, width: int) -> int:
        raise self._needs_network()

    def build(self, layers: Sequence[str]) -> "mx.sym.Symbol":
        raise self._needs_network()

    def check_input_size(self, layers: Sequence[str], height: int, width: int) -> None:
        raise self._needs_network()
