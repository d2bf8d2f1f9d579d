"""What the three figure scripts share: checking every input, then a session that inverts cells.

``check_inputs`` and ``open_session`` run every check that can fail on the inputs (the config
was checked when it was loaded; then the files, image headers, sizes, memory, weights, output
names and the pixels themselves) before the run folder is opened, which is the first write;
between them the experiment plans its cells from the inputs' names. ``open_session`` returns
the ``Session``: the checked inputs as the network sees them, the weights and device, the
run folder, and progress. ``fmi.run.inversion`` inverts batches of cells in a session;
``fmi.run.labels`` makes the figures' titles and marks.
"""
import contextlib
import datetime
import importlib.metadata
import logging
import platform
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib
import mxnet
import numpy as np
import PIL
import skimage

from fmi.core import fidelity, invert, preprocessing, vgg19
from fmi.errors import FmiError
from fmi.files import image_files, published, weight_files
from fmi.files.published import PAPER_IMAGES
from fmi.io import check_output_names, check_writable_location, printable, printable_data, sha1_of_file
from fmi.run import cost, progress
from fmi.run.folder import shards
from fmi.run.folder.record import (
    RECORD_FORMAT,
    RunRecord,
    build,
    code_identity,
    fingerprint_of,
    inside,
    parse_key,
    settings_of,
    status_counts,
)
from fmi.run.folder.runfolder import open_run_folder
from fmi.run.interface import config as config_module
from fmi.run.interface import inputs
from fmi.run.machine import device, memory, threads
from fmi.run.machine import facts as machine

log = logging.getLogger("fmi")
OFFLINE_CONTENT = ("sample:grace_hopper", "sample:rocket", "sample:astronaut", "sample:chelsea")
OFFLINE_STYLES = ("sample:hubble_deep_field", "sample:coffee", "sample:retina", "sample:motorcycle_left")


def package_version():
    """fmi's version as installed (pyproject.toml), or 'unknown' when run from an uninstalled copy."""
    try:
        return importlib.metadata.version("fmi")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def versions():
    """Versions of everything that decides a result, for the run record."""

    return {"fmi": package_version(), "python": platform.python_version(), "mxnet": mxnet.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "scikit-image": skimage.__version__,
            "pillow": PIL.__version__, "matplotlib": matplotlib.__version__, "platform": platform.platform()}


@dataclass
class Options:
    """How this invocation treats its output folder (command-line only, not part of the config)."""

    resume: bool = False
    overwrite: bool = False
    shard: tuple = None
    collect: bool = False
    overall: object = None  # a larger job this run belongs to (fmi.tools.whole_paper): told of progress


@dataclass
class Picture:
    """One input image, ready: its run name, 8-bit RGB as resized, and the network's input (1, 3, H, W)."""

    name: str
    rgb: np.ndarray
    array: np.ndarray

    @property
    def size(self):
        return tuple(self.array.shape[2:])


@dataclass
class Plan:
    """What a run will write: {cell key: content name} in running order, and its figure files."""

    cells: dict
    figures: list = field(default_factory=list)


def missing_files(config, located, style_located):
    """(what is missing, how to get it) for the weights file and every input image that is not there;
    the paper's images are named together, fetched by one command."""
    expected = weight_files.expected_file(config.weights, config.model_dir)
    problems = []
    if expected is not None and not expected.exists():
        problems.append((f"weights file {expected}", weight_files.missing_hint(expected)))
    missing_images = [item for item in located + style_located if not item.path.exists()]
    paper = [item for item in missing_images if item.spec in PAPER_IMAGES]
    if paper:
        problems.append((", ".join(str(item.path) for item in paper),
                         f"run '{inputs.FETCH_PAPER_IMAGES}'{published.skipped(config.data_dir)}"))
    problems += [(f"image {item.path}", "no such file") for item in missing_images if item not in paper]
    return problems


def missing_message(problems, offline_command, what="this run", same="the same config"):
    """One error for every missing file, with the commands that fetch them and the command line that
    runs the same thing offline."""
    if len(problems) == 1 and "," not in problems[0][0]:
        name, fix = problems[0]
        return FmiError(f"{name}: no such file; {fix}; or run offline with random weights and bundled images: "
                        f"{offline_command}")
    return FmiError(f"{what} needs files that are not here:\n"
                    + "\n".join(f"  {name}: {fix}" for name, fix in problems)
                    + f"\nto run {same} offline, with random weights and bundled images:\n  {offline_command}")


