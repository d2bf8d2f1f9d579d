"""What every experiment's run shares: checking every input, then a session that inverts cells.

``check_inputs``, ``check_fits`` and ``open_session`` run every check that can fail on the inputs
(the config was checked when it was loaded; then the files, image headers, sizes, memory, weights,
output names and the pixels themselves) before the run folder is opened, which is the first write;
between them the experiment plans its batches from the inputs' names. ``open_session`` returns
the ``Session``: the checked inputs as the network sees them, the weights and device, the
run folder, and progress. ``fmi.run.driver`` runs an experiment in a session.
"""
import contextlib
import importlib.metadata
import logging
import platform
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import cv2
import matplotlib
import mxnet
import numpy as np
import PIL

from fmi import package_version
from fmi.core import fidelity, invert, preprocessing
from fmi.core.network import Network
from fmi.errors import FmiError
from fmi.files import image_files, networks, published, weight_files
from fmi.files.published import PAPER_IMAGES
from fmi.io import (
    check_output_names,
    check_writable_location,
    printable,
    printable_data,
    sha1_of_file,
    timestamp,
)
from fmi.run import cost, progress
from fmi.run.experiment import AnyExperiment, Batch, Picture
from fmi.run.folder import shards
from fmi.run.folder.record import (
    RECORD_FORMAT,
    NetworkRecord,
    RunRecord,
    WeightsRecord,
    build,
    code_identity,
    fingerprint_of,
    inside,
    settings_of,
    status_counts,
)
from fmi.run.folder.runfolder import RunFolder, open_run_folder
from fmi.run.interface import config as config_module
from fmi.run.interface import config_words, inputs
from fmi.run.machine import device, memory, threads
from fmi.run.machine import facts as machine

log = logging.getLogger("fmi")
OFFLINE_CONTENT = ("sample:grace_hopper", "sample:rocket", "sample:astronaut", "sample:chelsea")
OFFLINE_STYLES = ("sample:hubble_deep_field", "sample:coffee", "sample:retina", "sample:motorcycle_left")


def stand_in(role: str, index: int) -> str:
    """The bundled image that stands in for the ``index``-th content or style image of a run offline."""
    samples = OFFLINE_CONTENT if role == "content" else OFFLINE_STYLES
    return samples[index % len(samples)]


def versions() -> dict[str, str]:
    """Versions of everything that decides a result, for the run record."""

    return {"fmi": package_version(), "python": platform.python_version(), "mxnet": mxnet.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "pillow": PIL.__version__,
            "scikit-image": importlib.metadata.version("scikit-image"), "matplotlib": matplotlib.__version__,
            "platform": platform.platform()}


@dataclass
class Options:
    """How this invocation treats its output folder (command-line only, not part of the config)."""

    resume: bool = False
    overwrite: bool = False
    shard: Optional[tuple[int, int]] = None
    collect: bool = False
    overall: Any = None  # a larger job this run belongs to (fmi.tools.whole_paper): told of progress


@dataclass
class Plan:
    """What a run will write: its batches of cells in running order, and its figure files."""

    batches: list[Batch]
    figures: list[str] = field(default_factory=list)

    @property
    def cells(self) -> dict[str, Batch]:
        """{cell key: the batch it is planned in}, in running order."""
        return {key: batch for batch in self.batches for key in batch.keys}


Problems = list[tuple[str, str]]


def missing_files(config: Any, located: list[inputs.Located], style_located: list[inputs.Located]) -> Problems:
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


def missing_message(problems: Problems, offline_command: str, what: str = "this run",
                    same: str = "the same config") -> FmiError:
    """One error for every missing file, with the commands that fetch them and the command line that
    runs the same thing offline."""
    if len(problems) == 1 and "," not in problems[0][0]:
        name, fix = problems[0]
        return FmiError(f"{name}: no such file; {fix}; or run offline with random weights and bundled images: "
                        f"{offline_command}")
    return FmiError(f"{what} needs files that are not here:\n"
                    + "\n".join(f"  {name}: {fix}" for name, fix in problems)
                    + f"\nto run {same} offline, with random weights and bundled images:\n  {offline_command}")


def _offline_argv(argv: list[str], located: list[inputs.Located], style_located: list[inputs.Located]) -> list[str]:
    """``argv`` with random weights and bundled images in place of the missing ones."""
    offline = list(argv)
    for option in ("--weights", "--image", "--style"):
        while option in offline:
            position = offline.index(option)
            del offline[position:position + 2]
        offline = [arg for arg in offline if not arg.startswith(option + "=")]
    offline += ["--weights", "random:0"]
    for option, items, role in (("--image", located, "content"), ("--style", style_located, "style")):
        specs = [stand_in(role, i) if not item.path.exists() else item.spec for i, item in enumerate(items)]
        if specs != [item.spec for item in items]:
            offline += [option, ",".join(specs)]
    return offline


