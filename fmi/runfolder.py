"""The run folder: where a run's outputs live, and the rules that keep them trustworthy.

Layout::

    config.yaml                  the resolved config
    record.json                  how the run was made (settings and their fingerprint, weights,
                                 inputs, versions, the planned cells) and every finished cell
    cells/<key>.png (.jpg)       each finished cell's image ...
    cells/<key>.json             ... and its own record, carrying the fingerprint
    fig*.png, loss.png           the figures

Rules:

- The caller opens the folder only after every input check has passed, so a run that
  fails on its inputs writes nothing.
- A folder that holds a run made with other settings is never modified: opening it is
  refused, naming the settings that differ and the ways out (``--output NEW``, or
  ``--overwrite``, which moves the old run aside and never deletes it).
- The same settings without ``--resume`` on a folder with finished cells are refused too.
- A cell counts as finished only if its record carries this run's fingerprint and its
  image reads back at the planned size; every other cell is redone, with a log line.

The run's fingerprint is the SHA-1 of the settings that decide a cell's result: the resolved
config without run-only keys (output folder, threads, GPU, memory limit, logging, paths), the
weights' SHA-1 (or random seed) and each input image's SHA-1. A folder whose run has another
fingerprint is never written into. Each cell also carries the fingerprint of the code that
computed it: the SHA-1 of every module that builds the network, the targets, the losses, the
optimiser and the post-processing, read when the run starts, so any change to them makes
``--resume`` and ``--collect`` redo the cells made before it, with a log line, without anyone
remembering to bump a version.
"""
import datetime
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path

import cv2
import numpy as np

from fmi.errors import FmiError
from fmi.io import atomic_path, read_json, write_json, write_yaml

log = logging.getLogger("fmi")
RECORD_INTERVAL_S = 30.0
RECORD_FORMAT = 3
RUN_ONLY_KEYS = ("output", "threads", "gpu", "max_memory_gib", "save_every", "log_every", "stuck_fraction",
                 "data_dir", "model_dir", "fallbacks", "weights")
MARKERS = ("record.json", "config.yaml", "cells")
SHARD_NAME = re.compile(r"([0-9]+)-of-([0-9]+)")
REDO_LOG_LIMIT = 10


# the modules whose code decides a cell's numbers (network, weights, images, targets, losses,
# optimisers and their settings, fidelity modes, the experiments that assemble them)
NUMERICS_MODULES = ("vgg19.py", "weights.py", "image.py", "codes.py", "losses.py", "invert.py", "fidelity.py",
                    "config.py", "experiment.py", "figure3.py", "figure4.py", "figure5.py")


def settings_of(config_dict, weights_identity, input_hashes):
    """The settings that decide a cell's result, as plain data."""
    config = {key: value for key, value in config_dict.items() if key not in RUN_ONLY_KEYS}
    return {"config": config, "weights": weights_identity, "inputs": input_hashes}


def fingerprint_of(settings):
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()


def code_identity(package=None):
    """{"modules": {file: SHA-1 of its bytes}, "fingerprint": SHA-1 of them all} of the numerics
    modules as they are on disk now."""
    package = Path(package or Path(__file__).resolve().parent)
    modules = {name: hashlib.sha1((package / name).read_bytes()).hexdigest() for name in NUMERICS_MODULES}
    return {"modules": modules, "fingerprint": fingerprint_of(modules)}


def cell_fingerprint(settings_fingerprint, code_fingerprint):
    """What a cell carries: its run's settings and the code that computed it, in one SHA-1."""
    return fingerprint_of({"settings": settings_fingerprint, "code": code_fingerprint})


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: value}