def _missing_inputs(config, located, argv, script, style_located):
    """The error for the missing weights and paper images of a run, or None; other missing images are
    left to the checks that name each one."""
    problems = missing_files(config, located, style_located)
    if all(fix == "no such file" for _, fix in problems):  # nothing that a download fetches
        return None
    return missing_message(problems, shlex.join(["python", script, *_offline_argv(argv, located, style_located)]))


def _offline_argv(argv, located, style_located):
    """``argv`` with random weights and bundled images in place of the missing ones."""
    offline = list(argv)
    for option in ("--weights", "--image", "--style"):
        while option in offline:
            position = offline.index(option)
            del offline[position:position + 2]
        offline = [arg for arg in offline if not arg.startswith(option + "=")]
    offline += ["--weights", "random:0"]
    for option, items, samples in (("--image", located, OFFLINE_CONTENT), ("--style", style_located, OFFLINE_STYLES)):
        specs = [samples[i % len(samples)] if not item.path.exists() else item.spec for i, item in enumerate(items)]
        if specs != [item.spec for item in items]:
            offline += [option, ",".join(specs)]
    return offline


@dataclass
class Inputs:
    """Every input image of a run, located, named, its header read and its origin known."""

    contents: list
    styles: list
    names: dict
    headers: dict
    sizes: dict
    origins: dict

    @property
    def everything(self):
        return self.contents + self.styles

    @property
    def content_names(self):
        return [self.names[item.spec] for item in self.contents]

    @property
    def style_names(self):
        return [self.names[item.spec] for item in self.styles]

    def role(self, item):
        return "content" if item in self.contents else "style"


def check_inputs(config, figure, argv, *, layers, batch, styles=()):
    """Every check that can fail on a run's input images before any pixel is decoded; return the
    ``Inputs`` with their names in the run, from which the experiment plans its cells.

    ``figure`` is the ``fmi.experiments.Figure`` the run makes; ``layers`` are the deepest layers
    any batch reaches and ``batch`` the largest batch, for the memory check; ``styles`` are the
    style image specs (resized to each content image).
    """
    return _locate_inputs(config, fidelity.of(config), figure.script, argv, styles, layers, batch)


def open_session(config, figure, argv, options, found, plan):
    """Check what is left (the paper's settings, output names, weights, device, pixels), then open
    the run folder, the first write; return the ``Session``. ``found`` is ``check_inputs``' answer,
    ``plan`` the experiment's ``Plan`` of cells from it."""
    mode = fidelity.of(config)
    paper_config = config_module.load(type(config), figure.paper_config)
    differences = [printable_data(difference)  # file names in any encoding
                   for difference in config_module.paper_differences(config, paper_config)]
    log.info("settings: %s", config_module.describe_differences(differences, figure.paper))
    output = shards.folder_of(Path(config.output), options.shard)
    check_writable_location(output)
    suffix = image_files.CELL_SUFFIXES[mode.cell_format]
    check_output_names([f"cells/{key}{suffix}" for key in plan.cells]
                       + [f"snapshots/{key}/step_{config.steps:04d}.png" for key in plan.cells]
                       + list(plan.figures), output)
    weights = weight_files.load(config.weights, config.model_dir)
    context = device.context(config.gpu)
    facts = machine.facts(context)
    log.info("machine: %s", machine.describe(facts))
    pixels = {item.spec: image_files.read_rgb(item.path, found.headers[item.spec]) for item in found.everything}
    contents = [_picture(found.names[item.spec], pixels[item.spec], *found.sizes[item.spec], weights, mode,
                         mode.content_scale) for item in found.contents]
    style_pictures = {content.name: [_picture(found.names[item.spec], pixels[item.spec], *content.size, weights,
                                              mode, mode.style_scale) for item in found.styles]
                      for content in contents}
    shapes = {key: list(next(c.size for c in contents if c.name == content)) for key, content in plan.cells.items()}
    record = _record(config, mode, figure.script, argv, options, weights, found, shapes, facts, differences)
    folder = open_run_folder(output, record, mode.cell_format, resume=options.resume or bool(options.shard)
                             or options.collect, overwrite=options.overwrite, shards_allowed=options.collect)
    for picture in contents + style_pictures[contents[0].name]:  # as the run sees them, for the tools
        image_files.save_png(inside(folder.path, "inputs", f"{picture.name}.png"), picture.rgb)
    log.info("weights: %s; fidelity: %s; output: %s", weights.label, mode.name, output)
    not_theirs = [found.names[item.spec] for item in found.everything
                  if item.spec in PAPER_IMAGES and not item.substitute and found.origins[item.spec][1] is None]
    return Session(config, mode, weights, context, folder, contents, style_pictures, plan, not_theirs,
                   options.overall, facts, config_module.describe_differences(differences, figure.paper,
                                                                              config_module.SHOWN_DIFFERENCES))


