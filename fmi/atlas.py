"""The filter atlas: a static web site of a run, built for sweeps of all 5504 filters.

    python -m fmi.atlas RUN_DIR [--control RUN_DIR_RANDOM_WEIGHTS] [--open]

writes ``RUN_DIR/atlas/``, which opens from the file system (``atlas/index.html``) or from
any static web server; every script and style sheet is in the folder, nothing is fetched
from the network. Pages:

- ``index.html``, the overview: the run's figures, how it was made, and one entry per
  layer (or per figure of a Fig. 4 or Fig. 5 run) with a strip of sample thumbnails;
- ``<content>_<layer>.html``, one per layer of a Feature Map Inversion run: every filter as a
  96 px thumbnail (loaded lazily), silent and stuck filters marked, a box to jump to a filter,
  and sorting by index or by a measure of ``fmi.analyze`` when the run has been analysed;
- ``grid_<content>.html`` for Fig. 4 runs and ``grid.html`` for Fig. 5 runs, laid out as
  the figures are;
- ``cell.html#<cell key>``: one cell, its full image, its loss curve, its steps, stop reason
  and wall time, with links to the same filter on the run's other content images and, with
  ``--control``, the control run's cell beside it.

The build is incremental: thumbnails (``atlas/thumbs/``) are made only for cells whose image
is newer than its thumbnail, and data files are rewritten only when they change.
"""
import argparse
import html
import json
import os
import sys
import webbrowser
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from fmi.errors import FmiError
from fmi.io import ensure_writable_dir, read_json, write_text
from fmi.runfolder import cell_image_path, cell_status

ASSETS = Path(__file__).resolve().parent / "atlas_assets"
THUMB_HEIGHT = 72
THUMB_WIDTH = 96
STRIP = 8  # sample thumbnails per layer on the overview
LOSS_POINTS = 400  # a loss curve is drawn from at most this many points
MEASURES = ("colourfulness", "gradient_magnitude", "spectral_entropy", "png_bytes_per_pixel")
SCRIPTS = {"run_fmi.py": "Feature Map Inversion (Fig. 3)", "run_random.py": "Modified code inversion (Fig. 4)",
           "run_pmci.py": "PMCI beside Gatys (Fig. 5)"}


class Run:
    """What the atlas needs of a run folder: its record, and its cells grouped as pages."""

    def __init__(self, folder):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FmiError(f"{self.folder}: no such folder; give the output folder of a run")
        record = read_json(self.folder / "record.json")
        if not isinstance(record, dict) or not isinstance(record.get("cells"), dict) or "plan" not in record:
            raise FmiError(f"{self.folder} holds no readable run record of this fmi version (record.json); "
                           f"give the output folder of run_fmi.py, run_random.py or run_pmci.py")
        if record.get("script") not in SCRIPTS:
            raise FmiError(f"{self.folder / 'record.json'}: made by {record.get('script')!r}, which the atlas "
                           f"does not know")
        self.record = record
        self.script = record["script"]
        self.cells = record["cells"]
        self.plan = list(record["plan"])
        self.contents = [name for name, item in record.get("inputs", {}).items() if item.get("role") == "content"]
        self.stuck_fraction = record.get("config", {}).get("stuck_fraction", 0.01)
        analysis = read_json(self.folder / "analysis.json")
        self.measures = analysis.get("cells", {}) if isinstance(analysis, dict) else {}

    def image_path(self, key):
        return cell_image_path(self.folder, key, self.cells[key])

    def mark(self, key):
        return cell_status(self.cells.get(key), self.stuck_fraction)

    def layers(self):
        """{(content, layer): [filter keys in filter order]} of a Feature Map Inversion run."""
        groups = {}
        for key in self.plan:
            content, layer, item = key.split("/")
            groups.setdefault((content, layer), []).append(key)
        return groups


def _filter_index(key):
    return int(key.rpartition("_")[2])


def _page_name(*parts):
    return "_".join(parts) + ".html"


def _escape(value):
    return html.escape(str(value), quote=True)


# --- thumbnails ------------------------------------------------------------------------------------

