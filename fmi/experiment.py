"""What the three figure scripts share: checking every input, then inverting batches of cells.

``prepare`` runs every check that can fail on the inputs (the config was checked when it
was loaded; then the files, image headers, sizes, memory, weights, output names and the
pixels themselves) before it opens the run folder, which is the first write. ``Run``
inverts batches of cells into that folder (``fmi.runfolder`` keeps the rules of what may
be written there), reports run-level progress, and draws the figures' common parts.
"""
import contextlib
import datetime
import logging
import platform
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmi import (
    __version__,
    device,
    fidelity,
    image,
    inputs,
    invert,
    measures,
    memory,
    progress,
    published,
    threads,
    vgg19,
)
from fmi import config as config_module
from fmi import weights as weights_module
from fmi.errors import FmiError
from fmi.io import check_output_names, check_writable_location, sha1_of_file
from fmi.published import PAPER_IMAGES
from fmi.runfolder import (
    CELL_STATES,
    RECORD_FORMAT,
    RunFolder,
    cell_status,
    code_identity,
    fingerprint_of,
    settings_of,
    status_counts,
)

log = logging.getLogger("fmi")
OFFLINE_CONTENT = ("sample:grace_hopper", "sample:rocket", "sample:astronaut", "sample:chelsea")
OFFLINE_STYLES = ("sample:hubble_deep_field", "sample:coffee", "sample:retina", "sample:motorcycle_left")


def versions():
    """Versions of everything that decides a result, for the run record."""
    import cv2
    import matplotlib
    import mxnet
    import PIL
    import skimage

    return {"fmi": __version__, "python": platform.python_version(), "mxnet": mxnet.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "scikit-image": skimage.__version__,
            "pillow": PIL.__version__, "matplotlib": matplotlib.__version__, "platform": platform.platform()}


@dataclass
class Options:
    """How this invocation treats its output folder (command-line only, not part of the config)."""

    resume: bool = False
    overwrite: bool = False
    shard: tuple = None
    collect: bool = False


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


def _missing_inputs(config, located, argv, script, style_located):
    """One error for every missing paper image and weights file, with the commands that fetch
    them and the command line that runs the same config offline; None if nothing is missing."""
    expected = weights_module.expected_file(config.weights, config.model_dir)
    problems = []
    if expected is not None and not expected.exists():
        problems.append((f"weights file {expected}", weights_module.missing_hint(expected)))
    missing_images = [item for item in located + style_located if not item.path.exists()]
    paper = [item for item in missing_images if item.spec in PAPER_IMAGES]
    if not problems and not paper:
        return None
    if paper:
        problems.append((", ".join(str(item.path) for item in paper), f"run '{inputs.FETCH_PAPER_IMAGES}'"))
    problems += [(f"image {item.path}", "no such file") for item in missing_images if item not in paper]
    command = shlex.join(["python", script, *_offline_argv(argv, located, style_located)])
    if len(problems) == 1 and len(paper) <= 1:
        what, fix = problems[0]
        return FmiError(f"{what}: no such file; {fix}; or run offline with random weights and bundled "
                        f"images: {command}")
    return FmiError("this run needs files that are not here:\n"
                    + "\n".join(f"  {what}: {fix}" for what, fix in problems)
                    + f"\nto run the same config offline, with random weights and bundled images:\n  {command}")


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