def _locate_inputs(config, mode, script, argv, styles, layers, batch):
    """The input checklist: every file there (or one message naming all that are missing), each
    image's header read, its size once resized checked against the layers and the memory, its
    name, and whether it is exactly the authors' file; nothing decoded yet."""
    contents = [inputs.locate(spec, config.data_dir, config.fallbacks) for spec in config.content]
    style_items = [inputs.locate(spec, config.data_dir, config.fallbacks) for spec in styles]
    missing = _missing_inputs(config, contents, argv, script, style_items)
    if missing:
        raise missing
    everything = contents + style_items
    headers = {item.spec: image_files.read_header(item.path) for item in everything}
    sizes = _content_sizes(config, mode, contents, headers, layers, batch)
    names = inputs.assign_names(everything)
    origins = {item.spec: published.identify(item.path) for item in everything}
    _log_inputs(everything, contents, names, headers, sizes, origins)
    return Inputs(contents, style_items, names, headers, sizes, origins)


def _content_sizes(config, mode, located, headers, layers, batch):
    """{spec: (height, width)} of each content image once resized, after checking it is large
    enough for the deepest layer and that inverting it (and decoding the largest input) fits
    in memory: all from the image headers, before any pixel is decoded."""
    deepest = max(layers, key=vgg19.RELU_LAYERS.index)
    decode_bytes = max(header.decode_bytes for header in headers.values())
    sizes = {}
    for item in located:
        header = headers[item.spec]
        sizes[item.spec] = preprocessing.content_size(header.height, header.width, config.max_long_edge,
                                               mode.size_rounding)
        vgg19.check_input_size([deepest], *sizes[item.spec])
        memory.check(layers, batch, *sizes[item.spec], limit_gib=config.max_memory_gib, decode_bytes=decode_bytes)
    return sizes


def _origin(item, origin):
    """Whose file an input is, by its git blob id: the authors' exactly, or (for a paper image that
    is not theirs) not theirs."""
    blob, found = origin
    expected = published.image(item.spec) if item.spec in PAPER_IMAGES and not item.substitute else None
    return published.describe(blob, found, expected)


def _log_inputs(everything, located, names, headers, sizes, origins):
    """One line per input image: its name in this run, its file, its size (and resized size), whose file it is."""
    for item in everything:
        header = headers[item.spec]
        role = "content" if item in located else "style"
        sized = f" -> {sizes[item.spec][0]}x{sizes[item.spec][1]}" if item.spec in sizes else ""
        log.info("%s %s: %s (%dx%d%s)%s; %s", role, names[item.spec], printable(item.path), header.height,
                 header.width, sized,
                 f", standing in for {item.spec}" if item.substitute else "", _origin(item, origins[item.spec]))


def _record(config, mode, script, argv, options, weights, found, shapes, facts, differences):
    """The run record as it starts: how the run is made, its fingerprints, and its planned cells."""
    names = found.names
    hashes = {names[item.spec]: sha1_of_file(item.path) for item in found.everything}
    config_dict = printable_data(config_module.to_dict(config))  # file names in any encoding
    settings = settings_of(config_dict, weights.identity, hashes)
    described = {names[item.spec]: {"spec": printable(item.spec), "path": printable(item.path.resolve()),
                                    "sha1": hashes[names[item.spec]],
                                    "size": [found.headers[item.spec].height, found.headers[item.spec].width],
                                    "role": found.role(item), "substitute": item.substitute,
                                    "git_blob": found.origins[item.spec][0],
                                    "published": found.origins[item.spec][1].remote if found.origins[item.spec][1]
                                    else None}
                 for item in found.everything}
    return build(
        RunRecord, "this run", record_format=RECORD_FORMAT, script=script, argv=[printable(arg) for arg in argv],
        config=config_dict,
        fingerprint=fingerprint_of(settings), settings=settings, code=code_identity(), fidelity=mode.name,
        weights=weights.record(), seed=config.seed, inputs=described, plan=shapes, threads=threads.in_force(),
        machine=facts, paper_differences=[{"key": key, "value": value, "paper": paper}
                                          for key, value, paper in differences],
        versions=versions(), started=now(), shard=list(options.shard) if options.shard else None)


