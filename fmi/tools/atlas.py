"""The filter atlas: a static web site of a run, built for sweeps of all 5504 filters.

    python -m fmi.atlas RUN_DIR [--control RUN_DIR_RANDOM_WEIGHTS] [--open]

writes ``RUN_DIR/atlas/``, which opens from the file system (``atlas/index.html``) or from
any static web server; every script and style sheet is in the folder, nothing is fetched
from the network. Pages:

- ``index.html``, the overview: the run's figures, how it was made, and one entry per page
  below with a strip of sample thumbnails;
- one page per grid the run's experiment shows: a sheet of every filter of a layer (Feature Map
  Inversion: 96 px thumbnails loaded lazily, silent and stuck cells marked, a box to jump to a
  filter, sorting by a measure of ``fmi.analyze`` once the run is analysed), or a table laid
  out as the figure is (``fig4_<content>.html``, ``fig5_<...>.html``);
- ``cell.html#<cell key>``: one cell, its full image, its loss curve, its steps, stop reason,
  wall time and what its figure records of it, with links to the same cell of the run's other
  content images and, with ``--control``, the control run's cell beside it.

The run folder is read through ``fmi.run.folder.record`` (checked names, no path out of the folder),
the pages are made from templates that escape every value, and each page's
Content-Security-Policy allows only the atlas's own scripts, styles and images: a crafted
record can neither write outside the run folder nor run script in the pages. The build is
incremental: thumbnails (``atlas/thumbs/``) are made only for cells whose image is newer than
its thumbnail, and files are rewritten only when they change.
"""
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import cv2

from fmi import experiments
from fmi.errors import FmiError
from fmi.io import ensure_writable_dir, read_bytes, write_bytes
from fmi.run.experiment import Grid
from fmi.run.folder.keys import parse_key
from fmi.run.folder.record import RunView, inside, read_image
from fmi.run.measures import IMAGE_MEASURES
from fmi.tools import pages

THUMB_HEIGHT = 72
THUMB_WIDTH = 96
STRIP = 8  # sample thumbnails per page on the overview
LOSS_POINTS = 400  # a loss curve is drawn from at most this many points
MEASURES = tuple(IMAGE_MEASURES)  # what fmi.analyze measures of each cell, to sort a sheet by
MAX_ANALYSIS_BYTES = 256 << 20


@dataclass
class Thumb:
    """What a page shows of one cell: its key, its label, whether it is finished, its state, its measures."""

    key: str
    label: str
    finished: bool
    mark: str = ""
    measures: dict[str, str] = field(default_factory=dict)


