"""The run folder: where a run's outputs live, and the rules that keep them trustworthy.

Layout::

    config.yaml                  the resolved config
    record.json                  how the run was made and every finished cell (``fmi.run.folder.record``)
    cells/<key>.png (.jpg)       each finished cell's image ...
    cells/<key>.json             ... and its own record, carrying the fingerprints
    fig*.png, loss.png           the figures
    shards/I-of-N/               the run folders of the shards of a split run

Rules:

- The caller opens the folder only after every input check has passed, so a run that
  fails on its inputs writes nothing.
- A folder that holds a run made with other settings is never modified: opening it is
  refused, naming the settings that differ and the ways out (``--output NEW``, or
  ``--overwrite``, which moves the old run aside and never deletes it).
- The same settings without ``--resume`` on a folder with finished cells are refused too.
- A cell counts as finished only if its record passes the schema, carries this run's
  settings and code fingerprints, and its image reads back at the planned size; every other
  cell is redone, with a log line. Old and collected records are read through
  ``fmi.run.folder.record``, so no unchecked value is copied into a new record.
- Nothing is read or written through a symbolic link that leads out of the folder.
"""
import datetime
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
import pydantic

from fmi.errors import FmiError
from fmi.io import atomic_path, changed, finite_json, timestamp, write_text, write_yaml
from fmi.run.folder.keys import parse_key
from fmi.run.folder.record import (
    CellRecord,
    RunRecord,
    build,
    cell_fingerprint,
    check_details,
    inside,
    load_cell,
    load_record,
    read_image,
)

log = logging.getLogger("fmi")
RECORD_INTERVAL_S = 30.0
MARKERS = ("record.json", "config.yaml", "cells")
WRITTEN = ("record.json", "config.yaml", "cells", "inputs", "snapshots", "shards", "atlas")  # what fmi writes there
REDO_LOG_LIMIT = 10


def differences(theirs: Optional[dict[str, Any]], ours: dict[str, Any]) -> list[str]:
    """'key: theirs there, ours here' for every setting that differs, sorted, config keys without their prefix."""
    return [f"{key.removeprefix('config.')}: {_short(there)} there, {_short(here)} here"
            for key, there, here in sorted(changed(theirs or {}, ours))]


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def inspect(path: Path) -> tuple[str, Any]:
    """What ``path`` holds: 'absent', 'empty', 'run' (with its checked record), 'unknown-run' (with why
    its record is not one: missing, or the entry the schema refused), 'shards' or 'foreign'."""
    path = Path(path)
    if not path.exists():
        return "absent", None
    if not path.is_dir():
        raise FmiError(f"output folder {path} is a file; choose a folder with --output")
    entries = [entry.name for entry in path.iterdir()]
    if not entries:
        return "empty", None
    why = "it has no record.json"
    if "record.json" in entries:
        try:
            return "run", load_record(inside(path, "record.json"))
        except FmiError as error:
            why = str(error)
    if any(name in MARKERS for name in entries):
        return "unknown-run", why
    if "shards" in entries:
        return "shards", None
    return "foreign", None


