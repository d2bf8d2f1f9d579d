"""The whole paper in one command: Fig. 3, 4 and 5, their atlases, each figure beside the authors'
published one, and a reproduction report.

    python reproduce.py [--quick | --fast] [--control] [--output runs/paper]

runs each figure's config (the paper's settings; ``--quick`` the quick configs; ``--fast`` the
L-BFGS ones) into ``OUTPUT/fig3``, ``fig4``, ``fig5``, resuming whatever is finished; then builds
the atlas of each run, compares each with the authors' figure in ``data/authors/`` when it is
there, measures each (``fmi.analyze``; with ``--control``, beside the same run made with random
weights, in ``OUTPUT/control/``), and writes ``OUTPUT/report.md`` and ``OUTPUT/index.html``.
Before it starts it says what it will run and how long that should take here, from a short
calibration of each figure's steps; while it runs, every progress line starts with where the
whole reproduction stands.
"""
import logging
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from fmi import experiments
from fmi.core import fidelity, preprocessing
from fmi.files import image_files, published, weight_files
from fmi.io import write_text
from fmi.run import cost, driver
from fmi.run import session as sessions
from fmi.run.experiment import AnyExperiment
from fmi.run.folder.keys import CellKey, parse_key
from fmi.run.folder.record import inside
from fmi.run.interface import config as config_module
from fmi.run.interface import inputs
from fmi.run.machine import facts as machine
from fmi.tools import analyze, atlas, compare, pages

log = logging.getLogger("fmi")


@dataclass
class Job:
    """One run of the reproduction: a figure (or its random-weights control), its config and folder."""

    figure: AnyExperiment
    config: Any
    argv: list[str]
    control: bool = False

    @property
    def name(self) -> str:
        return self.figure.name

    @property
    def output(self) -> Path:
        return Path(self.config.output)

    @property
    def label(self) -> str:
        return f"{self.name} control" if self.control else self.name


def plan(args: Any) -> list[Job]:
    """The jobs of a reproduction: each figure, then (with --control) each figure's control."""
    variant = "quick" if args.quick else "fast" if args.fast else ""  # each figure's config of that variant
    output = Path(args.output)
    jobs = []
    for control in (False, True) if args.control else (False,):
        for figure in experiments.FIGURES:
            path = figure.config_file(variant)
            settings: list[tuple[str, Any]] = [("output", str(output / ("control" if control else "") / figure.name))]
            for key, value in (("max_long_edge", args.size), ("sgd.max_steps", args.steps),
                               ("lbfgs.max_steps", args.steps)):
                if value is not None:
                    settings.append((key, value))
            if args.weights:
                settings.append(("weights", args.weights))
            config = _load(figure, path, settings)
            if control:  # random weights, other than the run's own when those are random already
                random = weight_files.is_random(config.weights, config.model_dir)
                settings.append(("weights", "random:1" if random else "random:0"))
                config = _load(figure, path, settings)
            if args.stand_ins:
                config.fallbacks = stand_ins(figure, config)
            argv = ["--config", str(path)] + [f"--set={key}={value}" for key, value in settings]
            jobs.append(Job(figure, config, argv, control))
    return jobs


def _load(figure: AnyExperiment, path: Path, settings: list[tuple[str, Any]]) -> Any:
    """The config at ``path`` with ``settings`` [(key, value)] put over it, as --set would."""
    return config_module.load(figure.config_model, path,
                              [(key, value, f"reproduce.py {key}") for key, value in settings])


def stand_ins(figure: AnyExperiment, config: Any) -> dict[str, str]:
    """A bundled image for every paper image the config names, for --stand-ins (offline runs)."""
    found = dict(config.fallbacks)
    for specs, role in zip(figure.images(config), ("content", "style")):
        for index, spec in enumerate(specs):
            if spec in published.PAPER_IMAGES:
                found.setdefault(spec, sessions.stand_in(role, index))
    return found


def check_inputs(jobs: list[Job], argv: list[str]) -> None:
    """One message naming every file the reproduction needs and misses, with the commands that fetch
    them and the command line that runs it offline; nothing is run before it passes."""
    problems: list[tuple[str, str]] = []
    for job in jobs:
        contents, styles = ([inputs.locate(spec, job.config.data_dir, job.config.fallbacks) for spec in specs]
                            for specs in job.figure.images(job.config))
        problems += [problem for problem in sessions.missing_files(job.config, contents, styles)
                     if problem not in problems and problem[1] != "no such file"]
    if problems:
        offline = [arg for arg in argv if arg not in ("--stand-ins",)]
        raise sessions.missing_message(problems, shlex.join(["python", "reproduce.py", *offline, "--weights",
                                                             "random:0", "--stand-ins"]),
                                       what="this reproduction", same="the same reproduction")


