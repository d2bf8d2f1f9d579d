"""Measure the paper's claims on the run folder of any of the three figures.

    python -m fmi.analyze RUN_DIR
    python -m fmi.analyze --control RUN_DIR_RANDOM_WEIGHTS RUN_DIR

Writes analysis.md (tables), analysis.json (every number) and PNG plots into RUN_DIR and
prints the headline table. The control run (same settings, random weights) is measured
the same way and drawn on the same axes, so trends that come from training separate from
those the architecture alone produces.
"""
import itertools
from pathlib import Path

import numpy as np

from fmi import experiments
from fmi.core import invert, preprocessing, vgg19
from fmi.errors import FmiError
from fmi.files import weight_files
from fmi.io import check_input_file, markdown, sha1_of_file, write_json, write_text
from fmi.run import measures
from fmi.run.figures import plt, save, wrap_title  # the Agg backend, chosen there
from fmi.run.folder.keys import parse_key
from fmi.run.folder.record import RunView, inside, read_image

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


class RunData:
    """A run folder (read through ``fmi.run.folder.record.RunView``) and, per finished cell, its group and
    its image.

    A run with unfinished cells is refused unless ``partial``; silent cells (the filter responds
    nowhere on the cell's final image) are left out of the measures and counted.
    """

    def __init__(self, folder, partial=False):
        view = RunView(folder)
        self.view, self.folder, self.script, self.label = view, view.folder, view.script, view.label
        self.figure = experiments.of_script(view.script).name
        self.config = experiments.config_of(view)
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
        self.images = {key: view.read_image(key) for key, cell in cells.items() if not cell.silent}
        missing = [key for key, rgb in self.images.items() if rgb is None]
        if missing:
            raise FmiError(f"{self.folder}: {len(missing)} cell image(s) missing or unreadable, e.g. "
                           f"{view.image_path(missing[0]).relative_to(self.folder)}; rerun the run with --resume "
                           f"to redo them")
        if not self.images:
            raise FmiError(f"{self.folder}: every finished cell is silent (its filter responds nowhere on its "
                           f"final image); nothing to measure")
        self.before_denoise = {key: cells[key].before_denoise for key in self.images}

    def group_of(self, key):
        """The layer of a Fig. 3/4 cell, the method of a Fig. 5 cell."""
        return parse_key(key).group

    def groups(self):
        found = list(dict.fromkeys(self.group_of(key) for key in self.images))
        return sorted(found, key=vgg19.RELU_LAYERS.index) if self.figure != "fig5" else found


def _group_statistics(run, values):
    """Per group of ``run``: the mean, standard deviation and count of each measure in ``values``."""
    groups = {}
    for group in run.groups():
        members = [values[key] for key in values if run.group_of(key) == group]
        if members:
            groups[group] = {name: {"mean": float(np.mean([v[name] for v in members])),
                                    "std": float(np.std([v[name] for v in members])), "n": len(members)}
                             for name in measures.IMAGE_MEASURES}
    return groups


def image_measures(run):
    """Every measure of every cell's saved (TV-denoised) image, and of the same image before the
    denoise (kept in each cell's record when it was made); per group, the mean, sd and count of each."""
    cells = {key: measures.all_of(rgb) for key, rgb in run.images.items()}
    before = {key: value for key, value in run.before_denoise.items() if value is not None}
    for key, value in before.items():
        cells[key]["before_denoise"] = value.model_dump()
    return cells, _group_statistics(run, cells), _group_statistics(run, {key: cells[key]["before_denoise"]
                                                                         for key in before})


def specificity(run):
    """Per layer of an FMI run with two or more content images: texture distance of the same
    filter's images across content images, against that of different filters' images."""
    if run.figure != "fig3":
        return {}
    by_layer = {}
    for key in run.images:
        cell_key = parse_key(key)
        by_layer.setdefault(cell_key.group, {}).setdefault(cell_key.item, {})[cell_key.content] = run.images[key]
    result = {}
    for layer in run.groups():
        items = by_layer[layer]
        contents = sorted(set.intersection(*(set(images) for images in items.values())))
        if len(contents) < 2 or len(items) < 2:
            continue
        same, different, wins = [], [], 0
        names = sorted(items)
        for item in names:
            own = [measures.texture_distance(items[item][a], items[item][b])
                   for a, b in itertools.combinations(contents, 2)]
            others = [measures.texture_distance(items[item][a], items[other][b])
                      for other in names if other != item
                      for a, b in itertools.permutations(contents, 2)]
            same += own
            different += others
            wins += int(np.mean(own) < np.mean(others))
        result[layer] = {"same_filter": float(np.mean(same)), "different_filter": float(np.mean(different)),
                         "ratio": float(np.mean(same) / np.mean(different)) if np.mean(different) else None,
                         "filters_closer_to_themselves": wins, "filters": len(names),
                         "contents": contents}
    return result


