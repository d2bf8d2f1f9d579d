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
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fmi import experiments
from fmi.core import fidelity, invert, optimizers, preprocessing
from fmi.files import image_files, published, weight_files
from fmi.io import markdown, write_text
from fmi.run import cost
from fmi.run import session as sessions
from fmi.run.folder.keys import parse_key
from fmi.run.folder.record import RunView, inside
from fmi.run.interface import cli, inputs
from fmi.run.interface import config as config_module
from fmi.run.machine import facts as machine
from fmi.tools import analyze, atlas, compare

log = logging.getLogger("fmi")
VARIANTS = {"paper": "{}.yaml", "quick": "{}_quick.yaml", "fast": "{}_fast.yaml"}


@dataclass
class Job:
    """One run of the reproduction: a figure (or its random-weights control), its config and folder."""

    figure: experiments.Figure
    config: object
    argv: list
    control: bool = False

    @property
    def name(self):
        return self.figure.name

    @property
    def module(self):
        return self.figure.experiment

    @property
    def output(self):
        return Path(self.config.output)

    @property
    def label(self):
        return f"{self.name} control" if self.control else self.name


def plan(args):
    """The jobs of a reproduction: each figure, then (with --control) each figure's control."""
    variant = "quick" if args.quick else "fast" if args.fast else "paper"
    output = Path(args.output)
    jobs = []
    for control in (False, True) if args.control else (False,):
        for figure in experiments.FIGURES:
            name, module = figure.name, figure.experiment
            path = cli.CONFIG_DIR / VARIANTS[variant].format(name)
            settings = [("output", str(output / ("control" if control else "") / name))]
            for key, value in (("max_long_edge", args.size), ("sgd.max_steps", args.steps),
                               ("lbfgs.max_steps", args.steps)):
                if value is not None:
                    settings.append((key, value))
            if args.weights:
                settings.append(("weights", args.weights))
            config = _load(module, path, settings)
            if control:  # random weights, other than the run's own when those are random already
                random = weight_files.is_random(config.weights, config.model_dir)
                settings.append(("weights", "random:1" if random else "random:0"))
                config = _load(module, path, settings)
            if args.stand_ins:
                config.fallbacks = stand_ins(config)
            argv = ["--config", str(path)] + [f"--set={key}={value}" for key, value in settings]
            jobs.append(Job(figure, config, argv, control))
    return jobs


def _load(module, path, settings):
    """The config at ``path`` with ``settings`` [(key, value)] put over it, as --set would."""
    return config_module.load(module.Config, path, [(key, value, f"reproduce.py {key}") for key, value in settings])


def stand_ins(config):
    """A bundled image for every paper image the config names, for --stand-ins (offline runs)."""
    found = dict(config.fallbacks)
    styles = getattr(config, "styles", []) if getattr(config, "mode", "purposeful") == "purposeful" else []
    for specs, samples in ((config.content, sessions.OFFLINE_CONTENT), (styles, sessions.OFFLINE_STYLES)):
        for index, spec in enumerate(specs):
            if spec in published.PAPER_IMAGES:
                found.setdefault(spec, samples[index % len(samples)])
    return found


def check_inputs(jobs, argv):
    """One message naming every file the reproduction needs and misses, with the commands that fetch
    them and the command line that runs it offline; nothing is run before it passes."""
    problems = []
    for job in jobs:
        contents = [inputs.locate(spec, job.config.data_dir, job.config.fallbacks) for spec in job.config.content]
        styles = [inputs.locate(spec, job.config.data_dir, job.config.fallbacks)
                  for spec in getattr(job.config, "style_specs", getattr(job.config, "styles", []))]
        problems += [problem for problem in sessions.missing_files(job.config, contents, styles)
                     if problem not in problems and problem[1] != "no such file"]
    if problems:
        offline = [arg for arg in argv if arg not in ("--stand-ins",)]
        raise sessions.missing_message(problems, shlex.join(["python", "reproduce.py", *offline, "--weights",
                                                             "random:0", "--stand-ins"]),
                                       what="this reproduction", same="the same reproduction")


# --- what it costs -----------------------------------------------------------------------------------

