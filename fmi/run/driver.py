"""The one driver: runs any ``Experiment`` from its checked config to its figures and record.

Inputs are checked (every file, header, size and the memory) before anything is written; the
experiment plans its batches from the inputs' names; the session opens the run folder (or resumes
it); every batch not finished yet is inverted (``--shard I/N``: every N-th batch from I, in its own
folder ``<output>/shards/I-of-N``, so N machines split a run without talking to each other and
their cells are the single run's to the bit; ``--collect`` gathers the shards' cells instead);
then the figures are drawn and the record finished.
"""
import logging
from pathlib import Path

import numpy as np

from fmi.errors import FmiError
from fmi.run import figures, inversion, labels
from fmi.run import session as sessions
from fmi.run.experiment import Batch, ConfigT, Experiment, Grid, PreparedT
from fmi.run.folder import shards
from fmi.run.folder.keys import parse_key

log = logging.getLogger("fmi")


def run(experiment: Experiment[ConfigT, PreparedT], config: ConfigT, argv: list[str], started: float,
        options: sessions.Options) -> list[Path]:
    """Invert the cells of ``experiment`` (of this shard), or collect the shards'; then draw the figures."""
    shard = options.shard
    contents, styles = experiment.images(config)
    found = sessions.check_inputs(config, experiment.script, argv, contents, styles)
    batches = experiment.plan(config, found.content_names, found.style_names)
    sessions.check_fits(config, found, batches)
    mine = batches[shard[0]::shard[1]] if shard else batches
    grids = [] if shard else experiment.grids(config, found.content_names, found.style_names)
    plan = sessions.Plan(mine, [grid.file for grid in grids] + ([] if shard else ["loss.png"]))
    session = sessions.open_session(config, experiment, argv, options, found, plan)
    with session.recording():
        if options.collect:
            collect(session, batches, argv, experiment.script)
        else:
            invert(experiment, config, session, mine)
        written = [] if shard else draw(experiment, config, session, grids)
        session.finish(started, written)
    return written


def invert(experiment: Experiment[ConfigT, PreparedT], config: ConfigT, session: sessions.Session,
           batches: list[Batch]) -> None:
    """Invert every cell not finished yet, batch by batch, each content image prepared once."""
    pending = [batch.only([key for key in batch.keys if not session.is_done(key)]) for batch in batches]
    pending = [batch for batch in pending if batch.items]
    session.planned([batch.keys for batch in pending])
    session.calibrate([batch.layer for batch in pending])
    prepared: dict[str, PreparedT] = {}  # one content image's at a time
    for batch in pending:
        picture = session.picture(batch.content)
        if batch.content not in prepared:
            prepared = {batch.content: experiment.prepare(config, session, picture)}
        problem = experiment.problem(config, prepared[batch.content], batch)
        inversion.invert_batch(session, batch.keys, problem, picture.array.shape[1:])


def collect(session: sessions.Session, batches: list[Batch], argv: list[str], script: str) -> None:
    """Gather the shards' cells; every planned cell must be among them, else the shards that hold
    the missing ones are named, with the sbatch line that reruns only those."""
    missing, count = shards.collect(session.folder)
    if missing:
        wanted = set(missing)
        holders = sorted({position % count for position, batch in enumerate(batches)
                          if wanted.intersection(batch.keys)})
        raise FmiError(f"{len(missing)} cells are missing from the shards (first: {missing[0]}); rerun "
                       f"shard(s) {', '.join(f'{index}/{count}' for index in holders)}: they skip finished "
                       f"cells and redo damaged ones; on Slurm: {shards.resubmit_line(holders, count, argv, script)}")


def draw(experiment: Experiment[ConfigT, PreparedT], config: ConfigT, session: sessions.Session,
         grids: list[Grid]) -> list[Path]:
    """The experiment's figures and its loss curves, from the session's finished cells."""
    names = [content.name for content in session.contents]
    styles = session.styles[names[0]]
    written = [draw_grid(session, grid, session.picture(parse_key(grid.cells[0]).content).size,
                         {style.name: style.rgb for style in styles}) for grid in grids]
    panels = experiment.loss_panels(config, names, [style.name for style in styles])
    written.append(labels.loss_figure(session, panels, experiment.loss_title))
    return written


def draw_grid(session: sessions.Session, grid: Grid, size: tuple[int, int],
              pictures: dict[str, np.ndarray]) -> Path:
    """Draw ``grid`` from the session's finished cells (and the input ``pictures`` it shows) into the run
    folder; the title says how the figure was made and the states of its own cells."""
    shown = [[pictures.get(name) if name else None for name in row] for row in grid.pictures] or None
    images = [[session.cell_image(key) if key else (shown[r][c] if shown else None) for c, key in enumerate(row)]
              for r, row in enumerate(grid.keys)]
    marks = [labels.marks(session, row) for row in grid.keys]
    title = labels.title(session, grid.what, size, grid.cells)
    path = session.output / grid.file
    if grid.sheet:
        figures.contact_sheet(images[0], list(grid.columns), path, title=title, marks=marks[0])
    else:
        figures.grid(images, list(grid.rows), list(grid.columns), path, title=title, marks=marks)
    return path

