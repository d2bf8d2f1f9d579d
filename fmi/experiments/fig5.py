"""Style transfer (the paper's Fig. 5): PMCI beside Gatys et al.

Both minimise a content term at ``content_layers`` plus a style term at ``style_layers``,
scaled as the authors' gradients are (docs/method.md, "Losses"):

    method   content term              style term
    gatys    alpha/2 ||F - F_c||^2      beta/4 ||F F^T - G_s||^2 / (C^2 HW)
    pmci     alpha/2 ||F - F_c||^2 / HW beta/2 ||F 1 - t_s||^2 / (C HW)
"""
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from fmi.core.optimizers import SGD, NonNegative
from fmi.core.terms import Term
from fmi.errors import FmiError
from fmi.files import published
from fmi.run import measures
from fmi.run.experiment import (
    Batch,
    Context,
    Experiment,
    Finding,
    Finished,
    Grid,
    Images,
    Picture,
    Problem,
    chunks,
    grid,
)
from fmi.run.folder.keys import cell_key, parse_key
from fmi.run.folder.record import Name, Strict
from fmi.run.interface.cli import Option
from fmi.run.interface.config import CONTENT, Common, check_unique, paper, run_only

Method = Literal["gatys", "pmci"]
# method -> (content term normalised by HW?, style loss kind); style terms are always normalised
METHODS = {"gatys": (False, "gram"), "pmci": (True, "channel_sum")}
METHOD_TITLES = {"gatys": "Gatys", "pmci": "PMCI"}
PAPER_STYLES = 4
PAPER_CONTENTS = 2