def style_similarity(run, weights_spec="auto"):
    """For a Fig. 5 run: cosine similarity of channel-sum vectors and of Gram matrices (averaged
    over the style layers) between every style image (as the run saved it in ``inputs/``) and
    every output, through the weights the run was made with (``weights_spec``, checked against
    the record)."""
    if run.figure != "fig5":
        return {}

    weights = recorded_weights(run.view.record, weights_spec)
    size = next(iter(run.images.values())).shape[:2]
    items, style_item, style_of = {}, {}, {}
    for name in run.view.styles:
        rgb = read_image(inside(run.folder, "inputs", f"{name}.png"))
        if rgb is None:
            raise FmiError(f"{run.folder / 'inputs' / (name + '.png')}: the run's copy of style image {name} is "
                           f"missing or unreadable; rerun the run to measure style similarity")
        style_item[name] = f"style {name}"
        items[style_item[name]] = preprocessing.unit_to_uint8(preprocessing.resize(rgb, *size))
    for key, rgb in run.images.items():
        cell_key = parse_key(key)
        name = f"{cell_key.group} {cell_key.content} {cell_key.item}"
        style_of[name] = style_item[cell_key.item]
        items[name] = preprocessing.unit_to_uint8(preprocessing.resize(rgb, *size))
    layers = run.config.style_layers
    summaries = {}
    for name, rgb in items.items():
        codes = invert.extract(weights, layers, weights.preprocessing.preprocess(rgb), run.config.pooling)
        summaries[name] = [(code[0].sum(axis=(1, 2)),
                            (lambda flat: flat @ flat.T)(code[0].reshape(code.shape[1], -1).astype(np.float64)))
                           for code in codes.values()]
    names = list(items)
    matrices = {}
    for index, kind in enumerate(("channel_sums", "gram")):
        matrices[kind] = [[float(np.mean([measures.cosine_similarity(a[layer][index], b[layer][index])
                                          for layer in range(len(layers))]))
                           for b in (summaries[n] for n in names)] for a in (summaries[n] for n in names)]
    own_style = {}
    styles = list(style_item.values())
    for name, style in style_of.items():
        row = names.index(name)
        own_style[name] = {
            kind: {"own_style": matrices[kind][row][names.index(style)],
                   "other_styles": float(np.mean([matrices[kind][row][names.index(other)]
                                                  for other in styles if other != style]))
                   if len(styles) > 1 else None}
            for kind in matrices}
    return {"items": names, "layers": layers, "matrices": matrices, "own_style": own_style}


def recorded_weights(record, spec="auto"):
    """The weights a run was made with: its random seed, or the file ``spec`` (default
    model/vgg19.params) checked by SHA-1 against the record. A path named by the record itself is
    never opened."""

    described = record.weights
    if not described.pretrained:
        return weight_files.random_weights(described.seed)
    path = Path(weight_files.AUTHORS_FILE if spec == "auto" else spec)
    if not path.is_file():
        raise FmiError(f"the run was made with {described.label}; give that file with --weights FILE (not found: "
                       f"{path}) to measure style similarity")
    digest = sha1_of_file(check_input_file(path, "weights file"))
    if digest != described.sha1:
        raise FmiError(f"{path} is not the weights file the run used (SHA-1 {digest[:12]}, the record's "
                       f"{described.sha1[:12]}); give that file with --weights FILE")
    return weight_files.load_file(path)


CONTROL_KEYS = ("layers", "filters", "all_filters", "draw_seeds", "mode", "styles", "methods",
                "content_layers", "style_layers", "optimizer")


