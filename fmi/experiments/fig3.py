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
import logging

import numpy as np

from fmi import experiments
from fmi.core import codes, vgg19
from fmi.core.invert import Term
from fmi.errors import FmiError
from fmi.experiments import layout
from fmi.run import inversion, labels
from fmi.run import session as sessions
from fmi.run.folder import shards
from fmi.run.folder.keys import filter_key, parse_key
from fmi.run.interface.config import Common, Index, check_layers, check_unique
from fmi.run.session import chunks

log = logging.getLogger("fmi")
GRID_MAX_FILTERS = 16  # more filters per layer are drawn as contact sheets, one per layer
PAPER_LAYERS = ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"]
PAPER_FILTERS = [0, 1, 2, 3, 4]


class Config(Common):
    content: list[str] = ["golden_gate", "tubingen"]
    layers: list[str] = PAPER_LAYERS
    filters: list[Index] = PAPER_FILTERS
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




def plan(config, names):
    """Every batch of the run, in order: (content index, layer, filter indices)."""

    return [(content_index, layer, batch)
            for content_index, _ in enumerate(names)
            for layer in config.layers
            for batch in chunks(config.filters_of(layer), config.batch_size)]


def uses_contact_sheets(config):
    return max(len(config.filters_of(layer)) for layer in config.layers) > GRID_MAX_FILTERS


# --- the figure's layout --------------------------------------------------------------------------

def grids(config, contents, styles=()):
    """The figures of a run: per content image, layers (rows) by filters (columns), or for sweeps a
    contact sheet per layer."""
    if uses_contact_sheets(config):
        return [layout.grid(f"fig3_{name}_{layer}.png", f"Feature Map Inversion of {name} at {layer}, filters "
                f"{config.filters_of(layer)[0]}..{config.filters_of(layer)[-1]}", [layer],
                [str(index) for index in config.filters_of(layer)],
                [[filter_key(name, layer, index) for index in config.filters_of(layer)]], sheet=True)
                for name in contents for layer in config.layers]
    return [_grid(f"fig3_{name}.png", name, config.layers, config.filters) for name in contents]


def paper_grid(config, contents, styles=()):
    """The authors' Fig. 3 (relu1_2 .. relu5_2 by filters 0 .. 4) filled with this run's first content image."""
    return _grid("fig3_paper.png", contents[0], PAPER_LAYERS, PAPER_FILTERS)


def _grid(file, name, layers, filters):
    return layout.grid(file, f"Feature Map Inversion of {name}", layers, [f"filter {index}" for index in filters],
                [[filter_key(name, layer, index) for index in filters] for layer in layers])


# --- the run --------------------------------------------------------------------------------------

def run(config, argv, started, options):
    """Invert the cells (of this shard), or collect the shards'; then draw the figures."""
    figure, shard = experiments.of_config(config), options.shard
    largest = min(config.batch_size, max(len(config.filters_of(layer)) for layer in config.layers))
    found = sessions.check_inputs(config, figure, argv, layers=config.layers, batch=largest)
    names = found.content_names
    batches = plan(config, names)
    mine = batches[shard[0]::shard[1]] if shard else batches
    files = [] if shard else [drawn.file for drawn in grids(config, names)] + ["loss.png"]
    cells = sessions.Plan({filter_key(names[c], layer, i): names[c] for c, layer, batch in mine for i in batch}, files)
    session = sessions.open_session(config, figure, argv, options, found, cells)
    with session.recording():
        if options.collect:
            collect_cells(session, batches, argv)
        else:
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

    todo = [(c, layer, [i for i in batch if not session.is_done(filter_key(session.contents[c].name, layer, i))])
            for c, layer, batch in batches]
    todo = [(c, layer, pending) for c, layer, pending in todo if pending]
    session.planned([[filter_key(session.contents[c].name, layer, i) for i in pending] for c, layer, pending in todo])
    session.calibrate([layer for _, layer, _ in todo])
    content_codes, current = None, None
    for content_index, layer, pending in todo:
        content = session.contents[content_index]
        if current != content_index:  # one content image's codes at a time
            content_codes = session.extract(config.layers, content.array)
            current = content_index
        silent = [index for index in pending if not content_codes[layer][0, index].any()]
        if silent:
            log.info("%s %s: filter(s) %s respond nowhere on the content image; inverted like every other filter",
                     content.name, layer, ", ".join(map(str, silent)))

        def measure(images, details, layer=layer, name=content.name):
            final = session.extract([layer], images)[layer]
            rows = []
            for row, detail in enumerate(details):
                on_final = response(final[row:row + 1], detail["filter"])
                rows.append({"response": {"content": response(content_codes[layer], detail["filter"]),
                                          "final": on_final},
                             "silent": on_final["max"] <= 0.0})
                if rows[-1]["silent"]:
                    log.info("%s: still silent on its final image (zero response everywhere)",
                             filter_key(name, layer, detail["filter"]))
            return rows

        targets = np.concatenate([codes.feature_map(content_codes[layer], index) for index in pending])
        inversion.invert_batch(session, [filter_key(content.name, layer, index) for index in pending], [Term(layer)],
                               [targets], content.array.shape[1:],
                               label=f"{content.name} {layer} filter{'s' if len(pending) > 1 else ''} "
                                     f"{', '.join(map(str, pending))}",
                               details=[{"layer": layer, "filter": index} for index in pending], measure=measure)


def collect_cells(session, batches, argv):
    """Gather the shards' cells; every planned cell must be among them, else the shards that hold
    the missing ones are named, with the sbatch line that reruns only those."""

    missing, count = shards.collect(session.folder)
    if missing:
        names = [content.name for content in session.contents]
        wanted = set(missing)
        holders = sorted({position % count for position, (c, layer, batch) in enumerate(batches)
                          for i in batch if filter_key(names[c], layer, i) in wanted})
        raise FmiError(f"{len(missing)} cells are missing from the shards (first: {missing[0]}); rerun "
                       f"shard(s) {', '.join(f'{index}/{count}' for index in holders)}: they skip finished "
                       f"cells and redo damaged ones; on Slurm: {shards.resubmit_line(holders, count, argv)}")


def draw(config, session):
    """The figures of ``grids`` and the loss curves."""

    names = [content.name for content in session.contents]
    sizes = {content.name: content.size for content in session.contents}
    written = [layout.draw(session, figure, sizes[parse_key(figure.cells[0]).content])
               for figure in grids(config, names)]
    loss_groups = {f"{name} {layer}": {f"filter {i}": filter_key(name, layer, i) for i in config.filters_of(layer)}
                   for name in names for layer in config.layers}
    written.append(labels.loss_figure(session, loss_groups, "FMI loss per layer"))
    return written
