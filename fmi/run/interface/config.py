"""Experiment configuration: YAML files checked by pydantic models in strict mode.

Unknown keys, wrong types, repeated keys and non-finite numbers are errors that name the file
(or the command-line option), the key and the value. Numbers are read by one strict grammar,
in YAML and on the command line alike: integers are ASCII digits with an optional sign (no
``0x``, ``1_000``, ``010`` as octal or ``1:20`` as sexagesimal), every number must be finite,
and only ``true``/``false`` are booleans (``no`` stays a string). Command-line values (named
options and ``--set KEY=VALUE``) are parsed like YAML and merged into the file's mapping
before one validation. Every bound is part of a setting's type (here, and in
``fmi.core.optimizers`` for the optimisers), so one message builder says them all.

Importing this module does not load MXNet, so ``--help`` and config errors are instant.
"""
import os
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypeVar, Union

import pydantic
import yaml
from pydantic.fields import FieldInfo

from fmi.core import vgg19
from fmi.core.fidelity import FidelityName
from fmi.core.optimizers import INT_LIMIT, LBFGS, SGD, Count, NonNegative, Optimizer, Positive
from fmi.errors import FmiError
from fmi.io import (
    INT_PATTERN,
    changed,
    check_input_file,
    is_file_name_text,
    parse_int,
    printable_data,
    quote,
    read_file,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "configs"  # fmi/configs, shipped with the package
MAX_CONFIG_BYTES = 1 << 20
FLOAT_PATTERN = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                           r"|[-+]?\.?(inf|Inf|INF|infinity|Infinity)|\.?(nan|NaN|NAN)")



