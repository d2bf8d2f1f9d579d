"""The paper's six input images and the authors' three result figures, fetched from their repository.

    python -m fmi.data download               # both sets, from GitHub
    python -m fmi.data download --what images # only the six input images, into data/paper/
    python -m fmi.data download --from DIR    # copy from a folder that has them (a clone of
                                              # their repository, or the files themselves)

The images go to ``data/paper/``; the authors' result figures (their ``output/*.png``) to
``data/authors/``, for ``python -m fmi.compare``. They are the authors' files, not ours to
redistribute, so the project does not ship them. Each file is checked to decode before it
gets its name, and its git blob id says whether it is exactly the authors' file.
"""
import argparse
import http.client
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from fmi import published
from fmi.errors import FmiError
from fmi.image import read_rgb
from fmi.io import atomic_path, check_input_file, git_blob_id

SETS = {"images": (published.IMAGES, published.PAPER_DIR), "figures": (published.FIGURES, published.FIGURES_DIR)}
OFFLINE_HINT = (f"without internet, clone or download github.com/{published.AUTHORS_REPOSITORY} elsewhere and run "
                f"'python -m fmi.data download --from FOLDER', or copy its input/ files into {published.PAPER_DIR}/ "
                f"and its output/ files into {published.FIGURES_DIR}/ (their own file names are accepted)")


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


def download(destination=None, base_url=published.AUTHORS_BASE_URL, source_dir=None, progress=None,
             what="all"):
    """Fetch (or copy) each missing file, check it decodes, give it its final name, and say whether it
    is exactly the authors' (on ``progress``, default stderr). Folders this call creates are removed
    again if nothing was saved in them."""
    progress = progress or sys.stderr
    created = []
    try:
        for item, folder in _sets(what, destination):
            present = published.find(folder, item)
            if present.exists():
                print(f"{present} already present: {verdict(present, item)}", file=progress)
                continue
            created += _make_folder(folder)
            target = folder / item.local
            with atomic_path(target) as temporary:
                if source_dir is not None:
                    _copy_from(Path(source_dir), item, temporary)
                else:
                    _fetch(base_url + urllib.parse.quote(item.remote), temporary)
                read_rgb(temporary)
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


def _copy_from(folder, item, temporary):
    """Copy ``item`` from ``folder``: under fmi's name, the authors' name, or in a clone of their repository."""
    for candidate in (folder / item.local, folder / item.remote_name, folder / item.remote):
        if candidate.exists():
            shutil.copyfile(check_input_file(candidate, "image"), temporary)
            return
    raise FmiError(f"{folder} has neither {item.local!r} nor {item.remote_name!r} (nor {item.remote!r}); "
                   f"give the folder that holds the authors' files, or a clone of their repository")


def _fetch(url, temporary):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            temporary.write_bytes(response.read())
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or type(error).__name__
        raise FmiError(f"could not download {url} ({reason}); nothing was saved; {OFFLINE_HINT}") from None


def main(argv=None):
    from fmi.cli import ArgumentParser, run_guarded

    parser = ArgumentParser(prog="python -m fmi.data", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    fetch = commands.add_parser("download", help="fetch the paper's six images and the authors' three figures")
    fetch.add_argument("--what", choices=("all", "images", "figures"), default="all",
                       help="images (data/paper/), figures (data/authors/) or all (default)")
    fetch.add_argument("--dest", type=Path, help="folder (default: data/paper for images, data/authors for figures)")
    fetch.add_argument("--from", dest="source_dir", type=Path, metavar="DIR",
                       help="copy from this folder instead of downloading (the files, or a clone of the "
                            "authors' repository)")
    fetch.add_argument("--url", default=published.AUTHORS_BASE_URL,
                       help=f"base URL of the authors' repository (default: at commit {published.AUTHORS_COMMIT[:7]})")
    args = parser.parse_args(argv)

    def action():
        download(args.dest, args.url, args.source_dir, what=args.what)
        return 0

    return run_guarded(action, resume_hint=False)


if __name__ == "__main__":
    sys.exit(main())
