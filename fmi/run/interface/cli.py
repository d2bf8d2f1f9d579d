"""What every fmi command shares: options, logging, and turning user errors into one clear line.

Every config key can be set on the command line: the usual ones by name (``--size``), any
other with ``--set KEY=VALUE`` (dotted for nested keys: ``--set sgd.learning_rate=0.05``).
Values are parsed and checked exactly like the YAML file's. Nothing here loads MXNet, so
``--help`` and argument errors answer at once.
"""
import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, Optional

import pydantic

from fmi.errors import FmiError
from fmi.run.interface import config as config_module
from fmi.run.interface import config_words

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
CONFIG_DIR = config_module.CONFIG_DIR


def setup_logging(verbose: bool = False) -> None:
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


def run_guarded(action: Callable[[], int], resume_hint: bool = True, interrupted: Optional[str] = None) -> int:
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


def interrupt(signum: int, frame: Optional[FrameType]) -> NoReturn:
    """A signal handler that stops the program as Ctrl-C does."""
    raise KeyboardInterrupt


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors that point to --help."""

    options: tuple["Option", ...] = ()

    def error(self, message: str) -> NoReturn:
        print(f"error: {message}; see '{self.prog} --help'", file=sys.stderr)
        sys.exit(EXIT_USAGE)


@dataclass(frozen=True)
class Option:
    """A named command-line option that sets config ``keys``; its help is the first key's description.

    ``kind``: "text" (a string), "number" (parsed like a YAML scalar), "texts" and
    "numbers" (comma-separated lists of those), or "flag" (sets true).
    """

    flag: str
    keys: tuple[str, ...]
    kind: str
    metavar: str


COMMON_OPTIONS = (
    Option("--image", ("content",), "texts", "IMAGES"),
    Option("--size", ("max_long_edge",), "number", "PX"),
    Option("--steps", ("sgd.max_steps", "lbfgs.max_steps"), "number", "N"),
    Option("--seed", ("seed",), "number", "N"),
    Option("--network", ("network.source",), "text", "SOURCE"),
    Option("--weights", ("weights",), "text", "SPEC"),
    Option("--fidelity", ("fidelity",), "text", "MODE"),
    Option("--optimizer", ("optimizer",), "text", "NAME"),
    Option("--pooling", ("pooling",), "text", "TYPE"),
    Option("--output", ("output",), "text", "DIR"),
    Option("--batch-size", ("batch_size",), "number", "N"),
    Option("--threads", ("threads",), "number", "N"),
    Option("--gpu", ("gpu",), "number", "N"),
    Option("--max-memory", ("max_memory_gib",), "number", "GIB"),
    Option("--save-every", ("save_every",), "number", "STEPS"),
    Option("--log-every", ("log_every",), "number", "STEPS"),
)


def _scalar(text: str, where: str) -> Any:
    value = config_module.parse_yaml(text, where)
    return text if isinstance(value, (dict, list)) else value


def _value(option: Option, text: Any) -> Any:
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


def help_of(model: type[pydantic.BaseModel], key: str, paper: Optional[pydantic.BaseModel] = None) -> str:
    """The description of the setting ``key`` (dotted for a nested one), and its value in ``paper`` (the
    figure's paper config) if it is one of the paper's settings: a named option's help."""
    name = key.split(".")[-1]
    top = model.model_fields[key.split(".")[0]]
    owner, _ = config_words.field_at(model, key.split("."))  # the model or nested block that holds it
    text = owner.model_fields[name].description or name
    if paper is not None and config_words.role_of(top) == "paper":
        value = config_module.to_dict(paper)
        for part in key.split("."):
            value = value[part]
        text += f" (paper: {config_words.shown(value)})"
    return text.replace("%", "%%")


def config_name(path: Path) -> str:
    """How help texts name a config file: configs/NAME for fmi's own, else its path."""
    return f"configs/{path.name}" if path.parent == CONFIG_DIR else str(path)


def parser(prog: str, description: str, default_config: Path, model: type[pydantic.BaseModel],
           script_options: Sequence[Option] = (), paper: Optional[pydantic.BaseModel] = None) -> "ArgumentParser":
    """An argument parser with the options every figure script takes, then ``script_options``; each
    named option's help is its setting's description in ``model`` (with the value in ``paper``)."""
    result = ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("--config", type=Path, default=default_config,
                        help=f"YAML config file (default: {config_name(default_config)})")
    options = COMMON_OPTIONS + tuple(script_options)
    for option in options:
        text = help_of(model, option.keys[0], paper)
        if option.kind == "flag":
            result.add_argument(option.flag, dest=option.flag, action="store_true", help=text)
        else:
            result.add_argument(option.flag, dest=option.flag, metavar=option.metavar, help=text)
    result.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="set any config key, dotted for nested ones (--set sgd.learning_rate=0.05); "
                             "the value is read as YAML; may be repeated (--print-config lists every key)")
    result.add_argument("--print-config", action="store_true",
                        help="print the settings this command would run with (after --config, the options and "
                             "--set) as YAML, each key with its description and bounds, and exit")
    result.add_argument("--resume", action="store_true",
                        help="continue the run in the output folder: keep its good cells, redo the rest")
    result.add_argument("--overwrite", action="store_true",
                        help="start again in an output folder that holds a run: the old run is moved "
                             "aside to <output>.replaced-<time>, nothing is deleted")
    result.add_argument("--shard", metavar="I/N", help="run only shard I of N (0-based), in <output>/shards/I-of-N")
    result.add_argument("--collect", action="store_true", help="gather the shards' cells and draw the figures")
    result.add_argument("-v", "--verbose", action="store_true", help="log more")
    result.options = options
    return result


def overrides(args: argparse.Namespace, options: Sequence[Option]) -> list[tuple[str, Any, str]]:
    """(config key, value, source) for every setting given on the command line: --set first,
    then the named options (which win)."""
    result = [(*config_module.parse_setting(text), f"--set {text.partition('=')[0].strip()}")
              for text in args.settings]
    for option in options:
        value = _value(option, getattr(args, option.flag))
        if value is not None:
            result += [(key, value, option.flag) for key in option.keys]
    return result
