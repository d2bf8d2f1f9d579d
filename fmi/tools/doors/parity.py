"""``python -m fmi.parity``: its options, checked before the work's modules load (``--help`` answers at once)."""
from typing import Optional

from fmi.files import published
from fmi.run.machine import threads
from fmi.tools.commands import run_tool, tool_parser


def main(argv: Optional[list[str]] = None) -> int:
    from fmi.tools.parity import CASES, DEFAULT_LAYERS  # numpy only: --help stays instant

    parser = tool_parser("python -m fmi.parity", "fmi.tools.parity")
    parser.add_argument("--authors", required=True, metavar="DIR",
                        help="a clone or unpacked copy of the authors' repository, at commit "
                             f"{published.AUTHORS_COMMIT[:7]}")
    parser.add_argument("--cases", default=",".join(CASES),
                        help="which cases, comma-separated (default: %(default)s)")
    parser.add_argument("--layer", help="the layer of the fmi, random and purposeful cases (default: "
                        + ", ".join(f"{name} {layer}" for name, layer in DEFAULT_LAYERS.items()) + ")")
    parser.add_argument("--filter", type=int, default=2, help="the filter of the fmi case (default: %(default)s)")
    parser.add_argument("--draw-seed", type=int, default=1, help="the random case's draw (default: %(default)s)")
    parser.add_argument("--image", default="golden_gate",
                        help="content image: a paper name (from the authors' input/) or a path (default: %(default)s)")
    parser.add_argument("--style", default="the_scream", help="style image, the same way (default: %(default)s)")
    parser.add_argument("--size", type=int, default=64,
                        help="long edge of the content image, px (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=1000, help="step limit (default: %(default)s, theirs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the start image (default: %(default)s)")
    parser.add_argument("--weights", default="random:0",
                        help="random:SEED or a .params file in the authors' format, e.g. model/vgg19.params "
                             "(default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=threads.usable_cores(),
                        help="runs at a time, one thread each (default: the usable cores, %(default)s)")
    parser.add_argument("--output", default="runs/parity", help="report folder (default: %(default)s)")
    parser.add_argument("--any-commit", action="store_true",
                        help="compare with the scripts in DIR even if they are not the authors' at their commit")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.tools import parity as tool  # after the options are read: --help stays instant

        return tool.parity(args)

    return run_tool(action)
