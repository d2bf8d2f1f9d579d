"""The published files fmi reproduces from: the authors' six input images and three result
figures, and the VGG-19 weights file they used, each with its address and its git blob id.

No checksum was ever published for these files, but both repositories publish one: the git
blob id of each file (``git hash-object FILE``, the SHA-1 of ``blob <size>\\0`` and the bytes).
A file whose blob id is the published one is exactly the authors' file; any other file may
still be used (weights get converted, photos re-saved), but fmi never calls it theirs.
"""
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from fmi.io import PathLike, git_blob_id

AUTHORS_REPOSITORY = "xzqjack/FeatureMapInversion"
AUTHORS_COMMIT = "1811b35840afddb7ffea59670ecc7e6e89fbc3a5"
AUTHORS_BASE_URL = f"https://github.com/{AUTHORS_REPOSITORY}/raw/{AUTHORS_COMMIT}/"

PAPER_DIR = Path("data") / "paper"      # the six input images
FIGURES_DIR = Path("data") / "authors"  # the authors' three result figures


@dataclass(frozen=True)
class Published:
    """One of the authors' files: our name for it, its file name here, its path in their repository
    at ``AUTHORS_COMMIT``, its git blob id, what it is, and the SHA-256 of its bytes (where we have had
    the file itself to take it: all but the weights)."""

    name: str
    local: str
    remote: str
    blob: str
    what: str
    sha256: Optional[str] = None

    @property
    def remote_name(self) -> str:
        """The file's own name in the authors' repository (with its spaces)."""
        return self.remote.rpartition("/")[2]


IMAGES = (
    Published("golden_gate", "golden_gate.jpg", "input/the golden gate bridge.jpg",
              "c6bd33e2fb17ef246c2695624de7a438eeee3000", "content (Fig. 3a, Fig. 4, Fig. 5)",
              "f8476ac216e0d409af2e52bf82ad2cdc3433e23d7895e6f9b2048fc014ed57ba"),
    Published("tubingen", "tubingen.jpg", "input/the tubingen.jpg",
              "1d271feb8dccad78d333bd469b047d9a6b258781", "content (Fig. 3b, Fig. 5)",
              "e67d1869f01fd805385c681a80d9ebcf0f70ea4a5fe6127f0606bb1c7f4bf506"),
    Published("frida_kahlo", "frida_kahlo.jpg", "input/the frida kahlo.jpg",
              "e4dae25fb192a676c1d68fef43e4ef46930e7599", "style A (Fig. 5)",
              "31464d00da060ef33943d16b0e941670a6944e29a688436b40d1b29eb3e23618"),
    Published("seated_nude", "seated_nude.jpg", "input/the seated nude.jpg",
              "6a40b377a7b6adf205d47b5f4930ded39673d700", "style B (Fig. 5)",
              "f398757cfb5346842c3bc309ca65d03381b38b1f5f8d7c60abe68a804a405cf1"),
    Published("starry_night", "starry_night.png", "input/the starry night.png",
              "9899d90aef7c75264cbecca80ed38bd4e21993b8", "style C (Fig. 5; the authors' crop)",
              "776279d5e9daf676fb7e36c9eab953497445d4b3422bdd660b96ce984ac39721"),
    Published("the_scream", "the_scream.jpg", "input/the scream.jpg",
              "ab54066362c8262fc48d59ea1b1336adc3385a2e", "style D (Fig. 5)",
              "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee"),
)
FIGURES = (
    Published("fig3", "feature_map_golden_gate.png", "output/feature map of the golden gate.png",
              "d59fbc1e9afc35295c813074a4b4dced0389922f", "their Fig. 3",
              "0e3d8047a32a108e0d909f2608d64492897e7907ed31668315af449c1f661dd2"),
    Published("fig4", "random.png", "output/random.png",
              "807ef2429688bc821bdb057d96367aa3d921e6d6", "their Fig. 4",
              "8507136d40a99ff205d3f36a3332a2a69fe0e6d3e930fa60923a4ff9e94d4293"),
    Published("fig5", "style_transfer3.png", "output/style_transfer3.png",
              "896bee5e33c6cfe03abaa5664eeebc2dd0468c1b", "their Fig. 5",
              "48e63b9006aac462afbad0a50652c96f79b31f84f12e38cd59ccdcef90bf9650"),
)
# The weights of MXNet's neural-style example, which the authors' code loads (as vgg19_80M.params):
# dmlc/web-data, unchanged since it was added on 2015-11-26.
WEIGHTS = Published("vgg19", "vgg19.params", "mxnet/neural-style/model/vgg19.params",
                    "9dfbe2ed44e0e8914f9551888bf763e14c09c778", "VGG-19 weights (ImageNet)")
WEIGHTS_URL = "https://github.com/dmlc/web-data/raw/master/mxnet/neural-style/model/vgg19.params"