def differences(theirs, ours):
    """'key: theirs -> ours' for every setting that differs, config keys without their prefix."""
    old, new = _flatten(theirs or {}), _flatten(ours)
    lines = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) != new.get(key):
            shown = key.removeprefix("config.")
            lines.append(f"{shown}: {_short(old.get(key))} there, {_short(new.get(key))} here")
    return lines


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def inspect(path):
    """What ``path`` holds: 'absent', 'empty', 'run' (with its record), 'unknown-run', 'shards' or 'foreign'."""
    path = Path(path)
    if not path.exists():
        return "absent", None
    if not path.is_dir():
        raise FmiError(f"output folder {path} is a file; choose a folder with --output")
    entries = [entry.name for entry in path.iterdir()]
    if not entries:
        return "empty", None
    record = read_json(path / "record.json")
    if isinstance(record, dict) and record.get("record_format") == RECORD_FORMAT and "fingerprint" in record:
        return "run", record
    if any(name in MARKERS for name in entries):
        return "unknown-run", record
    if "shards" in entries:
        return "shards", None
    return "foreign", None


class RunFolder:
    """An opened run folder: the record, the finished cells, and atomic writes into it.

    ``plan`` maps every cell key this run may write to its image's (height, width).
    """

    def __init__(self, path, record, plan, cell_format="png"):
        self.path = Path(path)
        self.record = record
        self.fingerprint = record["fingerprint"]
        self.code_fingerprint = record["code"]["fingerprint"]
        self.cell_fingerprint = cell_fingerprint(self.fingerprint, self.code_fingerprint)
        self.plan = plan
        self.suffix = {"png": ".png", "jpeg": ".jpg"}[cell_format]
        self.cells = record.setdefault("cells", {})
        self._record_saved = 0.0

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path, record, plan, cell_format="png", resume=False, overwrite=False, shards_allowed=False):
        """Open ``path`` for the run described by ``record`` (which holds ``fingerprint`` and
        ``settings``), after deciding whether that is allowed; then write its config and record."""
        path = Path(path)
        kind, old = inspect(path)
        if kind == "foreign":
            raise FmiError(f"output folder {path} is not empty and holds no fmi run; choose a new or empty "
                           f"folder with --output")
        if kind == "shards" and not shards_allowed:
            raise FmiError(f"output folder {path} holds the shards of a split run; gather them with --collect, "
                           f"or choose another folder with --output")
        if kind == "unknown-run" and not overwrite:
            raise FmiError(f"output folder {path} holds an fmi run without a readable record of this fmi version, "
                           f"so its settings cannot be compared; choose another folder with --output NEW, or add "
                           f"--overwrite to move the old run aside (nothing is deleted)")
        if kind == "run" and old["fingerprint"] != record["fingerprint"] and not overwrite:
            changed = differences(old.get("settings"), record["settings"])
            shown = "; ".join(changed[:6]) + (f"; and {len(changed) - 6} more" if len(changed) > 6 else "")
            raise FmiError(f"output folder {path} holds a run made with other settings ({shown}); it is left "
                           f"as it is: choose another folder with --output NEW, or add --overwrite to move the "
                           f"old run aside (nothing is deleted)")
        folder = cls(path, record, plan, cell_format)
        if kind == "run" and not overwrite:
            finished = folder.find_finished()
            if finished and not resume:
                raise FmiError(f"output folder {path} already holds {len(finished)} finished cell(s) of this run; "
                               f"add --resume to continue it, or --overwrite to start again (the old run is moved "
                               f"aside, nothing is deleted)")
            folder.cells.update(finished)
            record["started"] = old.get("started", record.get("started"))
            record["resumed"] = old.get("resumed", []) + [_now()] if resume else old.get("resumed", [])
            if resume:
                log.info("resuming: %d finished cell(s) found in %s", len(finished), path)
        elif kind in ("run", "unknown-run") and overwrite:
            moved = move_aside(path)
            log.info("--overwrite: the old run in %s was moved to %s", path, moved)
        folder.start()
        return folder

    def start(self):
        """Create the folder and write the config and the record (the only writes before work starts)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            write_yaml(self.path / "config.yaml", self.record["config"])
            self.save_record()
        except OSError as error:
            raise FmiError(f"output folder {self.path} is not writable ({error.strerror or error}); "
                           f"choose another with --output") from None

    # --- cells -----------------------------------------------------------------------------------

    def cell_image_path(self, key):
        return self.path / "cells" / f"{key}{self.suffix}"

    def cell_record_path(self, key):
        return self.path / "cells" / f"{key}.json"

    def is_done(self, key):
        return key in self.cells

    def check_cell(self, folder, key):
        """None if ``folder`` holds a good cell ``key`` of this run, else why not."""
        cell = read_json(Path(folder) / "cells" / f"{key}.json")
        if cell is None:
            return "its record is missing or unreadable"
        if not isinstance(cell, dict) or not isinstance(cell.get("steps"), int) \
                or not isinstance(cell.get("loss_history"), list) or not isinstance(cell.get("stop_reason"), str):
            return "its record is damaged"
        if cell.get("fingerprint") != self.cell_fingerprint:
            if cell.get("settings_fingerprint") == self.fingerprint:
                return (f"it was computed by other numerics code (code fingerprint "
                        f"{str(cell.get('code_fingerprint'))[:12]} there, {self.code_fingerprint[:12]} here)")
            return "it was made with other settings"
        image_path = Path(folder) / "cells" / f"{key}{self.suffix}"
        if not image_path.is_file():
            return f"its image {image_path.name} is missing"
        pixels = cv2.imdecode(np.fromfile(image_path, dtype=np.uint8), cv2.IMREAD_COLOR)
        if pixels is None:
            return f"its image {image_path.name} does not read back"
        if list(pixels.shape[:2]) != list(self.plan[key]):
            return f"its image is {pixels.shape[0]}x{pixels.shape[1]}, not {self.plan[key][0]}x{self.plan[key][1]}"
        return None

    def find_finished(self, folder=None):
        """{key: cell record} of the planned cells that ``folder`` (default: this one) holds in good order."""
        folder = Path(folder or self.path)
        found, redone = {}, []
        for key in self.plan:
            if not (folder / "cells" / f"{key}.json").exists() and \
                    not (folder / "cells" / f"{key}{self.suffix}").exists():
                continue
            problem = self.check_cell(folder, key)
            if problem is None:
                found[key] = read_json(folder / "cells" / f"{key}.json")
            else:
                redone.append((key, problem))
        for key, problem in redone[:REDO_LOG_LIMIT]:
            log.info("cell %s will be redone: %s", key, problem)
        if len(redone) > REDO_LOG_LIMIT:
            log.info("... and %d more cells will be redone", len(redone) - REDO_LOG_LIMIT)
        return found

    def save_cell(self, key, encoded_image, cell):
        """Write a finished cell's image (already encoded) and record, then note it in the run record."""
        cell = {**cell, "image": self.cell_image_path(key).name, "fingerprint": self.cell_fingerprint,
                "settings_fingerprint": self.fingerprint, "code_fingerprint": self.code_fingerprint}
        with atomic_path(self.cell_image_path(key)) as temporary:
            temporary.write_bytes(encoded_image)
        write_json(self.cell_record_path(key), cell)
        self.cells[key] = cell
        if time.monotonic() - self._record_saved > RECORD_INTERVAL_S:
            self.save_record()
        return cell

    def cell_image(self, key):
        """The saved RGB image of a finished cell, or None."""
        if key not in self.cells:
            return None
        pixels = cv2.imdecode(np.fromfile(self.cell_image_path(key), dtype=np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)

    # --- the record ------------------------------------------------------------------------------

    def save_record(self, **extra):
        self.record.update(extra)
        write_json(self.path / "record.json", self.record)
        self._record_saved = time.monotonic()

    def finish(self, **extra):
        self.save_record(finished=_now(), **extra)

    # --- shards ----------------------------------------------------------------------------------

    def shard_folders(self):
        """{(index, count): folder} of the well-formed shard folders under ``shards/``; others are
        named in a warning and ignored."""
        root = self.path / "shards"
        folders = {}
        for entry in sorted(root.iterdir()) if root.is_dir() else []:
            match = SHARD_NAME.fullmatch(entry.name)
            if not entry.is_dir() or not match or int(match.group(1)) >= int(match.group(2)):
                log.warning("ignoring %s: not a shard folder (shard folders are named I-of-N, 0 <= I < N)", entry)
                continue
            folders[(int(match.group(1)), int(match.group(2)))] = entry
        return folders

    def collect(self):
        """Copy every shard's good cells of this run here; return the planned keys still missing."""
        root = self.path / "shards"
        folders = self.shard_folders()
        if not folders:
            raise FmiError(f"nothing to collect: no shard folders in {root}; run with --shard I/N first")
        counts = sorted({count for _, count in folders})
        if len(counts) != 1:
            raise FmiError(f"{root} holds shards of different splits ({', '.join(f'of {n}' for n in counts)}); "
                           f"keep the folders of one split only")
        count = counts[0]
        missing = sorted(set(range(count)) - {index for index, _ in folders})
        if missing:
            raise FmiError(f"shards {', '.join(map(str, missing))} of {count} have no output in {root}; "
                           f"run them first (--shard I/{count})")
        for (index, _), folder in sorted(folders.items()):
            record = read_json(folder / "record.json")
            if not isinstance(record, dict) or "fingerprint" not in record:
                raise FmiError(f"shard {folder.name}: {folder / 'record.json'} is missing or unreadable; "
                               f"rerun that shard (--shard {index}/{count})")
            if record["fingerprint"] != self.fingerprint:
                changed = differences(record.get("settings"), self.record["settings"])
                raise FmiError(f"shard {folder.name}: {folder / 'record.json'} was made with other settings "
                               f"({'; '.join(changed[:6])}); rerun it with this config, or collect with its own")
            for key, cell in self.find_finished(folder).items():
                if key in self.cells:
                    continue
                source = folder / "cells" / f"{key}{self.suffix}"
                with atomic_path(self.cell_image_path(key)) as temporary:
                    temporary.write_bytes(source.read_bytes())
                write_json(self.cell_record_path(key), cell)
                self.cells[key] = cell
        self.save_record(collected_from=[folder.name for _, folder in sorted(folders.items())])
        log.info("collected %d cells from %d shards in %s", len(self.cells), count, root)
        return [key for key in self.plan if key not in self.cells], count


# A finished cell's state, the first that applies in this order; '' when it stopped by the authors'
# rule. Figures, titles, the log, the record and the atlas all read it from ``cell_status``.
CELL_STATES = {
    "non-finite": "its loss or image stopped being finite; it keeps its last finite image",
    "silent": "the filter responds nowhere on the cell's final image",
    "stuck": "its loss fell by less than stuck_fraction (1 % by default) of its first value",
    "step limit": "it ran to the step limit before the stop rule held",
}


def cell_status(cell, stuck_fraction):
    """The state of a finished cell: one of ``CELL_STATES``, or '' for a cell that stopped by the rule."""
    if not cell:
        return ""
    if str(cell.get("stop_reason", "")).startswith("non-finite"):
        return "non-finite"
    if cell.get("silent"):
        return "silent"
    first, last = cell.get("initial_loss"), cell.get("final_loss")
    if first is not None and last is not None and first > 0 and (first - last) < stuck_fraction * first:
        return "stuck"
    if cell.get("stop_reason") == "max_steps":
        return "step limit"
    return ""


def status_counts(cells, keys, stuck_fraction):
    """{state: [keys]} of the finished cells among ``keys`` that are in a state other than ''."""
    found = {}
    for key in keys:
        state = cell_status(cells.get(key), stuck_fraction)
        if state:
            found.setdefault(state, []).append(key)
    return found


def cell_image_path(folder, key, cell):
    """Where a finished cell's image lies in the run folder ``folder``: its record names the file
    (``filter_0.png``, or ``.jpg`` in the authors' fidelity mode)."""
    parent, _, item = key.rpartition("/")
    return Path(folder) / "cells" / parent / cell.get("image", f"{item}.png")


def move_aside(path):
    """Rename the run folder ``path`` to ``<name>.replaced-<time>`` beside it; return the new path."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in (Path.home().resolve(), Path(resolved.anchor)) or Path.cwd().resolve().is_relative_to(resolved):
        raise FmiError(f"--overwrite would move {path} aside, but it is the current folder, a folder above it, "
                       f"or your home folder; choose another --output")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target, number = path.with_name(f"{path.name}.replaced-{stamp}"), 2
    while target.exists():
        target, number = path.with_name(f"{path.name}.replaced-{stamp}-{number}"), number + 1
    os.rename(path, target)
    return target


def _now():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")
