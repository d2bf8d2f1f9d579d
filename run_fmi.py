#!/usr/bin/env python
"""Feature Map Inversion, the paper's Fig. 3: one image per (layer, filter) of VGG-19.

With no arguments it runs configs/quickstart.yaml, a small run that finishes in
minutes on a laptop; `--config configs/fig3.yaml` has the paper's settings.

Sweeps: `--layers all --all-filters` inverts all 5504 filters. Split the work over N
machines with `--shard I/N` (I = 0..N-1, e.g. a Slurm job array), then draw the
figures with `--collect`.
"""
import sys

from fmi import cli, figure3
from fmi.errors import FmiError
from fmi.experiment import parse_shard


def build_parser():
    return cli.parser(__doc__, "quickstart.yaml", {
        "--layers": ("layers", dict(type=cli.comma_list(str), metavar="LAYERS",
                                         help="relu layers, comma-separated, or 'all'")),
        "--filters": ("filters", dict(type=cli.comma_list(int), metavar="INDICES",
                                          help="filter indices, comma-separated")),
        "--all-filters": ("all_filters", dict(action="store_true", default=None,
                                               help="every filter of each layer (a sweep)")),
        "--shard": ("shard", dict(metavar="I/N", help="run only shard I of N (0-based), in <output>/shards/")),
        "--collect": ("collect", dict(action="store_true", help="gather the shards' cells and draw the figures")),
    })


def experiment(config, args, argv, started):
    if args.shard and args.collect:
        raise FmiError("--shard and --collect go in separate runs: shards first, then --collect")
    shard = parse_shard(args.shard) if args.shard else None
    return figure3.run(config, argv, started, args.resume, shard=shard, collect=args.collect)


def main(argv=None):
    return cli.main(argv, build_parser, figure3.Config, ("layers", "filters", "all_filters"), experiment)


if __name__ == "__main__":
    sys.exit(main())
