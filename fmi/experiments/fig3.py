"""Feature Map Inversion (the paper's Fig. 3): invert each filter's feature-map target.

A run is planned as batches of up to ``batch_size`` filters of one layer of one content image.
Every filter is inverted with the same steps and stop rule, as the authors' code does, even one
whose response is zero everywhere on the content image: the other channels' residuals move the
image and can switch it on. Each cell records the filter's response (max and sum) on the content
image and on its final image; a cell whose final image still gives no response is marked "silent".
"""
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fmi.core import codes
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
    Measured,
    Picture,
    Problem,
    chunks,
    grid,
)
from fmi.run.folder.keys import cell_key, parse_key
from fmi.run.folder.record import Count, Strict
from fmi.run.interface.cli import Option
from fmi.run.interface.config import CONTENT, Common, Index, check_unique, paper, run_only

log = logging.getLogger("fmi")
GRID_MAX_FILTERS = 16  # more filters per layer are drawn as contact sheets, one per layer
PAPER_LAYERS = ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"]
PAPER_FILTERS = [0, 1, 2, 3, 4]


class Config(Common):
    content: list[str] = paper(["golden_gate", "tubingen"], CONTENT)
    layers: list[str] = paper(PAPER_LAYERS, "relu layers, or [all]")
    filters: list[Index] = paper(PAPER_FILTERS, "filter indices, the same for every layer")
    all_filters: bool = paper(False, "every filter of each layer (a sweep), in place of filters")
    output: str = run_only("runs/fig3", "output folder")

    def check(self, where: str) -> None:
        if self.layers == ["all"]:
            self.layers = list(self.net.layers)
        super().check(where)
        self.check_layers(where)
        check_unique(self.layers, where, "layers")
        if self.all_filters:
            return
        if not self.filters:
            raise FmiError(f"{where}: key 'filters' is empty; give at least one filter index")
        check_unique(self.filters, where, "filters")
        for layer in self.layers:
            channels = self.net.channels(layer)
            for index in self.filters:
                if not 0 <= index < channels:
                    raise FmiError(f"{where}: key 'filters': index {index} is out of range for "
                                   f"{layer}, which has {channels} filters (0..{channels - 1})")

    def filters_of(self, layer: str) -> list[int]:
        return list(range(self.net.channels(layer))) if self.all_filters else list(self.filters)


class Response(Strict):
    max: float
    sum: float


class Details(Strict):
    """What a Feature Map Inversion cell adds to its record."""

    layer: str
    filter: Count
    response: dict[str, Response]


@dataclass
class Prepared:
    """A content image's name, its codes at the run's layers, and what extracts codes of other images."""

    name: str
    codes: dict[str, Images]
    extract: Callable[[list[str], Images], dict[str, Images]]


def key_of(content: str, layer: str, index: int) -> str:
    """The cell of filter ``index`` of ``layer``."""
    return cell_key(content, layer, f"filter_{index}")


def filter_of(key: str) -> int:
    """The filter a cell key names."""
    return int(parse_key(key).item.removeprefix("filter_"))


def response(code: Images, index: int) -> dict[str, float]:
    """A filter's response in a code (1, C, h, w): its maximum and its sum over positions."""
    channel = np.asarray(code[0, index], dtype=np.float64)
    return {"max": float(channel.max()), "sum": float(channel.sum())}


