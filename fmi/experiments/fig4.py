"""Modified code inversion (the paper's Fig. 4): invert randomly re-weighted codes.

``mode: random`` re-weights each layer's channels by a seeded random vector (one row per
draw seed); ``mode: purposeful`` inverts the code rank-matched to a style image's instead
(one row per style image).
"""
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Optional, Union

import numpy as np
import numpy.typing as npt
import pydantic

from fmi.core import codes
from fmi.core.network import Network
from fmi.core.vgg19 import VGG19
from fmi.errors import FmiError
from fmi.files import published
from fmi.io import digest_of_bytes
from fmi.run.experiment import Batch, Context, Experiment, Grid, Images, Picture, Problem, chunks, grid
from fmi.run.folder.keys import cell_key
from fmi.run.folder.record import Count, Hex40, Name, Strict, Text
from fmi.run.interface.cli import Option
from fmi.run.interface.config import Common, Index, check_unique, paper, run_only

log = logging.getLogger("fmi")
Mode = Literal["random", "purposeful"]
VGG19_NETWORK = VGG19()
PAPER_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
PAPER_DRAWS = 2


class Config(Common):
    layers: list[str] = paper(PAPER_LAYERS, "relu layers")
    mode: Mode = paper("random", "random re-weighting, or purposeful (needs styles)")
    draw_seeds: list[Index] = pydantic.Field([1, 2], description="the random draws: one row per seed")
    distribution: codes.Distribution = paper(
        "authors", "authors: Normal(3, 1000), as the authors drew; positive: Exponential(1)")
    styles: list[str] = paper([], "style image(s) of mode purposeful: one row per style")
    output: str = run_only("runs/fig4", "output folder")

    def check(self, where: str) -> None:
        super().check(where)
        self.check_layers(where)
        check_unique(self.layers, where, "layers")
        if self.mode == "random" and not self.draw_seeds:
            raise FmiError(f"{where}: key 'draw_seeds' is empty; give at least one seed")
        check_unique(self.draw_seeds, where, "draw_seeds")
        if self.mode == "purposeful" and not self.styles:
            raise FmiError(f"{where}: mode purposeful needs a style image: set 'styles' or --style")
        check_unique(self.styles, where, "styles")


class Draw(Strict):
    seed: Count
    distribution: Literal["authors", "positive"]
    generator: Text
    channels: Count
    negative_entries: Count
    sha1_float32: Hex40


class Details(Strict):
    """What a modified code inversion cell adds to its record: its layer, and its draw or its style."""

    layer: str
    draw_seed: Optional[Count] = None
    draw: Optional[Draw] = None
    style: Optional[Name] = None


def channel_weights(layer: str, seed: int, distribution: str, streams: str = "per_layer",
                    network: Network = VGG19_NETWORK) -> npt.NDArray[np.float64]:
    """The channel-weight vector v of one random draw at ``layer`` of ``network``.

    ``streams`` "per_layer": numpy's generator on ``SeedSequence([seed, layer number])`` (its place among
    the network's rectified layers, from 0), so every (draw seed, layer) has its own stream and no two
    layers share or prefix each other's vector.
    "legacy": ``RandomState(seed)``, what the authors' ``np.random.normal`` gives after
    ``np.random.seed(seed)``: the same stream for every layer, so layers of equal width get the
    same vector and a narrower layer's is the start of a wider one's.
    """
    if streams == "legacy":
        rng: Union[np.random.RandomState, np.random.Generator] = np.random.RandomState(seed)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([seed, network.index(layer)]))
    return codes.draw_rescale_weights(network.channels(layer), rng, distribution)


def describe_draw(vector: npt.NDArray[np.float64], seed: int, distribution: str, streams: str) -> dict[str, object]:
    """What a cell's record says of its draw: enough to know two cells' vectors apart."""
    generator = "RandomState(seed)" if streams == "legacy" else "default_rng(SeedSequence([seed, layer number]))"
    return {"seed": seed, "distribution": distribution, "generator": generator, "channels": int(vector.size),
            "negative_entries": int((vector < 0).sum()),
            "sha1_float32": digest_of_bytes(np.asarray(vector, dtype=np.float32).tobytes())}


@dataclass
class Row:
    """One row of the figure: how to build its target code at a layer, and what to record."""

    target: Callable[[str], Images]            # layer -> target code (1, C, h, w)
    details: Callable[[str], dict[str, object]]  # layer -> the cell's details


DRAW, PURPOSEFUL = "random_draw_", "purposeful_"  # the items of a random draw's and of a style's cells


def draw_item(seed: int) -> str:
    return f"{DRAW}{seed}"


def draw_label(seed: int) -> str:
    return f"draw (seed {seed})"


def purposeful_item(style: str) -> str:
    return f"{PURPOSEFUL}{style}"


Prepared = tuple[str, dict[str, Row]]  # the content image's name, and each row's target and details by item


