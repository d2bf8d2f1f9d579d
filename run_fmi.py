#!/usr/bin/env python
"""Feature Map Inversion, the paper's Fig. 3: one image per (layer, filter) of VGG-19.

With no arguments it runs configs/quickstart.yaml, a small run that finishes in
minutes on a laptop; `--config configs/fig3.yaml` has the paper's settings.
"""
import sys

from fmi import cli, figure3


def build_parser():
    return cli.parser(__doc__, "quickstart.yaml", {
        "--layers": ("layers", dict(type=cli.comma_list(str), help="relu layers, comma-separated")),
        "--filters": ("filters", dict(type=cli.comma_list(int), help="filter indices, comma-separated")),
    })


def main(argv=None):
    return cli.main(argv, build_parser, figure3.Config, ("layers", "filters"),
                    lambda config, args, argv, started: figure3.run(config, argv, started, args.resume))


if __name__ == "__main__":
    sys.exit(main())
