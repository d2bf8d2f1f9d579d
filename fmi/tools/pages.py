"""Text for people, rendered from templates: the web pages (HTML, every value escaped) and the reports
(Markdown, every value from outside escaped by the ``md`` filter), the one "how it was made" table of a
run, and the one copier of the pages' style sheet and scripts.

Each tool builds its data (plain values, dataclasses) and renders it here with a template of
``templates/``: ``*.html`` through the autoescaping environment, ``*.md`` through the Markdown one,
where fmi's own words pass as written and names, paths and what a run folder says go through ``md``.
"""
import re
from pathlib import Path
from typing import Any

import jinja2

from fmi.io import printable, read_bytes, write_text
from fmi.run import labels
from fmi.run.experiment import AnyExperiment
from fmi.run.folder.record import RunView, inside
from fmi.run.machine import facts as machine

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "atlas_assets"
LOADER = jinja2.FileSystemLoader(HERE / "templates")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")


def markdown(text: object) -> str:
    """``text`` (a name, a path, a record's value) as inert Markdown: one line, HTML's special characters
    as entities, and a backslash before every character Markdown gives a meaning, so a name can never
    become a heading, a link, an image, raw HTML or a table cell of its own."""
    one_line = " ".join(printable(text).split())
    entities = one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_SPECIAL.sub(r"\\\1", entities)


HTML = jinja2.Environment(loader=LOADER, autoescape=True, undefined=jinja2.StrictUndefined)
MARKDOWN = jinja2.Environment(loader=LOADER, autoescape=False, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
MARKDOWN.filters["md"] = markdown
TEXT = jinja2.Environment(loader=LOADER, autoescape=False, undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
TEXT.filters["text"] = printable  # what a terminal shows of a name: one line, no control characters


def render(template: str, **data: Any) -> str:
    """``template`` (``*.html``, ``*.md``, or ``*.txt`` for a terminal) filled with ``data``."""
    environment = {".md": MARKDOWN, ".txt": TEXT}.get(Path(template).suffix, HTML)
    return environment.get_template(template).render(**data)


def made(run: RunView, experiment: AnyExperiment, config: Any, settings: str) -> list[tuple[str, str]]:
    """How a run was made, row by row: what made it, weights, images, sizes, optimiser, fidelity, settings
    (``settings``: how they differ from the paper's), machine, cells, times and versions."""
    record = run.record
    sizes = sorted({f"{height}x{width}" for height, width in record.plan.values()})
    images = ", ".join(f"{name} ({item.role}: {Path(item.path).name}, {item.size[0]}x{item.size[1]}"
                       f"{', the authors' + chr(39) + ' file' if item.published else ''})"
                       for name, item in record.inputs.items())
    weights = record.weights.label + (f" (SHA-1 {record.weights.sha1})" if record.weights.sha1 else "")
    return [("made by", f"{record.script}: {experiment.title} ({experiment.paper})"), ("weights", weights),
            ("images", images), ("inverted at", ", ".join(sizes) + " px (h x w)"),
            ("optimiser", labels.optimiser(config)), ("fidelity", record.fidelity), ("settings", settings),
            ("machine", machine.describe(record.machine.model_dump())),
            ("cells", f"{len(run.cells)} of {len(run.plan)} finished"),
            ("started", f"{record.started}; finished {record.finished or 'not yet'}"),
            ("wall time", f"{record.wall_s:.0f} s" if record.wall_s is not None else "-"),
            ("versions", ", ".join(f"{name} {version}" for name, version in record.versions.items()
                                   if name != "platform"))]


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; whether it wrote."""
    if Path(path).is_file() and read_bytes(path, 1 << 30) == printable(text).encode("utf-8"):
        return False
    write_text(path, text)
    return True


def copy_assets(folder: Path) -> int:
    """The pages' style sheet and scripts into ``folder/assets``; how many files changed."""
    return sum(write_if_changed(inside(folder, "assets", asset.name), asset.read_text(encoding="utf-8"))
               for asset in sorted(ASSETS.iterdir()))
