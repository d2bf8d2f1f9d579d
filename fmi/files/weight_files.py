"""VGG-19 convolution weights from the authors' file, the Gluon model zoo, or a seeded random draw.

``load(spec)`` returns a ``Weights`` whose ``params`` are keyed exactly like the
arguments of ``fmi.core.vgg19.build`` (``conv1_1_weight`` ... ``conv5_4_bias``) and
whose ``preprocessing`` is the input contract those weights were trained with. A file is
called the authors' only when its git blob id is theirs (``fmi.files.published``).
"""
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import mxnet as mx
import numpy as np
from mxnet.gluon.model_zoo import model_store

from fmi.core import vgg19
from fmi.core.preprocessing import CAFFE_RGB, TORCH_RGB, Preprocessing
from fmi.errors import FmiError
from fmi.files import published
from fmi.io import PathLike, atomic_path, check_input_file, git_blob_id, parse_int, quote, sha1_of_file

log = logging.getLogger("fmi")

AUTHORS_FILE = Path("model") / published.WEIGHTS.local
SPEC_HELP = ("use 'auto', 'random', 'random:SEED', 'gluon', or a path to vgg19.params "
             "(authors' format) or a Gluon VGG-19 .params file")


@dataclass(frozen=True)
class Weights:
    """Convolution parameters, the preprocessing they expect, and where they came from."""

    params: dict[str, Any]  # name -> mx.nd.NDArray
    preprocessing: Preprocessing
    source: str
    pretrained: bool
    sha1: Optional[str] = None
    seed: Optional[int] = None
    path: Optional[str] = None
    blob: Optional[str] = None        # the file's git blob id
    published: Optional[str] = None   # what it is exactly, if a published file ("the authors' vgg19.params")
    described: str = ""               # how a network's other than VGG-19 says what they are

    @property
    def label(self) -> str:
        """Short description for logs and figure titles: random weights always say so, and a file is
        called the authors' only when its git blob id is theirs."""
        if self.described:
            return self.described
        if not self.pretrained:
            return f"random weights (seed {self.seed}), not ImageNet"
        if self.published:
            return f"ImageNet VGG-19, {self.published}"
        return f"weights file {Path(self.path or '').name} (git blob {(self.blob or '')[:8]}), not the authors'"

    @property
    def identity(self) -> Any:
        """What decides these weights' values: the file's SHA-1, or the random seed."""
        return {"label": self.label, "sha1": self.sha1}


def spec_kind(spec: str) -> str:
    """What a weights spec names: "auto", "random" (random or random:SEED), "gluon", or a "file"."""
    spec = str(spec)
    if spec in ("auto", "gluon"):
        return spec
    return "random" if spec == "random" or spec.startswith("random:") else "file"


def load(spec: str = "auto", model_dir: PathLike = "model") -> Weights:
    """Load weights from ``spec``: auto, random, random:SEED, gluon, or a .params path."""
    spec, kind = str(spec), spec_kind(spec)
    if kind == "auto":
        authors = Path(model_dir) / AUTHORS_FILE.name
        return load_file(authors) if authors.exists() else random_weights(0)
    if kind == "random":
        return random_weights(random_seed(spec))
    if kind == "gluon":
        return _gluon_download(model_dir)
    path = Path(spec).expanduser()
    if not path.exists():
        raise FmiError(f"weights file {path}: no such file; {missing_hint(path)}")
    return load_file(path)


def random_seed(spec: str) -> int:
    """The seed of a random[:SEED] spec (0 when not given), checked."""
    seed = parse_int(spec.partition(":")[2] or "0")
    if seed is None or not 0 <= seed < 2**31:
        raise FmiError(f"weights {quote(spec)}: the seed must be an integer from 0 to {2**31 - 1}; {SPEC_HELP}")
    return seed


def with_preprocessing(weights: Weights, preprocessing: Preprocessing) -> Weights:
    """``weights`` read through another input convention (a config's network input block)."""
    return replace(weights, preprocessing=preprocessing)


