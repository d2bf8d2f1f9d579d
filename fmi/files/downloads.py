"""Downloads of the published files fmi uses, through pooch, each checked before it gets its name.

- the paper's six input images (into ``data/paper/``) and the authors' three result figures
  (into ``data/authors/``), from their repository at their commit (``python -m fmi.data download``):
  each checked by the SHA-256 of the authors' file, then that it decodes;
- the authors' VGG-19 weights, ``vgg19.params``, into ``model/`` (``python -m fmi.weights download``):
  no digest of it was ever published but its git blob id, so it is checked to hold every key and
  shape, and said to be the authors' file only when its git blob id is theirs.

They are the authors' files, not ours to redistribute, so the project does not ship them. pooch
fetches each into a temporary folder beside its target (a connection that fails is tried once
more), and the file is moved to its name only once it passes: a download that breaks off or fails
a check leaves nothing behind. ``--from DIR`` copies them from a folder instead.
"""
import os
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Optional

import pooch
import requests

from fmi.errors import FmiError
from fmi.files import published, weight_files
from fmi.files.image_files import read_rgb
from fmi.io import check_input_file, git_blob_id

MAX_FILE_BYTES = 64 << 20  # the authors' images and figures are 0.1 to 2 MB
SETS = {"images": (published.IMAGES, published.PAPER_DIR), "figures": (published.FIGURES, published.FIGURES_DIR)}
OFFLINE_HINT = (f"without internet, clone or download github.com/{published.AUTHORS_REPOSITORY} elsewhere and run "
                f"'python -m fmi.data download --from FOLDER', or copy its input/ files into {published.PAPER_DIR}/ "
                f"and its output/ files into {published.FIGURES_DIR}/ (under any name: an exact copy is "
                f"recognised by its bytes)")
pooch.get_logger().setLevel("WARNING")  # fmi says what it saved, in its own words


class Progress:
    """What pooch's downloader reports of a download, as one line on ``stream`` rewritten as it grows."""

    def __init__(self, name: str, stream: IO[str]) -> None:
        self.name, self.stream, self.total, self.received = name, stream, 0, 0

    def update(self, size: int) -> None:
        self.received += size
        shown = _size(self.received) + (f" of {_size(self.total)}" if self.total else "")
        print(f"\rdownloading {self.name}: {shown}", end="", file=self.stream, flush=True)

    def reset(self) -> None:
        self.received = 0

    def close(self) -> None:
        print(file=self.stream)


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.0f} KiB"


