"""What every fmi command shares: options, logging, and turning user errors into one clear line."""
import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from fmi import config as config_module
from fmi import threads
from fmi.errors import FmiError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def setup_logging(verbose=False):
    """Log fmi's progress to stderr; the root logger is left to the caller (and to pytest)."""
    logger = logging.getLogger("fmi")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def run_guarded(action):
    """Call ``action()``; an FmiError becomes one line on stderr and exit code 2."""
    try:
        return action()
    except FmiError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # disk full, permissions changed mid-run, ...
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}; outputs finished before this are intact, "
              f"rerun with --resume once fixed", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: finished cells are saved; rerun the same command with --resume "
              "to continue", file=sys.stderr)
        return EXIT_INTERRUPTED


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def comma_list(kind):
    """argparse type for 'a,b,c' lists of ``kind``."""
    def parse(text):
        try:
            return [kind(item.strip()) for item in text.split(",") if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, "
                                             f"got {text!r}") from None
    parse.__name__ = f"list of {kind.__name__}"
    return parse


def parser(description, default_config, figure_options):
    """An argument parser with the options every figure script takes.

    ``figure_options`` maps extra option names to (config key, argparse keywords).
    """
    result = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = result.add_argument
    add("--config", type=Path, default=CONFIG_DIR / default_config,
        help=f"YAML config file (default: configs/{default_config})")
    add("--image", dest="content", type=comma_list(str), metavar="IMAGES",
        help="content image(s), comma-separated: paper names (golden_gate), sample:grace_hopper, or paths")
    add("--size", dest="max_long_edge", type=int, metavar="PX", help="long edge of the content image in pixels")
    add("--steps", type=int, help="maximum steps (SGD) or iterations (L-BFGS) per cell")
    add("--seed", type=int, help="seed of the initial noise (the same for every cell)")
    add("--weights", help="auto, random, random:SEED, gluon, or a .params path")
    add("--output", metavar="DIR", help="output folder")
    add("--gpu", type=int, metavar="N", help="run on GPU N (needs a CUDA build of MXNet)")
    add("--batch-size", dest="batch_size", type=int, metavar="N", help="cells inverted together in one executor")
    add("--optimizer", choices=("sgd", "lbfgs"), help="the authors' SGD (default) or L-BFGS")
    add("--threads", type=int, metavar="N", help="CPU threads for MXNet (default: every usable core)")
    add("--max-memory", dest="max_memory_gib", type=float, metavar="GIB",
        help="refuse runs estimated to need more memory (default: 80%% of what is available)")
    add("--save-every", dest="save_every", type=int, metavar="STEPS",
        help="save snapshots of the images in flight every STEPS steps")
    for option, (key, keywords) in figure_options.items():
        add(option, dest=key, **keywords)
    add("--resume", action="store_true", help="skip cells already finished in the output folder")
    add("-v", "--verbose", action="store_true", help="log more")
    return result


OPTION_KEYS = ("content", "max_long_edge", "seed", "weights", "output", "gpu",
               "batch_size", "max_memory_gib", "save_every", "threads", "optimizer")


def overrides(args, extra_keys=()):
    """Config keys given on the command line; --steps limits whichever optimiser runs."""
    values = {key: getattr(args, key) for key in OPTION_KEYS + tuple(extra_keys)}
    values["sgd.max_steps"] = values["lbfgs.max_steps"] = args.steps
    return values


def main(argv, build_parser, config_class, extra_keys, experiment):
    """Parse ``argv``, load and check the config, run ``experiment(config, args, argv)``.

    With ``argv=None`` (run as a script) a ``threads`` setting other than the count MXNet
    started with restarts the script with that count.
    """
    restart_argv = sys.argv if argv is None else None
    if restart_argv is not None:  # a script: a job scheduler's SIGTERM stops it like Ctrl-C
        signal.signal(signal.SIGTERM, _interrupt)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)

    def action():
        config = config_module.load(config_class, args.config, overrides(args, extra_keys))
        threads.apply(config.threads, restart_argv)
        started = time.perf_counter()
        experiment(config, args, argv, started)
        return 0

    return run_guarded(action)
