"""``python -m fmi.analyze``: its options, checked before the work's modules load (``--help`` answers at once)."""
from pathlib import Path
from typing import Optional

from fmi.tools.commands import run_tool, tool_parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = tool_parser("python -m fmi.analyze", "fmi.tools.analyze")
    parser.add_argument("run_dir", type=Path, help="output folder of a finished run")
    parser.add_argument("--control", type=Path, metavar="RUN_DIR_RANDOM_WEIGHTS",
                        help="the same run made with random weights, measured alongside")
    parser.add_argument("--partial", action="store_true",
                        help="measure the finished cells of a run that is not finished")
    parser.add_argument("--weights", default="auto", metavar="FILE",
                        help="the weights file the run was made with, for the measures that take codes of images "
                             "(Fig. 5's style similarity; default: model/vgg19.params; random weights need none); "
                             "checked against the record")
    parser.add_argument("--network", metavar="FILE",
                        help="the ONNX file a run on onnx:FILE was made with, for the same measures; checked by "
                             "SHA-256 against the record")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.tools import analyze as tool  # after the options are read: --help stays instant

        for line in tool.analyze_and_write(args.run_dir, args.control, args.partial, args.weights, args.network):
            print(line)
        return 0

    return run_tool(action)