def is_random(spec: str, model_dir: PathLike = "model") -> bool:
    """Whether ``spec`` gives random weights: random, random:SEED, or auto without the authors' file."""
    kind = spec_kind(spec)
    return kind == "random" or (kind == "auto" and not (Path(model_dir) / AUTHORS_FILE.name).exists())


def missing_hint(path: PathLike) -> str:
    """How to get a weights file that is not there."""
    if Path(path) == AUTHORS_FILE:
        return "run 'python -m fmi.weights download' to fetch it"
    if Path(path).name == AUTHORS_FILE.name:
        return f"run 'python -m fmi.weights download --dest {path}' to fetch it"
    return SPEC_HELP


def expected_file(spec: str, model_dir: PathLike = "model") -> Optional[Path]:
    """The file a weights spec needs (None for random weights, Gluon's download, or 'auto'
    without the authors' file)."""
    return Path(spec).expanduser() if spec_kind(spec) == "file" else None


def random_weights(seed: int) -> Weights:
    """He (MSRA) normal weights with zero bias, reproducible from ``seed``."""
    generator = np.random.default_rng(seed)
    params = {}
    for name, shape in vgg19.parameter_shapes().items():
        if name.endswith("_bias"):
            value = np.zeros(shape, dtype=np.float32)
        else:
            fan_in = shape[1] * shape[2] * shape[3]
            value = generator.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        params[name] = mx.nd.array(value)
    return Weights(params, CAFFE_RGB, source=f"random:{seed}", pretrained=False, seed=seed)


def save_authors_format(weights: Weights, path: PathLike) -> None:
    """Write ``weights`` as the authors' code reads them: an MXNet .params file of ``arg:`` keys
    (the format of their vgg19_80M.params)."""
    with atomic_path(path) as temporary:
        mx.nd.save(str(temporary), {f"arg:{name}": value for name, value in weights.params.items()})


MAX_WEIGHTS_BYTES = 2 << 30  # the authors' file is 80 MB, Gluon's VGG-19 550 MB


def load_file(path: PathLike) -> Weights:
    """Load a .params file in the authors' format (``arg:`` keys) or Gluon's (``features.N``)."""
    path = check_input_file(path, "weights file")
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise FmiError(f"weights file {path}: {path.stat().st_size >> 20} MiB, more than any VGG-19 weights file "
                       f"(the authors' is 80 MB); {SPEC_HELP}")
    try:
        saved = mx.nd.load(str(path))
    except UnicodeDecodeError:
        raise FmiError(f"weights file {path}: the name of one of its arrays is not UTF-8 text, so it is no weights "
                       f"file fmi reads; {SPEC_HELP}") from None
    except mx.base.MXNetError:
        raise FmiError(
            f"weights file {path}: not an MXNet .params file (corrupt or truncated?); "
            f"delete it and run 'python -m fmi.weights download'"
        ) from None
    if not isinstance(saved, dict) or not saved:
        raise FmiError(f"weights file {path}: holds no named arrays; {SPEC_HELP}")
    if any(key.startswith("arg:") for key in saved):
        params = {key[len("arg:"):]: value for key, value in saved.items() if key.startswith("arg:")}
        kind, preprocessing = "authors' file", CAFFE_RGB
    elif any(key.startswith("features.") for key in saved):
        params = _from_gluon(saved, path)
        kind, preprocessing = "Gluon model zoo file", TORCH_RGB
    else:
        example = ", ".join(sorted(saved)[:3])
        raise FmiError(f"weights file {path}: unknown key format (keys like {example[:120]}); {SPEC_HELP}")
    check(params, path)
    params = {name: as_float32(params[name], name, path) for name in vgg19.parameter_shapes()}
    sha1, blob = sha1_of_file(path), git_blob_id(path)
    return Weights(params, preprocessing, source=f"{kind} {path.name}", pretrained=True, sha1=sha1,
                   path=str(path.resolve()), blob=blob, published=_published_as(sha1, blob))