def _make_thumbnail(job):
    """Write one JPEG thumbnail; runs in a worker process."""
    import cv2
    import numpy as np

    source, target = job
    pixels = cv2.imdecode(np.fromfile(source, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        return str(source)
    height, width = pixels.shape[:2]
    scale = min(THUMB_WIDTH / width, THUMB_HEIGHT / height, 1.0)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(target).with_name(f".{Path(target).name}.part")
    temporary.write_bytes(encoded.tobytes())
    os.replace(temporary, target)
    return None


def make_thumbnails(run, atlas, workers=None):
    """Thumbnails of every finished cell whose image is newer than its thumbnail; returns (made, total)."""
    jobs = []
    for key in run.cells:
        source = run.image_path(key)
        target = atlas / "thumbs" / f"{key}.jpg"
        if source.is_file() and (not target.is_file() or target.stat().st_mtime < source.stat().st_mtime):
            jobs.append((str(source), str(target)))
    failed = []
    if len(jobs) > 64:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            failed = [result for result in pool.map(_make_thumbnail, jobs, chunksize=64) if result]
    else:
        failed = [result for result in map(_make_thumbnail, jobs) if result]
    if failed:
        raise FmiError(f"{len(failed)} cell image(s) do not read back, e.g. {failed[0]}; rerun the run with --resume")
    return len(jobs), len(run.cells)


# --- pages ---------------------------------------------------------------------------------------

def _write_if_changed(path, text):
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    write_text(path, text)
    return True


def _page(title, body, scripts=()):
    tags = "".join(f'<script src="{_escape(src)}"></script>' for src in ("assets/atlas.js",) + tuple(scripts))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_escape(title)}</title><link rel="stylesheet" href="assets/atlas.css">{tags}</head>\n'
            f'<body>\n{body}\n</body></html>\n')


def _thumb(run, key, label, lazy=True):
    mark = run.mark(key)
    measures = run.measures.get(key, {})
    data = "".join(f' data-{name.replace("_", "-")}="{measures[name]:.6g}"' for name in MEASURES if name in measures)
    mark_html = f'<span class="mark">{_escape(mark)}</span>' if mark else ""
    if key not in run.cells:
        return (f'<a class="cell missing" id="{_escape(label)}" data-index="{_escape(label)}"><span class="blank">'
                f'not run</span><span class="label">{_escape(label)}</span></a>')
    loading = ' loading="lazy"' if lazy else ""
    return (f'<a class="cell" id="cell-{_escape(label)}" href="cell.html#{_escape(key)}" '
            f'data-index="{_escape(label)}" data-key="{_escape(key)}"{data}>'
            f'<img src="thumbs/{_escape(key)}.jpg" alt="{_escape(key)}" width="{THUMB_WIDTH}" '
            f'height="{THUMB_HEIGHT}"{loading}>'
            f'<span class="label">{_escape(label)}</span>{mark_html}</a>')


def _how_made(run):
    record = run.record
    config = record.get("config", {})
    optimiser = config.get("optimizer", "sgd")
    steps = config.get(optimiser, {}).get("max_steps") if isinstance(config.get(optimiser), dict) else None
    sizes = sorted({f"{h}x{w}" for h, w in record["plan"].values()})
    inputs = ", ".join(f"{_escape(name)} ({_escape(item.get('role'))}: {_escape(Path(item.get('path', '')).name)}, "
                       f"{item.get('size', ['?', '?'])[0]}x{item.get('size', ['?', '?'])[1]})"
                       for name, item in record.get("inputs", {}).items())
    versions = ", ".join(f"{_escape(name)} {_escape(version)}" for name, version in record.get("versions", {}).items()
                         if name != "platform")
    rows = [("made by", f"{_escape(run.script)}: {_escape(SCRIPTS[run.script])}"),
            ("weights", _escape(record["weights"]["label"])),
            ("images", inputs),
            ("inverted at", ", ".join(sizes) + " px (h x w)"),
            ("optimiser", f"{'L-BFGS' if optimiser == 'lbfgs' else 'the authors&#39; SGD'}, at most {steps} steps"),
            ("fidelity", _escape(record.get("fidelity", "paper"))),
            ("cells", f"{len(run.cells)} of {len(run.plan)} finished"),
            ("started", f"{_escape(record.get('started', '?'))}; "
                        f"finished {_escape(record.get('finished', 'not yet'))}"),
            ("versions", versions)]
    return '<table class="facts">' + "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows) \
        + "</table>"