# --- what it costs -----------------------------------------------------------------------------------

CellKind = tuple[str, tuple[int, int]]  # a cell's group and its image size


def cell_kinds(job: Job) -> list[tuple[CellKey, CellKind]]:
    """Every cell of a job as (key, kind), a kind being a cell's group and its image size."""
    config, rounding = job.config, fidelity.of(job.config).size_rounding
    contents, styles = job.figure.images(config)
    sizes = {}
    for spec in contents:
        header = image_files.read_header(inputs.locate(spec, config.data_dir, config.fallbacks).path)
        sizes[spec] = preprocessing.content_size(header.height, header.width, config.max_long_edge, rounding)
    names = [f"c{index}" for index in range(len(contents))]
    keys = [parse_key(key) for batch in job.figure.plan(config, names, [f"s{i}" for i in range(len(styles))])
            for key in batch.keys]
    return [(key, (key.group, sizes[contents[names.index(key.content)]])) for key in keys]


def batch_of(job: Job, kind: CellKind, cells: list[tuple[CellKey, CellKind]]) -> int:
    """How many cells of ``kind`` the run inverts together: up to its batch size (L-BFGS: one)."""
    if job.config.optimizer == "lbfgs":
        return 1
    return min(job.config.batch_size, sum(other == kind for _, other in cells))


def time_kind(job: Job, weights: weight_files.Weights, kind: CellKind, batch: int, repeats: int = 1) -> float:
    """Seconds of a step of ``batch`` cells of ``kind``, timed here (``cost.time_step``)."""
    group, size = kind
    return cost.time_step(job.figure.terms(job.config, group), job.config.net, weights, (3,) + size, batch,
                          optimizer=job.config.optimizer, repeats=repeats)


def calibrate(job: Job, weights: weight_files.Weights) -> tuple[int, float]:
    """(cells, estimated seconds) of a job: each kind of cell's step timed here, times the typical steps
    of its optimiser."""
    cells = cell_kinds(job)
    batches = {kind: batch_of(job, kind, cells) for kind in dict.fromkeys(kind for _, kind in cells)}
    times = {kind: time_kind(job, weights, kind, batch) / batch for kind, batch in batches.items()}
    typical = cost.typical_steps(job.config.optimizer, job.config.steps)
    return len(cells), sum(times[kind] * typical for _, kind in cells)


class Overall:
    """Where the whole reproduction stands, put before every progress line of its runs."""

    def __init__(self, jobs: list[Job], estimates: list[float]) -> None:
        self.jobs, self.estimates = jobs, estimates
        self.index, self.current, self.started = 0, None, time.monotonic()

    def attach(self, run_progress: Any) -> None:
        self.current = run_progress
        run_progress.overall = self.line

    def line(self) -> str:
        later = sum(self.estimates[index] for index in range(self.index + 1, len(self.jobs)))
        now, _ = self.current.estimate() if self.current else (None, "")
        left = later + (now if now is not None else self.estimates[self.index])
        return (f"reproduction: {self.jobs[self.index].label} ({self.index + 1} of {len(self.jobs)}), elapsed "
                f"{cost.duration(time.monotonic() - self.started)}, ETA {cost.duration(left)}")


# --- the report ----------------------------------------------------------------------------------------

def beside(theirs_path: Path, ours_path: Path, target: Path) -> Path:
    """Their published figure beside ours, ours resized to their height, as one PNG."""
    theirs = compare.read_figure(theirs_path)
    ours = image_files.read_rgb(ours_path)
    height = theirs.shape[0]
    ours = compare.resized(ours, height, max(1, round(ours.shape[1] * height / ours.shape[0])))
    gap = np.full((height, 24, 3), 255, np.uint8)
    image_files.save_png(target, np.concatenate([theirs, gap, ours], axis=1))
    return target