def step_times(job, weights, alone=False, repeats=1):
    """(every cell of a job as (key, kind), {kind: (batch, seconds of a step of the batch, seconds of a
    step of one image alone or None)}), a kind being a cell's group (layer or method) and image size,
    its batch as the run makes them (``cost.time_step``, the median of ``repeats`` timings). ``alone``
    also times one image alone: the last images of a batch step on alone."""
    config, rounding = job.config, fidelity.of(job.config).size_rounding
    sizes = {}
    for spec in config.content:
        header = image_files.read_header(inputs.locate(spec, config.data_dir, config.fallbacks).path)
        sizes[spec] = preprocessing.content_size(header.height, header.width, config.max_long_edge, rounding)
    names = [f"c{index}" for index in range(len(config.content))]
    styles = [f"s{index}" for index in range(len(getattr(config, "styles", []) or []))]
    keys = [parse_key(key) for figure in job.module.grids(config, names, styles) for key in figure.cells]
    cells = [(key, (key.group, sizes[config.content[names.index(key.content)]])) for key in keys]

    def timed(group, size, batch):
        terms = job.module.terms(config, group) if job.name == "fig5" else [invert.Term(group)]
        return cost.time_step(terms, weights, (3,) + size, batch, config.pooling, optimizer=config.optimizer,
                              repeats=repeats)

    times = {}
    for _, kind in cells:
        if kind in times:
            continue
        batch = 1 if config.optimizer == "lbfgs" else min(config.batch_size, sum(other == kind for _, other in cells))
        together = timed(*kind, batch)
        times[kind] = (batch, together, (together if batch == 1 else timed(*kind, 1)) if alone else None)
    return cells, times


def calibrate(job, weights):
    """(cells, estimated seconds) of a job: each kind of cell's step timed here, times the typical steps
    of its optimiser."""
    cells, times = step_times(job, weights)
    typical = cost.typical_steps(job.config.optimizer, job.config.steps)
    return len(cells), sum(together / batch * typical for _, kind in cells for batch, together, _ in [times[kind]])


class Overall:
    """Where the whole reproduction stands, put before every progress line of its runs."""

    def __init__(self, jobs, estimates):
        self.jobs, self.estimates = jobs, estimates
        self.index, self.current, self.started = 0, None, time.monotonic()

    def attach(self, run_progress):
        self.current = run_progress
        run_progress.overall = self.line

    def line(self):
        later = sum(self.estimates[index] for index in range(self.index + 1, len(self.jobs)))
        now, _ = self.current.estimate() if self.current else (None, "")
        left = later + (now if now is not None else self.estimates[self.index])
        return (f"reproduction: {self.jobs[self.index].label} ({self.index + 1} of {len(self.jobs)}), elapsed "
                f"{cost.duration(time.monotonic() - self.started)}, ETA {cost.duration(left)}")


# --- the report ----------------------------------------------------------------------------------------

def beside(theirs_path, ours_path, target):
    """Their published figure beside ours, ours resized to their height, as one PNG."""
    theirs = compare.read_figure(theirs_path)
    ours = image_files.read_rgb(ours_path)
    height = theirs.shape[0]
    ours = cv2.resize(ours, (max(1, round(ours.shape[1] * height / ours.shape[0])), height),
                      interpolation=cv2.INTER_AREA)
    gap = np.full((height, 24, 3), 255, np.uint8)
    image_files.save_png(target, np.concatenate([theirs, gap, ours], axis=1))
    return target


