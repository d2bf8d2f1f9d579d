"""The paper's six input images and the authors' three result figures, fetched from their repository.

    python -m fmi.data download               # both sets, from GitHub
    python -m fmi.data download --what images # only the six input images, into data/paper/
    python -m fmi.data download --from DIR    # copy from a folder that already has them

The images go to ``data/paper/``; the authors' result figures (their ``output/*.png``) to
``data/authors/``, for ``python -m fmi.compare``. They are the authors' files, not ours to
redistribute, so the project does not ship them.
"""
import argparse
import http.client
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from fmi.errors import FmiError
from fmi.image import PAPER_IMAGES, read_rgb
from fmi.io import atomic_path, check_input_file

REPOSITORY = "https://github.com/xzqjack/FeatureMapInversion/raw/master/"
DEFAULT_DIR = Path("data") / "paper"
AUTHORS_DIR = Path("data") / "authors"
# our name -> the file's name in the authors' input/ folder
AUTHORS_NAMES = {
    "golden_gate": "the golden gate bridge.jpg",
    "tubingen": "the tubingen.jpg",
    "frida_kahlo": "the frida kahlo.jpg",
    "seated_nude": "the seated nude.jpg",
    "starry_night": "the starry night.png",
    "the_scream": "the scream.jpg",
}
# the authors' result figures in their output/ folder, and the paper figure each shows
AUTHORS_FIGURES = {
    "feature_map_golden_gate.png": "Fig. 3",
    "random.png": "Fig. 4",
    "style_transfer3.png": "Fig. 5",
}


def _sets(what, destination):
    """(local file, remote path, names to look for with --from) of each file to fetch."""
    files = []
    if what in ("images", "all"):
        folder = Path(destination or DEFAULT_DIR)
        files += [(folder / PAPER_IMAGES[name], f"input/{remote}", (PAPER_IMAGES[name], remote))
                  for name, remote in AUTHORS_NAMES.items()]
    if what in ("figures", "all"):
        folder = Path(destination or AUTHORS_DIR)
        files += [(folder / name, f"output/{name}", (name,)) for name in AUTHORS_FIGURES]
    return files


def download(destination=None, base_url=REPOSITORY, source_dir=None, progress=sys.stderr, what="all"):
    """Fetch (or copy) each missing file, check it decodes, then give it its final name."""
    for target, remote, names in _sets(what, destination):
        if target.exists():
            print(f"{target} already present", file=progress)
            continue
        with atomic_path(target) as temporary:
            if source_dir is not None:
                _copy_from(Path(source_dir), names, temporary)
            else:
                _fetch(base_url + urllib.parse.quote(remote), temporary, target.parent)
            read_rgb(temporary)
        print(f"saved {target}", file=progress)


def _copy_from(folder, names, temporary):
    for name in names:
        if (folder / name).exists():
            shutil.copyfile(check_input_file(folder / name, "image"), temporary)
            return
    raise FmiError(f"{folder} has none of {', '.join(repr(name) for name in names)}")


def _fetch(url, temporary, folder):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            temporary.write_bytes(response.read())
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or type(error).__name__
        raise FmiError(
            f"could not download {url} ({reason}); nothing was saved. Without internet, copy the files of "
            f"github.com/xzqjack/FeatureMapInversion (input/ and output/) into {folder}/, or use --from DIR"
        ) from None


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
                       help="copy from this folder instead of downloading")
    fetch.add_argument("--url", default=REPOSITORY, help="base URL of the authors' repository")
    args = parser.parse_args(argv)

    def action():
        download(args.dest, args.url, args.source_dir, what=args.what)
        return 0

    return run_guarded(action, resume_hint=False)


if __name__ == "__main__":
    sys.exit(main())
