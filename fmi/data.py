"""The paper's six input images: fetch them from the authors' repository into ``data/paper``.

    python -m fmi.data download               # from GitHub
    python -m fmi.data download --from DIR    # copy from a folder that already has them

They are the authors' files, not ours to redistribute, so the project does not ship them.
"""
import argparse
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from fmi.cli import run_guarded
from fmi.errors import FmiError
from fmi.image import PAPER_IMAGES, read_rgb
from fmi.io import atomic_path

AUTHORS_BASE_URL = "https://github.com/xzqjack/FeatureMapInversion/raw/master/input/"
DEFAULT_DIR = Path("data") / "paper"
# our name -> the file's name in the authors' input/ folder
AUTHORS_NAMES = {
    "golden_gate": "the golden gate bridge.jpg",
    "tubingen": "the tubingen.jpg",
    "frida_kahlo": "the frida kahlo.jpg",
    "seated_nude": "the seated nude.jpg",
    "starry_night": "the starry night.png",
    "the_scream": "the scream.jpg",
}


def download(destination=DEFAULT_DIR, base_url=AUTHORS_BASE_URL, source_dir=None, progress=sys.stderr):
    """Fetch (or copy) each missing image, check it decodes, then give it its final name."""
    destination = Path(destination)
    for name, remote in AUTHORS_NAMES.items():
        target = destination / PAPER_IMAGES[name]
        if target.exists():
            print(f"{target} already present", file=progress)
            continue
        with atomic_path(target) as temporary:
            if source_dir is not None:
                _copy_from(Path(source_dir), name, remote, temporary)
            else:
                _fetch(base_url + urllib.parse.quote(remote), temporary, destination)
            read_rgb(temporary)
        print(f"saved {target}", file=progress)
    return destination


def _copy_from(folder, name, remote, temporary):
    for candidate in (folder / PAPER_IMAGES[name], folder / remote):
        if candidate.is_file():
            shutil.copyfile(candidate, temporary)
            return
    raise FmiError(f"{folder} has neither {PAPER_IMAGES[name]} nor {remote!r}")


def _fetch(url, temporary, destination):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            temporary.write_bytes(response.read())
    except OSError as error:
        raise FmiError(
            f"could not download {url} ({getattr(error, 'reason', error)}); without internet, copy "
            f"the six images of github.com/xzqjack/FeatureMapInversion/tree/master/input into "
            f"{destination}/ named {', '.join(PAPER_IMAGES.values())}, or use --from DIR"
        ) from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fmi.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("download", help="fetch the paper's six images")
    fetch.add_argument("--dest", type=Path, default=DEFAULT_DIR, help="folder (default: %(default)s)")
    fetch.add_argument("--from", dest="source_dir", type=Path, metavar="DIR",
                       help="copy from this folder instead of downloading")
    fetch.add_argument("--url", default=AUTHORS_BASE_URL, help="base URL of the images")
    args = parser.parse_args(argv)

    def action():
        download(args.dest, args.url, args.source_dir)
        return 0

    return run_guarded(action)


if __name__ == "__main__":
    sys.exit(main())