class Config(Common):
    content: list[str] = paper(["golden_gate", "tubingen"], CONTENT)
    styles: list[str] = paper(["frida_kahlo", "seated_nude", "starry_night", "the_scream"], "style images")
    methods: list[Method] = paper(["gatys", "pmci"], "gatys, pmci or both")
    content_layers: list[str] = paper(["relu2_2"], "content relu layers")
    style_layers: list[str] = paper(["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], "style relu layers")
    content_weight: NonNegative = paper(10.0, "alpha, the content term's weight")
    style_weight: NonNegative = paper(1.0, "beta, the style term's weight")
    sgd: SGD = paper(SGD(weight_decay=5e-3), "the authors' SGD and stop rule")
    output: str = run_only("runs/fig5", "output folder")

    def check(self, where: str) -> None:
        super().check(where)
        self.check_layers(where, "content_layers")
        self.check_layers(where, "style_layers")
        if not self.styles:
            raise FmiError(f"{where}: key 'styles' is empty; name at least one style image")
        for key in ("styles", "methods", "content_layers", "style_layers"):
            check_unique(getattr(self, key), where, key)
        if not self.methods:
            raise FmiError(f"{where}: key 'methods' is empty; use gatys, pmci or both")


class Details(Strict):
    """What a style transfer cell adds to its record."""

    content: Name
    method: Method
    style: Name
    layers: list[str]


def row_label(index: int, style: str) -> str:
    """'A: frida_kahlo', 'B: ...', ..., then 'A2: ...': the paper's letters, with the style named."""
    letter = string.ascii_uppercase[index % 26]
    return f"{letter if index < 26 else f'{letter}{index // 26 + 1}'}: {style}"


Prepared = tuple[str, dict[str, Images], dict[str, dict[str, Images]]]  # name, content codes, {style: its codes}


class StyleTransfer(Experiment[Config, Prepared]):
    name, script, title, paper = "fig5", "run_pmci.py", "PMCI beside Gatys", "Fig. 5"
    authors = published.FIGURES[2]
    config_model, details_model = Config, Details
    options = (Option("--style", ("styles",), "texts", "IMAGES"),
               Option("--methods", ("methods",), "texts", "METHODS"),
               Option("--content-layers", ("content_layers",), "texts", "LAYERS"),
               Option("--style-layers", ("style_layers",), "texts", "LAYERS"),
               Option("--content-weight", ("content_weight",), "number", "ALPHA"),
               Option("--style-weight", ("style_weight",), "number", "BETA"))
    loss_title = "Style transfer loss"
    notes = (("style similarity", "cosine similarity of per-layer channel-sum vectors and of Gram matrices of the "
                                  "network's codes (the run's weights), averaged over the style layers."),)

    def images(self, config: Config) -> tuple[list[str], list[str]]:
        return list(config.content), list(config.styles)

    def terms(self, config: Config, group: str) -> list[Term]:
        """The loss terms of method ``group``: content terms first, then one style term per style layer."""
        content_normalised, style_kind = METHODS[group]
        return ([Term(layer, "content", config.content_weight, content_normalised) for layer in config.content_layers]
                + [Term(layer, style_kind, config.style_weight, True) for layer in config.style_layers])

    def plan(self, config: Config, contents: list[str], styles: list[str]) -> list[Batch]:
        deepest = config.net.deepest(config.content_layers + config.style_layers)
        return [Batch(name, method, tuple(chunk), deepest) for name in contents for method in config.methods
                for chunk in chunks(styles, config.batch_size)]

    def grids(self, config: Config, contents: list[str], styles: list[str]) -> list[Grid]:
        """The one figure: a row per style image; columns the style, then Gatys and PMCI per content image."""
        return [self._grid(config, f"fig5_{'+'.join(contents)}.png", contents, config.methods, styles)]

    def paper_grid(self, config: Config, contents: list[str], styles: list[str]) -> Grid:
        """The authors' Fig. 5 (four styles by style, Gatys and PMCI for two contents) with this run's cells."""
        return self._grid(config, "fig5_paper.png", (list(contents) + [""] * PAPER_CONTENTS)[:PAPER_CONTENTS],
                          list(METHODS), (list(styles) + [""] * PAPER_STYLES)[:PAPER_STYLES])

    def _grid(self, config: Config, file: str, contents: list[str], methods: Sequence[str], styles: list[str]) -> Grid:
        columns = ["style"] + [f"{METHOD_TITLES[method]}\n({content or 'None'})" for content in contents
                               for method in methods]
        keys: list[list[Optional[str]]] = [[None, *(
            cell_key(content, method, style) if content and style and method in config.methods else None
            for content in contents for method in methods)] for style in styles]
        what = (f"Style transfer: content {', '.join(config.content_layers)}, style {', '.join(config.style_layers)}, "
                f"alpha={config.content_weight:g}, beta={config.style_weight:g}")
        return grid(file, what, [row_label(index, style or "-") for index, style in enumerate(styles)], columns, keys,
                    pictures=[[style or None] + [None] * (len(columns) - 1) for style in styles])

    def label(self, config: Config, name: str) -> str:
        """A method as loss.png names it (Gatys, PMCI); style images as they are."""
        return METHOD_TITLES.get(name, name)

    def prepare(self, config: Config, session: Context, content: Picture) -> Prepared:
        return (content.name, session.extract(config.content_layers, content.array),
                {style.name: session.extract(config.style_layers, style.array)
                 for style in session.styles[content.name]})

    def problem(self, config: Config, prepared: Prepared, batch: Batch) -> Problem:
        name, content_codes, style_codes = prepared
        method_terms = self.terms(config, batch.group)
        layers = list(dict.fromkeys(term.layer for term in method_terms))
        targets = [np.concatenate([content_codes[term.layer]] * len(batch.items)) if term.kind == "content"
                   else np.concatenate([style_codes[style][term.layer] for style in batch.items])
                   for term in method_terms]
        details = [{"content": name, "method": batch.group, "style": style, "layers": layers} for style in batch.items]
        return Problem(method_terms, targets, details, f"{name} {batch.group} {', '.join(batch.items)}")

    def findings(self, run: Finished[Config]) -> list[Finding]:
        """Style as channel sums: the cosine similarity of channel-sum vectors and of Gram matrices (averaged
        over the style layers) between every style image and every output, through the run's weights."""
        from fmi.core import preprocessing  # OpenCV: loaded for the analysis, never for --help
        from fmi.run import figures  # matplotlib: loaded for the analysis, never for --help

        size = next(iter(run.images.values())).shape[:2]
        items = {f"style {name}": run.input_image(name) for name in run.styles}
        style_of = {}
        for key, rgb in run.images.items():
            where = parse_key(key)
            style_of[f"{where.group} {where.content} {where.item}"] = f"style {where.item}"
            items[f"{where.group} {where.content} {where.item}"] = rgb
        items = {name: preprocessing.unit_to_uint8(preprocessing.resize(rgb, size[0], size[1]))
                 for name, rgb in items.items()}
        layers = run.config.style_layers
        summaries = {}
        for name, rgb in items.items():
            found = run.codes(layers, rgb)
            summaries[name] = [(code[0].sum(axis=(1, 2)), gram(code[0])) for code in found.values()]
        names = list(items)
        matrices = {kind: [[float(np.mean([measures.cosine_similarity(a[layer][index], b[layer][index])
                                           for layer in range(len(layers))]))
                            for b in (summaries[n] for n in names)] for a in (summaries[n] for n in names)]
                    for index, kind in enumerate(("channel_sums", "gram"))}
        styles = [name for name in names if name.startswith("style ")]
        own_style, rows = {}, []
        for name, style in style_of.items():
            row = names.index(name)
            own_style[name] = {kind: {"own_style": matrices[kind][row][names.index(style)],
                                      "other_styles": float(np.mean([matrices[kind][row][names.index(other)]
                                                                     for other in styles if other != style]))
                                      if len(styles) > 1 else None} for kind in matrices}
            rows.append([name] + [number(own_style[name][kind][part]) for kind in matrices
                                  for part in ("own_style", "other_styles")])
        numbers = {"items": names, "layers": layers, "matrices": matrices, "own_style": own_style}

        def plot(path: Path, title: str) -> None:
            figures.similarity_matrices({f"cosine similarity of {kind.replace('_', ' ')}": matrices[kind]
                                         for kind in ("channel_sums", "gram")}, names, path, title)

        return [Finding("style", numbers, "Style as channel sums",
                        "Similarity of each output to its own style image and (mean) to the other styles.",
                        ["output", "channel sums: own", "others", "Gram: own", "others"], rows,
                        {"analysis_style_similarity.png": plot})]


def gram(code: Images) -> Images:
    """The Gram matrix F F^T of one image's code (C, h, w), in float64."""
    flat = code.reshape(code.shape[0], -1).astype(np.float64)
    return flat @ flat.T


def number(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


EXPERIMENT = StyleTransfer()
