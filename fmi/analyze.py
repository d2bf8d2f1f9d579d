"""Measure the paper's claims on a run folder of run_fmi.py, run_random.py or run_pmci.py.

    python -m fmi.analyze RUN_DIR
    python -m fmi.analyze --control RUN_DIR_RANDOM_WEIGHTS RUN_DIR

Writes analysis.md (tables), analysis.json (every number) and PNG plots into RUN_DIR and
prints the headline table. The control run (same settings, random weights) is measured
the same way and drawn on the same axes, so trends that come from training separate from
those the architecture alone produces.
"""
import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from fmi import measures, vgg19
from fmi.errors import FmiError
from fmi.io import read_json, sha1_of_file
from fmi.runfolder import cell_image_path

SCRIPTS = ("run_fmi.py", "run_random.py", "run_pmci.py")
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
    """A run folder: its record and, per finished cell, the group it belongs to and its image.

    A run with unfinished cells is refused unless ``partial``; silent cells (the filter responds
    nowhere on the cell's final image) are left out of the measures and counted.
    """

    def __init__(self, folder, partial=False):
        from fmi import image

        self.folder = Path(folder)
        path = self.folder / "record.json"
        if not self.folder.is_dir():
            raise FmiError(f"{self.folder}: no such folder; give the output folder of "
                           f"run_fmi.py, run_random.py or run_pmci.py")
        if not path.is_file():
            raise FmiError(f"{self.folder} is not a run folder (no record.json); give the output "
                           f"folder of run_fmi.py, run_random.py or run_pmci.py")
        self.record = read_json(path)
        try:
            self.script = self.record["script"]
            cells = self.record["cells"]
            plan = self.record["plan"]
            self.record["weights"]["label"]
        except (KeyError, TypeError):
            raise FmiError(f"{path} is not a run record of this fmi version (unreadable, or without script, "
                           f"plan and cells); rerun the run") from None
        if self.script not in SCRIPTS:
            raise FmiError(f"{path}: made by {self.script!r}, which fmi.analyze does not know")
        if not cells:
            raise FmiError(f"{self.folder}: the run has no finished cells; finish it first "
                           f"(rerun it with --resume)")
        self.planned = len(plan)
        unfinished = [key for key in plan if key not in cells]
        if unfinished and not partial:
            raise FmiError(f"{self.folder}: {len(cells)} of {self.planned} cells are finished (first missing: "
                           f"{unfinished[0]}); finish the run with --resume, or add --partial to measure "
                           f"the finished ones")
        self.finished = len([key for key in plan if key in cells])
        missing = [key for key in cells if not cell_image_path(self.folder, key, cells[key]).is_file()]
        if missing:
            shown = cell_image_path(self.folder, missing[0], cells[missing[0]]).relative_to(self.folder)
            raise FmiError(f"{self.folder}: {len(missing)} cell image(s) missing, e.g. {shown}; rerun the run "
                           f"with --resume to redo them")
        self.silent = sorted(key for key, cell in cells.items() if cell.get("silent"))
        self.images = {key: image.read_rgb(cell_image_path(self.folder, key, cell))
                       for key, cell in cells.items() if not cell.get("silent")}
        if not self.images:
            raise FmiError(f"{self.folder}: every finished cell is silent (its filter responds nowhere on its "
                           f"final image); nothing to measure")
        self.before_denoise = {key: cells[key].get("before_denoise") for key in self.images}
        self.label = self.record["weights"]["label"]

    def group_of(self, key):
        """The layer of a Fig. 3/4 cell, the method of a Fig. 5 cell."""
        return key.split("/")[1]

    def groups(self):
        found = list(dict.fromkeys(self.group_of(key) for key in self.images))
        return sorted(found, key=vgg19.RELU_LAYERS.index) if self.script != "run_pmci.py" else found


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
    before = {key: value for key, value in run.before_denoise.items()
              if isinstance(value, dict) and all(isinstance(value.get(name), (int, float))
                                                 for name in measures.IMAGE_MEASURES)}
    for key, value in before.items():
        cells[key]["before_denoise"] = {name: float(value[name]) for name in measures.IMAGE_MEASURES}
    return cells, _group_statistics(run, cells), _group_statistics(run, {key: cells[key]["before_denoise"]
                                                                         for key in before})


