#!/usr/bin/env python
"""Purposefully modified code inversion (PMCI) beside Gatys style transfer, the paper's Fig. 5.

Rows are style images (A-D), columns the style and, for each content image, the Gatys and
PMCI results. With no arguments it runs configs/fig5_quick.yaml into runs/quickstart_pmci;
`--config configs/fig5.yaml` has the paper's settings.
"""
import sys

from fmi.run.interface import cli, config

OPTIONS = (
    cli.Option("--style", ("styles",), "texts", "IMAGES", "style images, comma-separated"),
    cli.Option("--methods", ("methods",), "texts", "METHODS", "gatys, pmci or both"),
    cli.Option("--content-layers", ("content_layers",), "texts", "LAYERS", "content relu layers (paper: relu2_2)"),
    cli.Option("--style-layers", ("style_layers",), "texts", "LAYERS",
               "style relu layers (paper: relu1_1..relu5_1)"),
    cli.Option("--content-weight", ("content_weight",), "number", "ALPHA", "alpha (paper: 10)"),
    cli.Option("--style-weight", ("style_weight",), "number", "BETA", "beta (paper: 1)"),
)


def build_parser():
    return cli.parser("run_pmci.py", __doc__, "fig5_quick.yaml", OPTIONS)


def load(path, given):
    from fmi.experiments import fig5  # MXNet loads with it: only once the options are read, so --help is instant

    return config.load(fig5.Config, path, given)


def experiment(settings, args, argv, started):
    from fmi.experiments import fig5
    from fmi.run.session import Options

    return fig5.run(settings, argv, started, Options(resume=args.resume, overwrite=args.overwrite))


def main(argv=None):
    return cli.main(argv, build_parser, load, experiment)


if __name__ == "__main__":
    sys.exit(main())
