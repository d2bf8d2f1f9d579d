"""The command lines behind the figure scripts (``run_fmi.py``, ...) and ``reproduce.py``, and what
every front door's command line shares (``tool_parser``, ``run_tool``): each tool's own options are
in a module of ``fmi.tools.doors``.

Each command parses its options first and imports the module that does the work only then, so
``--help`` and a mistyped option answer at once (the tools load MXNet, OpenCV or matplotlib:
0.5 to 2 s).
"""
import argparse
import ast
import importlib.util
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from fmi import experiments
from fmi.errors import FmiError
from fmi.run.experiment import AnyExperiment
from fmi.run.interface import cli, config_words
from fmi.run.interface import config as config_module
from fmi.run.machine import device, threads


def figure_parser(experiment: AnyExperiment) -> cli.ArgumentParser:
    """The options of ``experiment``'s script; its help starts with the experiment module's docstring."""
    module = sys.modules.get(type(experiment).__module__)
    description = ((module.__doc__ if module else None) or experiment.title) + "\n" + textwrap.fill(
        f"With no arguments it runs {cli.config_name(experiment.config_file('quick'))}, a small run; --config "
        f"{cli.config_name(experiment.paper_config)} has the paper's settings. --print-config shows every setting "
        f"with its description, and --set KEY=VALUE changes any of them.", 96)
    try:
        paper = config_module.load(experiment.config_model, experiment.paper_config)
    except FmiError:  # a damaged install: the help goes without the paper's values, the run says what is wrong
        paper = None
    return cli.parser(experiment.script, description, experiment.config_file("quick"), experiment.config_model,
                      experiment.options, paper)


def figure(name: str, argv: Optional[list[str]] = None) -> int:
    """The command line of the script of figure ``name`` (``argv=None``: the script's own, run as a
    script): load and check the config, then print it (``--print-config``) or run the experiment.

    Run as a script, a ``threads`` setting other than the count MXNet started with restarts the
    script with that count, and a job scheduler's SIGTERM stops it like Ctrl-C.
    """
    experiment = experiments.BY_NAME[name]
    restart_argv = sys.argv if argv is None else None
    if restart_argv is not None:
        signal.signal(signal.SIGTERM, cli.interrupt)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = figure_parser(experiment)
    args = parser.parse_args(argv)
    cli.setup_logging(args.verbose)

    def action() -> int:
        if threads.override_problem():
            raise FmiError(str(threads.override_problem()))
        given = cli.overrides(args, parser.options)
        config = config_module.load(experiment.config_model, args.config.expanduser(), given)
        if args.print_config:
            source = f"{args.config}" + (" + command line" if given else "")
            print(config_words.commented_yaml(config, f"the settings of {experiment.script}: {source}"), end="")
            return 0
        if args.shard and args.collect:
            raise FmiError("--shard and --collect go in separate runs: shards first, then --collect")
        threads.apply(config.threads, restart_argv)
        device.preflight(config.gpu)  # the driver's word on --gpu N, before MXNet loads (for VGG-19's runs)
        device.require_mxnet()
        from fmi.run import driver, session  # MXNet loads with them: only once the options are read and checked
        from fmi.run.folder.shards import parse_shard

        options = session.Options(resume=args.resume, overwrite=args.overwrite, collect=args.collect,
                                  shard=parse_shard(args.shard) if args.shard else None)
        driver.run(experiment, config, argv, time.perf_counter(), options)
        return 0

    return cli.run_guarded(action)


def tool_parser(prog: str, module: str) -> cli.ArgumentParser:
    """A parser whose description is the docstring of the tool module ``module`` (``fmi.tools.atlas``),
    read without running the module."""
    spec = importlib.util.find_spec(module)
    source = Path(spec.origin if spec and spec.origin else "").read_text(encoding="utf-8")
    description = ast.get_docstring(ast.parse(source)) or ""
    return cli.ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


def run_tool(action: Callable[[], int]) -> int:
    """Run a tool's ``action`` with fmi's logging: what a user can fix is one line and exit 2."""
    cli.setup_logging()
    return cli.run_guarded(action, resume_hint=False)


def reproduce(argv: Optional[list[str]] = None) -> int:
    as_script = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = tool_parser("reproduce.py", "fmi.tools.whole_paper")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="the quick configs (112 px, at most 150 steps)")
    speed.add_argument("--fast", action="store_true", help="the L-BFGS configs (the paper's size, fewer steps)")
    parser.add_argument("--control", action="store_true",
                        help="also run every figure with random weights, and measure each beside its control")
    parser.add_argument("--output", default="runs/paper", help="folder of the reproduction (default: %(default)s)")
    parser.add_argument("--weights", help="weights for every run (default: each config's)")
    parser.add_argument("--stand-ins", action="store_true",
                        help="bundled images in place of the paper's missing ones (offline runs)")
    parser.add_argument("--size", type=int, help="long edge of the content images, px (default: each config's)")
    parser.add_argument("--steps", type=int, help="step limit of every cell (default: each config's)")
    parser.add_argument("--overwrite", action="store_true", help="move runs made with other settings aside")
    parser.add_argument("--dry-run", action="store_true", help="say what would run and how long; run nothing")
    args = parser.parse_args(argv)
    cli.setup_logging()
    if as_script:  # a job scheduler's SIGTERM stops it like Ctrl-C
        signal.signal(signal.SIGTERM, cli.interrupt)

    def action() -> int:
        from fmi.tools import whole_paper  # after the options are read: --help stays instant

        whole_paper.reproduce(args, argv)
        return 0

    return cli.run_guarded(action, interrupted="interrupted: finished cells are saved; run the same command "
                                               "again to continue (it resumes what is finished)")
