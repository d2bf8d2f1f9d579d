"""fmi/run/interface/strict_yaml.py: the one YAML dialect of configs and --set, refusing in one line what
YAML would read as something else than it looks."""
import pytest

from fmi.errors import FmiError
from fmi.run.interface.strict_yaml import parse_yaml


@pytest.mark.parametrize("text, value", [
    ("a: 010", {"a": 10}), ("a: +7", {"a": 7}), ("a: -3", {"a": -3}), ("a: 1.5e3", {"a": 1500.0}),
    ("a: .5", {"a": 0.5}), ("a: no", {"a": "no"}), ("a: yes", {"a": "yes"}), ("a: True", {"a": True}),
    ("a: 2026-12-06", {"a": "2026-12-06"}), ("a: 0x1F", {"a": "0x1F"}), ("a: 1:20", {"a": "1:20"}),
    ("a: ~", {"a": None}), ("a: .inf", {"a": float("inf")}), ("a: [relu1_1, 3]", {"a": ["relu1_1", 3]})])
def test_values_are_what_they_look_like(text, value):
    assert parse_yaml(text, "test") == value


@pytest.mark.parametrize("text, words", [
    ("a: 1\na: 2", "key 'a' is given twice"),
    ("{2: x}", "a key must be a name, got '2'"),
    ("? [a]\n: x", "a key must be a name, got a list or a mapping"),
    ("a: 1_000", None),  # a string, not 1000: accepted as text
    ("a: [1, 2", "YAML syntax error at line 1"),
    ('a: "\\ud800"', "is not text a file name can hold"),
])
def test_what_yaml_would_misread_is_refused_naming_the_source(text, words):
    if words is None:
        assert parse_yaml(text, "test") == {"a": "1_000"}
        return
    with pytest.raises(FmiError) as refused:
        parse_yaml(text, "config x.yaml")
    assert str(refused.value).startswith("config x.yaml: ") and words in str(refused.value), str(refused.value)


def test_an_alias_bomb_is_walked_once():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]"
              for previous, name in zip("abcdefgh", "bcdefghi")]
    assert len(parse_yaml("\n".join(lines), "test")["i"]) == 9
