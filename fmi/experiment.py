"""What the three figure scripts share: a run folder, its record, and batched inversion of cells.

A run folder holds ``config.yaml`` (the resolved config), ``record.json`` (weights, seed,
versions, and per cell its loss history, steps, stop reason and wall time), and for every
finished cell ``cells/<key>.png`` and ``cells/<key>.json`` (its part of the record), and the
figures. Each cell's files are written, atomically, as soon as its batch finishes, so an
interrupted run loses at most the batch in flight and ``--resume`` picks up from the
finished cells. ``record.json`` gathers them: refreshed at most every
``RECORD_INTERVAL_S`` while running (a sweep of thousands of cells must not rewrite a
growing file after every batch), and always when the run ends or stops.
"""
import contextlib
import datetime
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np

from fmi import __version__, device, figures, image, invert, memory, threads
from fmi import config as config_module
from fmi import weights as weights_module
from fmi.errors import FmiError
from fmi.io import ensure_writable_dir, write_bytes, write_json, write_yaml

log = logging.getLogger("fmi")
RECORD_INTERVAL_S = 30.0


def versions():
    """Versions of everything that decides a result, for the run record."""
    import cv2
    import matplotlib
    import mxnet
    import skimage

    return {"fmi": __version__, "python": platform.python_version(), "mxnet": mxnet.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "scikit-image": skimage.__version__,
            "matplotlib": matplotlib.__version__, "platform": platform.platform()}


