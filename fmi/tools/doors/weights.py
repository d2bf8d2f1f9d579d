"""``python -m fmi.weights``: its options, checked before the work's modules load. Its front door,
``fmi/weights.py``, is also the library's ``fmi.weights`` and loads MXNet on import (its ``--help`` takes
3 s on a 2-core AMD EPYC, the other doors' 0.6 s)."""
from pathlib import Path
from typing import Optional

from fmi.files import published
from fmi.run.interface import cli
from fmi.tools.commands import run_tool, tool_parser


def main(argv: Optional[list[str]] = None) -> int:
    default_file = Path("model") / published.WEIGHTS.local
    parser = tool_parser("python -m fmi.weights", "fmi.files.weight_files")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    fetch = commands.add_parser("download", help="download the authors' vgg19.params and check it")
    fetch.add_argument("--dest", type=Path, default=default_file, help="where to save it (default: %(default)s)")
    fetch.add_argument("--url", default=published.WEIGHTS_URL, help="where to fetch it from")
    inspect = commands.add_parser("check", help="check a weights file's keys, shapes and values, and whose it is")
    inspect.add_argument("spec", nargs="?", default=str(default_file),
                         help="auto, random, random:SEED, gluon, or a .params file (default: %(default)s)")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.files import downloads, weight_files  # after the options are read: --help stays instant

        if args.command == "download":
            downloads.download_weights(args.dest, args.url)
        else:
            loaded = weight_files.load(args.spec)
            print(f"{weight_files.describe(loaded) if loaded.blob else loaded.label}: "
                  f"every key, shape and value checked")
        return 0

    return run_tool(action)