@dataclass
class Inputs:
    """Every input image of a run, located, named, its header read, its size once resized and its origin known."""

    contents: list[inputs.Located]
    styles: list[inputs.Located]
    names: dict[str, str]
    headers: dict[str, image_files.Header]
    sizes: dict[str, tuple[int, int]]
    origins: dict[str, tuple[str, Optional[published.Published]]]

    @property
    def everything(self) -> list[inputs.Located]:
        return self.contents + self.styles

    @property
    def content_names(self) -> list[str]:
        return [self.names[item.spec] for item in self.contents]

    @property
    def style_names(self) -> list[str]:
        return [self.names[item.spec] for item in self.styles]

    def role(self, item: inputs.Located) -> str:
        return "content" if item in self.contents else "style"


def check_inputs(config: Any, script: str, argv: list[str], contents: list[str], styles: list[str]) -> Inputs:
    """The input checklist, before any pixel is decoded: every file there (or one message naming all that
    are missing, with the command line that runs ``script`` offline), each image's header read, its size
    once resized, its name in the run, and whether it is exactly the authors' file."""
    mode = fidelity.of(config)
    located = [inputs.locate(spec, config.data_dir, config.fallbacks) for spec in contents]
    style_located = [inputs.locate(spec, config.data_dir, config.fallbacks) for spec in styles]
    problems = missing_files(config, located, style_located)
    if any(fix != "no such file" for _, fix in problems):  # something a download fetches
        raise missing_message(problems, shlex.join(["python", script, *_offline_argv(argv, located, style_located)]))
    everything = located + style_located
    headers = {item.spec: image_files.read_header(item.path) for item in everything}
    sizes = {item.spec: preprocessing.content_size(headers[item.spec].height, headers[item.spec].width,
                                                   config.max_long_edge, mode.size_rounding) for item in located}
    names = inputs.assign_names(everything)
    origins = {item.spec: published.identify(item.path) for item in everything}
    for item in everything:
        header, role = headers[item.spec], "content" if item in located else "style"
        sized = f" -> {sizes[item.spec][0]}x{sizes[item.spec][1]}" if item.spec in sizes else ""
        log.info("%s %s: %s (%dx%d%s)%s; %s", role, names[item.spec], printable(item.path), header.height,
                 header.width, sized, f", standing in for {item.spec}" if item.substitute else "",
                 _origin(item, origins[item.spec]))
    return Inputs(located, style_located, names, headers, sizes, origins)


def check_fits(config: Any, found: Inputs, batches: list[Batch]) -> None:
    """Each content image, once resized, is large enough for the deepest layer the batches reach, and
    inverting the largest batch (and decoding the largest input) fits in memory."""
    network = config.net
    deepest = network.deepest([batch.layer for batch in batches])
    largest = max(len(batch.items) for batch in batches)
    decode_bytes = max(header.decode_bytes for header in found.headers.values())
    for item in found.contents:
        network.check_input_size([deepest], *found.sizes[item.spec])
        memory.check(network, [deepest], largest, *found.sizes[item.spec], limit_gib=config.max_memory_gib,
                     decode_bytes=decode_bytes)


def open_session(config: Any, experiment: AnyExperiment, argv: list[str], options: Options, found: Inputs,
                 plan: Plan) -> "Session":
    """Check what is left (the paper's settings, output names, weights, device, pixels), then open
    the run folder, the first write; return the ``Session``. ``found`` is ``check_inputs``' answer,
    ``plan`` the experiment's batches from it."""
    mode = fidelity.of(config)
    paper_config = config_module.load(type(config), experiment.paper_config)
    differences = [printable_data(difference)  # file names in any encoding
                   for difference in config_module.differences(config, paper_config)]
    log.info("settings: %s", config_words.describe_differences(differences, experiment.paper))
    output = shards.folder_of(Path(config.output), options.shard)
    check_writable_location(output)
    suffix = image_files.CELL_SUFFIXES[mode.cell_format]
    check_output_names([f"cells/{key}{suffix}" for key in plan.cells]
                       + [f"snapshots/{key}/step_{config.steps:04d}.png" for key in plan.cells]
                       + list(plan.figures), output)
    weights = networks.weights(config.net, config.weights, config.model_dir, config.input_convention())
    context = device.context(config.gpu)
    facts = machine.facts(context, device.preflight(config.gpu))
    log.info("machine: %s", machine.describe(facts))
    pixels = {item.spec: image_files.read_rgb(item.path, found.headers[item.spec]) for item in found.everything}
    contents = [_picture(found.names[item.spec], pixels[item.spec], *found.sizes[item.spec], weights, mode,
                         mode.content_scale) for item in found.contents]
    styles = {content.name: [_picture(found.names[item.spec], pixels[item.spec], *content.size, weights, mode,
                                      mode.style_scale) for item in found.styles] for content in contents}
    sizes = {content.name: list(content.size) for content in contents}
    shapes = {key: sizes[batch.content] for key, batch in plan.cells.items()}
    used = config.net.ordered({term.layer for batch in experiment.plan(config, found.content_names, found.style_names)
                               for term in experiment.terms(config, batch.group)})
    record = _record(config, experiment.script, argv, options, weights, found, shapes, facts, differences, used)
    folder = open_run_folder(output, record, experiment.details_model, mode.cell_format,
                             resume=options.resume or bool(options.shard) or options.collect,
                             overwrite=options.overwrite, shards_allowed=options.collect)
    for picture in contents + styles[contents[0].name]:  # as the run sees them, for the tools
        image_files.save_png(inside(folder.path, "inputs", f"{picture.name}.png"), picture.rgb)
    log.info("weights: %s; fidelity: %s; output: %s", weights.label, mode.name, output)
    line = config_words.describe_differences(differences, experiment.paper, config_words.SHOWN_DIFFERENCES)
    return Session(config, mode, weights, context, folder, contents, styles, plan, input_notes(found),
                   options.overall, facts, line)


