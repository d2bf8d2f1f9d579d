"""fmi/run/folder/keys.py: a cell's key is content/group/item of names, built and parsed in one place, and
never a path that leaves its folder."""
import pytest

from fmi.errors import FmiError
from fmi.run.folder.keys import CellKey, cell_key, parse_key


@pytest.mark.parametrize("content, group, item", [
    ("golden_gate", "relu1_1", "filter_0"), ("tubingen", "pmci", "starry_night"),
    ("a.b-c_d", "g" * 240, "i" * 240), ("9", "relu5_4", "random_draw_2147483647")])
def test_a_key_parses_back_into_its_parts(content, group, item):
    key = cell_key(content, group, item)
    assert key == f"{content}/{group}/{item}"
    assert parse_key(key) == CellKey(content, group, item)
    assert parse_key(key).file(".png") == (content, group, item + ".png")
    assert parse_key(key).of_content("other") == f"other/{group}/{item}"


@pytest.mark.parametrize("text, words", [
    ("golden_gate/relu1_1", "is not content/group/item"),
    ("a/b/c/d", "is not content/group/item"),
    ("../relu1_1/filter_0", "'..' is not an image name"),
    ("golden_gate/../filter_0", "'..' is not a name of letters"),
    ("golden_gate/relu1_1/..", "'..' is not a name of letters"),
    ("/relu1_1/filter_0", "'' is not an image name"),
    ("golden_gate/relu1_1/", "'' is not a name of letters"),
    ("golden gate/relu1_1/filter_0", "is not an image name"),
    ("golden_gate/relu1_1/filter 0", "is not a name of letters"),
    ("golden_gate/relu1_1/.hidden", "is not a name of letters"),
    ("golden_gate/relu1_1/f\\x", "is not a name of letters"),
    ("n" * 201 + "/relu1_1/filter_0", "is not an image name"),
    ("golden_gate/" + "g" * 241 + "/filter_0", "is not a name of letters"),
])
def test_anything_else_is_refused_saying_why(text, words):
    with pytest.raises(FmiError) as refused:
        parse_key(text)
    assert words in str(refused.value), str(refused.value)