def check_control(run, control):
    """Raise FmiError naming every difference that makes ``control`` not the same run with other weights."""
    problems = []
    if run.script != control.script:
        problems.append(f"script: {run.script} here, {control.script} in the control")
    ours, theirs = run.config.model_dump(), control.config.model_dump()
    for key in CONTROL_KEYS:
        if ours.get(key) != theirs.get(key):
            problems.append(f"{key}: {ours.get(key)} here, {theirs.get(key)} in the control")
    if run.config.steps != control.config.steps:
        problems.append(f"steps: {run.config.steps} here, {control.config.steps} in the control")
    sizes = [sorted({tuple(size) for size in data.view.plan.values()}) for data in (run, control)]
    if sizes[0] != sizes[1]:
        problems.append(f"image size: {sizes[0]} here, {sizes[1]} in the control")
    if problems:
        raise FmiError(f"--control {control.folder} is not the same run with other weights: "
                       + "; ".join(problems))


def analyze_run(folder, partial=False, weights_spec="auto"):
    run = RunData(folder, partial)
    cells, groups, groups_before = image_measures(run)
    return run, {"run": str(run.folder), "script": run.script, "weights": run.label,
                 "finished": run.finished, "planned": run.planned, "silent": run.silent,
                 "measured_on": "each cell's saved image, after the TV denoise",
                 "groups": groups, "groups_before_denoise": groups_before,
                 "cells": cells, "specificity": specificity(run),
                 "style": style_similarity(run, weights_spec)}


def headline_rows(result, control=None, which="groups"):
    """(header, rows): per group, the mean (sd) of each measure, the control's mean beside it;
    ``which`` is "groups" (the saved, denoised images) or "groups_before_denoise"."""
    names = list(measures.IMAGE_MEASURES)
    theirs = (control or {}).get(which) or {}
    rows = []
    for group, stats in result[which].items():
        cells = [f"{stats[n]['mean']:.3g} ({stats[n]['std']:.2g})" for n in names]
        if group in theirs:
            cells = [f"{c} / {theirs[group][n]['mean']:.3g}" for c, n in zip(cells, names)]
        rows.append([group, str(stats[names[0]]["n"]), *cells])
    return ["group", "n", *names], rows


def headline_table(result, control=None, which="groups"):
    """The rows of ``headline_rows`` as a Markdown table."""
    header, rows = headline_rows(result, control, which)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _plots(result, control, folder):

    written = [inside(folder, "analysis_measures.png")]
    measure_plot(result, control, written[0])
    if result["style"]:
        written.append(inside(folder, "analysis_style_similarity.png"))
        similarity_matrices(result["style"], written[1], title=result["weights"])
    return written


def report(result, control):
    lines = [f"# What the numbers say: {markdown(Path(result['run']).name)}", "",
             f"Made by {markdown(result['script'])} with **{markdown(result['weights'])}**."]
    if control:
        lines.append(f"Control: {markdown(control['run'])} with **{markdown(control['weights'])}** (after the slash "
                     f"in the table).")
    lines += ["", "## Measures", ""]
    lines += [f"- **{name}**: {note}" for name, note in MEASURE_NOTES.items()]
    lines += ["- **texture distance**: mean of the total-variation distances of a 64-bin RGB histogram "
              "and a magnitude-weighted 8-bin gradient-orientation histogram (0 identical, 1 disjoint).",
              "- **style similarity**: cosine similarity of per-layer channel-sum vectors and of Gram "
              "matrices of VGG-19 codes (the run's weights), averaged over the style layers.",
              "", "## Per group: mean (sd)" + (" / control mean" if control else ""), "",
              "Measured on each cell's saved image, after the total-variation denoise:", "",
              headline_table(result, control), ""]
    if result["groups_before_denoise"]:
        lines += ["The same measures on each cell's image before the denoise (what the inversion itself "
                  "made; recorded with the cell):", "", headline_table(result, control, "groups_before_denoise"), ""]
    if result["specificity"]:
        lines += ["## Does every filter extract a specific texture?", "",
                  "Texture distance between the FMI images of different content images: for the same "
                  "filter, against different filters. If the claim holds, same-filter pairs are closer "
                  "(ratio below 1).", "",
                  "| layer | same filter | different filters | ratio | filters closer to themselves |",
                  "|---|---|---|---|---|"]
        for layer, s in result["specificity"].items():
            ratio = f"{s['ratio']:.2f}" if s["ratio"] is not None else "n/a"
            lines.append(f"| {layer} | {s['same_filter']:.3f} | {s['different_filter']:.3f} | {ratio} | "
                         f"{s['filters_closer_to_themselves']} of {s['filters']} |")
        lines.append("")
    if result["style"]:
        lines += ["## Style as channel sums", "",
                  "Similarity of each output to its own style image and (mean) to the other styles.", "",
                  "| output | channel sums: own | others | Gram: own | others |", "|---|---|---|---|---|"]
        def number(value):
            return "n/a" if value is None else f"{value:.3f}"

        for name, s in result["style"]["own_style"].items():
            lines.append(f"| {name} | {number(s['channel_sums']['own_style'])} | "
                         f"{number(s['channel_sums']['other_styles'])} | {number(s['gram']['own_style'])} | "
                         f"{number(s['gram']['other_styles'])} |")
        lines.append("")
    return "\n".join(lines)