def overview(run, entries):
    figures = "".join(f'<a href="../{_escape(name)}"><img class="figure" src="../{_escape(name)}" '
                      f'alt="{_escape(name)}"></a>'
                      for name in run.record.get("figures", []) if (run.folder / name).is_file())
    items = []
    for title, page, keys, count in entries:
        done = sum(1 for key in keys if key in run.cells)
        strip = "".join(_thumb(run, key, key.rpartition("/")[2]) for key in keys if key in run.cells)
        items.append(f'<li class="entry"><h3><a href="{_escape(page)}">{_escape(title)}</a></h3>'
                     f'<p>{count} cells, {done} finished</p><div class="strip">{strip}</div></li>')
    body = (f'<header><h1>{_escape(run.folder.name)}</h1><p>{_escape(SCRIPTS[run.script])}</p></header>'
            f'<section><h2>How it was made</h2>{_how_made(run)}</section>'
            f'<section><h2>Pages</h2><ul class="entries">{"".join(items)}</ul></section>'
            f'<section><h2>Figures</h2>{figures or "<p>no figures yet</p>"}</section>')
    return _page(f"atlas: {run.folder.name}", body)


def layer_page(run, content, layer, keys):
    sortable = [name for name in MEASURES if any(name in run.measures.get(key, {}) for key in keys)]
    options = "".join(f'<option value="{name.replace("_", "-")}">{_escape(name.replace("_", " "))}</option>'
                      for name in sortable)
    cells = "".join(_thumb(run, key, str(_filter_index(key))) for key in keys)
    body = (f'<nav><a href="index.html">overview</a></nav>'
            f'<header><h1>{_escape(content)} {_escape(layer)}</h1>'
            f'<p>{len(keys)} filters, {sum(1 for k in keys if k in run.cells)} finished; '
            f'{_escape(run.record["weights"]["label"])}</p></header>'
            f'<form id="jump" novalidate><label>filter <input id="jump-to" type="number" min="0" max="{len(keys) - 1}">'
            f'</label> <button type="submit">open</button> <span id="jump-message"></span></form>'
            f'<label>sort by <select id="sort"><option value="index">filter index</option>{options}</select></label>'
            f'<div id="cells" class="grid">{cells}</div>')
    return _page(f"{content} {layer}", body)


def grid_page(run, title, row_labels, column_labels, keys):
    header = "".join(f"<th>{_escape(label)}</th>" for label in [""] + column_labels)
    rows = "".join(f"<tr><th>{_escape(label)}</th>" + "".join(
        f"<td>{_thumb(run, key, column_labels[c], lazy=False)}</td>" for c, key in enumerate(row)) + "</tr>"
        for label, row in zip(row_labels, keys))
    body = (f'<nav><a href="index.html">overview</a></nav><header><h1>{_escape(title)}</h1>'
            f'<p>{_escape(run.record["weights"]["label"])}</p></header>'
            f'<table class="figure-grid"><tr>{header}</tr>{rows}</table>')
    return _page(title, body)


def cell_page():
    body = ('<nav><a href="index.html">overview</a> <a id="back" href="index.html">page</a></nav>'
            '<header><h1 id="title">cell</h1><p id="made"></p></header><p id="error" class="error" hidden></p>'
            '<div class="cell-view"><div class="images"><figure><img id="image" alt="the inverted image">'
            '<figcaption>this run</figcaption></figure><figure id="control-figure" hidden><img id="control-image" '
            'alt="the control run\'s image"><figcaption id="control-caption">control</figcaption></figure></div>'
            '<div class="details"><table class="facts" id="facts"></table><h2>Loss</h2><div id="loss"></div>'
            '<h2>Elsewhere</h2><ul id="links"></ul></div></div>')
    return _page("cell", body, scripts=("assets/cell.js",))


