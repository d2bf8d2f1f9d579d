"""Cell keys, ``content/group/item``, built and parsed here and nowhere else.

The content image's name; a relu layer (Fig. 3, 4) or a method (Fig. 5); then ``filter_N``
(Fig. 3), ``random_draw_SEED`` or ``purposeful_STYLE`` (Fig. 4), or a style's name (Fig. 5). A key
is also the path of its cell's files under ``cells/``, so parsing refuses anything that could
climb out of the folder or name a file outside the alphabet.
"""
import re
from dataclasses import dataclass

from fmi.core.vgg19 import RELU_LAYERS
from fmi.io import quote

METHODS = ("gatys", "pmci")
NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"   # image names, as fmi.run.interface.inputs makes them
NAME_PATTERN = re.compile(NAME)
ITEM_PATTERN = re.compile(rf"filter_(?P<filter>[0-9]{{1,4}})|random_draw_(?P<draw>[0-9]{{1,10}})"
                          rf"|purposeful_(?P<purposeful>{NAME})|(?P<style>{NAME})")


@dataclass(frozen=True)
class CellKey:
    """A cell's key, ``content/group/item``: the content image's name; a relu layer (Fig. 3, 4) or a
    method (Fig. 5); ``filter_N``, ``random_draw_SEED``, ``purposeful_STYLE`` or a style's name."""

    content: str
    group: str
    item: str

    def __str__(self):
        return f"{self.content}/{self.group}/{self.item}"

    def file(self, suffix):
        """The parts of this cell's file with ``suffix`` under a folder: (content, group, item + suffix)."""
        return self.content, self.group, self.item + suffix

    def of_content(self, content):
        """The same cell of another content image."""
        return str(CellKey(content, self.group, self.item))

    @property
    def filter(self):
        """The filter index of a Feature Map Inversion cell, else None."""
        match = re.fullmatch(r"filter_([0-9]+)", self.item)
        return int(match.group(1)) if match else None


def parse_key(text):
    """The ``CellKey`` spelled by ``text``; ValueError, saying why, for anything else (a path that
    climbs, an absolute path, a name outside the alphabet, a group that is no layer or method)."""
    parts = str(text).split("/")
    if len(parts) != 3:
        raise ValueError(f"cell key {quote(text)} is not content/group/item")
    content, group, item = parts
    if not NAME_PATTERN.fullmatch(content):
        raise ValueError(f"cell key {quote(text)}: {quote(content)} is not an image name")
    if group not in RELU_LAYERS and group not in METHODS:
        raise ValueError(f"cell key {quote(text)}: {quote(group)} is neither a relu layer nor a method")
    if not ITEM_PATTERN.fullmatch(item):
        raise ValueError(f"cell key {quote(text)}: {quote(item)} is not a cell name")
    return CellKey(content, group, item)


def filter_key(content, layer, index):
    """Feature Map Inversion of filter ``index`` of ``layer`` (Fig. 3)."""
    return str(CellKey(content, layer, f"filter_{index}"))


def draw_item(seed):
    """The row of a random re-weighting drawn with ``seed`` (Fig. 4)."""
    return f"random_draw_{seed}"


def purposeful_item(style):
    """The row of a purposeful modification towards ``style`` (Fig. 4)."""
    return f"purposeful_{style}"


def row_key(content, layer, row):
    """A modified code's cell: ``row`` is a ``draw_item`` or a ``purposeful_item`` (Fig. 4)."""
    return str(CellKey(content, layer, row))


def style_key(content, method, style):
    """Style transfer of ``content`` towards ``style`` by ``method`` (Fig. 5)."""
    return str(CellKey(content, method, style))