def prepare(config, script, argv, options, *, layers, batch, plan, styles=()):
    """Check every input of a run, then open its run folder; return the ``Run``.

    ``layers`` are the deepest layers any batch reaches and ``batch`` the largest batch,
    for the memory check; ``plan(content names, style names)`` returns the ``Plan``;
    ``styles`` are the style image specs (resized to each content image).
    """
    mode = fidelity.of(config)
    located = [inputs.locate(spec, config.data_dir, config.fallbacks) for spec in config.content]
    style_located = [inputs.locate(spec, config.data_dir, config.fallbacks) for spec in styles]
    everything = located + style_located
    missing = _missing_inputs(config, located, argv, script, style_located)
    if missing:
        raise missing
    headers = {item.spec: image.read_header(item.path) for item in everything}
    sizes = _content_sizes(config, mode, located, headers, layers, batch)
    names = inputs.assign_names(everything)
    origins = {item.spec: published.identify(item.path) for item in everything}
    _log_inputs(everything, located, names, headers, sizes, origins)
    planned = plan([names[item.spec] for item in located], [names[item.spec] for item in style_located])
    output = Path(config.output)
    if options.shard:
        output = output / "shards" / f"{options.shard[0]}-of-{options.shard[1]}"
    check_writable_location(output)
    suffix = image.CELL_SUFFIXES[mode.cell_format]
    check_output_names([f"cells/{key}{suffix}" for key in planned.cells]
                       + [f"snapshots/{key}/step_{config.steps:04d}.png" for key in planned.cells]
                       + list(planned.figures), output)
    weights = weights_module.load(config.weights, config.model_dir)
    context = device.context(config.gpu)
    pixels = {item.spec: image.read_rgb(item.path, headers[item.spec]) for item in everything}
    contents = [_picture(names[item.spec], pixels[item.spec], *sizes[item.spec], weights, mode, mode.content_scale)
                for item in located]
    style_pictures = {content.name: [_picture(names[item.spec], pixels[item.spec], *content.size, weights, mode,
                                              mode.style_scale) for item in style_located]
                      for content in contents}
    shapes = {key: list(next(c.size for c in contents if c.name == content)) for key, content in planned.cells.items()}
    record = _record(config, mode, script, argv, options, weights, everything, located, names, headers, shapes,
                     origins)
    folder = RunFolder.open(output, record, shapes, mode.cell_format, resume=options.resume or bool(options.shard)
                            or options.collect, overwrite=options.overwrite, shards_allowed=options.collect)
    log.info("weights: %s; fidelity: %s; output: %s", weights.label, mode.name, output)
    not_theirs = [names[item.spec] for item in everything
                  if item.spec in PAPER_IMAGES and not item.substitute and origins[item.spec][1] is None]
    return Run(config, mode, weights, context, folder, contents, style_pictures, planned, not_theirs)


def _content_sizes(config, mode, located, headers, layers, batch):
    """{spec: (height, width)} of each content image once resized, after checking it is large
    enough for the deepest layer and that inverting it (and decoding the largest input) fits
    in memory: all from the image headers, before any pixel is decoded."""
    rounding = "floor" if mode.resize == "skimage" else "round"
    deepest = max(layers, key=vgg19.RELU_LAYERS.index)
    decode_bytes = max(header.decode_bytes for header in headers.values())
    sizes = {}
    for item in located:
        header = headers[item.spec]
        sizes[item.spec] = image.content_size(header.height, header.width, config.max_long_edge, rounding)
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
        log.info("%s %s: %s (%dx%d%s)%s; %s", role, names[item.spec], item.path, header.height, header.width, sized,
                 f", standing in for {item.spec}" if item.substitute else "", _origin(item, origins[item.spec]))


