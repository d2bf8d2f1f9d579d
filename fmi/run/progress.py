"""Run-level progress: cells and batches done of the total, elapsed time, and an estimate of the
time left that says what it rests on, by the cost model of ``fmi.run.cost``.

Each pending cell is predicted to take the mean steps of the finished cells of its own group (layer
or method), else of all finished cells, else the typical steps of its optimiser; its step takes
what steps of its kind took in this process (the running batch's included), else what the line of
``cost.per_kind`` says. A short calibration before the first batch times the run's shallowest and
deepest layers, so the first estimate already has two points.
"""
import logging
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from fmi.run.cost import Kind, duration, per_kind, typical_steps


class Progress:
    """Counts the cells of a run and estimates the time left; logs one line per batch and every
    ``every`` steps inside a batch.

    ``cells`` maps every planned key to (its group, its work per step); ``finished`` maps the keys
    finished before this process started to their steps.
    """

    def __init__(self, cells: dict[str, Kind], finished: dict[str, int], log: logging.Logger, max_steps: int,
                 optimizer: str = "sgd", clock: Callable[[], float] = time.monotonic) -> None:
        self.cells = dict(cells)
        self.steps_of = {key: steps for key, steps in finished.items() if key in self.cells}
        self.resumed = len(self.steps_of)
        self.log = log
        self.clock = clock
        self.started = clock()
        self.max_steps = max_steps
        self.typical = typical_steps(optimizer, max_steps)
        self.timed: dict[Kind, list[float]] = {}  # kind -> [seconds stepping, image-steps] measured here
        self.calibration: dict[Kind, float] = {}  # kind -> seconds per image-step, from the calibration
        self.batches_planned: Optional[int] = None
        self.batches_done = 0
        self.batch_label, self.batch_started_at = "", 0.0
        self.running_steps: dict[str, int] = {}  # the running batch's cells and their steps so far
        self.overall: Optional[Callable[[], str]] = None  # a larger job's progress line, put before this run's

    def predicted_steps(self, key: str) -> tuple[float, str]:
        """(steps the cell ``key`` is expected to take in all, what that rests on)."""
        group = self.cells[key][0]
        same = [steps for other, steps in self.steps_of.items() if self.cells[other][0] == group]
        if same:
            return min(float(np.mean(same)), self.max_steps), f"steps from {len(self.steps_of)} finished cells"
        if self.steps_of:
            return min(float(np.mean(list(self.steps_of.values()))), self.max_steps), \
                f"steps from {len(self.steps_of)} finished cells"
        return float(self.typical), f"{self.typical} steps a cell, as typical"

    def calibrated(self, seconds_per_step: dict[Kind, float]) -> None:
        """Note what one image-step took in a calibration: {(group, work): seconds}."""
        self.calibration.update(seconds_per_step)

    def _step_times(self) -> Optional[dict[Kind, float]]:
        """{(group, work): seconds per image-step} of every kind of cell: measured, else from the line."""
        measured = dict(self.calibration)
        timed = {kind: list(values) for kind, values in self.timed.items()}
        if self.running_steps:
            kind = self.cells[next(iter(self.running_steps))]
            seconds, steps = timed.get(kind, [0.0, 0])
            timed[kind] = [seconds + self.clock() - self.batch_started_at, steps + sum(self.running_steps.values())]
        measured.update({kind: seconds / steps for kind, (seconds, steps) in timed.items() if steps})
        return per_kind(measured, set(self.cells.values()))

    def estimate(self) -> tuple[Optional[float], str]:
        """(seconds left, what the estimate rests on), or (None, why there is none yet)."""
        times = self._step_times()
        if times is None:
            return None, "no step timed yet"
        left, basis = 0.0, f"{self.typical} steps a cell, as typical"
        for key, kind in self.cells.items():
            if key in self.steps_of:
                continue
            steps, basis = self.predicted_steps(key)
            done = self.running_steps.get(key, 0)
            left += times[kind] * max(steps - done, 1.0 if key in self.running_steps else 0.0)
        return left, basis

    def line(self) -> str:
        """'cells 9/45 (3 from before), batches 3 of 15, elapsed 1 min 12 s, ETA 5 min 40 s (steps from
        9 finished cells)'."""
        before = f" ({self.resumed} from before)" if self.resumed else ""
        prefix = f"{self.overall()} | " if self.overall else ""
        batches = f"batches {self.batches_done}" + (f" of {self.batches_planned}" if self.batches_planned else "")
        seconds, basis = self.estimate()
        eta = f"ETA {duration(seconds)} ({basis})" if seconds is not None else f"ETA unknown ({basis})"
        return (f"{prefix}cells {len(self.steps_of)}/{len(self.cells)}{before}, {batches}, "
                f"elapsed {duration(self.clock() - self.started)}, {eta}")

    def planned(self, batches: list[list[str]], one_at_a_time: bool = False) -> None:
        """Log what is left to run: ``batches`` of pending cell keys (split into single cells when the
        optimiser inverts ``one_at_a_time``, as L-BFGS does)."""
        cells = [key for batch in batches for key in batch]
        self.batches_planned = len(cells) if one_at_a_time else len(batches)
        before = f"; {self.resumed} of {len(self.cells)} finished before" if self.resumed else ""
        self.log.info("%d batch%s of %d cell%s to run%s", self.batches_planned,
                      "" if self.batches_planned == 1 else "es", len(cells), "" if len(cells) == 1 else "s", before)

    def batch_started(self, keys: list[str], label: str) -> None:
        self.batch_label, self.batch_started_at = label, self.clock()
        self.running_steps = {key: 0 for key in keys}

    def step_callback(self, keys: list[str], every: int) -> Callable[[Any], None]:
        """A callback for the optimiser: counts the steps of the running cells and logs their losses and
        the run's progress every ``every`` steps."""
        def callback(state: Any) -> None:
            for index in state.running:
                self.running_steps[keys[index]] = state.step
            if state.step % every == 0 or not state.active.any():
                losses = " ".join(f"{state.loss[index]:.4g}" for index in state.running)
                changes = state.change[state.running]
                changes = changes[np.isfinite(changes)]
                self.log.info("%s step %d: loss %s, max change %.4f, %d/%d running | %s", self.batch_label,
                              state.step, losses, changes.max() if changes.size else float("nan"),
                              int(state.active.sum()), state.active.size, self.line())
        return callback

    def batch_done(self, keys: list[str], seconds: float, steps: list[int]) -> None:
        """Count a finished batch: its cells, its time and its steps."""
        planned = [(key, step) for key, step in zip(keys, steps) if key in self.cells]
        if planned:
            timed = self.timed.setdefault(self.cells[planned[0][0]], [0.0, 0])
            timed[0] += seconds
            timed[1] += sum(step for _, step in planned)
        self.steps_of.update(planned)
        self.running_steps = {}
        self.batches_done += 1
        self.log.info("%s: done in %.1f s (steps %s) | %s", self.batch_label or ", ".join(keys), seconds,
                      ", ".join(map(str, steps)), self.line())
