"""Experiment configuration: the settings every figure shares (``Common``) and their roles, YAML
files checked by these pydantic models in strict mode, and the paper's differences.

Unknown keys, wrong types, repeated keys and non-finite numbers are errors that name the file
(or the command-line option), the key and the value (``config_words``). Numbers are read by one
strict grammar, in YAML and on the command line alike (``strict_yaml``). Command-line values
(named options and ``--set KEY=VALUE``) are parsed like YAML and merged into the file's mapping
before one validation. Every bound is part of a setting's type (here, and in
``fmi.core.optimizers`` for the optimisers), so one message builder says them all.

Importing this module does not load MXNet, so ``--help`` and config errors are instant.
"""
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypeVar

import pydantic

from fmi.core import vgg19
from fmi.core.fidelity import FidelityName
from fmi.core.network import InputConvention, Network, kind_of
from fmi.core.optimizers import INT_LIMIT, LBFGS, SGD, Count, NonNegative, Optimizer, Positive
from fmi.errors import FmiError
from fmi.io import changed, check_input_file, quote, read_file
from fmi.run.interface.config_words import message, role_of
from fmi.run.interface.strict_yaml import parse_yaml
from fmi.run.machine import device

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "configs"  # fmi/configs, shipped with the package
MAX_CONFIG_BYTES = 1 << 20
# --- the models ------------------------------------------------------------------------------

STRICT = pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, validate_default=False)
Index = Annotated[int, pydantic.Field(ge=0, le=INT_LIMIT)]  # a seed, a GPU, a filter


def paper(default: Any, description: str) -> Any:
    """A setting the paper itself sets: ``name: type = paper(default, "what it is")``."""
    return pydantic.Field(default, description=description, json_schema_extra={"role": "paper"})


def run_only(default: Any, description: str) -> Any:
    """A setting of the run alone, which no cell's numbers depend on."""
    return pydantic.Field(default, description=description, json_schema_extra={"role": "run"})


def keys_with(model: type[pydantic.BaseModel], *roles: str) -> tuple[str, ...]:
    """The top-level keys of ``model`` whose role is one of ``roles``."""
    return tuple(name for name, field in model.model_fields.items() if role_of(field) in roles)


def check_unique(items: Sequence[object], where: str, key: str) -> None:
    seen = set()
    for item in items:
        if item in seen:
            raise FmiError(f"{where}: key {key!r} lists {quote(item)} twice")
        seen.add(item)


CONTENT = "content image(s): paper names (golden_gate), sample:NAME, or paths"
Three = Annotated[list[float], pydantic.Field(min_length=3, max_length=3)]
ThreePositive = Annotated[list[Annotated[float, pydantic.Field(gt=0)]], pydantic.Field(min_length=3, max_length=3)]


class InputSetting(pydantic.BaseModel):
    """How a picture becomes the network's input: (pixel in [0, 1] x range - mean) / std in the channel order;
    a key left out keeps the network's own (ImageNet's for Gluon and ONNX networks)."""

    model_config = STRICT
    channels: Optional[Literal["rgb", "bgr"]] = pydantic.Field(None, description="channel order: rgb or bgr")
    range: Optional[Annotated[float, pydantic.Field(gt=0)]] = pydantic.Field(
        None, description="the pixel scale: 1 (0..1) or 255 (0..255)")
    mean: Optional[Three] = pydantic.Field(None, description="per channel, in channel order, on that scale")
    std: Optional[ThreePositive] = pydantic.Field(None, description="per channel, in channel order")

    def convention(self, default: InputConvention) -> InputConvention:
        """This block over ``default``."""
        return InputConvention(self.channels or default.channels, float(self.range or default.range),
                               tuple(self.mean or default.mean), tuple(self.std or default.std))  # type: ignore[arg-type]


class NetworkSetting(pydantic.BaseModel):
    """Which network: a source (vgg19, gluon:NAME, onnx:PATH), and optionally its input convention."""

    model_config = STRICT
    source: str = pydantic.Field("vgg19", description="vgg19, gluon:NAME (Gluon's model zoo) or onnx:PATH")
    input: Optional[InputSetting] = pydantic.Field(None, description="its input convention; null: the network's own")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _from_source(cls, value: Any) -> Any:
        """``network: SOURCE`` is ``network: {source: SOURCE}``."""
        return {"source": value} if isinstance(value, str) else value