# --- plots ---------------------------------------------------------------------------------------

def analyze_and_write(run_dir, control_dir=None, partial=False, weights_spec="auto"):
    """Measure the run in ``run_dir`` (beside its random-weights control), write analysis.md,
    analysis.json and the plots into it; return the lines to print."""
    run, result = analyze_run(run_dir, partial, weights_spec)
    control = None
    if control_dir:
        control_run, control = analyze_run(control_dir, partial, "auto")
        check_control(run, control_run)
    lines = []
    if result["finished"] < result["planned"]:
        lines.append(f"--partial: measuring {result['finished']} of {result['planned']} cells")
    if result["silent"]:
        lines.append(f"{len(result['silent'])} silent cell(s) left out (their filter responds nowhere on their "
                     f"final image)")
    written = _plots(result, control, run.folder)
    write_json(inside(run.folder, "analysis.json"), {**result, "control": control})
    write_text(inside(run.folder, "analysis.md"), report(result, control) + "\n")
    lines += [f"{result['weights']}" + (f" (control: {control['weights']})" if control else ""),
              "measured on each cell's saved image, after the TV denoise:", headline_table(result, control)]
    if result["groups_before_denoise"]:
        lines += ["the same before the denoise:", headline_table(result, control, "groups_before_denoise")]
    lines.append(f"wrote {Path(run_dir) / 'analysis.md'}, analysis.json, {', '.join(path.name for path in written)}")
    return lines


def measure_plot(result, control, path):
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


MAX_ANNOTATED = 12  # larger similarity matrices are drawn without numbers, which would overlap


def similarity_matrices(style, path, title=None):
    """Channel-sum and Gram cosine-similarity matrices between styles and outputs, side by side.

    Each matrix gets about 0.55 inch per row, so its numbers (shown up to 12 items) stay
    readable; the colour bar carries the scale either way.
    """
    names = style["items"]
    count = len(names)
    side = max(3.0, 0.55 * count + 1.5)
    figure, axes = plt.subplots(1, 2, figsize=(2 * side + 1.5, side + 1.2))
    for axis, kind in zip(axes, ("channel_sums", "gram")):
        matrix = np.asarray(style["matrices"][kind])
        shown = axis.imshow(matrix, vmin=matrix.min(), vmax=1.0, cmap="viridis")
        if count <= MAX_ANNOTATED:
            middle = (matrix.min() + 1) / 2
            for row, column in np.ndindex(matrix.shape):
                axis.text(column, row, f"{matrix[row, column]:.2f}", ha="center", va="center", fontsize=8,
                          color="white" if matrix[row, column] < middle else "black")
        axis.set_xticks(range(count))
        axis.set_yticks(range(count))
        axis.set_xticklabels(names, rotation=90, fontsize=8)
        axis.set_yticklabels(names, fontsize=8)
        axis.set_title(f"cosine similarity of {kind.replace('_', ' ')}", fontsize=10)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    figure.tight_layout()
    if title:  # just above the matrices' titles: square matrices leave the figure's top empty, which is cropped
        figure.canvas.draw()
        top = max(axis.title.get_window_extent().transformed(figure.transFigure.inverted()).y1 for axis in axes)
        figure.suptitle(wrap_title(title, 2 * side + 1.5, 10), fontsize=10, y=top + 0.01, va="bottom")
    save(figure, path)
