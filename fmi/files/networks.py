"""Where networks come from: ``vgg19``, ``gluon:NAME`` (an architecture of MXNet's Gluon model zoo, built
offline) or ``onnx:PATH`` (a file as ``torch.onnx.export`` writes it), and their weights.

``network(source, ...)`` gives the ``fmi.core.network.Network``; ``weights(network, spec, ...)`` its
parameters as a ``fmi.files.weight_files.Weights``. An ONNX file is imported by MXNet's importer cut
at the requested layers, so a head with operators MXNet lacks never matters; a rectified layer that
comes after such an operator is listed as unavailable, naming it. Random weights are drawn by name
from a seed (He-normal convolutions and dense layers, zero biases, BatchNorm as the identity), so a
parameter's values never depend on which layers a run asks for.
"""
import hashlib
import json
import logging
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import mxnet as mx
import numpy as np

from fmi.core import vgg19
from fmi.core.graph import GraphNetwork
from fmi.core.network import IMAGENET, InputConvention, Network, kind_of, safe_name
from fmi.core.preprocessing import CAFFE_RGB, Preprocessing
from fmi.errors import FmiError
from fmi.files import weight_files
from fmi.files.weight_files import Weights
from fmi.io import PathLike, check_input_file, digest_of_bytes, quote, read_file, sha1_of_file

log = logging.getLogger("fmi")

MAX_ONNX_BYTES = 2 << 30  # protobuf's own limit on one message
RECTIFIERS = {"Relu"}     # ONNX operators whose outputs are rectified layers (and Clip from 0: ReLU6)
VGG19_CONVENTION = InputConvention("rgb", 255.0, CAFFE_RGB.mean, CAFFE_RGB.std)


def network(source: str, convention: Optional[InputConvention] = None, pooling: str = "avg") -> Network:
    """The network of ``source``; ``convention`` replaces its default input convention; ``pooling`` is
    VGG-19's (the other networks keep their own)."""
    kind, rest = kind_of(source)
    if kind == "vgg19":
        return vgg19.VGG19(pooling)
    found = _gluon(rest) if kind == "gluon" else _onnx(*_file_version(rest))
    return found if convention is None or convention == found.convention else found.with_convention(convention)


def default_convention(source: str) -> Optional[InputConvention]:
    """A source's own input convention (ImageNet's for Gluon and ONNX); None for VGG-19, whose
    convention is its weights' (the authors' file: 0..255 minus the mean; Gluon's VGG-19: ImageNet's)."""
    return None if kind_of(source)[0] == "vgg19" else IMAGENET


# --- Gluon's model zoo -----------------------------------------------------------------------------------

def _rectified(node: dict[str, Any]) -> bool:
    """Whether an MXNet graph node is a rectifier: ReLU, or a clip from 0 (ReLU6)."""
    attrs = node.get("attrs", {})
    return (node["op"] == "relu" or (node["op"] == "Activation" and attrs.get("act_type") == "relu")
            or (node["op"] == "clip" and float(attrs.get("a_min", "nan")) == 0.0))


@lru_cache(maxsize=8)
def _gluon(name: str) -> GraphNetwork:
    """An architecture of Gluon's model zoo, built offline with fresh name counters (so its names are
    the same in every process: resnetv10_stage2_relu0_fwd)."""
    from mxnet.gluon.model_zoo import vision

    try:
        with mx.name.NameManager():
            block = vision.get_model(name)
    except ValueError as error:
        options = str(error).partition("are")[2].split()
        raise FmiError(f"network gluon:{name}: Gluon's model zoo has no {quote(name)}; it has "
                       f"{', '.join(options)}") from None
    symbol = block(mx.sym.var("data"))
    graph = json.loads(symbol.tojson())
    internals = symbol.get_internals()
    _, shapes, _ = internals.infer_shape_partial(data=(1, 3, 224, 224))  # the size the zoo's models are made for
    ranks = {name: len(shape) for name, shape in zip(internals.list_outputs(), shapes)}
    tensors = {node["name"]: node["name"] for node in graph["nodes"]
               if _rectified(node) and ranks.get(f"{node['name']}_output", 4) == 4}  # maps, not a classifier's vectors

    def outputs(names: tuple[str, ...]) -> Any:
        return mx.sym.Group([internals[f"{name}_output"] for name in names])

    return GraphNetwork(f"gluon:{name}", tensors, outputs, IMAGENET, identity={"zoo": name})


# --- ONNX files --------------------------------------------------------------------------------------

