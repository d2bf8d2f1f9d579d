"""What every fmi command shares: options, logging, and turning user errors into one clear line.

Every config key can be set on the command line: the usual ones by name (``--size``), any
other with ``--set KEY=VALUE`` (dotted for nested keys: ``--set sgd.learning_rate=0.05``).
Values are parsed and checked exactly like the YAML file's. Nothing here loads MXNet, so
``--help`` and argument errors answer at once.
"""
import argparse
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fmi.errors import FmiError
from fmi.run.interface import config as config_module
from fmi.run.machine import device, threads

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
CONFIG_DIR = config_module.CONFIG_DIR


def setup_logging(verbose=False):
    """Log fmi's progress to stderr; the root logger is left to the caller (and to pytest)."""
    logger = logging.getLogger("fmi")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


RESUME = "interrupted: finished cells are saved; rerun the same command with --resume to continue"
NOTHING_LEFT = "interrupted; nothing half-written was left behind"


def run_guarded(action, resume_hint=True, interrupted=None):
    """Call ``action()``; an FmiError becomes one line on stderr and exit code 2.

    After Ctrl-C it says ``interrupted`` if given, else how to continue: with ``--resume``
    (``resume_hint``, for the commands that have it) or that nothing half-written is left.
    """
    try:
        return action()
    except FmiError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # permissions changed, a file vanished, ... while reading or writing
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(interrupted or (RESUME if resume_hint else NOTHING_LEFT), file=sys.stderr)
        return EXIT_INTERRUPTED


def interrupt(signum, frame):
    """A signal handler that stops the program as Ctrl-C does."""
    raise KeyboardInterrupt


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors that point to --help."""

    def error(self, message):
        print(f"error: {message}; see '{self.prog} --help'", file=sys.stderr)
        sys.exit(EXIT_USAGE)


@dataclass(frozen=True)
class Option:
    """A named command-line option that sets config ``keys``.

    ``kind``: "text" (a string), "number" (parsed like a YAML scalar), "texts" and
    "numbers" (comma-separated lists of those), or "flag" (sets true).
    """

    flag: str
    keys: tuple
    kind: str
    metavar: str
    help: str


COMMON_OPTIONS = (
    Option("--image", ("content",), "texts", "IMAGES",
           "content image(s), comma-separated: paper names (golden_gate), sample:grace_hopper, or paths"),
    Option("--size", ("max_long_edge",), "number", "PX", "long edge of the content image in pixels (paper: 512)"),
    Option("--steps", ("sgd.max_steps", "lbfgs.max_steps"), "number", "N",
           "step limit per cell, SGD steps or L-BFGS iterations (paper: 1000)"),
    Option("--seed", ("seed",), "number", "N", "seed of the start image, the same for every cell"),
    Option("--weights", ("weights",), "text", "SPEC", "auto, random, random:SEED, gluon, or a .params path"),
    Option("--fidelity", ("fidelity",), "text", "MODE",
           "paper (default) or authors: image handling as the authors' code does it (docs/differences.md)"),
    Option("--optimizer", ("optimizer",), "text", "NAME", "sgd (the authors', default) or lbfgs"),
    Option("--pooling", ("pooling",), "text", "TYPE", "avg (the authors', default) or max"),
    Option("--output", ("output",), "text", "DIR", "output folder"),
    Option("--batch-size", ("batch_size",), "number", "N", "cells inverted together in one executor"),
    Option("--threads", ("threads",), "number", "N", "CPU threads for MXNet (default: every usable core)"),
    Option("--gpu", ("gpu",), "number", "N", "run on GPU N (needs a CUDA build of MXNet)"),
    Option("--max-memory", ("max_memory_gib",), "number", "GIB",
           "refuse runs estimated to need more memory (default: 80%% of what is available)"),
    Option("--save-every", ("save_every",), "number", "STEPS", "save snapshots of the images in flight every STEPS"),
    Option("--log-every", ("log_every",), "number", "STEPS", "log the losses and progress every STEPS steps"),
)


def _scalar(text, where):
    value = config_module.parse_yaml(text, where)
    return text if isinstance(value, (dict, list)) else value


def _value(option, text):
    if option.kind == "flag":
        return True if text else None
    if text is None:
        return None
    if option.kind == "text":
        return text
    if option.kind == "number":
        return _scalar(text, option.flag)
    items = [item.strip() for item in text.split(",") if item.strip()]
    return items if option.kind == "texts" else [_scalar(item, option.flag) for item in items]


def parser(prog, description, default_config, script_options=(), run_options=True):
    """An argument parser with the options every figure script takes, then ``script_options``."""
    result = ArgumentParser(prog=prog, description=description,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("--config", type=Path, default=CONFIG_DIR / default_config,
                        help=f"YAML config file (default: configs/{default_config})")
    for option in COMMON_OPTIONS + tuple(script_options):
        if option.kind == "flag":
            result.add_argument(option.flag, dest=option.flag, action="store_true", help=option.help)
        else:
            result.add_argument(option.flag, dest=option.flag, metavar=option.metavar, help=option.help)
    result.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="set any config key, dotted for nested ones (--set sgd.learning_rate=0.05); "
                             "the value is read as YAML; may be repeated")
    if run_options:
        result.add_argument("--resume", action="store_true",
                            help="continue the run in the output folder: keep its good cells, redo the rest")
        result.add_argument("--overwrite", action="store_true",
                            help="start again in an output folder that holds a run: the old run is moved "
                                 "aside to <output>.replaced-<time>, nothing is deleted")
    result.add_argument("-v", "--verbose", action="store_true", help="log more")
    result.options = COMMON_OPTIONS + tuple(script_options)
    return result


def overrides(args, options):
    """(config key, value, source) for every setting given on the command line: --set first,
    then the named options (which win)."""
    result = [(*config_module.parse_setting(text), f"--set {text.partition('=')[0].strip()}")
              for text in args.settings]
    for option in options:
        value = _value(option, getattr(args, option.flag))
        if value is not None:
            result += [(key, value, option.flag) for key in option.keys]
    return result


def main(argv, build_parser, load_config, experiment):
    """Parse ``argv``, load and check the config, run ``experiment(config, args, argv, started)``.

    ``load_config(path, overrides)`` builds the script's config. With ``argv=None`` (run
    as a script) a ``threads`` setting other than the count MXNet started with restarts
    the script with that count.
    """
    restart_argv = sys.argv if argv is None else None
    if restart_argv is not None:  # a script: a job scheduler's SIGTERM stops it like Ctrl-C
        signal.signal(signal.SIGTERM, interrupt)
    argv = list(sys.argv[1:] if argv is None else argv)
    built = build_parser()
    args = built.parse_args(argv)
    setup_logging(args.verbose)

    def action():

        if threads.override_problem():
            raise FmiError(threads.override_problem())
        config = load_config(args.config.expanduser(), overrides(args, built.options))
        threads.apply(config.threads, restart_argv)
        device.require_mxnet()
        started = time.perf_counter()
        experiment(config, args, argv, started)
        return 0

    return run_guarded(action)