def specificity(run):
    """Per layer of an FMI run with two or more content images: texture distance of the same
    filter's images across content images, against that of different filters' images."""
    if run.script != "run_fmi.py":
        return {}
    by_layer = {}
    for key in run.images:
        content, layer, item = key.split("/")
        by_layer.setdefault(layer, {}).setdefault(item, {})[content] = run.images[key]
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


def style_similarity(run):
    """For a Fig. 5 run: cosine similarity of channel-sum vectors and of Gram matrices
    (averaged over the style layers) between every style image and every output."""
    if run.script != "run_pmci.py":
        return {}
    from fmi import image, invert

    config = run.record["config"]
    weights = recorded_weights(run.record)
    first = next(iter(run.images.values()))
    size = first.shape[:2]
    items, style_item, style_of = {}, {}, {}
    for name, source in run.record["inputs"].items():
        if source["role"] != "style":
            continue
        path = Path(source["path"])
        if not path.is_file() or sha1_of_file(path) != source["sha1"]:
            raise FmiError(f"style image {path} is missing or not the file the run used (SHA-1 differs); "
                           f"put the run's style images back to measure style similarity")
        style_item[name] = f"style {name}"
        items[style_item[name]] = image.unit_to_uint8(image.resize(image.read_rgb(path), *size))
    for key, rgb in run.images.items():
        content, method, style = key.split("/")
        style_of[f"{method} {content} {style}"] = style_item[style]
        items[f"{method} {content} {style}"] = image.unit_to_uint8(image.resize(rgb, *size))
    layers = config["style_layers"]
    summaries = {}
    for name, rgb in items.items():
        codes = invert.extract(weights, layers, weights.preprocessing.preprocess(rgb), config["pooling"])
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


def recorded_weights(record):
    """The weights a run was made with, from its record: the same random seed, or the same file
    (checked by SHA-1), never whatever the current folder holds."""
    from fmi import weights as weights_module

    described = record["weights"]
    if not described["pretrained"]:
        return weights_module.random_weights(described["seed"])
    path = Path(described.get("path") or "")
    if not path.is_file():
        raise FmiError(f"the run was made with {described['label']} from {path}, which is not there; put that "
                       f"file back to measure style similarity")
    if sha1_of_file(path) != described["sha1"]:
        raise FmiError(f"{path} is not the weights file the run used (SHA-1 differs from the record's "
                       f"{described['sha1']})")
    return weights_module.load_file(path)


CONTROL_KEYS = ("layers", "filters", "all_filters", "draw_seeds", "mode", "styles", "methods",
                "content_layers", "style_layers", "optimizer")


def check_control(run, control):
    """Raise FmiError naming every difference that makes ``control`` not the same run with other weights."""
    problems = []
    if run.script != control.script:
        problems.append(f"script: {run.script} here, {control.script} in the control")
    ours, theirs = run.record["config"], control.record["config"]
    for key in CONTROL_KEYS:
        if ours.get(key) != theirs.get(key):
            problems.append(f"{key}: {ours.get(key)} here, {theirs.get(key)} in the control")
    steps = {name: (record["config"]["lbfgs"] if record["config"]["optimizer"] == "lbfgs"
                    else record["config"]["sgd"])["max_steps"] for name, record in
             (("here", run.record), ("control", control.record))}
    if steps["here"] != steps["control"]:
        problems.append(f"steps: {steps['here']} here, {steps['control']} in the control")
    sizes = [sorted({tuple(size) for size in record["plan"].values()}) for record in (run.record, control.record)]
    if sizes[0] != sizes[1]:
        problems.append(f"image size: {sizes[0]} here, {sizes[1]} in the control")
    if problems:
        raise FmiError(f"--control {control.folder} is not the same run with other weights: "
                       + "; ".join(problems))