def input_notes(found: Inputs) -> list[str]:
    """What figure titles say of the inputs, as the log does: images standing in for the paper's, and
    paper images given by name whose files are not the authors'."""
    notes = [f"{found.names[item.spec]} standing in for {item.spec}" for item in found.everything if item.substitute]
    not_theirs = [found.names[item.spec] for item in found.everything
                  if item.spec in PAPER_IMAGES and not item.substitute and found.origins[item.spec][1] is None]
    return notes + ([f"input image(s) {', '.join(not_theirs)}: not the authors' files"] if not_theirs else [])


def _origin(item: inputs.Located, origin: tuple[str, Optional[published.Published]]) -> str:
    """Whose file an input is, by its git blob id (for a paper image given by name, whether it is theirs)."""
    return published.verdict(origin[0], published.image(item.spec) if item.spec in PAPER_IMAGES
                             and not item.substitute else None)


def _record(config: Any, script: str, argv: list[str], options: Options, weights: weight_files.Weights,
            found: Inputs, shapes: dict[str, list[int]], facts: dict[str, Any],
            differences: list[Any], used: list[str]) -> RunRecord:
    """The run record as it starts: how the run is made, its fingerprints, and its planned cells."""
    names = found.names
    hashes = {names[item.spec]: sha1_of_file(item.path) for item in found.everything}
    network = config.net
    identity = None if network.is_vgg19 else printable_data(network.describe())
    settings = settings_of(printable_data(config_module.counted(config)), weights.identity, hashes, identity)
    described = {names[item.spec]: {"spec": printable(item.spec), "path": printable(item.path.resolve()),
                                    "sha1": hashes[names[item.spec]],
                                    "size": [found.headers[item.spec].height, found.headers[item.spec].width],
                                    "role": found.role(item), "substitute": item.substitute,
                                    "git_blob": found.origins[item.spec][0],
                                    "published": origin.remote if (origin := found.origins[item.spec][1]) else None}
                 for item in found.everything}
    return build(
        RunRecord, "this run", record_format=RECORD_FORMAT, script=script, argv=[printable(arg) for arg in argv],
        config=printable_data(config_module.to_dict(config)), fingerprint=fingerprint_of(settings),
        settings=settings, code=code_identity(), fidelity=fidelity.of(config).name, weights=weights_record(weights),
        network=network_record(network, weights, used),
        seed=config.seed, inputs=described, plan=shapes, threads=threads.in_force(), machine=facts,
        paper_differences=[{"key": key, "value": value, "paper": paper} for key, value, paper in differences],
        versions=versions(), started=timestamp(), shard=list(options.shard) if options.shard else None)


def weights_record(weights: weight_files.Weights) -> WeightsRecord:
    """What a run record needs to reproduce ``weights``: their source, whose they are, and their digests."""
    return build(WeightsRecord, "the weights", source=weights.source, pretrained=weights.pretrained,
                 sha1=weights.sha1, git_blob=weights.blob, published=weights.published, seed=weights.seed,
                 path=weights.path, preprocessing=weights.preprocessing.name, label=weights.label)


