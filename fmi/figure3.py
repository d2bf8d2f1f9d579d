"""Feature Map Inversion (the paper's Fig. 3): invert each filter's feature-map target.

A run is planned as a list of batches (content image, layer, up to ``batch_size``
filters). ``--shard I/N`` runs every N-th batch starting at I, in its own folder
``<output>/shards/I-of-N``, so N machines split a sweep without talking to each other;
``--collect`` gathers the shards' cells and draws the figures. Because shards run the
same batches as a single run would, their cells are bit-identical to a single run's.
"""
import dataclasses
import logging

import numpy as np

from fmi import codes, figures, vgg19
from fmi.config import Common, check_layers
from fmi.errors import FmiError
from fmi.experiment import Run, chunks
from fmi.invert import Term

log = logging.getLogger("fmi")
GRID_MAX_FILTERS = 16  # more filters per layer are drawn as contact sheets, one per layer


@dataclasses.dataclass
class Config(Common):
    content: list[str] = dataclasses.field(default_factory=lambda: ["golden_gate", "tubingen"])
    layers: list[str] = dataclasses.field(
        default_factory=lambda: ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"])
    filters: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2, 3, 4])
    all_filters: bool = False
    output: str = "runs/fig3"

    def check(self, where):
        if self.layers == ["all"]:
            self.layers = list(vgg19.RELU_LAYERS)
        super().check(where)
        check_layers(self.layers, where)
        if self.all_filters:
            return
        if not self.filters:
            raise FmiError(f"{where}: key 'filters' is empty; give at least one filter index")
        for layer in self.layers:
            channels = vgg19.channels(layer)
            for index in self.filters:
                if not 0 <= index < channels:
                    raise FmiError(f"{where}: key 'filters': index {index} is out of range for "
                                   f"{layer}, which has {channels} filters (0..{channels - 1})")

    def filters_of(self, layer):
        return list(range(vgg19.channels(layer))) if self.all_filters else list(self.filters)


def cell_key(image_name, layer, index):
    return f"{image_name}/{layer}/filter_{index}"


def plan(config, names):
    """Every batch of the run, in order: (content index, layer, filter indices)."""
    return [(content_index, layer, batch)
            for content_index, _ in enumerate(names)
            for layer in config.layers
            for batch in chunks(config.filters_of(layer), config.batch_size)]


def run(config, argv, started, resume=False, shard=None, collect=False):
    """Invert the cells (of this shard), or collect the shards'; then draw the figures."""
    experiment = Run(config, "run_fmi.py", argv, resume=resume or shard is not None, shard=shard)
    with experiment.recording():
        contents = [experiment.content_image(spec) for spec in config.content]
        batches = plan(config, [name for name, _, _ in contents])
        if collect:
            collect_cells(experiment, contents, batches)
        else:
            mine = batches[shard[0]::shard[1]] if shard else batches
            log.info("%d batches to run%s", len(mine), f" (shard {shard[0]} of {shard[1]})" if shard else "")
            invert_batches(config, experiment, contents, mine)
        written = [] if shard else draw(config, experiment, contents)
        experiment.finish(started, written)
    return written


def invert_batches(config, experiment, contents, batches):
    """Invert every batch not finished yet, after checking the largest fits in memory."""
    largest = min(config.batch_size, max(len(config.filters_of(layer)) for layer in config.layers))
    for _, _, content in contents:
        experiment.check_memory(config.layers, largest, content)
    codes_of = {}
    for content_index, layer, batch in batches:
        name, _, content = contents[content_index]
        keys = [cell_key(name, layer, index) for index in batch]
        if all(experiment.is_done(key) for key in keys):
            continue
        if content_index not in codes_of:  # one content image's codes at a time
            codes_of = {content_index: experiment.extract(config.layers, content)}
        layer_code = codes_of[content_index][layer]
        targets = np.concatenate([codes.feature_map(layer_code, index) for index in batch])
        experiment.invert(keys, [Term(layer)], [targets], content.shape[1:],
                          label=f"{name} {layer} filters {batch[0]}..{batch[-1]}")


def collect_cells(experiment, contents, batches):
    """Gather the shards' cells; every planned cell must be among them."""
    experiment.collect_shards()
    missing = [cell_key(contents[c][0], layer, i) for c, layer, batch in batches for i in batch
               if not experiment.is_done(cell_key(contents[c][0], layer, i))]
    if missing:
        raise FmiError(f"{len(missing)} cells are missing from the shards (first: {missing[0]}); "
                       f"rerun the shards that hold them, they skip finished cells")


def draw(config, experiment, contents):
    """The paper-layout grid per content image (or per-layer contact sheets for sweeps), and losses."""
    written, loss_groups = [], {}
    for name, _, content in contents:
        size = f"{content.shape[2]}x{content.shape[3]} px (h x w)"
        for layer in config.layers:
            loss_groups[f"{name} {layer}"] = {f"filter {i}": cell_key(name, layer, i)
                                              for i in config.filters_of(layer)}
        if max(len(config.filters_of(layer)) for layer in config.layers) <= GRID_MAX_FILTERS:
            rows = [[experiment.cell_image(cell_key(name, layer, index)) for index in config.filters]
                    for layer in config.layers]
            path = experiment.output / f"fig3_{name}.png"
            figures.grid(rows, config.layers, [str(i) for i in config.filters], path,
                         title=f"Feature Map Inversion of {name}, {size}; {experiment.label}")
            written.append(path)
            continue
        for layer in config.layers:
            indices = config.filters_of(layer)
            path = experiment.output / f"fig3_{name}_{layer}.png"
            figures.contact_sheet([experiment.cell_image(cell_key(name, layer, i)) for i in indices],
                                  [str(i) for i in indices], path,
                                  title=f"Feature Map Inversion of {name} at {layer}, filters "
                                        f"{indices[0]}..{indices[-1]}, {size}; {experiment.label}")
            written.append(path)
    written.append(experiment.loss_figure(loss_groups, "FMI loss per layer"))
    return written