def report(jobs, output, results, wall):
    """Write OUTPUT/report.md and OUTPUT/index.html; return their paths."""
    main = [job for job in jobs if not job.control]
    views = {job.label: RunView(job.output) for job in jobs}
    random = [job for job in main if not views[job.label].record.weights.pretrained]
    sections = []
    for job in main:
        view = views[job.label]
        record, config = view.record, experiments.config_of(view)
        found = results.get(job.name, {})
        section = {"title": f"{job.figure.paper}: {job.figure.title}", "name": job.name,
                   "atlas": f"{job.output.relative_to(output)}/atlas/index.html", "beside": found.get("beside"),
                   "rows": found.get("rows", []),
                   "theirs": found.get("theirs"), "missing": found.get("missing", ""),
                   "analysis": found.get("analysis", ""),
                   "analysis_rows": found.get("analysis_rows"),
                   "facts": [("weights", f"{record.weights.label}" + (f" (SHA-1 {record.weights.sha1})"
                                                                    if record.weights.sha1 else "")),
                             ("fidelity", record.fidelity), ("settings", experiments.settings_line(view)),
                             ("optimiser", f"{optimizers.NAMES[config.optimizer]}, "
                                                                          f"at most {config.steps} steps"),
                             ("cells", f"{len(view.cells)} of {len(view.plan)} finished"),
                             ("wall time", f"{record.wall_s:.0f} s" if record.wall_s is not None else "-"),
                             ("machine", machine.describe(record.machine.model_dump())),
                             ("versions", ", ".join(f"{name} {version}" for name, version in record.versions.items()
                                                    if name != "platform"))],
                   "deviations": fidelity.deviations(fidelity.MODES[record.fidelity])}
        sections.append(section)
    first = ("**These figures were made with random weights, not the ImageNet VGG-19, so they cannot agree "
             "with the paper's:** the paper's textures are those of trained filters. Fetch the authors' weights "
             "(`python -m fmi.weights download`) and run again." if random else
             f"The paper's three figures reproduced with {markdown(views[main[0].label].label)}.")
    lines = ["# Reproduction of Xia et al. (2016), Figs. 3-5", "", first, "",
             f"Made by `python reproduce.py` in {wall / 60:.1f} min on {machine.name()}.", ""]
    for section in sections:
        lines += [f"## {section['title']}", "", f"Atlas: [{section['atlas']}]({section['atlas']})", ""]
        if section["beside"]:
            lines += [f"![the authors' figure (left) beside ours (right)]({section['beside']})", "",
                      f"The authors' {markdown(section['theirs'])} (left) beside ours (right), at the same height.", ""]
        else:
            lines += [f"The authors' figure is not in `{published.FIGURES_DIR}/` (`python -m fmi.data download "
                      f"--what figures`), so there is nothing to compare with{markdown(section['missing'])}.", ""]
        lines += ["| how it was made | |", "|---|---|"] + [f"| {name} | {markdown(value)} |"
                                                           for name, value in section["facts"]]
        lines += ["", "Deviations from the authors' code in force:", ""]
        lines += [f"- {item}" for item in section["deviations"]] or ["- none"]
        if section["rows"]:
            agree = sum(1 for row in section["rows"] if row["numbers"] and row["numbers"]["agree"])
            compared = sum(1 for row in section["rows"] if row["numbers"])
            lines += ["", f"Cell by cell against theirs ({agree} of {compared} compared cells agree):", "",
                      "| cell | run cell | Delta E | histogram | orientation | agree |", "|---|---|---|---|---|---|"]
            for row in section["rows"]:
                numbers = row["numbers"]
                where = f"| {markdown(row['row'])} / {markdown(row['column'])} | {markdown(row['cell'] or '-')} | "
                lines.append(where + (
                    f"{numbers['delta_e']:.1f} | {numbers['histogram']:.2f} | {numbers['orientation']:.2f} | "
                    f"{'yes' if numbers['agree'] else 'no'} |" if numbers else "- | - | - | not in the run |"))
        if section["analysis"]:
            lines += ["", "What the numbers say (mean (sd) per group" + (" / the random-weights control" if any(
                job.control for job in jobs) else "") + "):", "", section["analysis"]]
        lines.append("")
    write_text(inside(output, "report.md"), "\n".join(lines))
    for asset in sorted(atlas.ASSETS.iterdir()):
        atlas.write_if_changed(inside(output, "assets", asset.name), asset.read_text(encoding="utf-8"))
    page = atlas.TEMPLATES.get_template("report.html").render(title="Reproduction of Xia et al. (2016)", scripts=[],
                                                        first=first, random=bool(random), sections=sections,
                                                        control=any(job.control for job in jobs),
                                                        wall=f"{wall / 60:.1f} min", machine=machine.name())
    write_text(inside(output, "index.html"), page)
    return output / "report.md", output / "index.html"


# --- the command ---------------------------------------------------------------------------------------

def reproduce(args, argv):
    jobs = plan(args)
    check_inputs(jobs, argv)
    output = Path(args.output)
    for job in jobs:  # every run's folder inside the reproduction's: a link out of it is refused before any work
        inside(output, job.output.relative_to(output))
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
        job.module.run(job.config, job.argv, time.perf_counter(),
                       sessions.Options(resume=True, overwrite=args.overwrite, overall=overall))
        atlas.build(job.output)
    results = {}
    for job in [job for job in jobs if not job.control]:
        found = results.setdefault(job.name, {})
        theirs = published.find(published.FIGURES_DIR, job.figure.authors)
        found["missing"] = published.skipped(published.FIGURES_DIR)
        if theirs.is_file():
            rows, picture, _ = compare.compare(job.output, theirs, name=f"authors_{job.name}")
            figure = job.output / RunView(job.output).record.figures[0]
            found.update(rows=rows, theirs=theirs.name, beside=str(Path("report") / f"{job.name}_beside_theirs.png"))
            beside(theirs, figure, inside(output, "report", f"{job.name}_beside_theirs.png"))
        control = next((other for other in jobs if other.control and other.name == job.name), None)
        run, result = analyze.analyze_run(job.output, partial=True, weights_spec=job.config.weights)
        other = None
        if control is not None:
            control_run, other = analyze.analyze_run(control.output, partial=True, weights_spec=control.config.weights)
            analyze.check_control(run, control_run)
        found["analysis"] = analyze.headline_table(result, other)
        found["analysis_rows"] = analyze.headline_rows(result, other)
    paths = report(jobs, output, results, time.perf_counter() - started)
    log.info("wrote %s and %s", *paths)
