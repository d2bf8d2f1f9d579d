"""Modified code inversion (the paper's Fig. 4): invert randomly re-weighted codes.

``mode: random`` re-weights each layer's channels by a seeded random vector (one row per
draw seed); ``mode: purposeful`` inverts the code rank-matched to a style image's instead
(one row per style image).
"""
import dataclasses
import logging
import typing

import numpy as np

from fmi import codes, figures, vgg19
from fmi.config import Common, check_layers
from fmi.errors import FmiError
from fmi.experiment import Run, chunks
from fmi.invert import Term

log = logging.getLogger("fmi")
MODES = ("random", "purposeful")


@dataclasses.dataclass
class Config(Common):
    layers: list[str] = dataclasses.field(
        default_factory=lambda: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"])
    mode: str = "random"
    draw_seeds: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    distribution: str = "authors"
    styles: list[str] = dataclasses.field(default_factory=list)
    output: str = "runs/fig4"

    def check(self, where):
        super().check(where)
        check_layers(self.layers, where)
        if self.mode not in MODES:
            raise FmiError(f"{where}: key 'mode' must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.distribution not in codes.RANDOM_DISTRIBUTIONS:
            raise FmiError(f"{where}: key 'distribution' must be one of "
                           f"{', '.join(codes.RANDOM_DISTRIBUTIONS)}, got {self.distribution!r}")
        if self.mode == "random" and not self.draw_seeds:
            raise FmiError(f"{where}: key 'draw_seeds' is empty; give at least one seed")
        if any(seed < 0 for seed in self.draw_seeds):
            raise FmiError(f"{where}: key 'draw_seeds': seeds must be 0 or more")
        if self.mode == "purposeful" and not self.styles:
            raise FmiError(f"{where}: mode purposeful needs a style image: set 'styles' or --style")


def draw(layer, seed, distribution):
    """The channel weights of one random draw at ``layer``: same seed, same vector."""
    return codes.draw_rescale_weights(vgg19.channels(layer), np.random.default_rng(seed), distribution)


@dataclasses.dataclass
class Row:
    """One row of the figure: how to build its target code at a layer, and what to record."""

    key: str
    label: str
    target: typing.Callable  # layer -> target code (1, C, h, w)
    details: typing.Callable  # layer -> dict for the run record


def random_rows(config, content_codes):
    def row(seed):
        def details(layer):
            vector = draw(layer, seed, config.distribution)
            return {"draw_seed": seed, "distribution": config.distribution,
                    "negative_entries": int((vector < 0).sum()), "channels": int(vector.size)}

        return Row(f"random_draw_{seed}", f"draw (seed {seed})",
                   lambda layer: codes.random_rescale(content_codes[layer],
                                                      draw(layer, seed, config.distribution)),
                   details)

    return [row(seed) for seed in config.draw_seeds]


def purposeful_rows(config, experiment, content, content_codes):
    def row(spec):
        style_name, _, style = experiment.style_image(spec, *content.shape[2:])
        style_codes = experiment.extract(config.layers, style)
        return Row(f"purposeful_{style_name}", style_name,
                   lambda layer: codes.purposeful(content_codes[layer], style_codes[layer]),
                   lambda layer: {"style": style_name})

    return [row(spec) for spec in config.styles]


def run(config, argv, started, resume=False):
    """Invert every (content image, row, layer) cell; write cells, figures and the record."""
    experiment = Run(config, "run_random.py", argv, resume=resume)
    with experiment.recording():
        contents = [experiment.content_image(spec) for spec in config.content]
        rows_per_layer = len(config.draw_seeds) if config.mode == "random" else len(config.styles)
        for _, _, content in contents:
            experiment.check_memory(config.layers, min(config.batch_size, rows_per_layer), content)
        written, loss_groups = [], {}
        for name, _, content in contents:
            content_codes = experiment.extract(config.layers, content)
            rows = (random_rows(config, content_codes) if config.mode == "random"
                    else purposeful_rows(config, experiment, content, content_codes))
            for layer in config.layers:
                keys = invert_layer(experiment, config, name, content, layer, rows)
                loss_groups[f"{name} {layer}"] = {row.label: keys[row.key] for row in rows}
            grid = [[experiment.cell_image(f"{name}/{layer}/{row.key}") for layer in config.layers]
                    for row in rows]
            what = "randomly" if config.mode == "random" else "purposefully"
            path = experiment.output / f"fig4_{name}.png"
            figures.grid(grid, [row.label for row in rows], config.layers, path,
                         title=f"Inversion of {what} modified codes of {name}, "
                               f"{content.shape[2]}x{content.shape[3]} px (h x w); {experiment.label}")
            written.append(path)
        written.append(experiment.loss_figure(loss_groups, "Modified code inversion loss"))
        experiment.finish(started, written)
    return written


def invert_layer(experiment, config, name, content, layer, rows):
    """Invert every row's target at ``layer`` (batched); return {row key: cell key}."""
    keys = {row.key: f"{name}/{layer}/{row.key}" for row in rows}
    pending = [row for row in rows if not experiment.is_done(keys[row.key])]
    for batch in chunks(pending, config.batch_size):
        targets = np.concatenate([row.target(layer) for row in batch])
        experiment.invert([keys[row.key] for row in batch], [Term(layer)], [targets], content.shape[1:],
                          label=f"{name} {layer} {', '.join(row.key for row in batch)}",
                          details=[row.details(layer) for row in batch])
    return keys
