"""Downloads of the published files fmi uses, each checked before it gets its name.

- the paper's six input images (into ``data/paper/``) and the authors' three result figures
  (into ``data/authors/``), from their repository (``python -m fmi.data download``);
- the authors' VGG-19 weights, ``vgg19.params``, into ``model/`` (``python -m fmi.weights download``).

They are the authors' files, not ours to redistribute, so the project does not ship them. Each
file is checked to decode (or, for weights, to hold every key and shape) before it gets its
name, a download that breaks off leaves nothing behind, and its git blob id says whether it is
exactly the authors' file.
"""
import http.client
import os
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from fmi.errors import FmiError
from fmi.files import published, weight_files
from fmi.files.image_files import read_rgb
from fmi.io import atomic_path, check_input_file, git_blob_id, parse_int

MAX_FILE_BYTES = 64 << 20  # the authors' images and figures are 0.1 to 2 MB
SETS = {"images": (published.IMAGES, published.PAPER_DIR), "figures": (published.FIGURES, published.FIGURES_DIR)}
OFFLINE_HINT = (f"without internet, clone or download github.com/{published.AUTHORS_REPOSITORY} elsewhere and run "
                f"'python -m fmi.data download --from FOLDER', or copy its input/ files into {published.PAPER_DIR}/ "
                f"and its output/ files into {published.FIGURES_DIR}/ (under any name: an exact copy is "
                f"recognised by its bytes)")


def verdict(path, item):
    """Whether the file at ``path`` is exactly the authors' ``item``, by its git blob id."""
    blob = git_blob_id(path)
    if blob == item.blob:
        return f"exactly the authors' '{item.remote}' (git blob {blob[:8]})"
    return (f"NOT the authors' '{item.remote}' (git blob {blob[:8]}, theirs {item.blob[:8]}): it will be used, "
            f"but never under their name")


def _sets(what, destination):
    """(published file, folder) of each file to fetch."""
    names = ("images", "figures") if what == "all" else (what,)
    return [(item, Path(destination or SETS[name][1])) for name in names for item in SETS[name][0]]


def download_data(destination=None, base_url=published.AUTHORS_BASE_URL, source_dir=None, progress=None,
             what="all"):
    """Fetch (or copy) each missing file, check it decodes, give it its final name, and say whether it
    is exactly the authors' (on ``progress``, default stderr). Folders this call creates are removed
    again if nothing was saved in them."""
    progress = progress or sys.stderr
    created = []
    try:
        for item, folder in _sets(what, destination):
            present = published.find(folder, item)
            if os.path.lexists(present):
                _check_present(present)
                print(f"{present} already present: {verdict(present, item)}", file=progress)
                continue
            created += _make_folder(folder)
            target = folder / item.local
            with atomic_path(target) as temporary:
                if source_dir is not None:
                    origin = _copy_from(Path(source_dir), item, temporary)
                else:
                    origin = base_url + urllib.parse.quote(item.remote)
                    _fetch(origin, temporary)
                try:
                    read_rgb(temporary)
                except FmiError as error:
                    reason = str(error).rpartition(": ")[2]
                    raise FmiError(f"{origin}: {reason}; it is not the authors' {item.remote_name!r}; nothing "
                                   f"was saved") from None
            print(f"saved {target}: {verdict(target, item)}", file=progress)
    finally:
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _make_folder(folder):
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing = [parent for parent in [folder, *folder.parents] if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _check_present(path):
    """A file already under a published file's name must be a regular file of a sane size to be read."""
    try:
        check_input_file(path, "file")
    except FmiError as error:
        raise FmiError(f"{error}; remove it (or choose another --dest) and run the command again") from None
    if os.stat(path).st_size > MAX_FILE_BYTES:
        raise FmiError(f"{path} is {os.stat(path).st_size >> 20} MiB, larger than any of the authors' files "
                       f"(at most {MAX_FILE_BYTES >> 20} MiB); remove it (or choose another --dest)")


def _copy_from(folder, item, temporary):
    """Copy ``item`` from ``folder``: under fmi's name, the authors' name, in a clone of their repository,
    or any image file there (or in its input/ or output/) that is exactly the authors'. Return its path."""
    for place in (folder, folder / Path(item.remote).parent):
        candidate = published.find(place, item)
        if os.path.lexists(candidate):
            check_input_file(candidate, "image")
            if os.stat(candidate).st_size > MAX_FILE_BYTES:
                raise FmiError(f"{candidate} is {os.stat(candidate).st_size >> 20} MiB, larger than any of the "
                               f"authors' files (at most {MAX_FILE_BYTES >> 20} MiB); nothing was copied")
            shutil.copyfile(candidate, temporary)
            return candidate
    raise FmiError(f"{folder} has neither {item.local!r} nor {item.remote_name!r} (nor {item.remote!r}, nor "
                   f"any image file with the authors' exact bytes){published.skipped(folder)}; give the folder "
                   f"that holds the authors' files, or a clone of their repository")


def _fetch(url, temporary):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            temporary.write_bytes(response.read())
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or type(error).__name__
        raise FmiError(f"could not download {url} ({reason}); nothing was saved; {OFFLINE_HINT}") from None


def download_weights(destination=weight_files.AUTHORS_FILE, url=weight_files.AUTHORS_URL, progress=None):
    """Fetch the authors' vgg19.params with progress (on ``progress``, default stderr), check it, and
    only then give it its name; say whether it is exactly the authors' file."""
    progress = progress or sys.stderr
    destination = Path(destination)
    try:
        response = urllib.request.urlopen(url, timeout=60)
    except (OSError, http.client.HTTPException) as error:
        raise FmiError(
            f"could not download {url} ({getattr(error, 'reason', error)}); without internet, "
            f"download it elsewhere and copy it to {destination}"
        ) from None
    total = parse_int(response.headers.get("Content-Length") or "0") or 0
    with atomic_path(destination) as temporary:
        received = 0
        try:
            with response, open(temporary, "wb") as stream:
                for block in iter(lambda: response.read(1 << 20), b""):
                    stream.write(block)
                    received += len(block)
                    shown = f"{received / 2**20:.1f} MiB" + (f" of {total / 2**20:.1f} MiB" if total else "")
                    print(f"\rdownloading {destination.name}: {shown}", end="", file=progress, flush=True)
        except (OSError, http.client.HTTPException) as error:
            print(file=progress)
            raise FmiError(f"download of {url} broke off after {received} bytes "
                           f"({getattr(error, 'strerror', None) or type(error).__name__}); "
                           f"nothing was saved; run it again") from None
        print(file=progress)
        if total and received != total:
            raise FmiError(f"download of {url} stopped at {received} of {total} bytes; nothing was saved; "
                           f"run it again")
        weights = weight_files.load_file(temporary)
    print(f"saved {destination}: {weight_files.describe(weights)}; keys and shapes checked", file=progress)
    return destination


# --- the commands -------------------------------------------------------------------------------
