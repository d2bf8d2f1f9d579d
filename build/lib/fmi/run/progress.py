"""Run-level progress: cells and batches done of the total, elapsed time and an ETA.

Cells differ in cost (a relu5_2 step costs several relu1_2 steps) and in how many steps
they take before the stop rule holds, so the estimate is: the seconds per unit of work
measured so far in this process, times the work left, where a cell's work is the FLOPs of
one step to its layer times the mean steps of the cells finished so far (the step limit
until one has finished; the ETA is then shown as an upper bound, "<=").
"""
import time

import numpy as np


def duration(seconds):
    """'42 s', '3 min 05 s' or '2 h 07 min'."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Counts cells of a run (``costs`` maps every planned key to its work per step) and logs
    one line per batch and every ``every`` steps inside a batch."""

    def __init__(self, costs, done, log, max_steps=None, clock=time.monotonic):
        self.costs = dict(costs)
        self.done = set(done) & set(self.costs)
        self.resumed = len(self.done)
        self.log = log
        self.clock = clock
        self.started = clock()
        self.max_steps = max_steps
        self.busy_seconds = 0.0  # time spent stepping in this process
        self.work_done = 0.0     # cost x steps finished in this process
        self.steps_seen = []
        self.batch_keys, self.batch_label, self.batch_started_at = [], "", None
        self.batches_done = 0

    @property
    def total(self):
        return len(self.costs)

    def _eta(self, running_work=0.0, running_seconds=0.0):
        seconds_per_work = ((self.busy_seconds + running_seconds) / (self.work_done + running_work)
                            if self.work_done + running_work > 0 else None)
        if seconds_per_work is None:
            return "ETA unknown until the first steps are timed"
        bounded = not self.steps_seen
        steps = self.max_steps if bounded else float(np.mean(self.steps_seen))
        remaining = sum(cost for key, cost in self.costs.items() if key not in self.done) * (steps or 0)
        remaining = max(0.0, remaining - running_work)
        return f"ETA {'<= ' if bounded else ''}{duration(remaining * seconds_per_work)}"

    def line(self, running_work=0.0, running_seconds=0.0):
        """'cells 9/45 (3 from before), elapsed 1 min 12 s, ETA 5 min 40 s'."""
        before = f" ({self.resumed} from before)" if self.resumed else ""
        return (f"cells {len(self.done)}/{self.total}{before}, batches done {self.batches_done}, "
                f"elapsed {duration(self.clock() - self.started)}, {self._eta(running_work, running_seconds)}")

    def planned(self, batches, one_at_a_time=False):
        """Log what is left to run: ``batches`` of pending cell keys (split into single cells when the
        optimiser inverts ``one_at_a_time``, as L-BFGS does)."""
        cells = [key for batch in batches for key in batch]
        self.batches_planned = len(cells) if one_at_a_time else len(batches)
        before = f"; {len(self.done)} of {self.total} finished before" if self.done else ""
        self.log.info("%d batch%s of %d cell%s to run%s", self.batches_planned,
                      "" if self.batches_planned == 1 else "es", len(cells), "" if len(cells) == 1 else "s", before)

    def batch_started(self, keys, label):
        self.batch_keys, self.batch_label, self.batch_started_at = list(keys), label, self.clock()
        self._running_work = 0.0

    def step_callback(self, keys, every):
        """A callback for the optimiser: logs the batch's losses and the run's progress every ``every`` steps."""
        costs = np.array([self.costs.get(key, 0.0) for key in keys])
        self._running_work = 0.0

        def callback(state):
            self._running_work += float(costs[state.running].sum())
            if state.step % every == 0 or not state.active.any():
                losses = " ".join(f"{state.loss[index]:.4g}" for index in state.running)
                changes = state.change[state.running]
                changes = changes[np.isfinite(changes)]
                elapsed = self.clock() - self.batch_started_at
                self.log.info("%s step %d: loss %s, max change %.4f, %d/%d running | %s", self.batch_label,
                              state.step, losses, changes.max() if changes.size else float("nan"),
                              int(state.active.sum()), state.active.size,
                              self.line(self._running_work, elapsed))
        return callback

    def batch_done(self, keys, seconds, steps):
        """Count a finished batch (a dead cell is one without steps): its cells, its time and steps."""
        self.busy_seconds += seconds
        self.work_done += sum(self.costs.get(key, 0.0) * step for key, step in zip(keys, steps))
        self.steps_seen += [step for step in steps if step > 0]
        self.done |= set(keys) & set(self.costs)
        if any(steps):
            self.batches_done += 1
            self.log.info("%s: done in %.1f s (steps %s) | %s", self.batch_label or ", ".join(keys), seconds,
                          ", ".join(map(str, steps)), self.line())