class Common(pydantic.BaseModel):
    """Settings every experiment shares (docs/method.md explains each number)."""

    model_config = STRICT

    content: list[str] = paper(["golden_gate"], CONTENT)
    fallbacks: dict[str, str] = run_only({}, "a stand-in for each paper image that is missing: {name: image}")
    data_dir: str = run_only("data/paper", "the folder of the paper's images")
    max_long_edge: Count = paper(512, "long edge of the content image in pixels")
    fidelity: FidelityName = paper(
        "paper", "paper, or authors: image handling as the authors' code does it (docs/differences.md)")
    weights: str = run_only("auto", "auto, random, random:SEED, gluon, or a .params path")
    model_dir: str = run_only("model", "the folder of the weights files")
    network: NetworkSetting = paper(NetworkSetting(), "the network: vgg19, gluon:NAME or onnx:PATH, or a block of "
                                    "source and input (docs/networks.md)")
    pooling: vgg19.Pooling = paper("avg", "VGG-19's pooling: avg (the authors') or max")
    seed: Index = pydantic.Field(0, description="seed of the start image, the same for every cell")
    batch_size: Count = pydantic.Field(5, description="cells inverted together in one executor")
    denoise_weight: NonNegative = paper(0.2, "weight of the total-variation denoise of each cell's image")
    stuck_fraction: Annotated[float, pydantic.Field(ge=0, lt=1)] = run_only(
        0.01, "a cell whose loss fell by less than this fraction of its first value is marked stuck")
    log_every: Count = run_only(10, "log the losses and progress every this many steps")
    output: str = run_only("runs/out", "output folder")
    gpu: Optional[Index] = run_only(None, "run on this GPU (needs a CUDA build of MXNet); null: the CPU")
    threads: Optional[Annotated[int, pydantic.Field(ge=1, le=1024)]] = run_only(
        None, "CPU threads for MXNet; null: every usable core")
    max_memory_gib: Optional[Positive] = run_only(
        None, "refuse runs estimated to need more memory (GiB); null: 80 % of what is available")
    save_every: Index = run_only(0, "save snapshots of the images in flight every this many steps; 0: none")
    optimizer: Optimizer = paper("sgd", "sgd (the authors') or lbfgs")
    sgd: SGD = paper(SGD(), "the authors' SGD and stop rule")
    lbfgs: LBFGS = paper(LBFGS(), "L-BFGS on the same objective, used with optimizer lbfgs")
    _network: Optional[Network] = pydantic.PrivateAttr(None)

    def check(self, where: str) -> None:
        """Raise FmiError on the first bad value the types cannot say; expand ``~`` in path settings."""
        if not self.content:
            raise FmiError(f"{where}: key 'content' is empty; name at least one image")
        check_unique(self.content, where, "content")
        if not self.output.strip():
            raise FmiError(f"{where}: key 'output' is empty; name an output folder")
        for key in ("output", "data_dir", "model_dir", "weights"):
            setattr(self, key, expand_path(getattr(self, key)))
        kind, rest = kind_of(self.network.source)
        if kind == "onnx":
            self.network.source = f"onnx:{Path(expand_path(rest)).resolve()}"
        if kind != "vgg19" and self.fidelity == "authors":
            raise FmiError(f"{where}: fidelity 'authors' is the authors' code on their VGG-19; with network "
                           f"{quote(self.network.source)} use fidelity 'paper'")

    @property
    def net(self) -> Network:
        """The network of this config (VGG-19 is built from its table, the others are read once), or the one
        ``use_network`` gave."""
        if self._network is None:
            if self.network.source == "vgg19":
                self._network = vgg19.VGG19(self.pooling)
            else:
                device.require_mxnet()  # says in one line why MXNet cannot load, if it cannot
                from fmi.files import networks

                self._network = networks.network(self.network.source, self.input_convention(), self.pooling)
        return self._network

    def __eq__(self, other: object) -> bool:
        """Configs are equal when their settings are (whether either has loaded its network or not)."""
        return type(other) is type(self) and self.model_dump() == other.model_dump()

    def use_network(self, network: Network) -> None:
        """Read this config's layers through ``network``: a run record's description of it, for the tools."""
        self._network = network

    def input_convention(self) -> Optional[InputConvention]:
        """The config's input block over the network's own convention; None without a block."""
        if self.network.input is None:
            return None
        from fmi.files import networks

        default = networks.default_convention(self.network.source) or networks.VGG19_CONVENTION
        return self.network.input.convention(default)

    def check_layers(self, where: str, key: str = "layers") -> None:
        """Check the layers of setting ``key`` against the network, and spell them as it does."""
        layers, network = getattr(self, key), self.net
        if not layers:
            raise FmiError(f"{where}: key {key!r} is empty; {network.layers_hint()}")
        try:
            setattr(self, key, [network.canonical(layer) for layer in layers])
        except FmiError as error:
            raise FmiError(f"{where}: key {key!r}: {error}") from None

    @property
    def steps(self) -> int:
        """The step limit of the optimiser in use."""
        return self.lbfgs.max_steps if self.optimizer == "lbfgs" else self.sgd.max_steps


Settings = TypeVar("Settings", bound=Common)


# --- reading a config ---------------------------------------------------------------------------

