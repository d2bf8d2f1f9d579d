#!/usr/bin/env python
"""Randomly modified code inversion, the paper's Fig. 4.

Each layer's code is re-weighted channel by channel by a seeded random vector and
inverted; `--mode purposeful --style IMAGE` inverts the code rank-matched to a style
image's instead. With no arguments it runs configs/fig4_quick.yaml into
runs/quickstart_random; `--config configs/fig4.yaml` has the paper's settings.
"""
import sys

from fmi.run.interface import cli, config

OPTIONS = (
    cli.Option("--layers", ("layers",), "texts", "LAYERS", "relu layers, comma-separated"),
    cli.Option("--mode", ("mode",), "text", "MODE", "random re-weighting, or purposeful (needs --style)"),
    cli.Option("--draw-seeds", ("draw_seeds",), "numbers", "SEEDS", "one row per seed, comma-separated"),
    cli.Option("--distribution", ("distribution",), "text", "NAME",
               "authors: Normal(3, 1000), as the authors drew; positive: Exponential(1)"),
    cli.Option("--style", ("styles",), "texts", "IMAGES", "style image(s) for --mode purposeful"),
)


def build_parser():
    return cli.parser("run_random.py", __doc__, "fig4_quick.yaml", OPTIONS)


def load(path, given):
    from fmi.experiments import fig4  # MXNet loads with it: only once the options are read, so --help is instant

    return config.load(fig4.Config, path, given)


def experiment(settings, args, argv, started):
    from fmi.experiments import fig4
    from fmi.run.session import Options

    return fig4.run(settings, argv, started, Options(resume=args.resume, overwrite=args.overwrite))


def main(argv=None):
    return cli.main(argv, build_parser, load, experiment)


if __name__ == "__main__":
    sys.exit(main())