class Run:
    """One experiment's output folder, weights and device, and the cells finished so far."""

    def __init__(self, config, script, argv, resume=False, shard=None):
        self.config = config
        self.shard = shard
        self.output = ensure_writable_dir(
            Path(config.output) / "shards" / f"{shard[0]}-of-{shard[1]}" if shard else config.output)
        self.record_path = self.output / "record.json"
        self._record_saved = 0.0
        self.context = device.context(config.gpu)
        self.weights = weights_module.load(config.weights, config.model_dir)
        log.info("weights: %s", self.weights.label)
        self.record = {
            "script": script, "argv": list(argv), "config": config_module.to_dict(config),
            "weights": self.weights.record(), "seed": config.seed, "threads": threads.in_force(),
            "versions": versions(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "shard": list(shard) if shard else None, "cells": {},
        }
        if resume and self.record_path.exists():
            self.check_same_run(self.record_path, "cannot resume")
            self.record["cells"] = finished_cells(self.output)
            log.info("resuming: %d finished cells found in %s", len(self.record["cells"]), self.output)
        write_yaml(self.output / "config.yaml", self.record["config"])
        self.save_record()

    def check_same_run(self, record_path, what):
        """Raise unless the run recorded at ``record_path`` had this run's config and weights."""
        try:
            record = json.loads(Path(record_path).read_text())
            config, weights = record["config"], record["weights"]
        except (OSError, ValueError, KeyError, TypeError):
            raise FmiError(f"{what}: {record_path} is missing or not a run record") from None
        ignored = ("output", "threads", "gpu", "max_memory_gib", "save_every", "log_every")
        ours = {k: v for k, v in self.record["config"].items() if k not in ignored}
        theirs = {k: v for k, v in config.items() if k not in ignored}
        if ours != theirs:
            differing = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
            raise FmiError(f"{what}: {record_path} was made with another config (differs in "
                           f"{', '.join(differing)}); use the same config and options")
        if (weights["label"], weights["sha1"]) != (self.weights.label, self.weights.sha1):
            raise FmiError(f"{what}: {record_path} was made with other weights ({weights['label']}); "
                           f"use the same weights")

    @property
    def label(self):
        return self.weights.label

    def cell_path(self, key):
        return self.output / "cells" / f"{key}.png"

    def is_done(self, key):
        return key in self.record["cells"]

    def cell_image(self, key):
        """The saved RGB image of a finished cell, or None."""
        return image.read_rgb(self.cell_path(key)) if self.is_done(key) else None

    def save_record(self, **extra):
        self.record.update(extra)
        write_json(self.record_path, self.record)
        self._record_saved = time.monotonic()

    @contextlib.contextmanager
    def recording(self):
        """Bring the record up to date if the block fails or is interrupted (``finish`` does
        it when the block ends normally)."""
        try:
            yield self
        except BaseException:
            try:
                self.save_record()
            except OSError:
                log.warning("could not update %s; the cells' own .json files are complete",
                            self.record_path)
            raise

    def _read(self, spec):
        """(name, RGB) of an image spec; a missing paper image is replaced as ``fallbacks`` says."""
        name, path = image.locate(spec, self.config.data_dir, self.config.fallbacks)
        return name, image.read_rgb(path)

    def content_image(self, spec):
        """(name, RGB resized to ``max_long_edge``, preprocessed (1, 3, H, W)) for a content image."""
        name, rgb = self._read(spec)
        rgb = image.resize_long_edge(rgb, self.config.max_long_edge)
        return name, rgb, self.weights.preprocessing.preprocess(rgb)

    def style_image(self, spec, height, width):
        """Like ``content_image``, resized to exactly ``height`` x ``width`` (SPEC section 3)."""
        name, rgb = self._read(spec)
        rgb = image.resize_to(rgb, height, width)
        return name, rgb, self.weights.preprocessing.preprocess(rgb)

    def check_memory(self, layers, batch, array):
        """Refuse, before any work, a batch whose estimated memory exceeds the limit."""
        memory.check(layers, batch, *array.shape[2:], limit_gib=self.config.max_memory_gib)

    def extract(self, layers, array):
        return invert.extract(self.weights, layers, array, self.config.pooling, self.context)

    def output_image(self, array):
        """Network-space image -> denoised RGB uint8, as the paper's figures show it."""
        rgb = self.weights.preprocessing.deprocess(np.nan_to_num(array))
        return image.denoise_tv(rgb, self.config.denoise_weight, self.config.denoise_channels)

    def invert(self, keys, terms, target_codes, shape, label, details=None):
        """Invert one batch (one image per key) and save each cell; return their RGB images.

        ``target_codes`` holds one (N, C, h, w) array per term; ``shape`` is (3, H, W);
        ``details`` optionally adds one dict per key to the cells' records. L-BFGS inverts
        one image at a time, so its batches are split.
        """
        if self.config.optimizer == "lbfgs" and len(keys) > 1:
            return [image_ for index, key in enumerate(keys) for image_ in self.invert(
                [key], terms, [codes[index:index + 1] for codes in target_codes], shape,
                label=f"{label} [{key}]", details=details[index:index + 1] if details else None)]
        problem = invert.Problem(terms, self.weights, (len(keys),) + tuple(shape),
                                 self.config.pooling, self.context)
        problem.set_targets(target_codes)
        initial = invert.initial_images(shape, [self.config.seed] * len(keys))
        callbacks = [progress_logger(label, self.config.log_every)]
        if self.config.save_every:
            callbacks.append(self._snapshot_saver(keys))
        started = time.perf_counter()
        if self.config.optimizer == "lbfgs":
            result = invert.lbfgs(problem, initial, self.config.lbfgs, callbacks=callbacks)
        else:
            result = invert.sgd(problem, initial, self.config.sgd, callbacks=callbacks)
        wall = time.perf_counter() - started
        images = []
        for index, key in enumerate(keys):
            rgb = self.output_image(result.images[index])
            image.save_png(self.cell_path(key), rgb)
            losses = result.losses[index]
            cell = {
                "steps": result.steps[index], "stop_reason": result.stop_reasons[index],
                "initial_loss": losses[0] if losses else None,
                "final_loss": losses[-1] if losses else None,
                "loss_history": losses, "term_history": result.term_losses[index],
                "wall_s": round(wall / len(keys), 3), "batch_wall_s": round(wall, 3),
                "batch_size": len(keys), "weights": self.weights.label, "seed": self.config.seed,
                **(details[index] if details else {}),
            }
            write_json(self.cell_path(key).with_suffix(".json"), cell)
            self.record["cells"][key] = cell
            images.append(rgb)
            if result.stop_reasons[index].startswith("non-finite"):
                layers = ", ".join(dict.fromkeys(term.layer for term in terms))
                log.warning("%s: %s (layer %s); this cell stopped there, the other cells go on",
                            key, result.stop_reasons[index], layers)
        if time.monotonic() - self._record_saved > RECORD_INTERVAL_S:
            self.save_record()
        log.info("%s: done in %.1f s (steps %s)", label, wall, ", ".join(map(str, result.steps)))
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

    def collect_shards(self):
        """Copy every shard's finished cells and records into this run folder."""
        root = self.output / "shards"
        folders = sorted(root.glob("*-of-*")) if root.is_dir() else []
        if not folders:
            raise FmiError(f"nothing to collect: no shard folders in {root}; run with --shard I/N first")
        splits = {folder.name.split("-of-")[1] for folder in folders}
        if len(splits) != 1:
            raise FmiError(f"{root} holds shards of different splits ({', '.join(sorted(splits))}); "
                           f"keep the folders of one split only")
        count = int(splits.pop())
        missing = sorted(set(range(count)) - {int(folder.name.split("-of-")[0]) for folder in folders})
        if missing:
            raise FmiError(f"shards {', '.join(map(str, missing))} of {count} have no output in {root}; "
                           f"run them first (--shard I/{count})")
        for folder in folders:
            self.check_same_run(folder / "record.json", f"shard {folder.name}")
            for key, cell in finished_cells(folder).items():
                write_bytes(self.cell_path(key), (folder / "cells" / f"{key}.png").read_bytes())
                write_json(self.cell_path(key).with_suffix(".json"), cell)
                self.record["cells"][key] = cell
        self.save_record(collected_from=[folder.name for folder in folders])
        log.info("collected %d cells from %d shards in %s", len(self.record["cells"]), count, root)
        return count

    def loss_figure(self, groups, what):
        """Draw ``loss.png``: one panel per entry of ``groups`` = {panel: {line: cell key}}."""
        panels = {panel: {line: self.record["cells"][key]["loss_history"]
                          for line, key in lines.items() if key in self.record["cells"]}
                  for panel, lines in groups.items()}
        path = self.output / "loss.png"
        figures.loss_curves(panels, path, title=f"{what}; {self.label}")
        return path

    def finish(self, started, written):
        wall = time.perf_counter() - started
        self.save_record(wall_s=round(wall, 1), figures=[Path(path).name for path in written],
                         finished=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))
        log.info("finished in %.1f s; outputs in %s: %s", wall, self.output,
                 ", ".join(Path(path).name for path in written))