def _record(config, mode, script, argv, options, weights, everything, located, names, headers, shapes, origins):
    """The run record as it starts: how the run is made, its fingerprint, and its planned cells."""
    hashes = {names[item.spec]: sha1_of_file(item.path) for item in everything}
    config_dict = config_module.to_dict(config)
    settings = settings_of(config_dict, weights.identity, hashes)
    described = {names[item.spec]: {"spec": item.spec, "path": str(item.path.resolve()),
                                    "sha1": hashes[names[item.spec]],
                                    "size": [headers[item.spec].height, headers[item.spec].width],
                                    "role": "content" if item in located else "style", "substitute": item.substitute,
                                    "git_blob": origins[item.spec][0],
                                    "published": origins[item.spec][1].remote if origins[item.spec][1] else None}
                 for item in everything}
    return {"record_format": RECORD_FORMAT, "script": script, "argv": list(argv), "config": config_dict,
            "fingerprint": fingerprint_of(settings), "settings": settings, "code": code_identity(),
            "fidelity": mode.name,
            "weights": weights.record(), "seed": config.seed, "inputs": described, "plan": shapes,
            "threads": threads.in_force(), "versions": versions(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "shard": list(options.shard) if options.shard else None, "cells": {}}


def _picture(name, rgb, height, width, weights, mode, scale):
    unit = image.resize(rgb, height, width, mode.resize)
    return Picture(name, image.unit_to_uint8(unit), weights.preprocessing.preprocess(unit * scale))


class Run:
    """One experiment's checked inputs, weights and device, its run folder, and batched inversion."""

    def __init__(self, config, mode, weights, context, folder, contents, styles, plan, not_theirs=()):
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
        self.progress = progress.Progress(
            {key: _cell_cost(plan, key, contents) for key in plan.cells}, set(folder.cells), log,
            max_steps=config.steps)

    @property
    def label(self):
        return self.weights.label

    @property
    def record(self):
        return self.folder.record

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

    def extract(self, layers, array):
        return invert.extract(self.weights, layers, array, self.config.pooling, self.context)

    def start_images(self, shape, count):
        """The start image of every cell, (count, 3, H, W): the same seeded noise for each."""
        return invert.initial_images(shape, [self.config.seed] * count)

    def output_image(self, array, before_denoise=False):
        """Network-space image -> denoised RGB uint8, as the paper's figures show it (with
        ``before_denoise``, also the 8-bit image before the denoise: (denoised, raw)).

        A non-finite image is a bug upstream (the optimiser stops before one), never shown as grey.
        """
        if not np.isfinite(array).all():
            raise ValueError("an inverted image holds non-finite values")
        rgb = self.weights.preprocessing.deprocess(array, self.fidelity.to_uint8)
        denoised = image.denoise_tv(rgb, self.config.denoise_weight)
        return (denoised, rgb) if before_denoise else denoised

    def save_cell(self, key, rgb, cell):
        return self.folder.save_cell(key, image.encode(rgb, self.fidelity.cell_format), cell)

    def invert(self, keys, terms, target_codes, shape, label, details=None, measure=None):
        """Invert one batch (one image per key) and save each cell; return their RGB images.

        ``target_codes`` holds one (N, C, h, w) array per term; ``shape`` is (3, H, W);
        ``details`` optionally adds one dict per key to the cells' records, and
        ``measure(final images (N, 3, H, W), details)`` one more dict per key, computed from the
        inverted images. L-BFGS inverts one image at a time, so its batches are split.
        """
        if self.config.optimizer == "lbfgs" and len(keys) > 1:
            return [image_ for index, key in enumerate(keys) for image_ in self.invert(
                [key], terms, [codes[index:index + 1] for codes in target_codes], shape,
                label=f"{label} [{key}]", details=details[index:index + 1] if details else None,
                measure=measure)]
        problem = invert.Problem(terms, self.weights, (len(keys),) + tuple(shape),
                                 self.config.pooling, self.context)
        problem.set_targets(target_codes)
        initial = self.start_images(shape, len(keys))
        self.progress.batch_started(keys, label)
        callbacks = [self.progress.step_callback(keys, self.config.log_every)]
        if self.config.save_every:
            callbacks.append(self._snapshot_saver(keys))
        started = time.perf_counter()
        if self.config.optimizer == "lbfgs":
            result = invert.lbfgs(problem, initial, self.config.lbfgs, callbacks=callbacks)
        else:
            result = invert.sgd(problem, initial, self.config.sgd, callbacks=callbacks)
        wall = time.perf_counter() - started
        details = details or [{} for _ in keys]
        measured = measure(result.images, details) if measure else [{} for _ in keys]
        images = []
        for index, key in enumerate(keys):
            rgb, raw = self.output_image(result.images[index], before_denoise=True)
            losses = result.losses[index]
            self.save_cell(key, rgb, {
                "steps": result.steps[index], "stop_reason": result.stop_reasons[index],
                "initial_loss": losses[0] if losses else None,
                "final_loss": losses[-1] if losses else None,
                "loss_history": losses, "term_history": result.term_losses[index],
                "wall_s": round(wall / len(keys), 3), "batch_wall_s": round(wall, 3),
                "batch_size": len(keys), "weights": self.weights.label, "seed": self.config.seed,
                "optimizer": self.config.optimizer, "max_steps": self.config.steps,
                "fidelity": self.fidelity.name, "size": list(shape[1:]),
                "before_denoise": measures.all_of(raw), **details[index], **measured[index],
            })
            images.append(rgb)
            if result.stop_reasons[index].startswith("non-finite"):
                layers = ", ".join(dict.fromkeys(term.layer for term in terms))
                log.warning("%s: %s (layer %s); this cell stopped there, the other cells go on",
                            key, result.stop_reasons[index], layers)
        self.progress.batch_done(keys, wall, result.steps)
        return images

    def _snapshot_saver(self, keys):
        def save(state):
            if state.step % self.config.save_every:
                return
            images = state.images
            images = images.asnumpy() if hasattr(images, "asnumpy") else np.asarray(images)
            for row, index in enumerate(state.running):
                path = self.output / "snapshots" / keys[index] / f"step_{state.step:04d}.png"
                image.save_png(path, self.output_image(images[row]))
        return save

    # --- figures ---------------------------------------------------------------------------------

    def marks(self, keys):
        """The state of each cell key for the figures' badges ('' for a cell that stopped by the rule)."""
        return [cell_status(self.folder.cells.get(key), self.config.stuck_fraction) for key in keys]

    def title(self, what, size, keys):
        """A figure title that says how the figure was made and the states of its own cells ``keys``."""
        finished = [key for key in keys if key in self.folder.cells]
        counts = status_counts(self.folder.cells, finished, self.config.stuck_fraction)
        optimiser = "L-BFGS" if self.config.optimizer == "lbfgs" else "the authors' SGD"
        lines = [f"{what}, {size[0]}x{size[1]} px (h x w)",
                 f"{self.label}; {optimiser}, at most {self.config.steps} steps; fidelity: {self.fidelity.name}"]
        if self.not_theirs:
            lines.append(f"input image(s) {', '.join(self.not_theirs)}: not the authors' files")
        if counts:
            by_rule = len(finished) - sum(len(found) for found in counts.values())
            lines.append(f"of {len(finished)} cells: {by_rule} stopped by the rule, " + ", ".join(
                f"{len(counts[state])} {state}" for state in CELL_STATES if state in counts))
        log.info("figure titled: %s", " | ".join(lines))
        return "\n".join(lines)

    def loss_figure(self, groups, what):
        """Draw ``loss.png``: one panel per entry of ``groups`` = {panel: {line: cell key}}."""
        from fmi import figures

        cells = self.folder.cells
        panels = {panel: {line: cells[key]["loss_history"] for line, key in lines.items() if key in cells}
                  for panel, lines in groups.items()}
        path = self.output / "loss.png"
        figures.loss_curves(panels, path, title=f"{what}; {self.label}")
        return path

    def finish(self, started, written):
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
    layers = [part for part in key.split("/") if part in vgg19.RELU_LAYERS]
    return vgg19.flops(layers[0] if layers else "relu5_1", *size)


def chunks(items, size):
    return [items[start:start + size] for start in range(0, len(items), size)]


def parse_shard(text):
    """'I/N' -> (I, N) with 0 <= I < N: this machine's part of a split into N shards."""
    index_text, _, count_text = str(text).partition("/")
    index, count = config_module.parse_int(index_text), config_module.parse_int(count_text)
    if index is None or count is None or not 0 <= index < count or count > 100000:
        raise FmiError(f"--shard {str(text)[:40]}: expected I/N with 0 <= I < N, e.g. 0/4 .. 3/4 "
                       f"(Slurm: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")
    return index, count
