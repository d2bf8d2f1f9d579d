"""Inverting one batch of cells in a session, and writing each cell: its image and its record.

The network-space result becomes the image the paper's figures show (deprocessed, made 8-bit,
TV-denoised: ``output_image``), and each cell's record is built once, here, from the optimiser's
result, the experiment's details and what the experiment measures on the final images.
"""
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fmi.core import invert, preprocessing
from fmi.files import image_files
from fmi.run import measures
from fmi.run.experiment import Images, Problem
from fmi.run.folder.keys import parse_key
from fmi.run.folder.record import inside
from fmi.run.session import Session

log = logging.getLogger("fmi")


def output_image(session: Session, array: Images, before_denoise: bool = False) -> Any:
    """Network-space image -> denoised RGB uint8, as the paper's figures show it (with
    ``before_denoise``, also the 8-bit image before the denoise: (denoised, raw)).

    A non-finite image is a bug upstream (the optimiser stops before one), never shown as grey.
    """
    if not np.isfinite(array).all():
        raise ValueError("an inverted image holds non-finite values")
    rgb = session.weights.preprocessing.deprocess(array, session.fidelity.to_uint8)
    denoised = preprocessing.denoise_tv(rgb, session.config.denoise_weight)
    return (denoised, rgb) if before_denoise else denoised


def invert_batch(session: Session, keys: list[str], problem: Problem, shape: tuple[int, ...]) -> None:
    """Invert one batch (one image per key) of ``problem``'s terms and targets and save each cell, its
    record carrying the problem's details and what ``problem.measure`` measures on the final images.
    ``shape`` is (3, H, W). L-BFGS inverts one image at a time, so its batches are split."""
    config = session.config
    if config.optimizer == "lbfgs" and len(keys) > 1:
        for index, key in enumerate(keys):
            alone = Problem(problem.terms, [target[index:index + 1] for target in problem.targets],
                            problem.details[index:index + 1], f"{problem.label} [{key}]",
                            problem.measure, [problem.positions[index]])
            invert_batch(session, [key], alone, shape)
        return
    network = invert.Problem(problem.terms, session.network, session.weights, (len(keys),) + tuple(shape),
                             session.context)
    network.set_targets(problem.targets)
    initial = session.start_images(shape, len(keys))
    session.progress.batch_started(keys, problem.label)
    callbacks = [session.progress.step_callback(keys, config.log_every)]
    if config.save_every:
        callbacks.append(_snapshot_saver(session, keys))
    started = time.perf_counter()
    if config.optimizer == "lbfgs":
        result = invert.lbfgs(network, initial, config.lbfgs, callbacks=callbacks)
    else:
        result = invert.sgd(network, initial, config.sgd, callbacks=callbacks)
    wall = time.perf_counter() - started
    measured = problem.measure(result.images, problem.positions) if problem.measure else [({}, False) for _ in keys]
    for index, key in enumerate(keys):
        rgb, raw = output_image(session, result.images[index], before_denoise=True)
        losses = result.losses[index]
        added, silent = measured[index]
        session.folder.save_cell(key, image_files.encode(rgb, session.fidelity.cell_format), {
            "steps": result.steps[index], "stop_reason": result.stop_reasons[index],
            "initial_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None,
            "loss_history": losses, "term_history": result.term_losses[index],
            "wall_s": round(wall / len(keys), 3), "batch_wall_s": round(wall, 3), "batch_size": len(keys),
            "weights": session.weights.label, "seed": config.seed, "optimizer": config.optimizer,
            "max_steps": config.steps, "fidelity": session.fidelity.name, "size": list(shape[1:]),
            "machine": session.machine, "before_denoise": measures.all_of(raw), "silent": silent,
            "details": {**problem.details[index], **added},
        })
        if result.stop_reasons[index].startswith("non-finite"):
            layers = ", ".join(dict.fromkeys(term.layer for term in problem.terms))
            log.warning("%s: %s (layer %s); this cell stopped there, the other cells go on",
                        key, result.stop_reasons[index], layers)
    session.progress.batch_done(keys, wall, result.steps)


def _snapshot_saver(session: Session, keys: list[str]) -> Callable[[Any], None]:
    """A callback that saves the images in flight every ``save_every`` steps; an image that is no
    longer finite (its cell is stopping) is skipped, so one diverging cell never stops the run."""
    every = session.config.save_every

    def save(state: Any) -> None:
        if state.step % every:
            return
        images = state.images
        images = images.asnumpy() if hasattr(images, "asnumpy") else np.asarray(images)
        for row, index in enumerate(state.running):
            if not np.isfinite(images[row]).all():
                continue
            path = inside(session.output, "snapshots", *parse_key(keys[index]).file(""), f"step_{state.step:04d}.png")
            image_files.save_png(path, output_image(session, images[row]))
    return save
