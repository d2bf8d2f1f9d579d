"""Style transfer (the paper's Fig. 5): PMCI beside Gatys et al.

Both minimise a content term at ``content_layers`` plus a style term at ``style_layers``,
scaled as the authors' gradients are (docs/method.md, "Losses"):

| method | content term | style term |
|---|---|---|
| gatys | alpha/2 ||F - F_c||^2 | beta/4 ||F F^T - G_s||^2 / (C^2 HW) |
| pmci  | alpha/2 ||F - F_c||^2 / HW | beta/2 ||F 1 - t_s||^2 / (C HW) |
"""
import dataclasses
import logging
import string

import numpy as np

from fmi.config import SGD, Common, check_layers, check_unique
from fmi.errors import FmiError

log = logging.getLogger("fmi")

# method -> (content term normalised by HW?, style loss kind); style terms are always normalised
METHODS = {"gatys": (False, "gram"), "pmci": (True, "channel_sum")}
METHOD_TITLES = {"gatys": "Gatys", "pmci": "PMCI"}


@dataclasses.dataclass
class Config(Common):
    content: list[str] = dataclasses.field(default_factory=lambda: ["golden_gate", "tubingen"])
    styles: list[str] = dataclasses.field(
        default_factory=lambda: ["frida_kahlo", "seated_nude", "starry_night", "the_scream"])
    methods: list[str] = dataclasses.field(default_factory=lambda: ["gatys", "pmci"])
    content_layers: list[str] = dataclasses.field(default_factory=lambda: ["relu2_2"])
    style_layers: list[str] = dataclasses.field(
        default_factory=lambda: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"])
    content_weight: float = 10.0
    style_weight: float = 1.0
    sgd: SGD = dataclasses.field(default_factory=lambda: SGD(weight_decay=5e-3))
    output: str = "runs/fig5"

    def check(self, where):
        super().check(where)
        check_layers(self.content_layers, where, "content_layers")
        check_layers(self.style_layers, where, "style_layers")
        if not self.styles:
            raise FmiError(f"{where}: key 'styles' is empty; name at least one style image")
        for key in ("styles", "methods", "content_layers", "style_layers"):
            check_unique(getattr(self, key), where, key)
        if not self.methods:
            raise FmiError(f"{where}: key 'methods' is empty; use gatys, pmci or both")
        for method in self.methods:
            if method not in METHODS:
                raise FmiError(f"{where}: key 'methods': unknown method {method!r}; "
                               f"use {', '.join(METHODS)}")
        for key in ("content_weight", "style_weight"):
            if getattr(self, key) < 0:
                raise FmiError(f"{where}: key {key!r} must be 0 or more, got {getattr(self, key)}")


def terms(config, method):
    """The loss terms of ``method``: content terms first, then one style term per style layer."""
    from fmi.invert import Term

    content_normalised, style_kind = METHODS[method]
    return ([Term(layer, "content", config.content_weight, content_normalised)
             for layer in config.content_layers]
            + [Term(layer, style_kind, config.style_weight, True) for layer in config.style_layers])


def row_label(index):
    """A, B, ..., Z, then A2, B2, ...: the paper labels its style rows with letters."""
    letter = string.ascii_uppercase[index % 26]
    return letter if index < 26 else f"{letter}{index // 26 + 1}"


def figure_file(content_names):
    return f"fig5_{'+'.join(content_names)}.png"


def run(config, argv, started, options):
    """Run every (content, method, style) cell; write cells, the styles x columns figure and the record."""
    from fmi import experiment, figures

    def planner(content_names, style_names):
        cells = {f"{name}/{method}/{style}": name for name in content_names for method in config.methods
                 for style in style_names}
        return experiment.Plan(cells, [figure_file(content_names), "loss.png"])

    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    session = experiment.prepare(config, "run_pmci.py", argv, options, layers=layers,
                                 batch=min(config.batch_size, len(config.styles)), plan=planner,
                                 styles=config.styles)
    with session.recording():
        columns, column_labels, loss_groups = [], ["style"], {}
        for content in session.contents:
            styles = session.styles[content.name]
            content_codes = session.extract(config.content_layers, content.array)
            style_codes = [(style.name, session.extract(config.style_layers, style.array)) for style in styles]
            for method in config.methods:
                keys = invert_method(session, config, method, content, content_codes, style_codes)
                columns.append(keys)
                column_labels.append(f"{METHOD_TITLES[method]}\n({content.name})")
                loss_groups[f"{content.name} {METHOD_TITLES[method]}"] = {
                    style_name: key for (style_name, _), key in zip(style_codes, keys)}
        style_cells = [style.rgb for style in session.styles[session.contents[0].name]]  # at the first size
        rows = [[style_cells[r]] + [session.cell_image(column[r]) for column in columns]
                for r in range(len(style_cells))]
        marks = [[""] + [session.marks([column[r]])[0] for column in columns] for r in range(len(style_cells))]
        names = [content.name for content in session.contents]
        path = session.output / figure_file(names)
        figures.grid(rows, [row_label(r) for r in range(len(rows))], column_labels, path, marks=marks,
                     title=session.title(f"Style transfer: content {', '.join(config.content_layers)}, style "
                                         f"{', '.join(config.style_layers)}, alpha={config.content_weight:g}, "
                                         f"beta={config.style_weight:g}", session.contents[0].size,
                                         [key for column in columns for key in column]))
        written = [path, session.loss_figure(loss_groups, "Style transfer loss")]
        session.finish(started, written)
    return written


def invert_method(session, config, method, content, content_codes, style_codes):
    """Invert one content image with ``method`` against every style (batched); return the cell keys."""
    from fmi.experiment import chunks

    method_terms = terms(config, method)
    layers = list(dict.fromkeys(term.layer for term in method_terms))
    keys = [f"{content.name}/{method}/{style_name}" for style_name, _ in style_codes]
    pending = [i for i, key in enumerate(keys) if not session.is_done(key)]
    for batch in chunks(pending, config.batch_size):
        targets = [np.concatenate([content_codes[term.layer]] * len(batch)) if term.kind == "content"
                   else np.concatenate([style_codes[i][1][term.layer] for i in batch])
                   for term in method_terms]
        session.invert([keys[i] for i in batch], method_terms, targets, content.array.shape[1:],
                       label=f"{content.name} {method} {', '.join(style_codes[i][0] for i in batch)}",
                       details=[{"content": content.name, "method": method, "style": style_codes[i][0],
                                 "layers": layers} for i in batch])
    return keys
