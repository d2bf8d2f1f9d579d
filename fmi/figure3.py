"""Feature Map Inversion (the paper's Fig. 3): invert each filter's feature-map target.

A run is planned as a list of batches (content image, layer, up to ``batch_size``
filters). ``--shard I/N`` runs every N-th batch starting at I, in its own folder
``<output>/shards/I-of-N``, so N machines split a sweep without talking to each other;
``--collect`` gathers the shards' cells and draws the figures. Because shards run the
same batches as a single run would, their cells are bit-identical to a single run's.

Every filter is inverted with the same steps and stop rule, as the authors' code does, even
one whose response is zero everywhere on the content image: the other channels' residuals
move the image and can switch it on. Each cell records the filter's response (max and sum)
on the content image and on its final image; a cell whose final image still gives no
response is marked "silent".
"""
import dataclasses
import logging

import numpy as np

from fmi import codes, vgg19
from fmi.config import Common, check_layers, check_unique
from fmi.errors import FmiError

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
        check_unique(self.layers, where, "layers")
        if self.all_filters:
            return
        if not self.filters:
            raise FmiError(f"{where}: key 'filters' is empty; give at least one filter index")
        check_unique(self.filters, where, "filters")
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
    from fmi.experiment import chunks

    return [(content_index, layer, batch)
            for content_index, _ in enumerate(names)
            for layer in config.layers
            for batch in chunks(config.filters_of(layer), config.batch_size)]


def uses_contact_sheets(config):
    return max(len(config.filters_of(layer)) for layer in config.layers) > GRID_MAX_FILTERS


def figure_files(config, names):
    if uses_contact_sheets(config):
        return [f"fig3_{name}_{layer}.png" for name in names for layer in config.layers] + ["loss.png"]
    return [f"fig3_{name}.png" for name in names] + ["loss.png"]


def run(config, argv, started, options):
    """Invert the cells (of this shard), or collect the shards'; then draw the figures."""
    from fmi import experiment

    shard = options.shard

    def planner(content_names, _style_names):
        batches = plan(config, content_names)
        mine = batches[shard[0]::shard[1]] if shard else batches
        cells = {cell_key(content_names[c], layer, i): content_names[c] for c, layer, batch in mine for i in batch}
        return experiment.Plan(cells, [] if shard else figure_files(config, content_names))

    largest = min(config.batch_size, max(len(config.filters_of(layer)) for layer in config.layers))
    session = experiment.prepare(config, "run_fmi.py", argv, options, layers=config.layers, batch=largest,
                                 plan=planner)
    with session.recording():
        batches = plan(config, [content.name for content in session.contents])
        if options.collect:
            collect_cells(session, batches)
        else:
            mine = batches[shard[0]::shard[1]] if shard else batches
            log.info("%d batches of %d cells to run%s", len(mine), len(session.plan.cells),
                     f" (shard {shard[0]} of {shard[1]})" if shard else "")
            invert_batches(config, session, mine)
        written = [] if shard else draw(config, session)
        session.finish(started, written)
    return written


def response(code, index):
    """A filter's response in a code (1, C, h, w): its maximum and its sum over positions."""
    channel = np.asarray(code[0, index], dtype=np.float64)
    return {"max": float(channel.max()), "sum": float(channel.sum())}


def invert_batches(config, session, batches):
    """Invert every cell not finished yet, batch by batch; record each filter's response on the
    content image and on the final image, and say which filters are silent."""
    from fmi.invert import Term

    content_codes, current = None, None
    for content_index, layer, batch in batches:
        content = session.contents[content_index]
        keys = {index: cell_key(content.name, layer, index) for index in batch}
        pending = [index for index in batch if not session.is_done(keys[index])]
        if not pending:
            continue
        if current != content_index:  # one content image's codes at a time
            content_codes = session.extract(config.layers, content.array)
            current = content_index
        silent = [index for index in pending if not content_codes[layer][0, index].any()]
        if silent:
            log.info("%s %s: filter(s) %s respond nowhere on the content image; inverted like every other filter",
                     content.name, layer, ", ".join(map(str, silent)))

        def measure(images, details, layer=layer):
            final = session.extract([layer], images)[layer]
            rows = []
            for row, detail in enumerate(details):
                on_final = response(final[row:row + 1], detail["filter"])
                rows.append({"response": {"content": response(content_codes[layer], detail["filter"]),
                                          "final": on_final},
                             "silent": on_final["max"] <= 0.0})
                if rows[-1]["silent"]:
                    log.info("%s: still silent on its final image (zero response everywhere)",
                             cell_key(content.name, layer, detail["filter"]))
            return rows

        targets = np.concatenate([codes.feature_map(content_codes[layer], index) for index in pending])
        session.invert([keys[index] for index in pending], [Term(layer)], [targets], content.array.shape[1:],
                       label=f"{content.name} {layer} filter{'s' if len(pending) > 1 else ''} "
                             f"{', '.join(map(str, pending))}",
                       details=[{"layer": layer, "filter": index} for index in pending], measure=measure)


def collect_cells(session, batches):
    """Gather the shards' cells; every planned cell must be among them."""
    missing, count = session.folder.collect()
    if missing:
        names = [content.name for content in session.contents]
        holders = sorted({position % count for position, (c, layer, batch) in enumerate(batches)
                          for i in batch if cell_key(names[c], layer, i) in set(missing)})
        raise FmiError(f"{len(missing)} cells are missing from the shards (first: {missing[0]}); rerun "
                       f"shard(s) {', '.join(f'{index}/{count}' for index in holders)}: they skip finished "
                       f"cells and redo damaged ones")


def draw(config, session):
    """The paper-layout grid per content image (or per-layer contact sheets for sweeps), and losses."""
    from fmi import figures

    written, loss_groups = [], {}
    for content in session.contents:
        name = content.name
        for layer in config.layers:
            loss_groups[f"{name} {layer}"] = {f"filter {i}": cell_key(name, layer, i)
                                              for i in config.filters_of(layer)}
        if not uses_contact_sheets(config):
            keys = [[cell_key(name, layer, index) for index in config.filters] for layer in config.layers]
            path = session.output / f"fig3_{name}.png"
            figures.grid([[session.cell_image(key) for key in row] for row in keys], config.layers,
                         [str(i) for i in config.filters], path,
                         title=session.title(f"Feature Map Inversion of {name}", content.size,
                                             [key for row in keys for key in row]),
                         marks=[session.marks(row) for row in keys])
            written.append(path)
            continue
        for layer in config.layers:
            indices = config.filters_of(layer)
            keys = [cell_key(name, layer, i) for i in indices]
            path = session.output / f"fig3_{name}_{layer}.png"
            figures.contact_sheet([session.cell_image(key) for key in keys], [str(i) for i in indices], path,
                                  title=session.title(f"Feature Map Inversion of {name} at {layer}, filters "
                                                      f"{indices[0]}..{indices[-1]}", content.size, keys),
                                  marks=session.marks(keys))
            written.append(path)
    written.append(session.loss_figure(loss_groups, "FMI loss per layer"))
    return written
