"""Style transfer (the paper's Fig. 5): PMCI beside Gatys et al.

Both minimise a content term at ``content_layers`` plus a style term at ``style_layers``,
scaled as the authors' gradients are (docs/method.md, "Losses"):

| method | content term | style term |
|---|---|---|
| gatys | alpha/2 ||F - F_c||^2 | beta/4 ||F F^T - G_s||^2 / (C^2 HW) |
| pmci  | alpha/2 ||F - F_c||^2 / HW | beta/2 ||F 1 - t_s||^2 / (C HW) |
"""
import logging
import string
from typing import Literal

import numpy as np

from fmi import experiments
from fmi.core.invert import Term
from fmi.core.optimizers import SGD, NonNegative
from fmi.errors import FmiError
from fmi.experiments.layout import draw, grid
from fmi.run import inversion, labels
from fmi.run import session as sessions
from fmi.run.folder.keys import style_key
from fmi.run.interface.config import Common, check_layers, check_unique
from fmi.run.session import chunks

log = logging.getLogger("fmi")

# method -> (content term normalised by HW?, style loss kind); style terms are always normalised
METHODS = {"gatys": (False, "gram"), "pmci": (True, "channel_sum")}
METHOD_TITLES = {"gatys": "Gatys", "pmci": "PMCI"}
PAPER_STYLES = 4
PAPER_CONTENTS = 2


class Config(Common):
    content: list[str] = ["golden_gate", "tubingen"]
    styles: list[str] = ["frida_kahlo", "seated_nude", "starry_night", "the_scream"]
    methods: list[Literal[tuple(METHODS)]] = ["gatys", "pmci"]
    content_layers: list[str] = ["relu2_2"]
    style_layers: list[str] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    content_weight: NonNegative = 10.0
    style_weight: NonNegative = 1.0
    sgd: SGD = SGD(weight_decay=5e-3)
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


def terms(config, method):
    """The loss terms of ``method``: content terms first, then one style term per style layer."""

    content_normalised, style_kind = METHODS[method]
    return ([Term(layer, "content", config.content_weight, content_normalised)
             for layer in config.content_layers]
            + [Term(layer, style_kind, config.style_weight, True) for layer in config.style_layers])


# --- the figure's layout --------------------------------------------------------------------------



def row_label(index, style):
    """'A: frida_kahlo', 'B: ...', ..., then 'A2: ...': the paper's letters, with the style named."""
    letter = string.ascii_uppercase[index % 26]
    return f"{letter if index < 26 else f'{letter}{index // 26 + 1}'}: {style}"


def grids(config, contents, styles=()):
    """The one figure: a row per style image; columns the style, then Gatys and PMCI per content image."""
    return [_grid(config, f"fig5_{'+'.join(contents)}.png", contents, config.methods, list(styles))]


def paper_grid(config, contents, styles=()):
    """The authors' Fig. 5 (four styles by style, Gatys and PMCI for two contents) with this run's cells."""
    contents = (list(contents) + [None] * PAPER_CONTENTS)[:PAPER_CONTENTS]
    styles = (list(styles) + [None] * PAPER_STYLES)[:PAPER_STYLES]
    return _grid(config, "fig5_paper.png", contents, list(METHODS), styles)


def _grid(config, file, contents, methods, styles):
    columns = ["style"] + [f"{METHOD_TITLES[method]}\n({content})" for content in contents for method in methods]
    keys = [[None] + [style_key(content, method, style) if content and style and method in config.methods else None
                      for content in contents for method in methods] for style in styles]
    what = (f"Style transfer: content {', '.join(config.content_layers)}, style {', '.join(config.style_layers)}, "
            f"alpha={config.content_weight:g}, beta={config.style_weight:g}")
    return grid(file, what, [row_label(index, style or "-") for index, style in enumerate(styles)], columns, keys)


# --- the run --------------------------------------------------------------------------------------

def run(config, argv, started, options):
    """Run every (content, method, style) cell; write cells, the styles x columns figure and the record."""

    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    found = sessions.check_inputs(config, experiments.of_config(config), argv, layers=layers,
                                  batch=min(config.batch_size, len(config.styles)), styles=config.styles)
    style_names = found.style_names
    cells = {style_key(name, method, style): name for name in found.content_names for method in config.methods
             for style in style_names}
    plan = sessions.Plan(cells, [grids(config, found.content_names, style_names)[0].file, "loss.png"])
    session = sessions.open_session(config, experiments.of_config(config), argv, options, found, plan)
    with session.recording():
        session.planned([chunk for content in session.contents for method in config.methods
                                  for chunk in chunks([style_key(content.name, method, style) for style in style_names
                                                       if not session.is_done(style_key(content.name, method, style))],
                                                      config.batch_size)])
        loss_groups = {}
        for content in session.contents:
            styles = session.styles[content.name]
            content_codes = session.extract(config.content_layers, content.array)
            style_codes = [(style.name, session.extract(config.style_layers, style.array)) for style in styles]
            for method in config.methods:
                keys = invert_method(session, config, method, content, content_codes, style_codes)
                loss_groups[f"{content.name} {METHOD_TITLES[method]}"] = {
                    style_name: key for (style_name, _), key in zip(style_codes, keys)}
        first = session.contents[0]
        style_pictures = session.styles[first.name]  # shown at the first content image's size
        figure = grids(config, [content.name for content in session.contents], style_names)[0]
        written = [draw(session, figure, first.size, fill=lambda row, column: style_pictures[row].rgb),
                   labels.loss_figure(session, loss_groups, "Style transfer loss")]
        session.finish(started, written)
    return written


def invert_method(session, config, method, content, content_codes, style_codes):
    """Invert one content image with ``method`` against every style (batched); return the cell keys."""

    method_terms = terms(config, method)
    layers = list(dict.fromkeys(term.layer for term in method_terms))
    keys = [style_key(content.name, method, style_name) for style_name, _ in style_codes]
    pending = [i for i, key in enumerate(keys) if not session.is_done(key)]
    for batch in chunks(pending, config.batch_size):
        targets = [np.concatenate([content_codes[term.layer]] * len(batch)) if term.kind == "content"
                   else np.concatenate([style_codes[i][1][term.layer] for i in batch])
                   for term in method_terms]
        inversion.invert_batch(session, [keys[i] for i in batch], method_terms, targets, content.array.shape[1:],
                               label=f"{content.name} {method} {', '.join(style_codes[i][0] for i in batch)}",
                               details=[{"content": content.name, "method": method, "style": style_codes[i][0],
                                         "layers": layers} for i in batch])
    return keys