class ModifiedCodeInversion(Experiment[Config, Prepared]):
    name, script, title, paper = "fig4", "run_random.py", "Randomly modified code inversion", "Fig. 4"
    authors = published.FIGURES[1]
    config_model, details_model = Config, Details
    options = (Option("--layers", ("layers",), "texts", "LAYERS"), Option("--mode", ("mode",), "text", "MODE"),
               Option("--draw-seeds", ("draw_seeds",), "numbers", "SEEDS"),
               Option("--distribution", ("distribution",), "text", "NAME"),
               Option("--style", ("styles",), "texts", "IMAGES"))
    loss_title = "Modified code inversion loss"

    def images(self, config: Config) -> tuple[list[str], list[str]]:
        return list(config.content), list(config.styles) if config.mode == "purposeful" else []

    def _rows(self, config: Config, styles: list[str]) -> list[tuple[str, str]]:
        """(item, label) of each row: a draw per seed, or a style's purposeful code."""
        if config.mode == "random":
            return [(draw_item(seed), draw_label(seed)) for seed in config.draw_seeds]
        return [(purposeful_item(name), f"style {name}") for name in styles]

    def plan(self, config: Config, contents: list[str], styles: list[str]) -> list[Batch]:
        items = [item for item, _ in self._rows(config, styles)]
        return [Batch(name, layer, tuple(chunk), layer) for name in contents for layer in config.layers
                for chunk in chunks(items, config.batch_size)]

    def grids(self, config: Config, contents: list[str], styles: list[str]) -> list[Grid]:
        """One figure per content image: draws (or styles) in rows, layers in columns, as the paper's."""
        rows = self._rows(config, styles)
        return [self._grid(config, f"fig4_{name}.png", name, config.layers, rows) for name in contents]

    def paper_grid(self, config: Config, contents: list[str], styles: list[str]) -> Grid:
        """The authors' Fig. 4 (two draws by relu1_1 .. relu5_1) filled with this run's first content image."""
        rows: list[tuple[Optional[str], str]] = list(self._rows(config, styles)[:PAPER_DRAWS])
        rows += [(None, f"draw {index + 1}") for index in range(len(rows), PAPER_DRAWS)]
        return self._grid(config, "fig4_paper.png", contents[0], PAPER_LAYERS, rows)

    def _grid(self, config: Config, file: str, name: str, layers: list[str],
              rows: Sequence[tuple[Optional[str], str]]) -> Grid:
        what = "randomly" if config.mode == "random" else "purposefully"
        return grid(file, f"Inversion of {what} modified codes of {name}", [label for _, label in rows], layers,
                    [[cell_key(name, layer, item) if item else None for layer in layers] for item, _ in rows])

    def label(self, config: Config, name: str) -> str:
        """A row's item as loss.png names it: its draw (seed 1), or its style image; layers as they are."""
        if name.startswith(DRAW):
            return draw_label(int(name.removeprefix(DRAW)))
        return name.removeprefix(PURPOSEFUL)

    def prepare(self, config: Config, session: Context, content: Picture) -> Prepared:
        content_codes = session.extract(config.layers, content.array)
        if config.mode == "purposeful":
            return content.name, {purposeful_item(style.name): self._purposeful(session, config, content_codes, style)
                                  for style in session.styles[content.name]}
        if session.fidelity.name == "authors":
            for layer, code in content_codes.items():
                dead = int((code[0].sum(axis=(1, 2)) == 0).sum())
                if dead:
                    log.info("%s: %d dead channel(s) (zero everywhere) kept at 0; the authors' code divides 0 by 0 "
                             "there and makes them NaN, a bug fmi does not copy", layer, dead)
        streams = session.fidelity.draw
        return content.name, {draw_item(seed): self._random(config, content_codes, seed, streams)
                              for seed in config.draw_seeds}

    def _random(self, config: Config, content_codes: dict[str, Images], seed: int, streams: str) -> Row:
        def vector(layer: str) -> npt.NDArray[np.float64]:
            return channel_weights(layer, seed, config.distribution, streams, config.net)

        return Row(lambda layer: codes.random_rescale(content_codes[layer], vector(layer)),
                   lambda layer: {"layer": layer, "draw_seed": seed,
                                  "draw": describe_draw(vector(layer), seed, config.distribution, streams)})

    def _purposeful(self, session: Context, config: Config, content_codes: dict[str, Images], style: Picture) -> Row:
        style_codes = session.extract(config.layers, style.array)
        return Row(lambda layer: codes.purposeful(content_codes[layer], style_codes[layer]),
                   lambda layer: {"layer": layer, "style": style.name})

    def problem(self, config: Config, prepared: Prepared, batch: Batch) -> Problem:
        name, rows = prepared
        layer = batch.group
        targets = np.concatenate([rows[item].target(layer) for item in batch.items])
        return Problem(self.terms(config, layer), [targets], [rows[item].details(layer) for item in batch.items],
                       f"{name} {layer} {', '.join(batch.items)}")


EXPERIMENT = ModifiedCodeInversion()