class RunFolder:
    """An opened run folder: its ``RunRecord``, the finished cells, and atomic writes into it.

    ``plan`` maps every cell key this run may write to its image's [height, width]; ``details`` is the
    experiment's model of what its cells add to their records.
    """

    def __init__(self, path: Path, record: RunRecord, details: type[pydantic.BaseModel],
                 cell_format: str = "png") -> None:
        self.path = Path(path)
        self.record = record
        self.details = details
        self.fingerprint = record.fingerprint
        self.code_fingerprint = record.code.fingerprint
        self.cell_fingerprint = cell_fingerprint(self.fingerprint, self.code_fingerprint)
        self.plan = record.plan
        self.suffix = {"png": ".png", "jpeg": ".jpg"}[cell_format]
        self.cells = record.cells
        self._record_saved = 0.0

    def start(self) -> None:
        """Create the folder and write the config and the record (the only writes before work starts)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            write_yaml(inside(self.path, "config.yaml"), self.record.config)
            self.save_record()
        except OSError as error:
            raise FmiError(f"output folder {self.path} is not writable ({error.strerror or error}); "
                           f"choose another with --output") from None

    # --- cells -----------------------------------------------------------------------------------

    def cell_path(self, folder: Path, key: str, suffix: str) -> Path:
        """Where cell ``key``'s file with ``suffix`` lies in ``folder`` (this run's, or a shard's)."""
        return inside(folder, "cells", *parse_key(key).file(suffix))

    def cell_image_path(self, key: str) -> Path:
        return self.cell_path(self.path, key, self.suffix)

    def is_done(self, key: str) -> bool:
        return key in self.cells

    def check_cell(self, folder: Path, key: str) -> tuple[Optional[CellRecord], Optional[str]]:
        """(the cell record, None) if ``folder`` holds a good cell ``key`` of this run, else (None, why not)."""
        cell, problem = load_cell(self.cell_path(folder, key, ".json"), key)
        if cell is None:
            return None, problem
        try:
            check_details(self.details, cell, self.cell_path(folder, key, ".json"))
        except FmiError:
            return None, "its record's details are not what this experiment records"
        if cell.fingerprint != self.cell_fingerprint:
            if cell.settings_fingerprint == self.fingerprint:
                return None, (f"it was computed by other numerics code (code fingerprint "
                              f"{cell.code_fingerprint[:12]} there, {self.code_fingerprint[:12]} here)")
            return None, "it was made with other settings"
        image_path = self.cell_path(folder, key, self.suffix)
        if cell.image != image_path.name:
            return None, f"its record names the image {cell.image}, not {image_path.name}"
        if not image_path.is_file():
            return None, f"its image {image_path.name} is missing"
        pixels = read_image(image_path)
        if pixels is None:
            return None, f"its image {image_path.name} does not read back"
        if list(pixels.shape[:2]) != list(self.plan[key]):
            return None, (f"its image is {pixels.shape[0]}x{pixels.shape[1]}, not "
                          f"{self.plan[key][0]}x{self.plan[key][1]}")
        return cell, None

    def find_finished(self, folder: Optional[Path] = None) -> dict[str, CellRecord]:
        """{key: cell record} of the planned cells that ``folder`` (default: this one) holds in good order."""
        folder = Path(folder or self.path)
        found, redone = {}, []
        for key in self.plan:
            if not self.cell_path(folder, key, ".json").exists() and \
                    not self.cell_path(folder, key, self.suffix).exists():
                continue
            cell, problem = self.check_cell(folder, key)
            if cell is not None:
                found[key] = cell
            else:
                redone.append((key, problem))
        for key, problem in redone[:REDO_LOG_LIMIT]:
            log.info("cell %s will be redone: %s", key, problem)
        if len(redone) > REDO_LOG_LIMIT:
            log.info("... and %d more cells will be redone", len(redone) - REDO_LOG_LIMIT)
        return found

    def save_cell(self, key: str, encoded_image: bytes, fields: dict[str, Any]) -> CellRecord:
        """Write a finished cell's image (already encoded) and record, then note it in the run record;
        its ``details`` are checked by the experiment's model first."""
        build(self.details, f"cell {key}", **finite_json(fields.get("details", {})))
        cell = build(CellRecord, f"cell {key}", **finite_json(fields), key=key,
                     image=self.cell_image_path(key).name, fingerprint=self.cell_fingerprint,
                     settings_fingerprint=self.fingerprint, code_fingerprint=self.code_fingerprint)
        self.write_cell(key, encoded_image, cell)
        if time.monotonic() - self._record_saved > RECORD_INTERVAL_S:
            self.save_record()
        return cell

    def write_cell(self, key: str, encoded_image: bytes, cell: CellRecord) -> None:
        with atomic_path(self.cell_image_path(key)) as temporary:
            temporary.write_bytes(encoded_image)
        write_text(self.cell_path(self.path, key, ".json"), cell.model_dump_json(indent=2) + "\n")
        self.cells[key] = cell

    def cell_image(self, key: str) -> Optional[npt.NDArray[np.uint8]]:
        """The saved RGB image of a finished cell, or None."""
        return read_image(self.cell_image_path(key)) if key in self.cells else None

    # --- the record ------------------------------------------------------------------------------

    def save_record(self, **extra: Any) -> None:
        for name, value in extra.items():
            setattr(self.record, name, value)
        write_text(inside(self.path, "record.json"), self.record.model_dump_json(indent=2) + "\n")
        self._record_saved = time.monotonic()

    def finish(self, **extra: Any) -> None:
        self.save_record(finished=timestamp(), **extra)


def open_run_folder(path: Path, record: RunRecord, details: type[pydantic.BaseModel], cell_format: str = "png",
                    resume: bool = False, overwrite: bool = False, shards_allowed: bool = False) -> RunFolder:
    """Open ``path`` for the run described by ``record`` (a ``RunRecord``), after deciding
    whether that is allowed; then write its config and record."""
    path = Path(path)
    for name in WRITTEN:  # a link out of the folder is refused before anything is written
        inside(path, name)
    kind, old = inspect(path)
    if kind == "foreign":
        raise FmiError(f"output folder {path} is not empty and holds no fmi run; choose a new or empty "
                       f"folder with --output")
    if kind == "shards" and not shards_allowed:
        raise FmiError(f"output folder {path} holds the shards of a split run; gather them with --collect, "
                       f"or choose another folder with --output")
    if kind == "unknown-run" and not overwrite:
        raise FmiError(f"output folder {path} holds an fmi run whose settings cannot be compared ({old}); "
                       f"choose another folder with --output NEW, or add --overwrite to move the old run aside "
                       f"(nothing is deleted)")
    if kind == "run" and old.fingerprint != record.fingerprint and not overwrite:
        changed = differences(old.settings, record.settings)
        shown = "; ".join(changed[:6]) + (f"; and {len(changed) - 6} more" if len(changed) > 6 else "")
        raise FmiError(f"output folder {path} holds a run made with other settings ({shown}); it is left "
                       f"as it is: choose another folder with --output NEW, or add --overwrite to move the "
                       f"old run aside (nothing is deleted)")
    folder = RunFolder(path, record, details, cell_format)
    if kind == "run" and not overwrite:
        finished = folder.find_finished()
        if finished and not resume:
            raise FmiError(f"output folder {path} already holds {len(finished)} finished cell(s) of this run; "
                           f"add --resume to continue it, or --overwrite to start again (the old run is moved "
                           f"aside, nothing is deleted)")
        folder.cells.update(finished)
        record.started = old.started
        record.resumed = old.resumed + [timestamp()] if resume else old.resumed
        if resume:
            log.info("resuming: %d finished cell(s) found in %s", len(finished), path)
    elif kind in ("run", "unknown-run") and overwrite:
        moved = move_aside(path)
        log.info("--overwrite: the old run in %s was moved to %s", path, moved)
    folder.start()
    return folder


def move_aside(path: Path) -> Path:
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