class StrictLoader(yaml.SafeLoader):
    """YAML with plain decimal integers, finite-checked floats, true/false booleans, strings for
    everything else (dates, ``0x1F`` and ``yes`` included), and no key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = quote(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "a list or a mapping"
                raise yaml.constructor.ConstructorError(None, None, f"a key must be a name, got {shown}",
                                                        key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {quote(key)} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


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


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = parse_int(loader.construct_scalar(node))
    if value is None:
        raise yaml.constructor.ConstructorError(None, None, f"{quote(node.value)} is not a decimal integer",
                                                node.start_mark)
    return value


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
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


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML ``text`` strictly; errors become one FmiError naming ``where``. Every string must
    be text a file name can hold (no lone surrogate)."""
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506  (StrictLoader is a SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        kind = "YAML error" if isinstance(error, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise FmiError(f"{where}: {kind}{at}: {problem}") from None
    except RecursionError:
        raise FmiError(f"{where}: YAML nested too deeply") from None
    bad = _not_text(data)
    if bad is not None:
        raise FmiError(f"{where}: {quote(bad)} is not text a file name can hold (a lone surrogate "
                       f"such as \\ud800); write the characters themselves")
    return data


def _not_text(value: Any) -> Optional[str]:
    """The first string in ``value`` (nested lists and mappings) that no file name can hold, or None.
    Each list or mapping is looked at once: YAML aliases can make a few lines a structure of
    exponentially many paths."""
    seen, pending = set(), [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_file_name_text(item):
                return item
        elif isinstance(item, (dict, list)) and id(item) not in seen:
            seen.add(id(item))
            pending.extend(item.values() if isinstance(item, dict) else item)
    return None


# --- the models ------------------------------------------------------------------------------

STRICT = pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, validate_default=False)
Index = Annotated[int, pydantic.Field(ge=0, le=INT_LIMIT)]  # a seed, a GPU, a filter
NESTED: dict[str, type[pydantic.BaseModel]] = {"sgd": SGD, "lbfgs": LBFGS}
# A setting's role: the paper sets it (a run that differs says so), the method needs it though the paper
# does not set it (a seed, the batching), or only the run uses it (where it writes, how it logs: left out
# of the fingerprint, so such a change never makes a run's cells another run's).
ROLES = {"paper": "the paper's", "method": "a setting of the method", "run": "of this run only"}


def paper(default: Any, description: str) -> Any:
    """A setting the paper itself sets: ``name: type = paper(default, "what it is")``."""
    return pydantic.Field(default, description=description, json_schema_extra={"role": "paper"})


def run_only(default: Any, description: str) -> Any:
    """A setting of the run alone, which no cell's numbers depend on."""
    return pydantic.Field(default, description=description, json_schema_extra={"role": "run"})


def role_of(field: FieldInfo) -> str:
    """A field's role: "paper", "run", or, for a field declared without one, "method"."""
    extra = field.json_schema_extra
    return str(extra.get("role", "method")) if isinstance(extra, dict) else "method"


def keys_with(model: type[pydantic.BaseModel], *roles: str) -> tuple[str, ...]:
    """The top-level keys of ``model`` whose role is one of ``roles``."""
    return tuple(name for name, field in model.model_fields.items() if role_of(field) in roles)


def check_layers(layers: list[str], where: str, key: str = "layers") -> None:
    if not layers:
        raise FmiError(f"{where}: key {key!r} is empty; valid layers are {', '.join(vgg19.RELU_LAYERS)}")
    for layer in layers:
        if layer not in vgg19.RELU_LAYERS:
            raise FmiError(f"{where}: key {key!r}: unknown layer {quote(layer)}; "
                           f"valid layers are {', '.join(vgg19.RELU_LAYERS)}")


def check_unique(items: Sequence[object], where: str, key: str) -> None:
    seen = set()
    for item in items:
        if item in seen:
            raise FmiError(f"{where}: key {key!r} lists {quote(item)} twice")
        seen.add(item)


CONTENT = "content image(s): paper names (golden_gate), sample:NAME, or paths"


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
    pooling: vgg19.Pooling = paper("avg", "avg (the authors') or max")
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

    def check(self, where: str) -> None:
        """Raise FmiError on the first bad value the types cannot say; expand ``~`` in path settings."""
        if not self.content:
            raise FmiError(f"{where}: key 'content' is empty; name at least one image")
        check_unique(self.content, where, "content")
        if not self.output.strip():
            raise FmiError(f"{where}: key 'output' is empty; name an output folder")
        for key in ("output", "data_dir", "model_dir", "weights"):
            setattr(self, key, expand_path(getattr(self, key)))

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


def _field_at(cls: type[pydantic.BaseModel], path: Sequence[Union[str, int]]) -> tuple[Any, Any]:
    """(the model whose field ``path`` names, the field's annotation), following nested settings."""
    model: Any = cls
    annotation: Any = None
    for part in path:
        if isinstance(part, int):
            continue
        if part in NESTED and model is not None and part in getattr(model, "model_fields", {}):
            model, annotation = NESTED[part], model.model_fields[part].annotation
            continue
        if typing.get_origin(annotation) is dict:  # a value of a mapping such as fallbacks
            annotation, model = typing.get_args(annotation)[1], None
            continue
        fields = getattr(model, "model_fields", {})
        annotation = fields[part].annotation if part in fields else None
    return model, annotation


BOUNDS = {"gt": "more than {}", "ge": "{} or more", "lt": "less than {}", "le": "at most {}"}  # the one wording
ERROR_BOUNDS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}


def _bound(kind: str, limits: dict[str, Any]) -> Optional[str]:
    """What a value that pydantic refused (its error ``kind``, the ``limits`` it names) must be, in
    words ('0 or more', 'one of avg, max', ...), or None for an error that is not about a bound."""
    if kind == "finite_number":
        return "a finite number"
    if kind == "literal_error":
        return "one of " + str(limits["expected"]).replace("'", "").replace(" or ", ", ")
    if kind not in ERROR_BOUNDS:
        return None
    return BOUNDS[ERROR_BOUNDS[kind]].format(next(iter(limits.values()), None))


def _message(cls: type[pydantic.BaseModel], error: Any, where_of: dict[tuple[str, ...], str]) -> str:
    """One line for the first error pydantic found, naming where it came from, the key and the value."""
    path = tuple(error["loc"])
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    names = tuple(part for part in path if not isinstance(part, int))
    # the command line's --set a.b.c is to blame for an unknown 'a' as for a bad 'a.b.c'
    where = next((source for given, source in where_of.items() if given and
                  (names[:len(given)] == given or given[:len(names)] == names)), where_of[()])
    value, kind = error.get("input"), error["type"]
    if kind == "extra_forbidden":
        model, _ = _field_at(cls, names[:-1])
        prefix = "".join(f"{part}." for part in names[:-1])
        valid = ", ".join(prefix + name for name in model.model_fields)
        return f"{where}: unknown key {quote(key)}; valid keys are {valid}"
    bound = _bound(kind, error.get("ctx", {}))
    if bound:
        return f"{where}: key {key!r} must be {bound}, got {quote(value)}"
    _, annotation = _field_at(cls, path)
    if isinstance(path[-1], int):
        annotation = typing.get_args(annotation)[0] if annotation is not None else None
        while typing.get_origin(annotation) in (typing.Union, Annotated):
            annotation = typing.get_args(annotation)[0]
    return f"{where}: key {key!r}: expected {words(annotation).partition(', ')[0]}, got {quote(value)}"


def with_defaults(cls: type[Common], mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` with each settings block it gives (``sgd``, ``lbfgs``) merged key by key into
    ``cls``'s default for that block, so a block that sets one key keeps the figure's other values
    (Fig. 5's weight decay 0.005 stays when a config sets only ``sgd.max_steps``)."""
    merged = dict(mapping)
    for name in NESTED:
        given, field = merged.get(name), cls.model_fields.get(name)
        if isinstance(given, dict) and field is not None and isinstance(field.default, pydantic.BaseModel):
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
    given = [(key, value, source) for key, value, source in overrides if value is not None]
    merged, sources = _merge(mapping, given)
    for values, origins in ((mapping, {}), (merged, sources)):  # the file alone first: its own errors are its
        try:
            config = cls.model_validate(with_defaults(cls, values))
        except pydantic.ValidationError as error:
            raise FmiError(_message(cls, error.errors()[0], {(): where, **origins})) from None
    config.check(where + (" + command line" if given else ""))
    return config


def to_dict(config: pydantic.BaseModel) -> dict[str, Any]:
    """The resolved config as plain data, for writing beside the outputs."""
    return config.model_dump()


# --- the paper's settings -------------------------------------------------------------------------

SHOWN_DIFFERENCES = 4  # in a figure title; the log and the record name them all


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


def shown(value: object) -> str:
    """A setting's value as a config spells it: 0.005, relu1_1, [golden_gate, tubingen]."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    return "true" if value is True else "false" if value is False else str(value)


def describe_differences(differences: Sequence[tuple[str, Any, Any]], figure: str, limit: Optional[int] = None) -> str:
    """'differs from the paper's Fig. 5: sgd.weight_decay 0.0005 (paper 0.005); ...', or 'the paper's
    settings of Fig. 5'; with ``limit``, at most that many named and the rest counted."""
    if not differences:
        return f"the paper's settings of {figure}"
    named = differences if limit is None else differences[:limit]
    more = len(differences) - len(named)
    return (f"differs from the paper's {figure}: "
            + "; ".join(f"{key} {shown(value)} (paper {shown(paper)})" for key, value, paper in named)
            + (f"; and {more} more (record.json)" if more else ""))


def expand_path(text: str) -> str:
    """A path setting with ``~`` expanded, as a shell would."""
    return os.path.expanduser(text) if text.startswith("~") else text


# --- showing a config -----------------------------------------------------------------------------

def words(annotation: object, metadata: Sequence[object] = ()) -> str:
    """What a value of ``annotation`` (with the constraints in ``metadata``) may be, in words:
    'an integer, 1 or more', 'one of avg, max', 'a list of integers, each 0 or more'."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return words(arguments[0], [*metadata, *arguments[1:]])
    if origin is typing.Union:
        return words(next(a for a in arguments if a is not type(None)), metadata) + ", or null"
    if origin is Literal:
        return "one of " + ", ".join(map(str, arguments))
    if origin is list:
        inner = words(arguments[0])
        kind, _, each = inner.partition(", ")
        return f"a list of {kind.removeprefix('an ').removeprefix('a ')}s" + (f", each {each}" if each else "")
    if origin is dict:
        return "a mapping of names to strings"
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return "a block of settings"
    limits = [limit for item in metadata for limit in _limits(item)]
    kinds: dict[object, str] = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return ", ".join([kinds.get(annotation, "a value"), *limits])


def _limits(item: object) -> list[str]:
    """The bounds a constraint object of pydantic (``Field(ge=0)``'s metadata) sets, in words."""
    if isinstance(item, FieldInfo):
        return [limit for inner in item.metadata for limit in _limits(inner)]
    return [text.format(getattr(item, name)) for name, text in BOUNDS.items() if getattr(item, name, None) is not None]


def _commented(model: pydantic.BaseModel, indent: str = "", role: Optional[str] = None) -> list[str]:
    """YAML lines of ``model``'s settings, each key after a comment with its description, what it may
    be and its role (a nested block's settings have the block's)."""
    lines = []
    for name, field in type(model).model_fields.items():
        value, own = getattr(model, name), role or role_of(field)
        lines.append(f"{indent}# {field.description or name}; {words(field.annotation, field.metadata)} [{ROLES[own]}]")
        if isinstance(value, pydantic.BaseModel):
            lines += [f"{indent}{name}:", *_commented(value, indent + "  ", own)]
            continue
        flow = yaml.safe_dump({name: printable_data(value)}, default_flow_style=True, allow_unicode=True,
                              width=1 << 20)
        lines.append(indent + flow.rstrip("\n")[1:-1])  # {name: value} on one line, without the braces
    return lines


def commented_yaml(config: Common, heading: str) -> str:
    """The resolved ``config`` as YAML that loads back as it is, each key with its description, what it
    may be and its role as a comment; ``heading`` says where it came from."""
    return "\n".join([f"# {heading}", "", *_commented(config)]) + "\n"
