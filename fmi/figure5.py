"""Style transfer (the paper's Fig. 5): PMCI beside Gatys et al.

Both minimise a content term at ``content_layers`` plus a style term at ``style_layers``,
scaled as the authors' gradients are (SPEC section 6):

| method | content term | style term |
|---|---|---|
| gatys | alpha/2 ||F - F_c||^2 | beta/4 ||F F^T - G_s||^2 / (C^2 HW) |
| pmci  | alpha/2 ||F - F_c||^2 / HW | beta/2 ||F 1 - t_s||^2 / (C HW) |
"""
import dataclasses
import logging
import string

import numpy as np

from fmi import figures, invert
from fmi.config import Common, check_layers
from fmi.errors import FmiError
from fmi.experiment import Run, chunks
from fmi.invert import Term

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
    sgd: invert.SGD = dataclasses.field(default_factory=lambda: invert.SGD(weight_decay=5e-3))
    output: str = "runs/fig5"

    def check(self, where):
        super().check(where)
        check_layers(self.content_layers, where, "content_layers")
        check_layers(self.style_layers, where, "style_layers")
        if not self.styles:
            raise FmiError(f"{where}: key 'styles' is empty; name at least one style image")
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
    content_normalised, style_kind = METHODS[method]
    return ([Term(layer, "content", config.content_weight, content_normalised)
             for layer in config.content_layers]
            + [Term(layer, style_kind, config.style_weight, True) for layer in config.style_layers])


def row_label(index):
    """A, B, ..., Z, then A2, B2, ...: the paper labels its style rows with letters."""
    letter = string.ascii_uppercase[index % 26]
    return letter if index < 26 else f"{letter}{index // 26 + 1}"


def run(config, argv, started, resume=False):
    """Run every (content, method, style) cell; write cells, the 4 x 5 figure and the record."""
    experiment = Run(config, "run_pmci.py", argv, resume=resume)
    with experiment.recording():
        layers = list(dict.fromkeys(config.content_layers + config.style_layers))
        contents = [experiment.content_image(spec) for spec in config.content]
        for _, _, content in contents:
            experiment.check_memory(layers, min(config.batch_size, len(config.styles)), content)
        columns, column_labels, loss_groups, style_cells = [], ["style"], {}, None
        for name, _, content in contents:
            content_codes = experiment.extract(config.content_layers, content)
            styles = [experiment.style_image(spec, *content.shape[2:]) for spec in config.styles]
            style_cells = style_cells or [rgb for _, rgb, _ in styles]  # shown at the first content's size
            style_codes = [(style_name, experiment.extract(config.style_layers, style))
                           for style_name, _, style in styles]
            for method in config.methods:
                keys = invert_method(experiment, config, method, name, content, content_codes, style_codes)
                columns.append(keys)
                column_labels.append(f"{METHOD_TITLES[method]}\n({name})")
                loss_groups[f"{name} {METHOD_TITLES[method]}"] = {
                    style_name: key for (style_name, _), key in zip(style_codes, keys)}
        rows = [[style_cells[r]] + [experiment.cell_image(column[r]) for column in columns]
                for r in range(len(config.styles))]
        path = experiment.output / "fig5.png"
        figures.grid(rows, [row_label(r) for r in range(len(rows))], column_labels, path,
                     title=f"Style transfer, content {', '.join(config.content_layers)}, style "
                           f"{', '.join(config.style_layers)}, alpha={config.content_weight:g}, "
                           f"beta={config.style_weight:g}; {experiment.label}")
        written = [path, experiment.loss_figure(loss_groups, "Style transfer loss")]
        experiment.finish(started, written)
    return written


def invert_method(experiment, config, method, name, content, content_codes, style_codes):
    """Invert one content image with ``method`` against every style (batched); return the cell keys."""
    method_terms = terms(config, method)
    layers = list(dict.fromkeys(term.layer for term in method_terms))
    keys = [f"{name}/{method}/{style_name}" for style_name, _ in style_codes]
    pending = [i for i, key in enumerate(keys) if not experiment.is_done(key)]
    for batch in chunks(pending, config.batch_size):
        targets = [np.concatenate([content_codes[term.layer]] * len(batch)) if term.kind == "content"
                   else np.concatenate([style_codes[i][1][term.layer] for i in batch])
                   for term in method_terms]
        experiment.invert([keys[i] for i in batch], method_terms, targets, content.shape[1:],
                          label=f"{name} {method} {', '.join(style_codes[i][0] for i in batch)}",
                          details=[{"content": name, "method": method, "style": style_codes[i][0],
                                    "layers": layers} for i in batch])
    return keys