@dataclass
class Section:
    """One figure of the report: its run, beside the authors' figure, and what the numbers say."""

    name: str
    paper: str                           # how the paper names the figure: Fig. 3
    title: str
    weights: str                         # the label of the run's weights
    pretrained: bool
    atlas: str
    facts: list[tuple[str, str]]
    deviations: list[str]
    published: bool = True               # whether the authors published a figure of this experiment
    theirs: Optional[str] = None         # the authors' figure's file name, when it is there
    beside: Optional[str] = None         # the picture of theirs beside ours
    missing: str = ""                    # what the look for their figure left out
    rows: list[dict[str, Any]] = field(default_factory=list)  # cell by cell against theirs
    analysis: Optional[analyze.Table] = None


@dataclass
class Report:
    """The whole reproduction, for report.md and index.html."""

    random: bool
    weights: str
    control: bool
    wall: str
    machine: str
    figures_dir: str
    sections: list[Section]


def section(job: Job, output: Path, control: Optional[Job]) -> Section:
    """Compare a figure's run with the authors' figure (when it is there) and measure it (beside its control)."""
    figure, view, config = experiments.view(job.output)
    found = Section(job.name, figure.paper, f"{figure.paper}: {figure.title}", view.label,
                    view.record.weights.pretrained,
                    f"{job.output.relative_to(output)}/atlas/index.html",
                    pages.made(view, figure, config, experiments.settings_line(view)),
                    fidelity.deviations(fidelity.MODES[view.record.fidelity]))
    if figure.authors is None:
        found.published = False
    else:
        theirs = published.find(published.FIGURES_DIR, figure.authors)
        found.missing = published.skipped(published.FIGURES_DIR)
        if theirs.is_file():
            found.rows, _, _ = compare.compare(job.output, theirs, name=f"authors_{job.name}")
            found.theirs, found.beside = theirs.name, f"report/{job.name}_beside_theirs.png"
            beside(theirs, job.output / view.record.figures[0],
                   inside(output, "report", f"{job.name}_beside_theirs.png"))
    run, result = analyze.analyze_run(job.output, partial=True, weights_spec=job.config.weights)
    other = None
    if control is not None:
        control_run, other = analyze.analyze_run(control.output, partial=True, weights_spec=control.config.weights)
        analyze.check_control(run, control_run)
    found.analysis = analyze.headline(result, other)
    return found


def report(jobs: list[Job], output: Path, wall: float) -> tuple[Path, Path]:
    """Write OUTPUT/report.md and OUTPUT/index.html; return their paths."""
    sections = [section(job, output, next((other for other in jobs if other.control and other.name == job.name),
                                          None)) for job in jobs if not job.control]
    data = Report(any(not found.pretrained for found in sections), sections[0].weights,
                  any(job.control for job in jobs), f"{wall / 60:.1f} min", machine.name(),
                  str(published.FIGURES_DIR), sections)
    write_text(inside(output, "report.md"), pages.render("report.md", report=data))
    pages.copy_assets(output)
    write_text(inside(output, "index.html"), pages.render("report.html", title="Reproduction of Xia et al. (2016)",
                                                          scripts=[], report=data))
    return output / "report.md", output / "index.html"


# --- the command ---------------------------------------------------------------------------------------

def reproduce(args: Any, argv: list[str]) -> None:
    jobs = plan(args)
    check_inputs(jobs, argv)
    output = Path(args.output)
    for job in jobs:  # every run's folder inside the reproduction's: a link out of it is refused before any work
        inside(output, str(job.output.relative_to(output)))
    weights = weight_files.load(jobs[0].config.weights, jobs[0].config.model_dir)
    estimates = []
    for job in jobs:
        cells, seconds = calibrate(job, weights if not job.control else weight_files.load("random:0"))
        estimates.append(seconds)
        log.info("%s: %d cells, about %s here (%s; %s steps a cell, as typical)", job.label, cells,
                 cost.duration(seconds), job.config.output, cost.typical_steps(job.config.optimizer,
                                                                               job.config.steps))
    log.info("in all: %d runs, about %s here; the estimate is refined as cells finish", len(jobs),
             cost.duration(sum(estimates)))
    if args.dry_run:
        return
    overall = Overall(jobs, estimates)
    started = time.perf_counter()
    for index, job in enumerate(jobs):
        overall.index, overall.current = index, None
        log.info("reproduction: %s (%d of %d) into %s", job.label, index + 1, len(jobs), job.output)
        driver.run(job.figure, job.config, job.argv, time.perf_counter(),
                   sessions.Options(resume=True, overwrite=args.overwrite, overall=overall))
        atlas.build(job.output)
    paths = report(jobs, output, time.perf_counter() - started)
    log.info("wrote %s and %s", *paths)
