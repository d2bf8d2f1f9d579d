"""Measure the paper's claims on the run folder of any experiment.

    python -m fmi.analyze RUN_DIR
    python -m fmi.analyze --control RUN_DIR_RANDOM_WEIGHTS RUN_DIR

Writes analysis.md (tables), analysis.json (every number) and PNG plots into RUN_DIR and
prints the headline table. Every run's cells get the image measures below, per group of cells;
each experiment adds its own (``Experiment.findings``: whether filters extract specific textures,
how close outputs are to their styles). The control run (same settings, random weights) is measured
the same way and drawn on the same axes, so trends that come from training separate from
those the architecture alone produces.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from fmi import experiments
from fmi.core import invert
from fmi.core.network import InputConvention, Network, kind_of
from fmi.errors import FmiError
from fmi.files import networks, weight_files
from fmi.io import check_input_file, sha1_of_file, write_json, write_text
from fmi.run import measures
from fmi.run.experiment import Finding, Finished
from fmi.run.figures import plt, save  # the Agg backend, chosen there
from fmi.run.folder.keys import parse_key
from fmi.run.folder.record import RunRecord, inside, read_image
from fmi.run.interface import config as config_module
from fmi.run.interface import config_words
from fmi.run.interface.config import Common
from fmi.tools import pages

MEASURE_NOTES = {
    "colourfulness": "Hasler and Suesstrunk (2003), M = sigma_rgyb + 0.3 mu_rgyb on 0..255 RGB "
                     "(rg = R - G, yb = (R + G)/2 - B); 0 for grey, above about 60 'very colourful'.",
    "gradient_magnitude": "mean magnitude of the luminance gradient (forward differences, "
                          "luminance on 0..1): how much the image changes from pixel to pixel.",
    "spectral_entropy": "Shannon entropy of the luminance power spectrum without DC, normalised "
                        "to 0..1 (0: one frequency or flat, 1: white noise).",
    "png_bytes_per_pixel": "bytes per pixel of the image as a PNG at maximum compression: "
                           "structure a generic lossless coder cannot predict.",
}
Image = npt.NDArray[np.uint8]


class RunData:
    """A run folder (read through ``fmi.experiments.view``) and, per finished cell, its group and its image.

    A run with unfinished cells is refused unless ``partial``; silent cells (the filter responds
    nowhere on the cell's final image) are left out of the measures and counted.
    """

    def __init__(self, folder: Path, partial: bool = False) -> None:
        self.experiment, view, self.config = experiments.view(folder)
        self.view, self.folder, self.script, self.label = view, view.folder, view.script, view.label
        cells = view.cells
        if not cells:
            raise FmiError(f"{self.folder}: the run has no finished cells; finish it first "
                           f"(rerun it with --resume)")
        self.planned = len(view.plan)
        unfinished = [key for key in view.plan if key not in cells]
        if unfinished and not partial:
            raise FmiError(f"{self.folder}: {len(cells)} of {self.planned} cells are finished (first missing: "
                           f"{unfinished[0]}); finish the run with --resume, or add --partial to measure "
                           f"the finished ones")
        self.finished = len(cells)
        self.silent = sorted(key for key, cell in cells.items() if cell.silent)
        read = {key: view.read_image(key) for key, cell in cells.items() if not cell.silent}
        missing = [key for key, rgb in read.items() if rgb is None]
        if missing:
            raise FmiError(f"{self.folder}: {len(missing)} cell image(s) missing or unreadable, e.g. "
                           f"{view.image_path(missing[0]).relative_to(self.folder)}; rerun the run with --resume "
                           f"to redo them")
        self.images = {key: rgb for key, rgb in read.items() if rgb is not None}
        if not self.images:
            raise FmiError(f"{self.folder}: every finished cell is silent (its filter responds nowhere on its "
                           f"final image); nothing to measure")
        self.before_denoise = {key: cells[key].before_denoise for key in self.images}
        self.findings: list[Finding] = []  # what the experiment measures of its own, once analysed

    def groups(self) -> list[str]:
        """The groups of the measured cells: layers shallow to deep, other groups in the plan's order."""
        found = list(dict.fromkeys(parse_key(key).group for key in self.view.plan if key in self.images))
        network = self.config.net
        return network.ordered(found) if set(found) <= set(network.layers) else found

    def finished_run(self, weights_spec: str, network_file: Optional[str] = None) -> Finished:
        """What the experiment's own findings measure: the images, and codes through the run's weights."""
        loaded: list[tuple[Network, weight_files.Weights]] = []

        def codes(layers: list[str], rgb: Image) -> dict[str, Any]:
            if not loaded:
                loaded.append(recorded_network(self.view.record, self.config, weights_spec, network_file))
            network, weights = loaded[0]
            return invert.extract(network, weights, layers, weights.preprocessing.preprocess(rgb))

        def input_image(name: str) -> Image:
            rgb = read_image(inside(self.folder, "inputs", f"{name}.png"))
            if rgb is None:
                raise FmiError(f"{self.folder / 'inputs' / (name + '.png')}: the run's copy of input image {name} "
                               f"is missing or unreadable; rerun the run to measure it")
            return rgb

        return Finished(self.config, self.images, self.view.styles, codes, input_image)


def _group_statistics(run: RunData, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per group of ``run``: the mean, standard deviation and count of each measure in ``values``."""
    groups = {}
    for group in run.groups():
        members = [values[key] for key in values if parse_key(key).group == group]
        if members:
            groups[group] = {name: {"mean": float(np.mean([v[name] for v in members])),
                                    "std": float(np.std([v[name] for v in members])), "n": len(members)}
                             for name in measures.IMAGE_MEASURES}
    return groups


def recorded_network(record: RunRecord, config: Common, spec: str = "auto",
                     network_file: Optional[str] = None) -> tuple[Network, weight_files.Weights]:
    """The network and the weights a run was made with. The network: VGG-19 from its table, a Gluon architecture
    from the zoo by name, or the ONNX file ``network_file``, checked by SHA-256 against the record (a path the
    record names is never opened). The weights: its random seed, the ONNX file's own, or the file ``spec``
    (default model/vgg19.params) checked by SHA-1 against the record."""
    convention = config.input_convention()
    source = config.network.source
    if kind_of(source)[0] == "onnx":
        if network_file is None:
            raise FmiError(f"the run was made with the ONNX file {source.removeprefix('onnx:')}; give that file with "
                           f"--network FILE to measure it")
        source = f"onnx:{network_file}"
        network = networks.network(source, convention)
        if record.network is None or network.describe().get("sha256") != record.network.sha256:
            raise FmiError(f"{network_file} is not the ONNX file the run used (its SHA-256 differs from the "
                           f"record's); give that file with --network FILE")
    else:
        network = networks.network(source, convention, config.pooling)
    return network, recorded_weights(record, network, convention, spec)


def recorded_weights(record: RunRecord, network: Network, convention: Optional[InputConvention],
                     spec: str) -> weight_files.Weights:
    """The weights of ``recorded_network``."""
    described = record.weights
    if not described.pretrained:
        return networks.weights(network, f"random:{described.seed or 0}", convention=convention)
    if kind_of(network.source)[0] == "onnx":
        return networks.weights(network, "auto", convention=convention)
    path = Path(weight_files.AUTHORS_FILE if spec == "auto" else spec)
    if not path.is_file():
        raise FmiError(f"the run was made with {described.label}; give that file with --weights FILE (not found: "
                       f"{path}) to measure it")
    digest = sha1_of_file(check_input_file(path, "weights file"))
    if digest != described.sha1:
        raise FmiError(f"{path} is not the weights file the run used (SHA-1 {digest[:12]}, the record's "
                       f"{(described.sha1 or '')[:12]}); give that file with --weights FILE")
    return networks.weights(network, str(path), convention=convention)


def check_control(run: RunData, control: RunData) -> None:
    """Raise FmiError naming every difference that makes ``control`` not the same run with other weights:
    its script, any setting that decides a cell, or its image sizes."""
    problems = []
    if run.script != control.script:
        problems.append(f"script: {run.script} here, {control.script} in the control")
    problems += [f"{key}: {config_words.shown(ours)} here, {config_words.shown(theirs)} in the control"
                 for key, ours, theirs in config_module.differences(run.config, control.config, ("paper", "method"))]
    sizes = [sorted({tuple(size) for size in data.view.plan.values()}) for data in (run, control)]
    if sizes[0] != sizes[1]:
        problems.append(f"image size: {sizes[0]} here, {sizes[1]} in the control")
    if problems:
        raise FmiError(f"--control {control.folder} is not the same run with other weights: " + "; ".join(problems))


def analyze_run(folder: Path, partial: bool = False, weights_spec: str = "auto",
                network_file: Optional[str] = None) -> tuple[RunData, dict[str, Any]]:
    """A run measured: (its data, every number as plain data for analysis.json); ``weights_spec`` and
    ``network_file`` give the weights file and the ONNX file of the measures that take codes."""
    run = RunData(folder, partial)
    cells: dict[str, dict[str, Any]] = {key: dict(measures.all_of(rgb)) for key, rgb in run.images.items()}
    before = {key: value for key, value in run.before_denoise.items() if value is not None}
    for key, value in before.items():
        cells[key]["before_denoise"] = value.model_dump()
    findings = run.findings = run.experiment.findings(run.finished_run(weights_spec, network_file))
    return run, {"run": str(run.folder), "script": run.script, "weights": run.label,
                 "finished": run.finished, "planned": run.planned, "silent": run.silent,
                 "measured_on": "each cell's saved image, after the TV denoise",
                 "groups": _group_statistics(run, cells),
                 "groups_before_denoise": _group_statistics(run, {key: cells[key]["before_denoise"] for key in before}),
                 "cells": cells, **{finding.name: finding.numbers for finding in findings},
                 "findings": [finding_table(finding) for finding in findings]}


def finding_table(finding: Finding) -> dict[str, Any]:
    return {"name": finding.name, "title": finding.title, "note": finding.note, "header": finding.header,
            "rows": finding.rows}


@dataclass
class Table:
    """A table for people: its header and rows of text."""

    header: list[str]
    rows: list[list[str]]


def headline(result: dict[str, Any], control: Optional[dict[str, Any]] = None, which: str = "groups") -> Table:
    """Per group, the mean (sd) of each measure, the control's mean beside it; ``which`` is "groups" (the
    saved, denoised images) or "groups_before_denoise"."""
    names = list(measures.IMAGE_MEASURES)
    theirs = (control or {}).get(which) or {}
    rows = []
    for group, stats in result[which].items():
        cells = [f"{stats[n]['mean']:.3g} ({stats[n]['std']:.2g})" for n in names]
        if group in theirs:
            cells = [f"{c} / {theirs[group][n]['mean']:.3g}" for c, n in zip(cells, names)]
        rows.append([group, str(stats[names[0]]["n"]), *cells])
    return Table(["group", "n", *names], rows)


def analyze_and_write(run_dir: Path, control_dir: Optional[Path] = None, partial: bool = False,
                      weights_spec: str = "auto", network_file: Optional[str] = None) -> list[str]:
    """Measure the run in ``run_dir`` (beside its random-weights control), write analysis.md,
    analysis.json and the plots into it; return the lines to print."""
    run, result = analyze_run(run_dir, partial, weights_spec, network_file)
    control = None
    if control_dir:
        control_run, control = analyze_run(control_dir, partial, "auto", network_file)
        check_control(run, control_run)
    written = [inside(run.folder, "analysis_measures.png")]
    measure_plot(result, control, written[0])
    for finding in run.findings:
        for name, draw in finding.plots.items():
            written.append(inside(run.folder, name))
            draw(written[-1], result["weights"])
    write_json(inside(run.folder, "analysis.json"), {**result, "control": control})
    tables = {"after": headline(result, control),
              "before": headline(result, control, "groups_before_denoise") if result["groups_before_denoise"] else None}
    write_text(inside(run.folder, "analysis.md"), pages.render(
        "analysis.md", run=Path(result["run"]).name, result=result, control=control,
        notes={**MEASURE_NOTES, **dict(run.experiment.notes)}, **tables))
    return [pages.render("summary.md", result=result, control=control, written=[path.name for path in written],
                         folder=str(run_dir), **tables).rstrip("\n")]


def measure_plot(result: dict[str, Any], control: Optional[dict[str, Any]], path: Path) -> None:
    """Each image measure against the group (layer depth or method): the mean over the group's cells,
    with bars of one standard deviation either side; the control run dashed."""
    names = list(next(iter(result["groups"].values())))
    figure, axes = plt.subplots(1, len(names), figsize=(4.0 * len(names), 3.9), squeeze=False)
    groups = list(result["groups"])
    positions = np.arange(len(groups))
    runs = [(result, "-o", f"this run: {result['weights']}")]
    if control:
        runs.append((control, "--s", f"control: {control['weights']}"))
    for axis, name in zip(axes[0], names):
        for data, style, label in runs:
            shown = [g for g in groups if g in data["groups"]]
            means = [data["groups"][g][name]["mean"] for g in shown]
            spreads = [data["groups"][g][name]["std"] for g in shown]
            axis.errorbar([groups.index(g) for g in shown], means, yerr=spreads, fmt=style,
                          capsize=3, label=label)
        axis.set_xticks(positions)
        axis.set_xticklabels(groups, rotation=45, ha="right")
        axis.set_title(name.replace("_", " "), fontsize=10)
        axis.set_ylabel(measures.UNITS.get(name, ""), fontsize=8)
    figure.suptitle("each point: the mean over a group's cells (their saved, denoised images); bars: one standard "
                    "deviation either side", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 0.95))
    save(figure, path)
