"""The cost model of an inversion, one for the run's ETA, reproduce.py's estimate and bench/cost.py.

A cell costs the steps it takes times the time of one of its steps. Steps: cells stop by the
authors' rule long before the step limit; until some have finished, the typical steps of the
optimiser (``TYPICAL_STEPS``, measured). A step's time depends on the cell's kind (its layer or
method, and its image size): timed here (``time_step``), else read off a line fitted through the
kinds timed so far, seconds against the forward FLOPs to the layer (``per_kind``).
"""
import time
from collections.abc import Collection, Sequence
from typing import Any, Optional

import numpy as np

from fmi.core import invert, optimizers
from fmi.core.network import Network
from fmi.core.terms import Term

Kind = tuple[str, int]  # a cell's kind: its group and its work per step (the forward FLOPs to its layer)

# steps to the authors' stop rule, measured: SGD, the median of the 29 cells of the three quick runs
# (random weights, 112 px, limit 150; they took 65 to 150); L-BFGS, its run in bench/speed.py
TYPICAL_STEPS = {"sgd": 117, "lbfgs": 36}
LBFGS_ITERATION = 1.3  # an L-BFGS iteration in SGD steps: bench/speed.py, 36 iterations in 4.8 s, 101 steps in 10.5 s


def typical_steps(optimizer: str, limit: int) -> int:
    """Steps a cell is expected to take before any has finished: the typical ones, never past ``limit``."""
    return min(TYPICAL_STEPS.get(optimizer, TYPICAL_STEPS["sgd"]), limit)


def time_step(terms: Sequence[Term], network: Network, weights: Any, shape: Sequence[int], batch: int = 1,
              context: Any = None, optimizer: str = "sgd", repeats: int = 1) -> float:
    """Seconds of one step of a batch of ``batch`` images of ``shape`` (3, H, W) under ``terms``, in
    SGD steps (an L-BFGS iteration costs ``LBFGS_ITERATION`` of them): the median of ``repeats``
    timings of two steps, after a first step that allocates memory and plans the convolutions."""
    problem = invert.Problem(terms, network, weights, (batch,) + tuple(shape), context)
    start = invert.initial_images(shape, [0] * batch)
    invert.sgd(problem, start, optimizers.SGD(max_steps=1, stop_eps=0.0))
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        invert.sgd(problem, start, optimizers.SGD(max_steps=2, stop_eps=0.0))
        seconds.append((time.perf_counter() - started) / 2)
    return float(np.median(seconds)) * (LBFGS_ITERATION if optimizer == "lbfgs" else 1.0)


def per_kind(measured: dict[Kind, float], kinds: Collection[Kind]) -> Optional[dict[Kind, float]]:
    """{kind: seconds of an image-step} for every kind (group, work) of ``kinds``: what ``measured``
    says of it, else the line through the measured points (a fixed cost per step plus one per FLOP
    of ``work``); None when nothing is measured."""
    if not measured:
        return None
    points = np.array([(work, seconds) for (_, work), seconds in measured.items()])
    if len(points) > 1 and np.ptp(points[:, 0]) > 0:
        slope, fixed = np.polyfit(points[:, 0], points[:, 1], 1)
        slope, fixed = max(slope, 0.0), max(fixed, 0.0)
    else:
        slope, fixed = points[:, 1].mean() / max(points[:, 0].mean(), 1e-30), 0.0
    return {kind: measured.get(kind, fixed + slope * kind[1]) for kind in kinds}


def duration(seconds: float) -> str:
    """'42 s', '3 min 05 s' or '2 h 07 min'."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