@dataclass
class OnnxGraph:
    """An ONNX model's graph, read and checked: its nodes, initializers, image input and opset, and the digests
    of the bytes it was read from (SHA-256 for the network's record, SHA-1 for its weights')."""

    model: Any
    input_name: str
    declared: tuple[int, int]
    opset: int
    sha256: str
    sha1: str


def read_onnx(path: PathLike) -> OnnxGraph:
    """Read and check an ONNX file: a model whose one input (beside its initializers) is a batch of
    3-channel images; FmiError naming what is wrong."""
    import onnx

    path = check_input_file(path, "ONNX file")
    data, problem = read_file(path, MAX_ONNX_BYTES)
    if data is None:
        raise FmiError(f"ONNX file {path}: {problem}")
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # protobuf raises DecodeError and others on bytes that are no model
        raise FmiError(f"ONNX file {path}: not an ONNX model, or cut short; export it again from PyTorch "
                       f"(docs/networks.md, \"Exporting a PyTorch model\")") from None
    graph = model.graph
    if not graph.node:
        raise FmiError(f"ONNX file {path}: not an ONNX model, or cut short (it has no graph nodes); export it again")
    initializers = {tensor.name for tensor in graph.initializer}
    images = [value for value in graph.input if value.name not in initializers]
    if len(images) != 1:
        raise FmiError(f"ONNX file {path}: {len(images)} inputs ({', '.join(v.name for v in images)}); fmi inverts "
                       f"networks of one image input")
    dims = images[0].type.tensor_type.shape.dim
    values = [dim.dim_value if dim.HasField("dim_value") else None for dim in dims]
    if len(values) != 4 or values[1] != 3:
        raise FmiError(f"ONNX file {path}: its input {images[0].name!r} has shape "
                       f"{tuple(v if v is not None else '?' for v in values)}, not a batch of 3-channel images "
                       f"(N, 3, H, W)")
    declared = (values[2] or 224, values[3] or 224)
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 0)
    return OnnxGraph(model, images[0].name, declared, opset, hashlib.sha256(data).hexdigest(), digest_of_bytes(data))


def _convert_map() -> dict[str, Any]:
    from mxnet.contrib.onnx.onnx2mx._import_helper import _convert_map as known

    return dict(known)


def _clip_from_zero(node: Any, constants: dict[str, Any]) -> bool:
    """Whether an ONNX Clip node clips from 0 (ReLU6 as torch exports it)."""
    if node.op_type != "Clip":
        return False
    low = [attribute.f for attribute in node.attribute if attribute.name == "min"]
    if len(node.input) > 1 and node.input[1] in constants:
        low = [float(np.asarray(constants[node.input[1]]).ravel()[0])]
    return low == [0.0]


def _file_version(path: str) -> tuple[str, int, int]:
    """(absolute path, modification time, size) of a file: what the caches of files are keyed by, so a file
    replaced while fmi runs is read again."""
    resolved = Path(path).expanduser().resolve()
    try:
        status = resolved.stat()
    except OSError:
        return str(resolved), 0, -1  # reading it says what is wrong
    return str(resolved), status.st_mtime_ns, status.st_size


@lru_cache(maxsize=8)
def _onnx(path: str, modified: int, size: int) -> GraphNetwork:
    """An ONNX file's rectified layers, and an importer of its graph cut at any of them."""
    from onnx import numpy_helper

    found = _onnx_graph(path, modified, size)
    graph = found.model.graph
    ranks = _ranks(found.model)
    known = _convert_map()
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    blocked: dict[str, str] = {}  # tensor -> the first operator MXNet lacks that it depends on
    tensors: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for node in graph.node:
        reason = next((blocked[name] for name in node.input if name in blocked), None)
        if reason is None and node.op_type not in known:
            reason = f"operator {node.op_type} at node {node.name or node.output[0]!r}, which MXNet cannot import, " \
                     f"comes before it"
        for output in node.output:
            if reason:
                blocked[output] = reason
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    constants[node.output[0]] = numpy_helper.to_array(attribute.t)
        if (node.op_type in RECTIFIERS or _clip_from_zero(node, constants)) and ranks.get(node.output[0], 4) == 4:
            name = _unique(safe_name(node.output[0]), tensors, unavailable)
            if reason:
                unavailable[name] = reason
            else:
                tensors[name] = node.output[0]

    def outputs(names: tuple[str, ...]) -> Any:
        return _import_cut(found, names)[0]

    identity = {"file": Path(path).name, "sha256": found.sha256, "opset": found.opset}
    return GraphNetwork(f"onnx:{path}", tensors, outputs, IMAGENET, found.declared, unavailable, identity)