def analyse(folder, partial=False):
    run = RunData(folder, partial)
    cells, groups, groups_before = image_measures(run)
    return run, {"run": str(run.folder), "script": run.script, "weights": run.label,
                 "finished": run.finished, "planned": run.planned, "silent": run.silent,
                 "measured_on": "each cell's saved image, after the TV denoise",
                 "groups": groups, "groups_before_denoise": groups_before,
                 "cells": cells, "specificity": specificity(run),
                 "style": style_similarity(run)}


def headline_table(result, control=None, which="groups"):
    """Markdown table: per group, the mean (sd) of each measure, control beside it; ``which`` is
    "groups" (the saved, denoised images) or "groups_before_denoise"."""
    names = list(measures.IMAGE_MEASURES)
    header = "| group | n | " + " | ".join(names) + " |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    theirs = (control or {}).get(which) or {}
    for group, stats in result[which].items():
        cells = [f"{stats[n]['mean']:.3g} ({stats[n]['std']:.2g})" for n in names]
        if group in theirs:
            cells = [f"{c} / {theirs[group][n]['mean']:.3g}" for c, n in zip(cells, names)]
        lines.append(f"| {group} | {stats[names[0]]['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _plots(result, control, folder):
    from fmi import figures

    written = [folder / "analysis_measures.png"]
    figures.measure_plot(result, control, written[0])
    if result["style"]:
        written.append(folder / "analysis_style_similarity.png")
        figures.similarity_matrices(result["style"], written[1], title=result["weights"])
    return written


def report(result, control):
    lines = [f"# What the numbers say: {Path(result['run']).name}", "",
             f"Made by `{result['script']}` with **{result['weights']}**."]
    if control:
        lines.append(f"Control: `{control['run']}` with **{control['weights']}** (after the slash in the table).")
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


def main(argv=None):
    from fmi.cli import ArgumentParser, run_guarded, setup_logging
    from fmi.io import ensure_writable_dir, write_json, write_text

    parser = ArgumentParser(prog="python -m fmi.analyze", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="output folder of a finished run")
    parser.add_argument("--control", type=Path, metavar="RUN_DIR_RANDOM_WEIGHTS",
                        help="the same run made with random weights, measured alongside")
    parser.add_argument("--partial", action="store_true",
                        help="measure the finished cells of a run that is not finished")
    args = parser.parse_args(argv)
    setup_logging()

    def action():
        run, result = analyse(args.run_dir, args.partial)
        control = None
        if args.control:
            control_run, control = analyse(args.control, args.partial)
            check_control(run, control_run)
        if result["finished"] < result["planned"]:
            print(f"--partial: measuring {result['finished']} of {result['planned']} cells")
        if result["silent"]:
            print(f"{len(result['silent'])} silent cell(s) left out (their filter responds nowhere on their "
                  f"final image)")
        ensure_writable_dir(args.run_dir)
        written = _plots(result, control, args.run_dir)
        write_json(args.run_dir / "analysis.json", {**result, "control": control})
        write_text(args.run_dir / "analysis.md", report(result, control) + "\n")
        print(f"{result['weights']}" + (f" (control: {control['weights']})" if control else ""))
        print("measured on each cell's saved image, after the TV denoise:")
        print(headline_table(result, control))
        if result["groups_before_denoise"]:
            print("the same before the denoise:")
            print(headline_table(result, control, "groups_before_denoise"))
        print(f"wrote {args.run_dir / 'analysis.md'}, analysis.json, "
              f"{', '.join(path.name for path in written)}")
        return 0

    return run_guarded(action, resume_hint=False)


if __name__ == "__main__":
    sys.exit(main())
