"""``python -m fmi.atlas``: its options, checked before the work's modules load (``--help`` answers at once)."""
from pathlib import Path
from typing import Optional

from fmi.tools.commands import run_tool, tool_parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = tool_parser("python -m fmi.atlas", "fmi.tools.atlas")
    parser.add_argument("run_dir", type=Path, help="output folder of a run (finished or not)")
    parser.add_argument("--control", type=Path, metavar="RUN_DIR_RANDOM_WEIGHTS",
                        help="the same run made with random weights, shown beside each cell")
    parser.add_argument("--open", action="store_true", help="open the overview in a web browser")
    args = parser.parse_args(argv)

    def action() -> int:
        import webbrowser  # after the options are read: --help stays instant

        from fmi.tools import atlas as tool  # after the options are read: --help stays instant

        index, done = tool.build(args.run_dir, args.control)
        print(f"wrote {index} ({done['thumbnails_made']} new thumbnails for {done['cells']} cells, "
              f"{done['files_written']} files changed); open it in a browser")
        if args.open:
            webbrowser.open(index.resolve().as_uri())
        return 0

    return run_tool(action)