class Atlas:
    """The atlas of one run: its view, its experiment, and the pages each cell belongs to."""

    def __init__(self, run_dir: Path, control_dir: Optional[Path] = None) -> None:
        self.experiment, self.run, self.config = experiments.view(run_dir)
        self.control = RunView(control_dir) if control_dir else None
        if self.control is not None and self.control.script != self.run.script:
            raise FmiError(f"--control {self.control.folder} was made by {self.control.script}, this run by "
                           f"{self.run.script}; the control must be the same kind of run")
        self.measures = _measures(self.run)
        self.page_of: dict[str, str] = {}

    def thumb(self, key: str, label: str) -> Thumb:
        return Thumb(key, label, key in self.run.cells, self.run.status(key), self.measures.get(key, {}))

    def pages(self) -> dict[str, str]:
        """{page file: its HTML}: the overview, a page per grid the experiment wants in its atlas (a sheet
        of thumbnails to sort and jump in, or a table laid out as the figure is), and the cell view."""
        written, entries = {}, []
        for grid in self.experiment.atlas_grids(self.config, self.run.contents, self.run.styles):
            page = Path(grid.file).stem + ".html"
            if grid.sheet:
                title = f"{parse_key(grid.cells[0]).content} {grid.rows[0]}"
                cells = [self.thumb(key, label) for key, label in zip(grid.keys[0], grid.columns) if key]
                sortable = [name for name in (measure.replace("_", "-") for measure in MEASURES)
                            if any(name in cell.measures for cell in cells)]
                written[page] = pages.render("layer.html", title=title, scripts=[], cells=cells, sortable=sortable,
                                             finished=sum(cell.finished for cell in cells), weights=self.run.label)
            else:
                title = grid.what
                shown = [column for column in range(len(grid.columns)) if any(row[column] for row in grid.keys)]
                columns = [grid.columns[column].replace("\n", " ") for column in shown]
                rows = [(label, [self.thumb(key, label) if (key := row[column]) else None
                                 for column, label in zip(shown, columns)]) for label, row in zip(grid.rows, grid.keys)]
                written[page] = pages.render("grid.html", title=title, scripts=[], weights=self.run.label,
                                             columns=columns, rows=rows)
            entries.append(self._entry(title, page, grid))
        written["index.html"] = pages.render(
            "index.html", title=f"atlas: {self.run.folder.name}", scripts=[], run_name=self.run.folder.name,
            experiment=f"{self.experiment.title} ({self.experiment.paper})", entries=entries,
            facts=pages.made(self.run, self.experiment, self.config, experiments.settings_line(self.run)),
            figures=[name for name in self.run.record.figures if inside(self.run.folder, name).is_file()])
        written["cell.html"] = pages.render("cell.html", title="cell", scripts=["assets/cell.js"])
        return written

    def _entry(self, title: str, page: str, grid: Grid) -> dict[str, Any]:
        for key in grid.cells:
            self.page_of.setdefault(key, page)
        finished = [key for key in grid.cells if key in self.run.cells]
        return {"title": title, "page": page, "count": len(grid.cells), "done": len(finished),
                "strip": [self.thumb(key, grid.label(key)) for key in finished[:STRIP]]}

    def cell_data(self, key: str, atlas: Path) -> dict[str, Any]:
        """What the cell view shows of ``key``, as plain data for its script file."""
        cell, cell_key = self.run.cells[key], parse_key(key)
        losses = cell.loss_history
        stride = max(1, -(-len(losses) // LOSS_POINTS))
        shown = [value for value in losses[::stride] if value is not None]
        if losses and (len(losses) - 1) % stride and losses[-1] is not None:
            shown.append(losses[-1])
        siblings = [cell_key.of_content(other) for other in self.run.contents
                    if other != cell_key.content and cell_key.of_content(other) in self.run.cells]
        details = [[name, ", ".join(map(str, value)) if isinstance(value, list) else value]
                   for name, value in cell.details.items() if isinstance(value, (str, int, float, list))]
        data = {"key": key, "content": cell_key.content, "group": cell_key.group, "item": cell_key.item,
                "image": _relative(self.run.image_path(key), atlas), "page": self.page_of.get(key, "index.html"),
                "steps": cell.steps, "stop_reason": cell.stop_reason, "wall_s": cell.wall_s,
                "mark": self.run.status(key), "details": details,
                "weights": cell.weights, "fidelity": cell.fidelity, "loss": shown, "loss_stride": stride,
                "siblings": [{"label": f"{parse_key(other).content} {cell_key.group} {cell_key.item}", "key": other}
                             for other in siblings],
                "control": None}
        if self.control is not None and key in self.control.cells:
            other = self.control.cells[key]
            data["control"] = {"image": _relative(self.control.image_path(key), atlas), "weights": other.weights,
                               "steps": other.steps, "stop_reason": other.stop_reason,
                               "mark": self.control.status(key)}
        return data


def _relative(path: Path, atlas: Path) -> str:
    return os.path.relpath(path, atlas).replace(os.sep, "/")


def _measures(run: RunView) -> dict[str, dict[str, str]]:
    """{cell key: {measure: value}} from the run's analysis.json, if there is a readable one; only
    finished cells' finite numbers are taken from it."""
    data = read_bytes(inside(run.folder, "analysis.json"), MAX_ANALYSIS_BYTES)
    try:
        cells = json.loads(data)["cells"] if data else {}
    except (ValueError, KeyError, TypeError):
        return {}
    found = {}
    for key, values in cells.items() if isinstance(cells, dict) else ():
        if key in run.cells and isinstance(values, dict):
            found[key] = {name.replace("_", "-"): f"{values[name]:.6g}" for name in MEASURES
                          if isinstance(values.get(name), (int, float)) and math.isfinite(values[name])}
    return found


# --- thumbnails ------------------------------------------------------------------------------------

def _make_thumbnail(job: tuple[str, str]) -> Optional[str]:
    """Write one JPEG thumbnail; runs in a worker process. Returns the source if it does not read back."""

    source, target = job
    rgb = read_image(Path(source))
    if rgb is None:
        return source
    height, width = rgb.shape[:2]
    scale = min(THUMB_WIDTH / width, THUMB_HEIGHT / height, 1.0)
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return source
    write_bytes(target, encoded.tobytes())
    return None


def make_thumbnails(run: RunView, atlas: Path, workers: Optional[int] = None) -> tuple[int, int]:
    """Thumbnails of every finished cell whose image is newer than its thumbnail; returns (made, total)."""
    jobs = []
    for key in run.cells:
        source = run.image_path(key)
        target = inside(atlas, "thumbs", *parse_key(key).file(".jpg"))
        if source.is_file() and (not target.is_file() or target.stat().st_mtime < source.stat().st_mtime):
            jobs.append((str(source), str(target)))
    if len(jobs) > 64:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            failed = [result for result in pool.map(_make_thumbnail, jobs, chunksize=64) if result]
    else:
        failed = [result for result in map(_make_thumbnail, jobs) if result]
    if failed:
        raise FmiError(f"{len(failed)} cell image(s) do not read back as images, e.g. {failed[0]}; rerun the run "
                       f"with --resume to redo them")
    return len(jobs), len(run.cells)


# --- the build -------------------------------------------------------------------------------------

def build(run_dir: Path, control_dir: Optional[Path] = None,
          workers: Optional[int] = None) -> tuple[Path, dict[str, int]]:
    """Write (or bring up to date) ``RUN_DIR/atlas``; return its index page and what was done."""
    site = Atlas(run_dir, control_dir)
    atlas = ensure_writable_dir(inside(site.run.folder, "atlas"))
    pages.copy_assets(atlas)
    made, total = make_thumbnails(site.run, atlas, workers)
    written = sum(pages.write_if_changed(inside(atlas, name), text) for name, text in site.pages().items())
    for key in site.run.cells:
        text = f"fmiAtlasCell({json.dumps(site.cell_data(key, atlas), allow_nan=False)});\n"
        written += pages.write_if_changed(inside(atlas, "data", "cells", *parse_key(key).file(".js")), text)
    return atlas / "index.html", {"thumbnails_made": made, "cells": total, "files_written": written}
