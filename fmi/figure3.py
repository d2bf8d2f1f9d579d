"""Feature Map Inversion (the paper's Fig. 3): invert each filter's feature-map target."""
import dataclasses
import logging

import numpy as np

from fmi import codes, figures, vgg19
from fmi.config import Common, check_layers
from fmi.errors import FmiError
from fmi.experiment import Run, chunks
from fmi.invert import Term

log = logging.getLogger("fmi")


@dataclasses.dataclass
class Config(Common):
    content: list[str] = dataclasses.field(default_factory=lambda: ["golden_gate", "tubingen"])
    layers: list[str] = dataclasses.field(
        default_factory=lambda: ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"])
    filters: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2, 3, 4])
    output: str = "runs/fig3"

    def check(self, where):
        super().check(where)
        check_layers(self.layers, where)
        if not self.filters:
            raise FmiError(f"{where}: key 'filters' is empty; give at least one filter index")
        for layer in self.layers:
            channels = vgg19.channels(layer)
            for index in self.filters:
                if not 0 <= index < channels:
                    raise FmiError(f"{where}: key 'filters': index {index} is out of range for "
                                   f"{layer}, which has {channels} filters (0..{channels - 1})")


def cell_key(image_name, layer, index):
    return f"{image_name}/{layer}/filter_{index}"


def run(config, argv, started, resume=False):
    """Invert every (content image, layer, filter) cell; write cells, figures and the record."""
    experiment = Run(config, "run_fmi.py", argv, resume=resume)
    written = []
    loss_groups = {}
    contents = [experiment.content_image(spec) for spec in config.content]
    for _, _, content in contents:
        experiment.check_memory(config.layers, min(config.batch_size, len(config.filters)), content)
    for name, _, content in contents:
        layer_codes = experiment.extract(config.layers, content)
        rows = []
        for layer in config.layers:
            keys = {index: cell_key(name, layer, index) for index in config.filters}
            pending = [index for index in config.filters if not experiment.is_done(keys[index])]
            for batch in chunks(pending, config.batch_size):
                targets = np.concatenate([codes.feature_map(layer_codes[layer], i) for i in batch])
                experiment.invert([keys[i] for i in batch], [Term(layer)], [targets],
                                  content.shape[1:], label=f"{name} {layer} filters {batch}")
            rows.append([experiment.cell_image(keys[index]) for index in config.filters])
            loss_groups[f"{name} {layer}"] = {f"filter {i}": keys[i] for i in config.filters}
        path = experiment.output / f"fig3_{name}.png"
        figures.grid(rows, config.layers, [str(i) for i in config.filters], path,
                     title=f"Feature Map Inversion of {name}, {content.shape[2]}x{content.shape[3]} px (h x w); "
                           f"{experiment.label}")
        written.append(path)
    loss_path = experiment.output / "loss.png"
    figures.loss_curves(experiment.loss_panels(loss_groups), loss_path,
                        title=f"FMI loss per layer; {experiment.label}")
    written.append(loss_path)
    experiment.finish(started, written)
    return written
