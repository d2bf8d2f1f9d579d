"""Experiment configuration: YAML files loaded into dataclasses, strictly.

Unknown keys, wrong types and out-of-range values are errors that name the file and the
key. Numbers are read by one strict grammar, in YAML and on the command line alike:
integers are ASCII digits with an optional sign (no ``0x``, ``1_000``, ``010`` as octal or
``1:20`` as sexagesimal), every number must be finite, and only ``true``/``false`` are
booleans (``no`` stays a string). Command-line values (named options and ``--set KEY=VALUE``)
are parsed and checked exactly like YAML, on top of the file.

Importing this module does not load MXNet, so ``--help`` and config errors are instant.
"""
import dataclasses
import math
import os
import re
import types
import typing
from pathlib import Path

import yaml

from fmi import vgg19
from fmi.errors import FmiError
from fmi.io import check_input_file, quote

MAX_CONFIG_BYTES = 1 << 20
INT_LIMIT = 2**31 - 1  # seeds go to MXNet's and numpy's 32-bit generators
INT_PATTERN = re.compile(r"[-+]?[0-9]+")
FLOAT_PATTERN = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                           r"|[-+]?\.?(inf|Inf|INF|infinity|Infinity)|\.?(nan|NaN|NAN)")
FIDELITIES = ("paper", "authors")


def parse_int(text):
    """The integer spelled by ``text`` in ASCII digits (optional sign), else None."""
    text = str(text).strip()
    if not INT_PATTERN.fullmatch(text):
        return None
    return int(text, 10)


class StrictLoader(yaml.SafeLoader):
    """YAML with plain decimal integers, finite-checked floats, true/false booleans, and
    strings for everything else (dates, ``0x1F`` and ``yes`` included)."""


StrictLoader.yaml_implicit_resolvers = {}
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"),
                                   ["~", "n", "N", ""])
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(f"^(?:{INT_PATTERN.pattern})$"),
                                   list("-+0123456789"))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(f"^(?:{FLOAT_PATTERN.pattern})$"),
                                   list("-+0123456789.iInN"))
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _construct_int(loader, node):
    value = parse_int(loader.construct_scalar(node))
    if value is None:
        raise yaml.constructor.ConstructorError(None, None, f"{quote(node.value)} is not a decimal integer",
                                                node.start_mark)
    return value


def _construct_float(loader, node):
    text = str(loader.construct_scalar(node)).strip()
    if not FLOAT_PATTERN.fullmatch(text):
        raise yaml.constructor.ConstructorError(None, None, f"{quote(node.value)} is not a number",
                                                node.start_mark)
    special = text.lower().lstrip("+-").lstrip(".")
    if special in ("inf", "infinity", "nan"):  # YAML's .inf and .nan, and the plain spellings
        return float(("-" if text.startswith("-") else "") + special)
    return float(text)


StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_yaml(text, where):
    """Parse YAML ``text`` strictly; errors become one FmiError naming ``where``."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506  (StrictLoader is a SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise FmiError(f"{where}: YAML syntax error{at}: {problem}") from None
    except RecursionError:
        raise FmiError(f"{where}: YAML nested too deeply") from None


# --- optimiser settings (here, not in fmi.invert, so reading a config never loads MXNet) ------

@dataclasses.dataclass(frozen=True)
class SGD:
    """The authors' optimiser and stop rule (docs/method.md, "Optimiser and stop rule")."""

    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip_gradient: float = 10.0
    lr_factor: float = 0.9
    lr_step: int = 10
    stop_eps: float = 0.005
    max_steps: int = 1000

    def learning_rate_at(self, step):
        """Learning rate of update ``step`` (1-based): times ``lr_factor`` every ``lr_step`` updates,
        multiplied step by step and never below 1e-8, as MXNet's ``FactorScheduler`` does it."""
        rate = self.learning_rate
        for _ in range((step - 1) // self.lr_step):
            rate = max(rate * self.lr_factor, FACTOR_SCHEDULER_FLOOR)
        return rate


@dataclasses.dataclass(frozen=True)
class LBFGS:
    """scipy's L-BFGS-B on the same objective SGD minimises: the loss + weight_decay/2 ||x||^2.

    It stops by the authors' rule (relative change of x below ``stop_eps``), after
    ``max_steps`` iterations, or when scipy finds no further progress.
    """

    max_steps: int = 1000
    history: int = 10
    weight_decay: float = 5e-4
    stop_eps: float = 0.005


OPTIMIZERS = ("sgd", "lbfgs")
FACTOR_SCHEDULER_FLOOR = 1e-8  # MXNet's FactorScheduler(stop_factor_lr=1e-8): the rate never falls below it
MAX_LBFGS_HISTORY = 1000  # scipy keeps 2 x history copies of the image


# --- checking values against the dataclasses' annotations --------------------------------------

TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _type_name(kind):
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return f"{_type_name(inner[0])} or null"
    if origin is dict:
        return "a mapping of names to strings"
    if origin is list:
        return f"a list of {_type_name(typing.get_args(kind)[0]).removeprefix('an ').removeprefix('a ')}s"
    if dataclasses.is_dataclass(kind):
        return f"a mapping with keys {', '.join(f.name for f in dataclasses.fields(kind))}"
    return TYPE_NAMES.get(kind, str(kind))


def _convert(value, kind, where, key, default=None):
    """Check ``value`` of ``key`` against the annotation ``kind``; int becomes float where a number is wanted."""
    here = f"{where}: key {key!r}"
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [arg for arg in typing.get_args(kind) if arg is not type(None)][0]
        return _convert(value, inner, where, key)
    if origin is dict:
        if not isinstance(value, dict):
            raise FmiError(f"{here}: expected {_type_name(kind)}, got {quote(value)}")
        key_kind, value_kind = typing.get_args(kind)
        return {_convert(k, key_kind, where, f"{key} (a key)"): _convert(v, value_kind, where, f"{key}.{k}")
                for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise FmiError(f"{here}: expected {_type_name(kind)}, got {quote(value)}")
        item = typing.get_args(kind)[0]
        return [_convert(element, item, where, f"{key}[{i}]") for i, element in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise FmiError(f"{here}: expected {_type_name(kind)}, got {quote(value)}")
        return _build(kind, value, where, prefix=f"{key}.", base=default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FmiError(f"{here}: expected {_type_name(kind)}, got {quote(value)}")
    if kind is float and not math.isfinite(value):
        raise FmiError(f"{here}: must be a finite number, got {value}")
    if kind is int and abs(value) > INT_LIMIT:
        raise FmiError(f"{here}: must be at most {INT_LIMIT} in size, got {quote(value)}")
    return value


def _build(cls, mapping, where, prefix="", base=None):
    """``base`` (default ``cls()``) with the keys of ``mapping`` replaced, each checked."""
    fields = [field.name for field in dataclasses.fields(cls)]
    unknown = [key for key in mapping if key not in fields]
    if unknown:
        raise FmiError(f"{where}: unknown key {quote(prefix + str(unknown[0]))}; "
                       f"valid keys are {', '.join(prefix + name for name in fields)}")
    hints = typing.get_type_hints(cls)
    base = base if base is not None else cls()
    values = {key: _convert(value, hints[key], where, prefix + key, getattr(base, key))
              for key, value in mapping.items()}
    return dataclasses.replace(base, **values)


def _set(config, parts, value, where, key):
    """``config`` with the field at the dotted path ``parts`` set to ``value``, checked."""
    head, rest = parts[0], parts[1:]
    if isinstance(config, dict):
        if rest:
            raise FmiError(f"{where}: key {key!r} goes too deep")
        return {**config, head: value}
    fields = {field.name for field in dataclasses.fields(config)}
    if head not in fields:
        prefix = key[:len(key) - len(".".join(parts))]
        raise FmiError(f"{where}: unknown key {quote(key)}; valid keys are "
                       f"{', '.join(prefix + name for name in sorted(fields))}")
    hints = typing.get_type_hints(type(config))
    if rest:
        value = _set(getattr(config, head), rest, value, where, key)
        if isinstance(value, dict):
            value = _convert(value, hints[head], where, key)
    else:
        value = _convert(value, hints[head], where, key, getattr(config, head))
    return dataclasses.replace(config, **{head: value})


def check_layers(layers, where, key="layers"):
    if not layers:
        raise FmiError(f"{where}: key {key!r} is empty; valid layers are {', '.join(vgg19.RELU_LAYERS)}")
    for layer in layers:
        if layer not in vgg19.RELU_LAYERS:
            raise FmiError(f"{where}: key {key!r}: unknown layer {quote(layer)}; "
                           f"valid layers are {', '.join(vgg19.RELU_LAYERS)}")


def check_unique(items, where, key):
    seen = set()
    for item in items:
        if item in seen:
            raise FmiError(f"{where}: key {key!r} lists {quote(item)} twice")
        seen.add(item)


def _check_sgd(sgd, where):
    for name in ("learning_rate", "clip_gradient", "stop_eps"):
        if getattr(sgd, name) <= 0:
            raise FmiError(f"{where}: key 'sgd.{name}' must be positive, got {getattr(sgd, name)}")
    for name in ("momentum", "weight_decay", "lr_factor"):
        if getattr(sgd, name) < 0:
            raise FmiError(f"{where}: key 'sgd.{name}' must be 0 or more, got {getattr(sgd, name)}")
    for name in ("max_steps", "lr_step"):
        if getattr(sgd, name) < 1:
            raise FmiError(f"{where}: key 'sgd.{name}' must be a positive integer, got {getattr(sgd, name)}")


def _check_lbfgs(lbfgs, where):
    for name in ("max_steps", "history"):
        if getattr(lbfgs, name) < 1:
            raise FmiError(f"{where}: key 'lbfgs.{name}' must be a positive integer, got {getattr(lbfgs, name)}")
    if lbfgs.history > MAX_LBFGS_HISTORY:
        raise FmiError(f"{where}: key 'lbfgs.history' must be at most {MAX_LBFGS_HISTORY}, got {lbfgs.history}")
    if lbfgs.weight_decay < 0:
        raise FmiError(f"{where}: key 'lbfgs.weight_decay' must be 0 or more, got {lbfgs.weight_decay}")
    if lbfgs.stop_eps < 0:
        raise FmiError(f"{where}: key 'lbfgs.stop_eps' must be 0 or more, got {lbfgs.stop_eps}")


def expand_path(text):
    """A path setting with ``~`` expanded, as a shell would."""
    return os.path.expanduser(text) if text.startswith("~") else text


@dataclasses.dataclass
class Common:
    """Settings every experiment shares (docs/method.md explains each number)."""

    content: list[str] = dataclasses.field(default_factory=lambda: ["golden_gate"])
    fallbacks: dict[str, str] = dataclasses.field(default_factory=dict)
    data_dir: str = "data/paper"
    max_long_edge: int = 512
    fidelity: str = "paper"
    weights: str = "auto"
    model_dir: str = "model"
    pooling: str = "avg"
    seed: int = 0
    batch_size: int = 5
    denoise_weight: float = 0.2
    stuck_fraction: float = 0.01
    log_every: int = 10
    output: str = "runs/out"
    gpu: typing.Optional[int] = None
    threads: typing.Optional[int] = None
    max_memory_gib: typing.Optional[float] = None
    save_every: int = 0
    optimizer: str = "sgd"
    sgd: SGD = dataclasses.field(default_factory=SGD)
    lbfgs: LBFGS = dataclasses.field(default_factory=LBFGS)

    def check(self, where):
        """Raise FmiError on the first bad value; expand ``~`` in path settings."""
        if not self.content:
            raise FmiError(f"{where}: key 'content' is empty; name at least one image")
        check_unique(self.content, where, "content")
        if not self.output.strip():
            raise FmiError(f"{where}: key 'output' is empty; name an output folder")
        for key in ("output", "data_dir", "model_dir", "weights"):
            setattr(self, key, expand_path(getattr(self, key)))
        positive = {"max_long_edge": self.max_long_edge, "batch_size": self.batch_size,
                    "log_every": self.log_every}
        for key, value in positive.items():
            if value < 1:
                raise FmiError(f"{where}: key {key!r} must be a positive integer, got {value}")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise FmiError(f"{where}: key 'threads' must be between 1 and 1024, got {self.threads}")
        if self.gpu is not None and self.gpu < 0:
            raise FmiError(f"{where}: key 'gpu' must be 0 or more (a GPU index), got {self.gpu}")
        if self.save_every < 0:
            raise FmiError(f"{where}: key 'save_every' must be 0 (off) or a number of steps, got {self.save_every}")
        if self.max_memory_gib is not None and self.max_memory_gib <= 0:
            raise FmiError(f"{where}: key 'max_memory_gib' must be positive, got {self.max_memory_gib}")
        if self.seed < 0:
            raise FmiError(f"{where}: key 'seed' must be 0 or more, got {self.seed}")
        if self.denoise_weight < 0:
            raise FmiError(f"{where}: key 'denoise_weight' must be 0 or more, got {self.denoise_weight}")
        if not 0 <= self.stuck_fraction < 1:
            raise FmiError(f"{where}: key 'stuck_fraction' must be at least 0 and below 1, "
                           f"got {self.stuck_fraction}")
        choices = {"pooling": vgg19.POOLING_TYPES, "fidelity": FIDELITIES, "optimizer": OPTIMIZERS}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise FmiError(f"{where}: key {key!r} must be one of {', '.join(allowed)}, "
                               f"got {quote(getattr(self, key))}")
        _check_sgd(self.sgd, where)
        _check_lbfgs(self.lbfgs, where)

    @property
    def steps(self):
        """The step limit of the optimiser in use."""
        return self.lbfgs.max_steps if self.optimizer == "lbfgs" else self.sgd.max_steps


def read_config_file(path):
    """The top-level mapping of the YAML file at ``path``, checked to be small, UTF-8 and a mapping."""
    where = f"config {path}"
    check_input_file(path, "config", allow_empty=True)
    with open(path, "rb") as stream:
        data = stream.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise FmiError(f"{where}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a config is a few lines of YAML")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FmiError(f"{where}: not a UTF-8 text file") from None
    mapping = parse_yaml(text, where) or {}
    if not isinstance(mapping, dict):
        raise FmiError(f"{where}: expected a mapping of keys to values at the top level")
    return mapping


def parse_setting(text):
    """'KEY=VALUE' from ``--set`` -> (dotted key, value parsed as YAML)."""
    key, equals, value = str(text).partition("=")
    key = key.strip()
    if not equals or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", key):
        raise FmiError(f"--set {quote(text)}: expected KEY=VALUE, e.g. --set sgd.learning_rate=0.05")
    return key, parse_yaml(value, f"--set {key}")


def load(cls, path=None, overrides=()):
    """Build ``cls`` from the YAML file at ``path`` (or its defaults), then apply ``overrides``.

    ``overrides`` is a sequence of (dotted key, value, source) applied in order, each
    checked like YAML (``source`` names it in messages, e.g. "--set" or "--size"); a value
    of None means "not given". The result is checked with ``cls.check``.
    """
    where = f"config {path}" if path is not None else "defaults"
    mapping = read_config_file(Path(path)) if path is not None else {}
    config = _build(cls, mapping, where)
    given = [(key, value, source) for key, value, source in overrides if value is not None]
    for key, value, source in given:
        config = _set(config, key.split("."), value, f"command line ({source})", key)
    if given:
        where += " + command line"
    config.check(where)
    return config


def to_dict(config):
    """The resolved config as plain data, for writing beside the outputs."""
    return dataclasses.asdict(config)