class FeatureMapInversion(Experiment[Config, Prepared]):
    name, script, title, paper = "fig3", "run_fmi.py", "Feature Map Inversion", "Fig. 3"
    authors = published.FIGURES[0]
    config_model, details_model = Config, Details
    options = (Option("--layers", ("layers",), "texts", "LAYERS"),
               Option("--filters", ("filters",), "numbers", "INDICES"),
               Option("--all-filters", ("all_filters",), "flag", ""))
    loss_title = "FMI loss per layer"
    notes = (("texture distance", "mean of the total-variation distances of a 64-bin RGB histogram and a magnitude-"
                                  "weighted 8-bin gradient-orientation histogram (0 identical, 1 disjoint)."),)

    def plan(self, config: Config, contents: list[str], styles: list[str]) -> list[Batch]:
        return [Batch(name, layer, tuple(f"filter_{index}" for index in chunk), layer)
                for name in contents for layer in config.layers
                for chunk in chunks(config.filters_of(layer), config.batch_size)]

    def grids(self, config: Config, contents: list[str], styles: list[str]) -> list[Grid]:
        """Per content image, layers (rows) by filters (columns), or for sweeps a contact sheet per layer."""
        if max(len(config.filters_of(layer)) for layer in config.layers) > GRID_MAX_FILTERS:
            return self._sheets(config, contents, "fig3_{name}_{layer}.png")
        return [self._grid(f"fig3_{name}.png", name, config.layers, config.filters) for name in contents]

    def atlas_grids(self, config: Config, contents: list[str], styles: list[str]) -> list[Grid]:
        """A page per layer of each content image, every filter on it."""
        return self._sheets(config, contents, "{name}_{layer}.html")

    def paper_grid(self, config: Config, contents: list[str], styles: list[str]) -> Grid:
        """The authors' Fig. 3 (relu1_2 .. relu5_2 by filters 0 .. 4) filled with this run's first content image."""
        return self._grid("fig3_paper.png", contents[0], PAPER_LAYERS, PAPER_FILTERS)

    def _grid(self, file: str, name: str, layers: list[str], filters: list[int]) -> Grid:
        return grid(file, f"Feature Map Inversion of {name}", layers, [f"filter {index}" for index in filters],
                    [[key_of(name, layer, index) for index in filters] for layer in layers])

    def _sheets(self, config: Config, contents: list[str], file: str) -> list[Grid]:
        return [grid(file.format(name=name, layer=layer), f"Feature Map Inversion of {name} at {layer}, filters "
                     f"{indices[0]}..{indices[-1]}", [layer], [str(index) for index in indices],
                     [[key_of(name, layer, index) for index in indices]], sheet=True)
                for name in contents for layer in config.layers for indices in [config.filters_of(layer)]]

    def label(self, config: Config, name: str) -> str:
        """A filter's item (filter_3) as its figure labels it (filter 3); layers as they are."""
        return name.replace("_", " ") if name.startswith("filter_") else name

    def prepare(self, config: Config, session: Context, content: Picture) -> Prepared:
        return Prepared(content.name, session.extract(config.layers, content.array), session.extract)

    def problem(self, config: Config, prepared: Prepared, batch: Batch) -> Problem:
        name, content_codes = prepared.name, prepared.codes
        layer, indices = batch.group, [filter_of(key) for key in batch.keys]
        silent = [index for index in indices if not content_codes[layer][0, index].any()]
        if silent:
            log.info("%s %s: filter(s) %s respond nowhere on the content image; inverted like every other filter",
                     name, layer, ", ".join(map(str, silent)))

        def measure(images: Images, positions: list[int]) -> list[Measured]:
            final = prepared.extract([layer], images)[layer]
            found: list[Measured] = []
            for row, index in enumerate(indices[position] for position in positions):
                on_final = response(final[row:row + 1], index)
                found.append(({"response": {"content": response(content_codes[layer], index), "final": on_final}},
                              on_final["max"] <= 0.0))
                if found[-1][1]:
                    log.info("%s: still silent on its final image (zero response everywhere)",
                             key_of(name, layer, index))
            return found

        targets = np.concatenate([codes.feature_map(content_codes[layer], index) for index in indices])
        return Problem([self.terms(config, layer)[0]], [targets],
                       [{"layer": layer, "filter": index} for index in indices],
                       f"{name} {layer} filter{'s' if len(indices) > 1 else ''} {', '.join(map(str, indices))}",
                       measure)

    def findings(self, run: Finished[Config]) -> list[Finding]:
        """Does every filter extract a specific texture? Per layer of a run with two or more content images:
        the texture distance of the same filter's images across content images, against different filters'."""
        by_layer: dict[str, dict[str, dict[str, measures.Image]]] = {}
        for key, rgb in run.images.items():
            where = parse_key(key)
            by_layer.setdefault(where.group, {}).setdefault(where.item, {})[where.content] = rgb
        numbers: dict[str, dict[str, object]] = {}
        rows: list[list[str]] = []
        for layer in [layer for layer in run.config.layers if layer in by_layer]:
            items = by_layer[layer]
            contents = sorted(set.intersection(*(set(images) for images in items.values())))
            if len(contents) < 2 or len(items) < 2:
                continue
            same: list[float] = []
            different: list[float] = []
            wins = 0
            for item in sorted(items):
                own = [measures.texture_distance(items[item][a], items[item][b])
                       for a, b in itertools.combinations(contents, 2)]
                others = [measures.texture_distance(items[item][a], items[other][b]) for other in sorted(items)
                          if other != item for a, b in itertools.permutations(contents, 2)]
                same, different = same + own, different + others
                wins += int(np.mean(own) < np.mean(others))
            ratio = float(np.mean(same) / np.mean(different)) if np.mean(different) else None
            numbers[layer] = {"same_filter": float(np.mean(same)), "different_filter": float(np.mean(different)),
                              "ratio": ratio, "filters_closer_to_themselves": wins, "filters": len(items),
                              "contents": contents}
            rows.append([layer, f"{np.mean(same):.3f}", f"{np.mean(different):.3f}",
                         "n/a" if ratio is None else f"{ratio:.2f}", f"{wins} of {len(items)}"])
        if not numbers:
            return []
        return [Finding("specificity", numbers, "Does every filter extract a specific texture?",
                        "Texture distance between the FMI images of different content images: for the same filter, "
                        "against different filters. If the claim holds, same-filter pairs are closer (ratio below 1).",
                        ["layer", "same filter", "different filters", "ratio", "filters closer to themselves"], rows)]


EXPERIMENT = FeatureMapInversion()
