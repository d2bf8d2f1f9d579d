"""A run's input images: where each spec points, and a name for each that no other input shares.

A spec is a paper image name (``golden_gate``, looked up in ``data_dir`` under fmi's file name,
``golden_gate.jpg``, or the authors' own, ``the golden gate bridge.jpg``), ``sample:NAME`` (an
image bundled with matplotlib or scikit-image), or a path. Names appear in cell keys, file
names and figure labels, so two different files never get the same one: ``a/same.png`` and
``b/same.png`` become ``a-same`` and ``b-same``.
"""
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import matplotlib
import skimage.data

from fmi.errors import FmiError
from fmi.files import published
from fmi.files.published import PAPER_IMAGES
from fmi.io import PathLike, printable, quote
from fmi.run.folder.keys import NAME_PATTERN

SAMPLE_PREFIX = "sample:"
SAMPLES_HINT = "try sample:grace_hopper, sample:hubble_deep_field or sample:coffee"
FETCH_PAPER_IMAGES = "python -m fmi.data download"


@dataclass(frozen=True)
class Located:
    """Where one spec points; ``substitute`` names the fallback used for a missing paper image."""

    spec: str
    path: Path
    substitute: Optional[str] = None


def sample_dirs() -> list[Path]:
    """Folders of images bundled with matplotlib and scikit-image, present on every install."""

    return [Path(matplotlib.get_data_path()) / "sample_data", Path(skimage.data.__file__).parent]


def resolve(spec: object, data_dir: PathLike) -> Path:
    """The path an image spec points to (which may not exist)."""
    spec = str(spec)
    if spec in PAPER_IMAGES:
        return published.find(data_dir, published.image(spec))
    if spec.startswith(SAMPLE_PREFIX):
        name = spec[len(SAMPLE_PREFIX):]
        for folder in sample_dirs():
            for suffix in (".jpg", ".png"):
                if (folder / f"{name}{suffix}").is_file():
                    return folder / f"{name}{suffix}"
        raise FmiError(f"no bundled sample image {name!r}; {SAMPLES_HINT}")
    return Path(os.path.expanduser(spec))


def locate(spec: str, data_dir: PathLike, fallbacks: Optional[dict[str, str]] = None) -> Located:
    """Where ``spec`` points; a paper image missing from ``data_dir`` is replaced by ``fallbacks[spec]``."""
    path = resolve(spec, data_dir)
    substitute = (fallbacks or {}).get(spec)
    if not path.exists() and spec in PAPER_IMAGES and substitute:
        return Located(spec, resolve(substitute, data_dir), substitute)
    return Located(spec, path)


def base_name(spec: object) -> str:
    """The name a spec would have alone: the paper name, the sample name, or the file's stem."""
    spec = str(spec)
    if spec in PAPER_IMAGES:
        return spec
    if spec.startswith(SAMPLE_PREFIX):
        return _safe(spec[len(SAMPLE_PREFIX):])
    return _safe(Path(spec).stem)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-") or "image"


def assign_names(located: list[Located]) -> dict[str, str]:
    """{spec: name} for every spec in ``located``, unique across different files.

    Specs that point to the same file share a name; different files whose base names
    collide are told apart by their parent folders, then by a number.
    """
    identity = {item.spec: os.path.realpath(item.path) for item in located}
    by_base: dict[str, dict[str, list[Located]]] = {}
    for item in located:
        by_base.setdefault(base_name(item.substitute or item.spec), {}).setdefault(identity[item.spec], []).append(item)
    names, taken = {}, set()
    for base, files in by_base.items():
        if len(files) == 1:
            candidates = {real: base for real in files}
        else:
            candidates = {real: _with_parent(real, base) for real in files}
        for real, items in files.items():
            name, number = candidates[real], 2
            while name in taken:
                name, number = f"{candidates[real]}-{number}", number + 1
            taken.add(name)
            if not NAME_PATTERN.fullmatch(name):
                raise FmiError(f"image {printable(items[0].path)}: its name in the run, {quote(name)}, would be "
                               f"{len(name)} characters; names of images are at most 200 (they name cells, files "
                               f"and folders): rename the file")
            for item in items:
                names[item.spec] = name
    return names


def _with_parent(real: str, base: str) -> str:
    parent = Path(real).parent.name
    return _safe(f"{parent}-{base}") if parent else base
