"""Experiment configuration: YAML files loaded into dataclasses, strictly.

Unknown keys, wrong types and out-of-range values are errors that name the file and
the key. Command-line overrides are applied on top of the file and checked the same way.
"""
import dataclasses
import types
import typing
from pathlib import Path

import yaml

from fmi import vgg19
from fmi.errors import FmiError
from fmi.invert import LBFGS, OPTIMIZERS, SGD

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


def _convert(value, kind, source, key, default=None):
    """Check ``value`` of ``key`` against the annotation ``kind``; int becomes float where a number is wanted."""
    where = f"{source}: key {key!r}"
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [arg for arg in typing.get_args(kind) if arg is not type(None)][0]
        return _convert(value, inner, source, key)
    if origin is dict:
        if not isinstance(value, dict):
            raise FmiError(f"{where}: expected {_type_name(kind)}, got {value!r}")
        key_kind, value_kind = typing.get_args(kind)
        return {_convert(k, key_kind, source, f"{key} (a key)"): _convert(v, value_kind, source, f"{key}.{k}")
                for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise FmiError(f"{where}: expected {_type_name(kind)}, got {value!r}")
        item = typing.get_args(kind)[0]
        return [_convert(element, item, source, f"{key}[{i}]") for i, element in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise FmiError(f"{where}: expected {_type_name(kind)}, got {value!r}")
        return _build(kind, value, source, prefix=f"{key}.", base=default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FmiError(f"{where}: expected {_type_name(kind)}, got {value!r}")
    return value


def _build(cls, mapping, source, prefix="", base=None):
    """``base`` (default ``cls()``) with the keys of ``mapping`` replaced, each checked."""
    fields = [field.name for field in dataclasses.fields(cls)]
    unknown = [key for key in mapping if key not in fields]
    if unknown:
        raise FmiError(f"{source}: unknown key {prefix + str(unknown[0])!r}; "
                       f"valid keys are {', '.join(prefix + name for name in fields)}")
    hints = typing.get_type_hints(cls)
    base = base if base is not None else cls()
    values = {key: _convert(value, hints[key], source, prefix + key, getattr(base, key))
              for key, value in mapping.items()}
    return dataclasses.replace(base, **values)


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
    if lbfgs.weight_decay < 0:
        raise FmiError(f"{where}: key 'lbfgs.weight_decay' must be 0 or more, got {lbfgs.weight_decay}")
    if lbfgs.stop_eps < 0:
        raise FmiError(f"{where}: key 'lbfgs.stop_eps' must be 0 or more, got {lbfgs.stop_eps}")


def check_layers(layers, where, key="layers"):
    if not layers:
        raise FmiError(f"{where}: key {key!r} is empty; valid layers are {', '.join(vgg19.RELU_LAYERS)}")
    for layer in layers:
        if layer not in vgg19.RELU_LAYERS:
            raise FmiError(f"{where}: key {key!r}: unknown layer {layer!r}; "
                           f"valid layers are {', '.join(vgg19.RELU_LAYERS)}")


@dataclasses.dataclass
class Common:
    """Settings every experiment shares."""

    content: list[str] = dataclasses.field(default_factory=lambda: ["golden_gate"])
    fallbacks: dict[str, str] = dataclasses.field(default_factory=dict)
    data_dir: str = "data/paper"
    max_long_edge: int = 512
    weights: str = "auto"
    model_dir: str = "model"
    pooling: str = "avg"
    seed: int = 0
    batch_size: int = 5
    denoise_weight: float = 0.2
    denoise_channels: str = "joint"
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
        if not self.content:
            raise FmiError(f"{where}: key 'content' is empty; name at least one image")
        positive = {"max_long_edge": self.max_long_edge, "batch_size": self.batch_size,
                    "log_every": self.log_every}
        for key, value in positive.items():
            if value < 1:
                raise FmiError(f"{where}: key {key!r} must be a positive integer, got {value}")
        if self.threads is not None and self.threads < 1:
            raise FmiError(f"{where}: key 'threads' must be a positive integer, got {self.threads}")
        if self.save_every < 0:
            raise FmiError(f"{where}: key 'save_every' must be 0 (off) or a number of steps, got {self.save_every}")
        if self.max_memory_gib is not None and self.max_memory_gib <= 0:
            raise FmiError(f"{where}: key 'max_memory_gib' must be positive, got {self.max_memory_gib}")
        if self.seed < 0:
            raise FmiError(f"{where}: key 'seed' must be 0 or more, got {self.seed}")
        if self.denoise_weight < 0:
            raise FmiError(f"{where}: key 'denoise_weight' must be 0 or more, got {self.denoise_weight}")
        if self.pooling not in vgg19.POOLING_TYPES:
            raise FmiError(f"{where}: key 'pooling' must be one of {', '.join(vgg19.POOLING_TYPES)}, "
                           f"got {self.pooling!r}")
        if self.denoise_channels not in ("joint", "separate"):
            raise FmiError(f"{where}: key 'denoise_channels' must be joint or separate, "
                           f"got {self.denoise_channels!r}")
        _check_sgd(self.sgd, where)
        if self.optimizer not in OPTIMIZERS:
            raise FmiError(f"{where}: key 'optimizer' must be one of {', '.join(OPTIMIZERS)}, "
                           f"got {self.optimizer!r}")
        _check_lbfgs(self.lbfgs, where)


def load(cls, path=None, overrides=None):
    """Build ``cls`` from the YAML file at ``path`` (or its defaults), then apply ``overrides``.

    ``overrides`` maps keys to values, None meaning "not given"; dotted keys reach into
    ``sgd``. The result is checked with ``cls.check``.
    """
    where = str(path) if path else "defaults"
    mapping = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FmiError(f"config {path}: no such file")
        try:
            mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or "invalid YAML"
            raise FmiError(f"config {path}: YAML syntax error{at}: {problem}") from None
        except UnicodeDecodeError:
            raise FmiError(f"config {path}: not a UTF-8 text file") from None
        mapping = mapping or {}
        if not isinstance(mapping, dict):
            raise FmiError(f"config {path}: expected a mapping of keys to values at the top level")
        where = f"config {path}"
    config = _build(cls, mapping, where)
    hints = typing.get_type_hints(cls)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        head, _, tail = key.partition(".")
        if tail:
            nested = getattr(config, head)
            nested_value = _convert(value, typing.get_type_hints(type(nested))[tail], "command line", key)
            config = dataclasses.replace(config, **{head: dataclasses.replace(nested, **{tail: nested_value})})
        else:
            config = dataclasses.replace(config, **{key: _convert(value, hints[key], "command line", key)})
    if any(value is not None for value in (overrides or {}).values()):
        where += " + command line"
    config.check(where)
    return config


def to_dict(config):
    """The resolved config as plain data, for writing beside the outputs."""
    return dataclasses.asdict(config)
