"""Modified code inversion (the paper's Fig. 4): invert randomly re-weighted codes.

``mode: random`` re-weights each layer's channels by a seeded random vector (one row per
draw seed); ``mode: purposeful`` inverts the code rank-matched to a style image's instead
(one row per style image).
"""
import dataclasses
import hashlib
import logging
import typing
from typing import Literal

import numpy as np

from fmi import experiments
from fmi.core import codes, vgg19
from fmi.core.invert import Term
from fmi.errors import FmiError
from fmi.experiments.layout import draw, grid
from fmi.run import inversion, labels
from fmi.run import session as sessions
from fmi.run.folder.keys import draw_item, parse_key, purposeful_item, row_key
from fmi.run.interface.config import Common, Index, check_layers, check_unique
from fmi.run.session import chunks

log = logging.getLogger("fmi")
MODES = ("random", "purposeful")
PAPER_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
PAPER_DRAWS = 2


class Config(Common):
    layers: list[str] = PAPER_LAYERS
    mode: Literal[MODES] = "random"
    draw_seeds: list[Index] = [1, 2]
    distribution: Literal[codes.RANDOM_DISTRIBUTIONS] = "authors"
    styles: list[str] = []
    output: str = "runs/fig4"

    def check(self, where):
        super().check(where)
        check_layers(self.layers, where)
        check_unique(self.layers, where, "layers")
        if self.mode == "random" and not self.draw_seeds:
            raise FmiError(f"{where}: key 'draw_seeds' is empty; give at least one seed")
        check_unique(self.draw_seeds, where, "draw_seeds")
        if self.mode == "purposeful" and not self.styles:
            raise FmiError(f"{where}: mode purposeful needs a style image: set 'styles' or --style")
        check_unique(self.styles, where, "styles")

    @property
    def style_specs(self):
        return self.styles if self.mode == "purposeful" else []


def channel_weights(layer, seed, distribution, streams="per_layer"):
    """The channel-weight vector v of one random draw at ``layer``.

    ``streams`` "per_layer": numpy's generator on ``SeedSequence([seed, layer number])``, so every
    (draw seed, layer) has its own stream and no two layers share or prefix each other's vector.
    "legacy": ``RandomState(seed)``, what the authors' ``np.random.normal`` gives after
    ``np.random.seed(seed)``: the same stream for every layer, so layers of equal width get the
    same vector and a narrower layer's is the start of a wider one's.
    """
    if streams == "legacy":
        rng = np.random.RandomState(seed)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([seed, vgg19.RELU_LAYERS.index(layer)]))
    return codes.draw_rescale_weights(vgg19.channels(layer), rng, distribution)


def describe_draw(vector, seed, distribution, streams):
    """What a cell's record says of its draw: enough to know two cells' vectors apart."""
    generator = "RandomState(seed)" if streams == "legacy" else "default_rng(SeedSequence([seed, layer number]))"
    return {"seed": seed, "distribution": distribution, "generator": generator, "channels": int(vector.size),
            "negative_entries": int((vector < 0).sum()),
            "sha1_float32": hashlib.sha1(np.asarray(vector, dtype=np.float32).tobytes()).hexdigest()}


@dataclasses.dataclass
class Row:
    """One row of the figure: how to build its target code at a layer, and what to record."""

    key: str
    label: str
    target: typing.Callable  # layer -> target code (1, C, h, w)
    details: typing.Callable  # layer -> dict for the run record


def random_rows(config, content_codes, streams):
    def row(seed):
        def vector(layer):
            return channel_weights(layer, seed, config.distribution, streams)

        return Row(draw_item(seed), f"draw (seed {seed})",
                   lambda layer: codes.random_rescale(content_codes[layer], vector(layer)),
                   lambda layer: {"layer": layer, "draw_seed": seed,
                                  "draw": describe_draw(vector(layer), seed, config.distribution, streams)})

    return [row(seed) for seed in config.draw_seeds]


def purposeful_rows(session, styles, content_codes, layers):
    def row(style):
        style_codes = session.extract(layers, style.array)
        return Row(purposeful_item(style.name), style.name,
                   lambda layer: codes.purposeful(content_codes[layer], style_codes[layer]),
                   lambda layer: {"layer": layer, "style": style.name})

    return [row(style) for style in styles]


# --- the figure's layout --------------------------------------------------------------------------



def row_keys(config, styles):
    """The cells' last key part, one per row: a draw per seed, or a style's purposeful code."""
    if config.mode == "random":
        return [draw_item(seed) for seed in config.draw_seeds]
    return [purposeful_item(name) for name in styles]


