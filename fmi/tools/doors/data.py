"""``python -m fmi.data``: its options, checked before the work's modules load (``--help`` answers at once)."""
from pathlib import Path
from typing import Optional

from fmi.files import published
from fmi.run.interface import cli
from fmi.tools.commands import run_tool, tool_parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = tool_parser("python -m fmi.data", "fmi.files.downloads")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
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

    def action() -> int:
        from fmi.files import downloads  # after the options are read: --help stays instant

        downloads.download_data(args.dest, args.url, args.source_dir, what=args.what)
        return 0

    return run_tool(action)
