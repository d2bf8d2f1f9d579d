"""The command lines behind the figure scripts (``run_fmi.py``, ...), ``python -m fmi.atlas``,
``fmi.compare``, ``fmi.analyze``, ``fmi.data``, ``fmi.weights``, ``fmi.parity`` and ``reproduce.py``:
options, help, and one-line errors.

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
from fmi.files import published
from fmi.run.experiment import AnyExperiment
from fmi.run.interface import cli
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
            print(config_module.commented_yaml(config, f"the settings of {experiment.script}: {source}"), end="")
            return 0
        if args.shard and args.collect:
            raise FmiError("--shard and --collect go in separate runs: shards first, then --collect")
        threads.apply(config.threads, restart_argv)
        device.require_mxnet()
        from fmi.run import driver, session  # MXNet loads with them: only once the options are read and checked
        from fmi.run.folder.shards import parse_shard

        options = session.Options(resume=args.resume, overwrite=args.overwrite, collect=args.collect,
                                  shard=parse_shard(args.shard) if args.shard else None)
        driver.run(experiment, config, argv, time.perf_counter(), options)
        return 0

    return cli.run_guarded(action)


def _parser(prog: str, module: str) -> cli.ArgumentParser:
    """A parser whose description is the docstring of the tool module ``module`` (``fmi.tools.atlas``),
    read without running the module."""
    spec = importlib.util.find_spec(module)
    source = Path(spec.origin if spec and spec.origin else "").read_text(encoding="utf-8")
    description = ast.get_docstring(ast.parse(source)) or ""
    return cli.ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


def _run(action: Callable[[], int]) -> int:
    cli.setup_logging()
    return cli.run_guarded(action, resume_hint=False)


def atlas(argv: Optional[list[str]] = None) -> int:
    parser = _parser("python -m fmi.atlas", "fmi.tools.atlas")
    parser.add_argument("run_dir", type=Path, help="output folder of a run (finished or not)")
    parser.add_argument("--control", type=Path, metavar="RUN_DIR_RANDOM_WEIGHTS",
                        help="the same run made with random weights, shown beside each cell")
    parser.add_argument("--open", action="store_true", help="open the overview in a web browser")
    args = parser.parse_args(argv)

    def action() -> int:
        import webbrowser  # after the options are read: --help stays instant

        from fmi.tools import atlas as tool  # after the options are read: --help stays instant

        index, done = tool.build(args.run_dir, args.control)
        print(f"wrote {index} ({done['thumbnails_made']} new thumbnails for {done['cells']} cells, "
              f"{done['files_written']} files changed); open it in a browser")
        if args.open:
            webbrowser.open(index.resolve().as_uri())
        return 0

    return _run(action)


def compare(argv: Optional[list[str]] = None) -> int:
    parser = _parser("python -m fmi.compare", "fmi.tools.compare")
    parser.add_argument("run_dir", type=Path, help="output folder of a run")
    parser.add_argument("reference", type=Path,
                        help="the authors' figure, e.g. data/authors/feature_map_golden_gate.png")
    parser.add_argument("--name", help="name of the side-by-side figure, compare_<name>.png "
                                       "(default: the reference's)")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.tools import compare as tool  # after the options are read: --help stays instant

        _, picture, report = tool.compare(args.run_dir, args.reference, args.name)
        print(report, end="")
        print(f"wrote {picture} and {args.run_dir / 'compare.md'}")
        return 0

    return _run(action)


def analyze(argv: Optional[list[str]] = None) -> int:
    parser = _parser("python -m fmi.analyze", "fmi.tools.analyze")
    parser.add_argument("run_dir", type=Path, help="output folder of a finished run")
    parser.add_argument("--control", type=Path, metavar="RUN_DIR_RANDOM_WEIGHTS",
                        help="the same run made with random weights, measured alongside")
    parser.add_argument("--partial", action="store_true",
                        help="measure the finished cells of a run that is not finished")
    parser.add_argument("--weights", default="auto", metavar="FILE",
                        help="the weights file a Fig. 5 run was made with, for its style similarity (default: "
                             "model/vgg19.params; random weights need none); checked against the record")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.tools import analyze as tool  # after the options are read: --help stays instant

        for line in tool.analyze_and_write(args.run_dir, args.control, args.partial, args.weights):
            print(line)
        return 0

    return _run(action)


def data(argv: Optional[list[str]] = None) -> int:
    parser = _parser("python -m fmi.data", "fmi.files.downloads")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    fetch = commands.add_parser("download", help="fetch the paper's six images and the authors' three figures")
    fetch.add_argument("--what", choices=("all", "images", "figures"), default="all",
                       help="images (data/paper/), figures (data/authors/) or all (default)")
    fetch.add_argument("--dest", type=Path, help="folder (default: data/paper for images, data/authors for figures)")
    fetch.add_argument("--from", dest="source_dir", type=Path, metavar="DIR",
                       help="copy from this folder instead of downloading (the files, or a clone of the "
                            "authors' repository)")
    fetch.add_argument("--url", default=published.AUTHORS_BASE_URL,
                       help=f"base URL of the authors' repository (default: at commit {published.AUTHORS_COMMIT[:7]})")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.files import downloads  # after the options are read: --help stays instant

        downloads.download_data(args.dest, args.url, args.source_dir, what=args.what)
        return 0

    return _run(action)


def weights(argv: Optional[list[str]] = None) -> int:
    default_file = Path("model") / published.WEIGHTS.local
    parser = _parser("python -m fmi.weights", "fmi.files.weight_files")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    fetch = commands.add_parser("download", help="download the authors' vgg19.params and check it")
    fetch.add_argument("--dest", type=Path, default=default_file, help="where to save it (default: %(default)s)")
    fetch.add_argument("--url", default=published.WEIGHTS_URL, help="where to fetch it from")
    inspect = commands.add_parser("check", help="check a weights file's keys, shapes and values, and whose it is")
    inspect.add_argument("spec", nargs="?", default=str(default_file),
                         help="auto, random, random:SEED, gluon, or a .params file (default: %(default)s)")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.files import downloads, weight_files  # after the options are read: --help stays instant

        if args.command == "download":
            downloads.download_weights(args.dest, args.url)
        else:
            loaded = weight_files.load(args.spec)
            print(f"{weight_files.describe(loaded) if loaded.blob else loaded.label}: "
                  f"every key, shape and value checked")
        return 0

    return _run(action)


def parity(argv: Optional[list[str]] = None) -> int:
    from fmi.tools.parity import CASES, DEFAULT_LAYERS  # numpy only: --help stays instant

    parser = _parser("python -m fmi.parity", "fmi.tools.parity")
    parser.add_argument("--authors", required=True, metavar="DIR",
                        help="a clone or unpacked copy of the authors' repository, at commit "
                             f"{published.AUTHORS_COMMIT[:7]}")
    parser.add_argument("--cases", default=",".join(CASES),
                        help="which cases, comma-separated (default: %(default)s)")
    parser.add_argument("--layer", help="the layer of the fmi, random and purposeful cases (default: "
                        + ", ".join(f"{name} {layer}" for name, layer in DEFAULT_LAYERS.items()) + ")")
    parser.add_argument("--filter", type=int, default=2, help="the filter of the fmi case (default: %(default)s)")
    parser.add_argument("--draw-seed", type=int, default=1, help="the random case's draw (default: %(default)s)")
    parser.add_argument("--image", default="golden_gate",
                        help="content image: a paper name (from the authors' input/) or a path (default: %(default)s)")
    parser.add_argument("--style", default="the_scream", help="style image, the same way (default: %(default)s)")
    parser.add_argument("--size", type=int, default=64,
                        help="long edge of the content image, px (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=1000, help="step limit (default: %(default)s, theirs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the start image (default: %(default)s)")
    parser.add_argument("--weights", default="random:0",
                        help="random:SEED or a .params file in the authors' format, e.g. model/vgg19.params "
                             "(default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=threads.usable_cores(),
                        help="runs at a time, one thread each (default: the usable cores, %(default)s)")
    parser.add_argument("--output", default="runs/parity", help="report folder (default: %(default)s)")
    parser.add_argument("--any-commit", action="store_true",
                        help="compare with the scripts in DIR even if they are not the authors' at their commit")
    args = parser.parse_args(argv)

    def action() -> int:
        from fmi.tools import parity as tool  # after the options are read: --help stays instant

        return tool.parity(args)

    return _run(action)


def reproduce(argv: Optional[list[str]] = None) -> int:
    as_script = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser("reproduce.py", "fmi.tools.whole_paper")
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