PAPER_IMAGES = {item.name: item.local for item in IMAGES}  # name in configs -> file in data/paper
BY_BLOB = {item.blob: item for item in IMAGES + FIGURES + (WEIGHTS,)}


def image(name: str) -> Published:
    """The published input image called ``name`` in configs (golden_gate, ...)."""
    return next(item for item in IMAGES if item.name == name)


def find(folder: PathLike, item: Published) -> Path:
    """The file of ``item`` in ``folder``: under fmi's name, else under the authors' own name, else any
    image file there that is exactly the authors' (its git blob id is theirs, whatever its name),
    else fmi's name (which may not exist). A name that exists is returned whatever it is (a FIFO, a
    link to a device): the caller checks it before reading."""
    folder = Path(folder)
    ours, theirs = folder / item.local, folder / item.remote_name
    for candidate in (ours, theirs):
        if os.path.lexists(candidate):
            return candidate
    return _exact_copy(folder, item) or ours


SCANNED_SUFFIXES = (".png", ".jpg", ".jpeg")
SCANNED_MAX_FILES, SCANNED_MAX_BYTES = 200, 64 << 20  # a data folder, not a photo library
SCANNED_BUDGET = 512 << 20  # bytes hashed in one folder's scan, at most
# (path, device, inode, size, modified) -> git blob id: each file is hashed once per process
_BLOBS: dict[tuple[str, int, int, int, int], str] = {}
_SKIPPED: dict[Path, dict[str, int]] = {}  # folder -> what its last scan left out, and why


def blob_of(path: PathLike) -> str:
    """The git blob id of the regular file at ``path``, computed once per process while it is unchanged."""
    status = os.stat(path)
    key = (os.path.realpath(path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
    if key not in _BLOBS:
        _BLOBS[key] = git_blob_id(path)
    return _BLOBS[key]


def _exact_copy(folder: Path, item: Published) -> Optional[Path]:
    """The first image file directly in ``folder`` (sorted by name) whose bytes are exactly ``item``'s.
    Only regular files of at most 64 MiB, the first 200 image files and 512 MiB in all, are compared;
    ``skipped`` says what was left out."""
    try:
        names = sorted(entry for entry in folder.iterdir() if entry.suffix.lower() in SCANNED_SUFFIXES)
    except OSError:
        return None
    left_out = {"beyond the first 200 image files": len(names[SCANNED_MAX_FILES:])}
    found, budget = None, SCANNED_BUDGET
    for path in names[:SCANNED_MAX_FILES]:
        try:
            status = os.stat(path)
        except OSError:
            left_out["unreadable"] = left_out.get("unreadable", 0) + 1
            continue
        if not stat.S_ISREG(status.st_mode):
            left_out["not regular files"] = left_out.get("not regular files", 0) + 1
        elif status.st_size > SCANNED_MAX_BYTES:
            left_out["larger than 64 MiB"] = left_out.get("larger than 64 MiB", 0) + 1
        elif status.st_size > budget:
            left_out["past the 512 MiB compared in one folder"] = left_out.get(
                "past the 512 MiB compared in one folder", 0) + 1
        elif found is None:
            budget -= status.st_size
            if blob_of(path) == item.blob:
                found = path
    _SKIPPED[Path(folder)] = {reason: count for reason, count in left_out.items() if count}
    return found


def skipped(folder: PathLike) -> str:
    """'' or ' (12 files there were not compared by their bytes: 10 beyond the first 200 image files,
    2 larger than 64 MiB)', for messages that say a file was not found in ``folder``."""
    left_out = _SKIPPED.get(Path(folder), {})
    if not left_out:
        return ""
    return (f" ({sum(left_out.values())} files there were not compared by their bytes: "
            + ", ".join(f"{count} {reason}" for reason, count in left_out.items()) + ")")


def identify(path: PathLike) -> tuple[str, Optional[Published]]:
    """(git blob id of the file at ``path``, the ``Published`` file it is exactly, or None)."""
    blob = blob_of(path)
    return blob, BY_BLOB.get(blob)


def verdict(blob: str, expected: Optional[Published] = None) -> str:
    """Whose file the one with git blob id ``blob`` is, in words, the one wording every message uses:
    "exactly the authors' 'the tubingen.jpg' (git blob 1d271feb)"; for a file meant to be ``expected``
    but not it, "not the authors' 'the tubingen.jpg' (git blob 3f2a1b2c, theirs 1d271feb)"; else "git
    blob 3f2a1b2c"."""
    found = BY_BLOB.get(blob)
    if found is not None:
        return f"exactly the authors' '{found.remote_name}' (git blob {blob[:8]})"
    if expected is not None:
        return f"not the authors' '{expected.remote_name}' (git blob {blob[:8]}, theirs {expected.blob[:8]})"
    return f"git blob {blob[:8]}"