def read_config_file(path: Path) -> dict[str, Any]:
    """The top-level mapping of the YAML file at ``path``, checked to be small, UTF-8 and a mapping."""
    where = f"config {path}"
    check_input_file(path, "config", allow_empty=True)
    data, problem = read_file(path, MAX_CONFIG_BYTES)
    if data is None:
        raise FmiError(f"{where}: {problem}; a config is a few lines of YAML")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FmiError(f"{where}: not a UTF-8 text file") from None
    mapping = parse_yaml(text, where) or {}
    if not isinstance(mapping, dict):
        raise FmiError(f"{where}: expected a mapping of keys to values at the top level")
    return mapping


def parse_setting(text: str) -> tuple[str, Any]:
    """'KEY=VALUE' from ``--set`` -> (dotted key, value parsed as YAML)."""
    key, equals, value = str(text).partition("=")
    key = key.strip()
    if not equals or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", key):
        raise FmiError(f"--set {quote(text)}: expected KEY=VALUE, e.g. --set sgd.learning_rate=0.05")
    return key, parse_yaml(value, f"--set {key}")


Overrides = Sequence[tuple[str, Any, str]]  # (dotted key, value, where it came from)


def _merge(mapping: dict[str, Any], overrides: Overrides) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """``mapping`` with each (dotted key, value, source) of ``overrides`` set in it, in order, and
    {key path: where it came from} for the keys the command line set."""
    merged, sources = dict(mapping), {}
    for key, value, source in overrides:
        parts = key.split(".")
        level = merged
        for depth, part in enumerate(parts[:-1]):
            inner = level.get(part, {})
            if not isinstance(inner, dict):
                raise FmiError(f"command line ({source}): key {key!r}: {'.'.join(parts[:depth + 1])!r} "
                               f"is not a mapping")
            level[part] = dict(inner)
            level = level[part]
        level[parts[-1]] = value
        sources[tuple(parts)] = f"command line ({source})"
    return merged, sources


def with_defaults(cls: type[Common], mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` with each settings block it gives (``sgd``, ``lbfgs``) merged key by key into
    ``cls``'s default for that block, so a block that sets one key keeps the figure's other values
    (Fig. 5's weight decay 0.005 stays when a config sets only ``sgd.max_steps``)."""
    merged = dict(mapping)
    for name, field in cls.model_fields.items():
        given = merged.get(name)
        if isinstance(given, dict) and isinstance(field.default, pydantic.BaseModel):
            merged[name] = {**field.default.model_dump(), **given}
    return merged


def load(cls: type[Settings], path: Optional[Path] = None, overrides: Overrides = ()) -> Settings:
    """Build ``cls`` from the YAML file at ``path`` (or its defaults) with ``overrides`` set on top.

    ``overrides`` is a sequence of (dotted key, value, source) applied in order, each read like
    YAML (``source`` names it in messages, e.g. "--set sgd.max_steps" or "--size"); a value of
    None means "not given". A settings block given in part keeps the figure's defaults for the rest
    (``with_defaults``). The result is checked with ``cls.check``.
    """
    where = f"config {path}" if path is not None else "defaults"
    mapping = read_config_file(Path(path)) if path is not None else {}
    if isinstance(mapping.get("network"), str):  # network: SOURCE, so that --network sets its source alone
        mapping["network"] = {"source": mapping["network"]}
    given = [(key, value, source) for key, value, source in overrides if value is not None]
    merged, sources = _merge(mapping, given)
    for values, origins in ((mapping, {}), (merged, sources)):  # the file alone first: its own errors are its
        try:
            config = cls.model_validate(with_defaults(cls, values))
        except pydantic.ValidationError as error:
            raise FmiError(message(cls, error.errors()[0], {(): where, **origins})) from None
    config.check(where + (" + command line" if given else ""))
    return config


def to_dict(config: pydantic.BaseModel) -> dict[str, Any]:
    """The resolved config as plain data, for writing beside the outputs."""
    return config.model_dump()


# --- the paper's settings -------------------------------------------------------------------------

def counted(config: Common) -> dict[str, Any]:
    """The config's settings that decide a cell (all but the run-only ones), as plain data."""
    run = keys_with(type(config), "run")
    return {key: value for key, value in to_dict(config).items() if key not in run}


def differences(config: Common, other: Common, roles: tuple[str, ...] = ("paper",)) -> list[tuple[str, Any, Any]]:
    """[(dotted key, value in ``config``, value in ``other``)] for each setting of one of ``roles`` in which
    the two differ (by default the paper's settings, ``other`` being the figure's paper config); the
    settings of the optimiser not in use are left out."""
    idle = "lbfgs." if config.optimizer == "sgd" else "sgd."
    keys = keys_with(type(config), *roles)
    return [(key, ours, theirs) for key, ours, theirs in changed(to_dict(config), to_dict(other))
            if key.split(".")[0] in keys and not key.startswith(idle)]


def expand_path(text: str) -> str:
    """A path setting with ``~`` expanded, as a shell would."""
    return os.path.expanduser(text) if text.startswith("~") else text


