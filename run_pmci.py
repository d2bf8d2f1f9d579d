#!/usr/bin/env python
"""Purposefully modified code inversion (PMCI) beside Gatys style transfer, the paper's Fig. 5.

Rows are style images (A-D), columns the style and, for each content image, the Gatys and
PMCI results. With no arguments it runs configs/quick_pmci.yaml (minutes on a laptop);
`--config configs/fig5.yaml` has the paper's settings.
"""
import sys

from fmi import cli, figure5


def build_parser():
    return cli.parser(__doc__, "quick_pmci.yaml", {
        "--style": ("styles", dict(type=cli.comma_list(str), metavar="IMAGES", help="style images, comma-separated")),
        "--methods": ("methods", dict(type=cli.comma_list(str), metavar="METHODS", help="gatys, pmci or both")),
        "--content-layers": ("content_layers", dict(type=cli.comma_list(str), metavar="LAYERS",
                                                    help="content relu layers")),
        "--style-layers": ("style_layers", dict(type=cli.comma_list(str), metavar="LAYERS", help="style relu layers")),
        "--content-weight": ("content_weight", dict(type=float, metavar="ALPHA", help="alpha (paper: 10)")),
        "--style-weight": ("style_weight", dict(type=float, metavar="BETA", help="beta (paper: 1)")),
    })


def main(argv=None):
    keys = ("styles", "methods", "content_layers", "style_layers", "content_weight", "style_weight")
    return cli.main(argv, build_parser, figure5.Config, keys,
                    lambda config, args, argv, started: figure5.run(config, argv, started, args.resume))


if __name__ == "__main__":
    sys.exit(main())
