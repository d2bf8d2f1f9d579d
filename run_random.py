#!/usr/bin/env python
"""Randomly modified code inversion, the paper's Fig. 4.

Each layer's code is re-weighted channel by channel by a seeded random vector and
inverted; `--mode purposeful --style IMAGE` inverts the code rank-matched to a style
image's instead. With no arguments it runs configs/quick_random.yaml (minutes on a
laptop); `--config configs/fig4.yaml` has the paper's settings.
"""
import sys

from fmi import cli, figure4


def build_parser():
    return cli.parser(__doc__, "quick_random.yaml", {
        "--layers": ("layers", dict(type=cli.comma_list(str), metavar="LAYERS",
                                         help="relu layers, comma-separated")),
        "--mode": ("mode", dict(choices=figure4.MODES, help="random re-weighting or purposeful (needs --style)")),
        "--draw-seeds": ("draw_seeds", dict(type=cli.comma_list(int), metavar="SEEDS",
                                                    help="one row per seed, comma-separated")),
        "--distribution": ("distribution", dict(metavar="NAME",
                                                        help="authors: Normal(3, 1000); positive: Exponential(1)")),
        "--style": ("styles", dict(type=cli.comma_list(str), metavar="IMAGES",
                                         help="style image(s) for --mode purposeful")),
    })


def main(argv=None):
    return cli.main(argv, build_parser, figure4.Config,
                    ("layers", "mode", "draw_seeds", "distribution", "styles"),
                    lambda config, args, argv, started: figure4.run(config, argv, started, args.resume))


if __name__ == "__main__":
    sys.exit(main())
