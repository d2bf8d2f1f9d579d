#!/usr/bin/env python
"""Feature Map Inversion, the paper's Fig. 3: one image per (layer, filter) of VGG-19.

With no arguments it runs configs/fig3_quick.yaml into runs/quickstart, a small run (see
docs/performance.md's table of measured times); `--config configs/fig3.yaml` has the paper's
settings.

Sweeps: `--layers all --all-filters` inverts all 5504 filters. Split the work over N
machines with `--shard I/N` (I = 0..N-1, e.g. a Slurm job array), then draw the
figures with `--collect`.
"""
import sys

from fmi.errors import FmiError
from fmi.run.interface import cli, config

OPTIONS = (
    cli.Option("--layers", ("layers",), "texts", "LAYERS", "relu layers, comma-separated, or 'all'"),
    cli.Option("--filters", ("filters",), "numbers", "INDICES", "filter indices, comma-separated"),
    cli.Option("--all-filters", ("all_filters",), "flag", "", "every filter of each layer (a sweep)"),
)


def build_parser():
    parser = cli.parser("run_fmi.py", __doc__, "fig3_quick.yaml", OPTIONS)
    parser.add_argument("--shard", metavar="I/N", help="run only shard I of N (0-based), in <output>/shards/I-of-N")
    parser.add_argument("--collect", action="store_true", help="gather the shards' cells and draw the figures")
    return parser


def load(path, given):
    from fmi.experiments import fig3  # MXNet loads with it: only once the options are read, so --help is instant

    return config.load(fig3.Config, path, given)


def experiment(settings, args, argv, started):
    from fmi.experiments import fig3
    from fmi.run.folder.shards import parse_shard
    from fmi.run.session import Options

    if args.shard and args.collect:
        raise FmiError("--shard and --collect go in separate runs: shards first, then --collect")
    options = Options(resume=args.resume, overwrite=args.overwrite,
                      shard=parse_shard(args.shard) if args.shard else None, collect=args.collect)
    return fig3.run(settings, argv, started, options)


def main(argv=None):
    return cli.main(argv, build_parser, load, experiment)


if __name__ == "__main__":
    sys.exit(main())