def _cell_data(run, key, control, atlas):
    cell = run.cells[key]
    content, group, item = key.split("/")
    losses = cell.get("loss_history") or []
    stride = max(1, -(-len(losses) // LOSS_POINTS))
    siblings = [{"label": f"{other} {group} {item}", "key": f"{other}/{group}/{item}"}
                for other in run.contents if other != content and f"{other}/{group}/{item}" in run.cells]
    data = {
        "key": key, "content": content, "group": group, "item": item,
        "image": os.path.relpath(run.image_path(key), atlas).replace(os.sep, "/"),
        "page": _page_name(content, group) if run.script == "run_fmi.py" else
        (_page_name("grid", content) if run.script == "run_random.py" else "grid.html"),
        "steps": cell.get("steps"), "stop_reason": cell.get("stop_reason"), "wall_s": cell.get("wall_s"),
        "mark": run.mark(key), "layer": cell.get("layer", group), "filter": cell.get("filter"),
        "weights": cell.get("weights"), "fidelity": cell.get("fidelity"),
        "loss": losses[::stride] + (losses[-1:] if losses and (len(losses) - 1) % stride else []),
        "loss_stride": stride, "siblings": siblings, "control": None,
    }
    if control is not None and key in control.cells:
        other = control.cells[key]
        data["control"] = {"image": os.path.relpath(control.image_path(key), atlas).replace(os.sep, "/"),
                           "weights": other.get("weights"), "steps": other.get("steps"),
                           "stop_reason": other.get("stop_reason"), "mark": control.mark(key)}
    return data


def build(run_dir, control_dir=None, workers=None):
    """Write (or bring up to date) ``RUN_DIR/atlas``; return its index page and what was done."""
    run = Run(run_dir)
    control = Run(control_dir) if control_dir else None
    if control is not None and control.script != run.script:
        raise FmiError(f"--control {control.folder} was made by {control.script}, this run by {run.script}; "
                       f"the control must be the same kind of run")
    atlas = ensure_writable_dir(run.folder / "atlas")
    for asset in ASSETS.iterdir():
        _write_if_changed(atlas / "assets" / asset.name, asset.read_text(encoding="utf-8"))
    made, total = make_thumbnails(run, atlas, workers)
    entries, pages = [], {}
    if run.script == "run_fmi.py":
        for (content, layer), keys in run.layers().items():
            keys = sorted(keys, key=_filter_index)
            page = _page_name(content, layer)
            pages[page] = layer_page(run, content, layer, keys)
            strip = [key for key in keys if key in run.cells][:STRIP]
            entries.append((f"{content} {layer}", page, strip, len(keys)))
    elif run.script == "run_random.py":
        config = run.record["config"]
        for content in run.contents:
            rows = sorted({key.split("/")[2] for key in run.plan if key.startswith(content + "/")},
                          key=lambda row: [key.split("/")[2] for key in run.plan].index(row))
            layers = [layer for layer in config.get("layers", []) if any(
                key.startswith(f"{content}/{layer}/") for key in run.plan)]
            keys = [[f"{content}/{layer}/{row}" for layer in layers] for row in rows]
            page = _page_name("grid", content)
            pages[page] = grid_page(run, f"Modified code inversion of {content}", rows, layers, keys)
            entries.append((f"{content}: rows {', '.join(rows)}", page,
                            [key for row in keys for key in row if key in run.cells][:STRIP],
                            sum(len(row) for row in keys)))
    else:
        config = run.record["config"]
        styles = [name for name, item in run.record.get("inputs", {}).items() if item.get("role") == "style"]
        columns = [(content, method) for content in run.contents for method in config.get("methods", [])]
        keys = [[f"{content}/{method}/{style}" for content, method in columns] for style in styles]
        pages["grid.html"] = grid_page(run, "Style transfer: PMCI beside Gatys", styles,
                                       [f"{method} {content}" for content, method in columns], keys)
        entries.append(("styles x methods", "grid.html", [key for row in keys for key in row if key in run.cells]
                        [:STRIP], sum(len(row) for row in keys)))
    pages["index.html"] = overview(run, entries)
    pages["cell.html"] = cell_page()
    written = sum(_write_if_changed(atlas / name, text) for name, text in pages.items())
    for key in run.cells:
        text = f"fmiAtlasCell({json.dumps(_cell_data(run, key, control, atlas), allow_nan=False)});\n"
        written += _write_if_changed(atlas / "data" / "cells" / f"{key}.js", text)
    return atlas / "index.html", {"thumbnails_made": made, "cells": total, "files_written": written}


def main(argv=None):
    from fmi.cli import ArgumentParser, run_guarded, setup_logging

    parser = ArgumentParser(prog="python -m fmi.atlas", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="output folder of a run (finished or not)")
    parser.add_argument("--control", type=Path, metavar="RUN_DIR_RANDOM_WEIGHTS",
                        help="the same run made with random weights, shown beside each cell")
    parser.add_argument("--open", action="store_true", help="open the overview in a web browser")
    args = parser.parse_args(argv)
    setup_logging()

    def action():
        index, done = build(args.run_dir, args.control)
        print(f"wrote {index} ({done['thumbnails_made']} new thumbnails for {done['cells']} cells, "
              f"{done['files_written']} files changed); open it in a browser")
        if args.open:
            webbrowser.open(index.resolve().as_uri())
        return 0

    return run_guarded(action, resume_hint=False)


if __name__ == "__main__":
    sys.exit(main())
