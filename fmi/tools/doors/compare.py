"""``python -m fmi.compare``: its options, checked before the work's modules load (``--help`` answers at once)."""
from pathlib import Path
from typing import Optional

from fmi.tools.commands import run_tool, tool_parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = tool_parser("python -m fmi.compare", "fmi.tools.compare")
    parser.add_argument("run_dir", type=Path, help="output folder of a run")
    parser.add_argument("reference", type=Path,
                        help="the authors' figure, e.g. data/authors/feature_map_golden_gate.png")
    parser.add_argument("--name", help="name of the side-by-side figure, compare_<name>.png "
                                       "(default: the reference's)")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.tools import compare as tool  # after the options are read: --help stays instant

        _, picture, report = tool.compare(args.run_dir, args.reference, args.name)
        print(report, end="")
        print(f"wrote {picture} and {args.run_dir / 'compare.md'}")
        return 0

    return run_tool(action)