def now():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _picture(name, rgb, height, width, weights, mode, scale):
    unit = preprocessing.resize(rgb, height, width, mode.resize)
    return Picture(name, preprocessing.unit_to_uint8(unit), weights.preprocessing.preprocess(unit * scale))


class Session:
    """One experiment's checked inputs as the network sees them, its weights and device, its run
    folder, and its progress; ``fmi.run.inversion`` inverts batches of cells in it."""

    def __init__(self, config, mode, weights, context, folder, contents, styles, plan, not_theirs=(), overall=None,
                 facts=None, settings_line=""):
        self.config = config
        self.fidelity = mode
        self.weights = weights
        self.context = context
        self.folder = folder
        self.contents = contents
        self.styles = styles  # {content name: [style Picture resized to that content]}
        self.plan = plan
        self.not_theirs = list(not_theirs)  # paper images given by name whose files are not the authors'
        self.output = folder.path
        self.machine = facts  # what computes the cells: fmi.run.machine.facts
        self.settings_line = settings_line  # how the settings differ from the paper's, for figure titles
        self.progress = progress.Progress(
            {key: (parse_key(key).group, _cell_cost(plan, key, contents)) for key in plan.cells},
            {key: cell.steps for key, cell in folder.cells.items()}, log, config.steps, config.optimizer)
        if overall is not None:
            overall.attach(self.progress)

    @property
    def label(self):
        return self.weights.label

    def is_done(self, key):
        return self.folder.is_done(key)

    def cell_image(self, key):
        return self.folder.cell_image(key)

    @contextlib.contextmanager
    def recording(self):
        """Keep the record up to date if the block fails or is interrupted; a failed write
        becomes one line saying that the finished cells are safe."""
        try:
            yield self
        except BaseException as error:
            try:
                self.folder.save_record()
            except OSError:
                log.warning("could not update %s; the cells' own .json files are complete",
                            self.output / "record.json")
            if isinstance(error, OSError):
                where = f"{error.filename}: " if error.filename else ""
                raise FmiError(f"{where}{error.strerror or error}; outputs finished before this are intact, "
                               f"rerun with --resume once fixed") from None
            raise

    def planned(self, batches):
        """Say what is left to run: ``batches`` of pending cell keys (L-BFGS inverts them one by one)."""
        self.progress.planned(batches, one_at_a_time=self.config.optimizer == "lbfgs")

    def calibrate(self, layers):
        """Time two steps at the shallowest and the deepest of ``layers`` on the first content image, so
        the first estimate of the time left has two points to draw its line through."""
        layers = sorted(set(layers), key=vgg19.RELU_LAYERS.index)
        if len(layers) < 2:
            return
        content = self.contents[0]
        found = {(layer, vgg19.flops(layer, *content.size)): cost.time_step(
                     [invert.Term(layer)], self.weights, content.array.shape[1:], 1, self.config.pooling, self.context,
                     self.config.optimizer) for layer in (layers[0], layers[-1])}
        self.progress.calibrated(found)
        log.info("calibration: a step takes %s", ", ".join(f"{seconds:.3g} s at {layer}"
                                                            for (layer, _), seconds in found.items()))

    def extract(self, layers, array):
        return invert.extract(self.weights, layers, array, self.config.pooling, self.context)

    def start_images(self, shape, count):
        """The start image of every cell, (count, 3, H, W): the same seeded noise for each."""
        return invert.initial_images(shape, [self.config.seed] * count)

    def finish(self, started, written):
        """Note the run finished: its wall time, figures and the cells in each state, in the record and the log."""
        wall = time.perf_counter() - started
        status = status_counts(self.folder.cells, self.plan.cells, self.config.stuck_fraction)
        self.folder.finish(wall_s=round(wall, 1), figures=[Path(path).name for path in written], status=status)
        for mark, keys in status.items():
            log.info("%d cell(s) marked '%s': %s%s", len(keys), mark, ", ".join(keys[:5]),
                     ", ..." if len(keys) > 5 else "")
        log.info("finished in %.1f s; outputs in %s: %s", wall, self.output,
                 ", ".join(Path(path).name for path in written))


def _cell_cost(plan, key, contents):
    """Relative work of one step of a cell: the forward FLOPs to its layer at its image size."""
    size = next(content.size for content in contents if content.name == plan.cells[key])
    group = parse_key(key).group
    return vgg19.flops(group if group in vgg19.RELU_LAYERS else "relu5_1", *size)  # Fig. 5: every cell alike


def chunks(items, size):
    return [items[start:start + size] for start in range(0, len(items), size)]