def network_record(network: Network, weights: weight_files.Weights, used: list[str]) -> NetworkRecord:
    """What a run record says of its network: its source, a file's name and SHA-256, its input convention, and
    (but for VGG-19, whose table fmi has) its rectified layers and the channels of those the run ``used``, so
    that the tools read the run without the network."""
    described = printable_data(network.describe())
    layers = {} if network.is_vgg19 else {"layers": list(network.layers),
                                           "channels": {layer: network.channels(layer) for layer in used}}
    return build(NetworkRecord, "the network", source=described.pop("source"), input=weights.preprocessing.name,
                 **layers, **{key: value for key, value in described.items() if key in NetworkRecord.model_fields
                              and key != "input"})


def _picture(name: str, rgb: Any, height: int, width: int, weights: weight_files.Weights, mode: fidelity.Fidelity,
             scale: float) -> Picture:
    unit = preprocessing.resize(rgb, height, width, mode.resize)
    return Picture(name, preprocessing.unit_to_uint8(unit), weights.preprocessing.preprocess(unit * scale))


class Session:
    """One experiment's checked inputs as the network sees them, its weights and device, its run
    folder, and its progress; ``fmi.run.driver`` inverts batches of cells in it."""

    def __init__(self, config: Any, mode: fidelity.Fidelity, weights: weight_files.Weights, context: Any,
                 folder: RunFolder, contents: list[Picture], styles: dict[str, list[Picture]], plan: Plan,
                 input_notes: list[str], overall: Any, facts: dict[str, Any], settings_line: str) -> None:
        self.config = config
        self.network = config.net
        self.fidelity = mode
        self.weights = weights
        self.context = context
        self.folder = folder
        self.contents = contents
        self.styles = styles  # {content name: [style Picture resized to that content]}
        self.plan = plan
        self.input_notes = list(input_notes)  # what figure titles say of the inputs
        self.output = folder.path
        self.machine = facts  # what computes the cells: fmi.run.machine.facts
        self.settings_line = settings_line  # how the settings differ from the paper's, for figure titles
        sizes = {content.name: content.size for content in contents}
        self.progress = progress.Progress(
            {key: (batch.group, self.network.flops(batch.layer, *sizes[batch.content]))
             for key, batch in plan.cells.items()},
            {key: cell.steps for key, cell in folder.cells.items()}, log, config.steps, config.optimizer)
        if overall is not None:
            overall.attach(self.progress)

    @property
    def label(self) -> str:
        return self.weights.label

    def is_done(self, key: str) -> bool:
        return self.folder.is_done(key)

    def cell_image(self, key: str) -> Any:
        return self.folder.cell_image(key)

    def picture(self, name: str) -> Picture:
        """The content image called ``name``, as the network sees it."""
        return next(content for content in self.contents if content.name == name)

    @contextlib.contextmanager
    def recording(self) -> Iterator["Session"]:
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

    def planned(self, batches: list[list[str]]) -> None:
        """Say what is left to run: ``batches`` of pending cell keys (L-BFGS inverts them one by one)."""
        self.progress.planned(batches, one_at_a_time=self.config.optimizer == "lbfgs")

    def calibrate(self, layers: list[str]) -> None:
        """Time two steps at the shallowest and the deepest of ``layers`` on the first content image, so
        the first estimate of the time left has two points to draw its line through."""
        layers = self.network.ordered(layers)
        if len(layers) < 2:
            return
        content = self.contents[0]
        found = {(layer, self.network.flops(layer, *content.size)): cost.time_step(
                     [invert.Term(layer)], self.network, self.weights, content.array.shape[1:], 1, self.context,
                     self.config.optimizer) for layer in (layers[0], layers[-1])}
        self.progress.calibrated(found)
        log.info("calibration: a step takes %s", ", ".join(f"{seconds:.3g} s at {layer}"
                                                            for (layer, _), seconds in found.items()))

    def extract(self, layers: list[str], array: Any) -> dict[str, Any]:
        return invert.extract(self.network, self.weights, layers, array, self.context)

    def start_images(self, shape: tuple[int, ...], count: int) -> Any:
        """The start image of every cell, (count, 3, H, W): the same seeded noise for each."""
        return invert.initial_images(shape, [self.config.seed] * count)

    def finish(self, started: float, written: list[Path]) -> None:
        """Note the run finished: its wall time, figures and the cells in each state, in the record and the log."""
        wall = time.perf_counter() - started
        status = status_counts(self.folder.cells, list(self.plan.cells), self.config.stuck_fraction)
        self.folder.finish(wall_s=round(wall, 1), figures=[Path(path).name for path in written], status=status)
        for mark, keys in status.items():
            log.info("%d cell(s) marked '%s': %s%s", len(keys), mark, ", ".join(keys[:5]),
                     ", ..." if len(keys) > 5 else "")
        log.info("finished in %.1f s; outputs in %s: %s", wall, self.output,
                 ", ".join(Path(path).name for path in written))