def row_labels(config, styles):
    if config.mode == "random":
        return [f"draw (seed {seed})" for seed in config.draw_seeds]
    return [f"style {name}" for name in styles]


def grids(config, contents, styles=()):
    """One figure per content image: draws (or styles) in rows, layers in columns, as the paper's."""
    return [_grid(config, f"fig4_{name}.png", name, config.layers, row_keys(config, styles),
                  row_labels(config, styles)) for name in contents]


def paper_grid(config, contents, styles=()):
    """The authors' Fig. 4 (two draws by relu1_1 .. relu5_1) filled with this run's first content image."""
    keys, labels = row_keys(config, styles)[:PAPER_DRAWS], row_labels(config, styles)[:PAPER_DRAWS]
    keys += [None] * (PAPER_DRAWS - len(keys))
    labels += [f"draw {index + 1}" for index in range(len(labels), PAPER_DRAWS)]
    return _grid(config, "fig4_paper.png", contents[0], PAPER_LAYERS, keys, labels)


def _grid(config, file, name, layers, rows, labels):
    what = "randomly" if config.mode == "random" else "purposefully"
    return grid(file, f"Inversion of {what} modified codes of {name}", labels, layers,
                [[row_key(name, layer, row) if row else None for layer in layers] for row in rows])


# --- the run --------------------------------------------------------------------------------------

def run(config, argv, started, options):
    """Invert every (content image, row, layer) cell; write cells, figures and the record."""

    figure = experiments.of_config(config)
    rows_per_layer = len(config.draw_seeds) if config.mode == "random" else len(config.styles)
    found = sessions.check_inputs(config, figure, argv, layers=config.layers,
                                  batch=min(config.batch_size, rows_per_layer), styles=config.style_specs)
    figures = grids(config, found.content_names, found.style_names)
    cells = sessions.Plan({key: parse_key(key).content for drawn in figures for key in _by_layer(drawn)},
                          [drawn.file for drawn in figures] + ["loss.png"])
    session = sessions.open_session(config, figure, argv, options, found, cells)
    with session.recording():
        session.planned([chunk for figure in figures for column in range(len(figure.columns))
                                  for chunk in chunks([row[column] for row in figure.keys
                                                       if not session.is_done(row[column])], config.batch_size)])
        session.calibrate([parse_key(key).group for key in session.plan.cells if not session.is_done(key)])
        written, loss_groups = [], {}
        for content, figure in zip(session.contents, figures):
            content_codes = session.extract(config.layers, content.array)
            if session.fidelity.name == "authors" and config.mode == "random":
                _log_dead_channels(content_codes)
            rows = (random_rows(config, content_codes, session.fidelity.draw) if config.mode == "random"
                    else purposeful_rows(session, session.styles[content.name], content_codes, config.layers))
            for layer in config.layers:
                keys = invert_layer(session, config, content.name, content, layer, rows)
                loss_groups[f"{content.name} {layer}"] = {row.label: keys[row.key] for row in rows}
            written.append(draw(session, figure, content.size))
        written.append(labels.loss_figure(session, loss_groups, "Modified code inversion loss"))
        session.finish(started, written)
    return written


def _by_layer(figure):
    """A figure's cell keys layer by layer (the order cells are inverted in)."""
    return [row[column] for column in range(len(figure.columns)) for row in figure.keys]


def _log_dead_channels(content_codes):
    for layer, code in content_codes.items():
        dead = int((code[0].sum(axis=(1, 2)) == 0).sum())
        if dead:
            log.info("%s: %d dead channel(s) (zero everywhere) kept at 0; the authors' code divides 0 by 0 "
                     "there and makes them NaN, a bug fmi does not copy", layer, dead)


def invert_layer(session, config, name, content, layer, rows):
    """Invert every row's target at ``layer`` (batched); return {row key: cell key}."""

    keys = {row.key: row_key(name, layer, row.key) for row in rows}
    pending = [row for row in rows if not session.is_done(keys[row.key])]
    for batch in chunks(pending, config.batch_size):
        targets = np.concatenate([row.target(layer) for row in batch])
        inversion.invert_batch(session, [keys[row.key] for row in batch], [Term(layer)], [targets],
                               content.array.shape[1:], label=f"{name} {layer} {', '.join(row.key for row in batch)}",
                               details=[row.details(layer) for row in batch])
    return keys