def finished_cells(folder):
    """{key: cell record} of every cell in ``folder/cells`` whose image and record both exist."""
    cells_dir = Path(folder) / "cells"
    found = {}
    for path in sorted(cells_dir.rglob("*.json")) if cells_dir.is_dir() else []:
        if not path.with_suffix(".png").exists():
            continue
        try:
            found[path.relative_to(cells_dir).with_suffix("").as_posix()] = json.loads(path.read_text())
        except ValueError:
            log.warning("ignoring unreadable cell record %s; that cell will be redone", path)
    return found


def progress_logger(label, every):
    """A callback logging loss and relative change of a batch every ``every`` steps."""
    def callback(state):
        if state.step % every == 0 or not state.active.any():
            losses = " ".join(f"{state.loss[index]:.4g}" for index in state.running)
            changes = state.change[state.running]
            changes = changes[np.isfinite(changes)]
            log.info("%s step %d: loss %s, max change %.4f, %d/%d running", label, state.step, losses,
                     changes.max() if changes.size else float("nan"), int(state.active.sum()),
                     state.active.size)
    return callback


def chunks(items, size):
    return [items[start:start + size] for start in range(0, len(items), size)]


def parse_shard(text):
    """'I/N' -> (I, N) with 0 <= I < N: this machine's part of a split into N shards."""
    index, _, count = str(text).partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise FmiError(f"--shard {text}: expected I/N with 0 <= I < N, e.g. 0/4 .. 3/4 "
                       f"(Slurm: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")
    return int(index), int(count)
