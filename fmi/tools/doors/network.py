"""``python -m fmi.network``: its options, checked before MXNet and the network load."""
from typing import Optional

from fmi.run.interface import cli
from fmi.tools.commands import run_tool, tool_parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = tool_parser("python -m fmi.network", "fmi.tools.network_layers")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    layers = commands.add_parser("layers", help="list a network's rectified layers: the names fmi's layer settings "
                                                "take, each layer's channels, output size and cost")
    layers.add_argument("source", help="vgg19, gluon:NAME (Gluon's model zoo, e.g. gluon:resnet18_v1) or onnx:PATH")
    layers.add_argument("--size", type=int, default=None, metavar="N",
                        help="the input's side in px (default: the network's declared size; 224 for Gluon, "
                             "512 for VGG-19)")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.run.machine import device

        device.require_mxnet()
        from fmi.tools import network_layers  # after the options are read, and MXNet: --help stays instant

        print(network_layers.table(args.source, args.size), end="")
        return 0

    return run_tool(action)