def _published_as(sha1: str, blob: str) -> Optional[str]:
    """What a weights file is exactly, by its digests: the authors' file, Gluon's, or None."""
    if blob == published.WEIGHTS.blob:
        return f"the authors' {published.WEIGHTS.local}"

    if sha1 == model_store._model_sha1.get("vgg19"):
        return "the Gluon model zoo's vgg19"
    return None


def as_float32(array: Any, name: str, path: PathLike) -> Any:
    """``array`` as float32 after checking every value is finite; other float types are converted."""
    values = array.asnumpy()
    if values.dtype.kind != "f":
        raise FmiError(f"weights file {path}: {name} holds {values.dtype} values, not floating point; "
                       f"get a good copy with 'python -m fmi.weights download'")
    bad = int(values.size - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise FmiError(f"weights file {path}: {name} has {bad} non-finite value(s) (NaN or infinity); "
                       f"get a good copy with 'python -m fmi.weights download'")
    if values.dtype != np.float32:
        log.info("weights %s: %s converted from %s to float32", Path(path).name, name, values.dtype)
        return mx.nd.array(values.astype(np.float32), dtype=np.float32)
    return array


def _from_gluon(saved: dict[str, Any], path: PathLike) -> dict[str, Any]:
    """Map Gluon's ``features.N.weight`` of the 16 convolutions, in order, to conv1_1 .. conv5_4."""
    indices = sorted(
        int(match.group(1))
        for key, value in saved.items()
        if (match := re.fullmatch(r"features\.(\d+)\.weight", key)) and len(value.shape) == 4
    )
    if len(indices) != len(vgg19.CONV_LAYERS):
        raise FmiError(f"weights file {path}: found {len(indices)} convolutions, "
                       f"VGG-19 has {len(vgg19.CONV_LAYERS)}; is it a VGG-19 (without batch norm)?")
    params = {}
    for conv, index in zip(vgg19.CONV_LAYERS, indices):
        params[f"{conv}_weight"] = saved[f"features.{index}.weight"]
        bias = saved.get(f"features.{index}.bias")
        if bias is not None:
            params[f"{conv}_bias"] = bias
    return params


def check(params: dict[str, Any], path: PathLike) -> None:
    """Raise FmiError naming every missing key and every wrong shape."""
    expected = vgg19.parameter_shapes()
    missing = [name for name in expected if name not in params]
    wrong = [f"{name} is {tuple(params[name].shape)}, expected {shape}"
             for name, shape in expected.items()
             if name in params and tuple(params[name].shape) != shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} of the {len(expected)} arrays ({', '.join(missing[:3])}"
                        f"{', ...' if len(missing) > 3 else ''})")
    if wrong:
        problems.append(f"wrong shapes in {len(wrong)} ({'; '.join(wrong[:2])}{'; ...' if len(wrong) > 2 else ''})")
    if problems:
        raise FmiError(f"weights file {path}: {'; '.join(problems)}; "
                       f"get a good copy with 'python -m fmi.weights download'")


def _gluon_download(model_dir: PathLike) -> Weights:

    root = Path.home() / ".mxnet" / "models"
    try:
        path = model_store.get_model_file("vgg19", root=str(root))
    except Exception as error:  # mxnet raises assorted network and checksum errors here
        raise FmiError(
            f"could not get Gluon's vgg19 weights ({error}); without internet, copy "
            f"vgg19-{model_store.short_hash('vgg19')}.params into {root}/ or use the authors' file "
            f"in {Path(model_dir) / AUTHORS_FILE.name}"
        ) from None
    return load_file(path)


def describe(weights: Weights) -> str:
    """Whether a loaded weights file is exactly the authors', by its git blob id."""
    found = published.verdict(weights.blob or "", published.WEIGHTS)
    if weights.blob == published.WEIGHTS.blob:
        return found
    return f"{Path(weights.path or '').name}: {found}; it will be used, but never under their name"
