"""A config's settings in words: what a value may be ('an integer, 1 or more'), the one wording of a
bound, a setting's role, pydantic's errors as one line naming the source, the key and the value,
the paper's differences, and ``--print-config``'s commented YAML.
"""
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
import yaml
from pydantic.fields import FieldInfo

from fmi.io import printable_data, quote

# A setting's role: the paper sets it (a run that differs says so), the method needs it though the paper
# does not set it (a seed, the batching), or only the run uses it (where it writes, how it logs: left out
# of the fingerprint, so such a change never makes a run's cells another run's).
ROLES = {"paper": "the paper's", "method": "a setting of the method", "run": "of this run only"}
SHOWN_DIFFERENCES = 4  # in a figure title; the log and the record name them all


def role_of(field: FieldInfo) -> str:
    """A field's role: "paper", "run", or, for a field declared without one, "method"."""
    extra = field.json_schema_extra
    return str(extra.get("role", "method")) if isinstance(extra, dict) else "method"


def field_at(cls: type[pydantic.BaseModel], path: Sequence[Union[str, int]]) -> tuple[Any, Any]:
    """(the model whose field ``path`` names, the field's annotation), following nested settings."""
    model: Any = cls
    annotation: Any = None
    for part in path:
        if isinstance(part, int):
            continue
        block = getattr(getattr(model, "model_fields", {}).get(part), "annotation", None)
        if isinstance(block, type) and issubclass(block, pydantic.BaseModel):
            model = annotation = block  # a nested block of settings (sgd, lbfgs)
            continue
        if typing.get_origin(annotation) is dict:  # a value of a mapping such as fallbacks
            annotation, model = typing.get_args(annotation)[1], None
            continue
        fields = getattr(model, "model_fields", {})
        annotation = fields[part].annotation if part in fields else None
    return model, annotation


BOUNDS = {"gt": "more than {}", "ge": "{} or more", "lt": "less than {}", "le": "at most {}"}  # the one wording
ERROR_BOUNDS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}


def bound_words(name: str, limit: object) -> str:
    """A bound in words: ("ge", 0.0) -> '0 or more', ("le", 2147483647) -> 'at most 2147483647'."""
    number = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
    return BOUNDS[name].format(number)


def _bound(kind: str, limits: dict[str, Any]) -> Optional[str]:
    """What a value that pydantic refused (its error ``kind``, the ``limits`` it names) must be, in
    words ('0 or more', 'one of avg, max', ...), or None for an error that is not about a bound."""
    if kind == "finite_number":
        return "a finite number"
    if kind == "literal_error":
        return "one of " + str(limits["expected"]).replace("'", "").replace(" or ", ", ")
    if kind not in ERROR_BOUNDS:
        return None
    return bound_words(ERROR_BOUNDS[kind], next(iter(limits.values()), None))


def message(cls: type[pydantic.BaseModel], error: Any, where_of: dict[tuple[str, ...], str]) -> str:
    """One line for the first error pydantic found, naming where it came from, the key and the value."""
    path = tuple(error["loc"])
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    names = tuple(part for part in path if not isinstance(part, int))
    # the command line's --set a.b.c is to blame for an unknown 'a' as for a bad 'a.b.c'
    where = next((source for given, source in where_of.items() if given and
                  (names[:len(given)] == given or given[:len(names)] == names)), where_of[()])
    value, kind = error.get("input"), error["type"]
    if kind == "extra_forbidden":
        model, _ = field_at(cls, names[:-1])
        prefix = "".join(f"{part}." for part in names[:-1])
        valid = ", ".join(prefix + name for name in model.model_fields)
        return f"{where}: unknown key {quote(key)}; valid keys are {valid}"
    bound = _bound(kind, error.get("ctx", {}))
    if bound:
        return f"{where}: key {key!r} must be {bound}, got {quote(value)}"
    _, annotation = field_at(cls, path)
    if isinstance(path[-1], int):
        annotation = typing.get_args(annotation)[0] if annotation is not None else None
        while typing.get_origin(annotation) in (typing.Union, Annotated):
            annotation = typing.get_args(annotation)[0]
    return f"{where}: key {key!r}: expected {words(annotation).partition(', ')[0]}, got {quote(value)}"


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
    return [bound_words(name, getattr(item, name)) for name in BOUNDS if getattr(item, name, None) is not None]


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


def commented_yaml(config: pydantic.BaseModel, heading: str) -> str:
    """The resolved ``config`` as YAML that loads back as it is, each key with its description, what it
    may be and its role as a comment; ``heading`` says where it came from."""
    return "\n".join([f"# {heading}", "", *_commented(config)]) + "\n"