def _ranks(model: Any) -> dict[str, int]:
    """The rank of each tensor of the model that ONNX's shape inference can tell: rectified layers are maps
    (N, C, H, W), not a classifier's vectors."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001  (inference is a help here: without it every Relu is a candidate)
        return {}
    values = list(inferred.graph.value_info) + list(inferred.graph.output)
    return {value.name: len(value.type.tensor_type.shape.dim) for value in values
            if value.type.tensor_type.HasField("shape")}


def _unique(name: str, *taken: dict[str, str]) -> str:
    candidate, number = name, 1
    while any(candidate in names for names in taken):
        number += 1
        candidate = f"{name}-{number}"
    return candidate


def _import_cut(found: OnnxGraph, names: tuple[str, ...]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """MXNet's import of the graph cut at the tensors ``names`` (its outputs, in that order), the image input
    renamed ``data``: the symbol, its arguments and its auxiliary states."""
    from mxnet.contrib.onnx.onnx2mx.import_onnx import GraphProto
    from onnx import helper

    graph = found.model.graph
    producers = {output: node for node in graph.node for output in node.output}
    needed: set[int] = set()
    stack = list(names)
    while stack:
        node = producers.get(stack.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            stack.extend(node.input)
    renamed = {found.input_name: "data"}
    nodes = []
    for node in graph.node:
        if id(node) in needed:
            copy = type(node)()
            copy.CopyFrom(node)
            copy.input[:] = [renamed.get(name, name) for name in node.input]
            nodes.append(copy)
    used = {name for node in nodes for name in node.input}
    initializers = [tensor for tensor in graph.initializer if tensor.name in used]
    inputs = [helper.make_tensor_value_info("data", 1, [1, 3, *found.declared])] + [
        helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)) for tensor in initializers]
    outputs = [helper.make_empty_tensor_value_info(name) for name in names]
    cut = helper.make_graph(nodes, graph.name or "graph", inputs, outputs, initializer=initializers)
    try:
        with mx.name.NameManager():
            symbol, arguments, auxiliary = GraphProto().from_onnx(cut, found.opset)
    except Exception as error:  # the importer raises assorted errors on graphs it cannot convert
        raise FmiError(f"ONNX file: MXNet's importer failed on the graph up to {names[-1]!r}: "
                       f"{type(error).__name__}: {str(error)[:200]}") from None
    return symbol, arguments, auxiliary


# --- weights ---------------------------------------------------------------------------------------------

def weights(net: Network, spec: str = "auto", model_dir: PathLike = "model",
            convention: Optional[InputConvention] = None) -> Weights:
    """The weights of ``net`` named by ``spec``: for VGG-19, what ``fmi.files.weight_files.load`` reads;
    for a Gluon architecture, random[:SEED], a .params file Gluon saved, 'gluon' (the zoo's pretrained
    download) or 'auto' (the zoo's file where it is already on disk, else random); for an ONNX file, its
    own ('auto') or random[:SEED]."""
    if isinstance(net, vgg19.VGG19):
        loaded = weight_files.load(spec, model_dir)
        if convention is None:
            return loaded
        return weight_files.with_preprocessing(loaded, convention.preprocessing())
    assert isinstance(net, GraphNetwork)
    preprocessing = (convention or net.convention).preprocessing()
    kind = weight_files.spec_kind(spec)
    if kind == "random":
        seed = weight_files.random_seed(spec)
        return _graph_weights(random_params(net, seed), preprocessing, f"random:{seed}", False, seed=seed,
                              described=f"random weights (seed {seed}), not trained")
    source_kind, rest = kind_of(net.source)
    if source_kind == "onnx":
        if kind not in ("auto",):
            raise FmiError(f"weights {quote(spec)}: an ONNX network's weights are its file's ('auto') or "
                           f"random[:SEED], a control")
        found = _onnx_graph(*_file_version(rest))
        if found.sha256 != net.identity.get("sha256"):
            raise FmiError(f"ONNX file {rest}: it changed while fmi was reading it; run again once it is written")
        _, arguments, auxiliary = _import_cut(found, tuple(net.tensors.values()))
        name = str(net.identity.get("file"))
        return _graph_weights({**arguments, **auxiliary}, preprocessing, f"ONNX file {name}", True, path=rest,
                              sha1=found.sha1, described=f"the weights of {name} (sha256 {found.sha256[:12]})")
    return _gluon_weights(net, rest, spec, kind, preprocessing)


@lru_cache(maxsize=4)
def _onnx_graph(path: str, modified: int, size: int) -> OnnxGraph:
    """The file at ``path`` as it is at ``modified`` with ``size`` bytes, read once: the network and its weights
    come from the same bytes."""
    return read_onnx(path)


def _graph_weights(params: dict[str, Any], preprocessing: Preprocessing, source: str, pretrained: bool,
                   seed: Optional[int] = None, path: Optional[str] = None, sha1: Optional[str] = None,
                   described: str = "") -> Weights:
    return Weights({name: _float32(value, name) for name, value in params.items()}, preprocessing, source=source,
                   pretrained=pretrained, sha1=sha1, seed=seed, path=path, described=described)


def _float32(value: Any, name: str) -> Any:
    array = value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise FmiError(f"weights: {name} has non-finite values (NaN or infinity)")
    return mx.nd.array(array.astype(np.float32), dtype=np.float32)


def random_params(net: GraphNetwork, seed: int) -> dict[str, Any]:
    """Seeded random parameters of every layer of ``net``: each drawn from its own stream, by its name."""
    symbol = net.build(list(net.layers))
    arguments, _, auxiliary = symbol.infer_shape(data=(1, 3, *net.nominal_size))
    shapes = {**dict(zip(symbol.list_arguments(), arguments)), **dict(zip(symbol.list_auxiliary_states(), auxiliary))}
    roles = _roles(symbol)
    params = {}
    for name, shape in shapes.items():
        if name == "data":
            continue
        role = roles.get(name, "zero")
        generator = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        if role == "weight":
            fan_in = int(np.prod(shape[1:]))
            value = generator.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), size=shape)
        else:
            value = np.full(shape, 1.0 if role == "one" else 0.0)
        params[name] = mx.nd.array(value.astype(np.float32), dtype=np.float32)
    return params


# how a random draw fills the parameter inputs of each operator, after its data
PARAMETER_ROLES = {"Convolution": ("weight", "zero"), "Deconvolution": ("weight", "zero"),
                   "FullyConnected": ("weight", "zero"), "BatchNorm": ("one", "zero", "zero", "one")}


def _roles(symbol: Any) -> dict[str, str]:
    """{parameter name: 'weight' | 'one' | 'zero'}: how a random draw fills it, by the operator reading it."""
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    roles = {}
    for node in nodes:
        for (index, _, _), role in zip(node["inputs"][1:], PARAMETER_ROLES.get(node["op"], ())):
            roles[nodes[index]["name"]] = role
    return roles


def _gluon_weights(net: GraphNetwork, name: str, spec: str, kind: str, preprocessing: Preprocessing) -> Weights:
    from mxnet.gluon.model_zoo import model_store, vision

    root = Path.home() / ".mxnet" / "models"
    if kind == "auto":
        cached = root / f"{name}-{model_store.short_hash(name)}.params" if name in model_store._model_sha1 else None
        if cached is None or not cached.exists():
            log.warning("no pretrained %s in %s: random weights (seed 0), not trained", name, root)
            return _graph_weights(random_params(net, 0), preprocessing, "random:0", False, seed=0,
                                  described="random weights (seed 0), not trained")
        path = cached
    elif kind == "gluon":
        try:
            path = Path(model_store.get_model_file(name, root=str(root)))
        except Exception as error:  # mxnet raises assorted network and checksum errors here
            raise FmiError(f"could not get Gluon's pretrained {name} ({str(error)[:120]}); without internet, copy "
                           f"its .params file into {root}/ or name it with --weights PATH") from None
    else:
        path = check_input_file(Path(spec).expanduser(), "weights file")
    with mx.name.NameManager():
        block = vision.get_model(name)
    try:
        block.load_parameters(str(path), ctx=mx.cpu())
    except (AssertionError, mx.base.MXNetError, ValueError, KeyError) as error:
        raise FmiError(f"weights file {path}: not the parameters of Gluon's {name} "
                       f"({str(error).strip().splitlines()[0].split(', which contains')[0][:200]})") from None
    params = {parameter.name: parameter.data() for parameter in block.collect_params().values()}
    sha1 = sha1_of_file(path)
    return _graph_weights(params, preprocessing, f"Gluon {name} file {path.name}", True, path=str(path), sha1=sha1,
                          described=f"Gluon {name} weights {path.name} (sha1 {sha1[:8]})")

