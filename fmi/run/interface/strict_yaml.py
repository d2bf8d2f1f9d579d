"""The strict YAML dialect of fmi's configs and of ``--set KEY=VALUE``: ``parse_yaml``.

Integers are ASCII digits with an optional sign (no ``0x``, ``1_000``, ``010`` as octal or ``1:20``
as sexagesimal), numbers must be finite where a setting says so, only ``true``/``false`` are
booleans (``no`` stays a string), no key is given twice, every key is a name, and every string is
text a file name can hold. Errors are one FmiError naming where the text came from.
"""
import re
from typing import Any, Optional

import yaml

from fmi.errors import FmiError
from fmi.io import INT_PATTERN, is_file_name_text, parse_int, quote

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