@contextmanager
def fetched(url: str, target: Path, sha256: Optional[str], stream: IO[str]) -> Iterator[Path]:
    """The file at ``url`` downloaded by pooch (checked by ``sha256`` if given) into a temporary folder
    beside ``target``; it is moved to ``target`` if the block succeeds, and removed if it does not."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fmi-", dir=target.parent) as folder:
        fetcher = pooch.create(path=folder, base_url="", registry={target.name: sha256 and f"sha256:{sha256}"},
                               urls={target.name: url}, retry_if_failed=1)
        try:
            path = Path(fetcher.fetch(target.name, downloader=pooch.HTTPDownloader(
                timeout=60, progressbar=Progress(target.name, stream))))
        except (requests.RequestException, OSError) as error:
            reason = type(error).__name__ if isinstance(error, requests.RequestException) else error.strerror
            raise FmiError(f"could not download {url} ({reason}); nothing was saved") from None
        except ValueError:  # pooch: the SHA-256 is not the one given
            raise FmiError(f"{url}: the file is not the authors' (its SHA-256 differs from theirs); nothing was "
                           f"saved") from None
        yield path
        os.replace(path, target)


def download_data(destination: Optional[Path] = None, base_url: str = published.AUTHORS_BASE_URL,
                  source_dir: Optional[Path] = None, progress: Optional[IO[str]] = None, what: str = "all") -> None:
    """Fetch (or copy) each missing file, check it, give it its final name, and say whether it is exactly
    the authors' (on ``progress``, default stderr). Folders this call creates are removed again if
    nothing was saved in them."""
    stream = progress or sys.stderr
    names = ("images", "figures") if what == "all" else (what,)
    created: list[Path] = []
    try:
        for item, folder in [(item, Path(destination or SETS[name][1])) for name in names for item in SETS[name][0]]:
            present = published.find(folder, item)
            if os.path.lexists(present):
                _check_size(present, "remove it (or choose another --dest) and run the command again")
                print(f"{present} already present: {published.verdict(git_blob_id(present), item)}", file=stream)
                continue
            created += [parent for parent in reversed([folder, *folder.parents]) if not parent.exists()]
            target = folder / item.local
            if source_dir is not None:
                _copy(Path(source_dir), item, target)
            else:
                url = base_url + urllib.parse.quote(item.remote)
                try:
                    with fetched(url, target, item.sha256, stream) as path:
                        _decodes(path, url, item)
                except FmiError as error:
                    raise FmiError(f"{error}; {OFFLINE_HINT}" if "could not download" in str(error) else str(error))
            print(f"saved {target}: {published.verdict(git_blob_id(target), item)}", file=stream)
    finally:
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _check_size(path: Path, fix: str) -> None:
    """A file under a published file's name must be a regular file no larger than any of the authors'."""
    try:
        check_input_file(path, "file")
    except FmiError as error:
        raise FmiError(f"{error}; {fix}") from None
    if os.stat(path).st_size > MAX_FILE_BYTES:
        raise FmiError(f"{path} is {os.stat(path).st_size >> 20} MiB, larger than any of the authors' files "
                       f"(at most {MAX_FILE_BYTES >> 20} MiB); {fix}")


def _decodes(path: Path, origin: object, item: published.Published) -> None:
    try:
        read_rgb(path)
    except FmiError as error:
        reason = str(error).rpartition(": ")[2]
        raise FmiError(f"{origin}: {reason}; it is not the authors' {item.remote_name!r}; nothing was saved") from None


def _copy(folder: Path, item: published.Published, target: Path) -> None:
    """Copy ``item`` from ``folder`` to ``target``: under fmi's name, the authors' name, in a clone of their
    repository, or any image file there (or in its input/ or output/) that is exactly the authors'."""
    for place in (folder, folder / Path(item.remote).parent):
        candidate = published.find(place, item)
        if os.path.lexists(candidate):
            _check_size(candidate, "nothing was copied")
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".fmi-", dir=target.parent) as temporary:
                copy = Path(temporary) / target.name
                shutil.copyfile(candidate, copy)
                _decodes(copy, candidate, item)
                os.replace(copy, target)
            return
    raise FmiError(f"{folder} has neither {item.local!r} nor {item.remote_name!r} (nor {item.remote!r}, nor "
                   f"any image file with the authors' exact bytes){published.skipped(folder)}; give the folder "
                   f"that holds the authors' files, or a clone of their repository")


def download_weights(destination: Path = weight_files.AUTHORS_FILE, url: str = published.WEIGHTS_URL,
                     progress: Optional[IO[str]] = None) -> Path:
    """Fetch the authors' vgg19.params with progress (on ``progress``, default stderr), check every key
    and shape, and only then give it its name; say whether it is exactly the authors' file."""
    stream = progress or sys.stderr
    destination = Path(destination)
    try:
        with fetched(url, destination, None, stream) as path:
            try:
                weights = weight_files.load_file(path)
            except FmiError as error:
                raise FmiError(f"{str(error).replace(str(path), url)}; nothing was saved") from None
    except FmiError as error:
        if "could not download" not in str(error):
            raise
        raise FmiError(f"{error}; run it again, or download it elsewhere and copy it to {destination}") from None
    print(f"saved {destination}: {weight_files.describe(weights)}; keys and shapes checked", file=stream)
    return destination
