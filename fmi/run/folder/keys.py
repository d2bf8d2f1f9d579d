"""Cell keys, ``content/group/item``, built and parsed here and nowhere else.

The content image's name; the group the experiment puts the cell in (a layer, say); the cell's
own name in its group. Each experiment chooses its groups and items; here they are only names.
A key is also the path of its cell's files under ``cells/``, so parsing refuses anything that
could climb out of the folder or name a file outside the alphabet.
"""
import re
from dataclasses import dataclass

from fmi.errors import FmiError
from fmi.io import quote

NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"  # image names, as fmi.run.interface.inputs makes them
PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,239}"  # a group or an item: a prefix and an image name fit
NAME_PATTERN = re.compile(NAME)
PART_PATTERN = re.compile(PART)


@dataclass(frozen=True)
class CellKey:
    """A cell's key, ``content/group/item``."""

    content: str
    group: str
    item: str

    def __str__(self) -> str:
        return f"{self.content}/{self.group}/{self.item}"

    def file(self, suffix: str) -> tuple[str, str, str]:
        """The parts of this cell's file with ``suffix`` under a folder: (content, group, item + suffix)."""
        return self.content, self.group, self.item + suffix

    def of_content(self, content: str) -> str:
        """The same cell of another content image."""
        return str(CellKey(content, self.group, self.item))


def parse_key(text: object) -> CellKey:
    """The ``CellKey`` spelled by ``text``; FmiError, saying why, for anything else (a path that climbs,
    an absolute path, a part outside the alphabet)."""
    parts = str(text).split("/")
    if len(parts) != 3:
        raise FmiError(f"cell key {quote(text)} is not content/group/item")
    content, group, item = parts
    if not NAME_PATTERN.fullmatch(content):
        raise FmiError(f"cell key {quote(text)}: {quote(content)} is not an image name")
    for part in (group, item):
        if not PART_PATTERN.fullmatch(part):
            raise FmiError(f"cell key {quote(text)}: {quote(part)} is not a name of letters, digits, '.', '_' "
                           f"and '-'")
    return CellKey(content, group, item)


def cell_key(content: str, group: str, item: str) -> str:
    """The key of cell ``item`` of ``group`` for content image ``content``."""
    return str(CellKey(content, group, item))
