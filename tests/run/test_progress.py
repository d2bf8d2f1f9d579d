"""fmi/run/progress.py: progress lines and the estimate of the time left."""
import re

import numpy as np
from conftest import tiny_run

import run_fmi
from fmi.run import progress


def simulate(layers, cells_per_layer, steps_of, seconds_per_work, max_steps=1000, log_every=10):
    """Run a Progress through a made-up run (one batch per layer; ``steps_of(layer, index)`` steps; a
    step of work w takes w x ``seconds_per_work[layer]`` seconds); return (first ETA printed, the
    run's real duration, every ETA printed with the time it was printed)."""
    now = [0.0]
    work = {layer: float(2 ** position) for position, layer in enumerate(layers)}
    cells = {f"image/{layer}/filter_{index}": (layer, work[layer]) for layer in layers
             for index in range(cells_per_layer)}
    log = Lines()
    tracker = progress.Progress(cells, {}, log, max_steps=max_steps, clock=lambda: now[0])
    printed = []
    for layer in layers:
        keys = [key for key in cells if cells[key][0] == layer]
        steps = [steps_of(layer, index) for index in range(len(keys))]
        tracker.batch_started(keys, layer)
        callback = tracker.step_callback(keys, log_every)
        started = now[0]
        for step in range(1, max(steps) + 1):
            running = np.array([index for index, limit in enumerate(steps) if limit >= step])
            now[0] += work[layer] * len(running) * seconds_per_work[layer]
            state = type("State", (), {"step": step, "running": running, "loss": np.ones(len(keys)),
                                       "change": np.ones(len(keys)),
                                       "active": np.array([limit > step for limit in steps])})
            callback(state)
            for line in log.lines[len(printed):]:
                printed.append((now[0], line))
        tracker.batch_done(keys, now[0] - started, steps)
    etas = []
    for at, line in printed:
        match = re.search(r"ETA (?:(\d+) h (\d+) min|(\d+) min (\d+) s|(\d+) s)", line)
        if match:
            hours, minutes, minutes2, seconds, seconds2 = (int(value) if value else 0 for value in match.groups())
            etas.append((at, 3600 * hours + 60 * (minutes + minutes2) + seconds + seconds2, line))
    return etas[0], now[0], etas


class Lines:
    def __init__(self):
        self.lines = []

    def info(self, text, *args):
        self.lines.append(text % args)


def test_the_first_estimate_is_within_a_factor_of_two_of_the_time_the_run_takes():
    """Cells stop by the rule after about 130 of 1000 steps; the old estimate assumed 1000 (8x too long)."""
    layers = ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"]
    rng = np.random.default_rng(0)
    steps = {(layer, index): int(rng.integers(100, 170)) for layer in layers for index in range(3)}
    speed = {"relu1_2": 0.02, "relu2_2": 0.012, "relu3_2": 0.011, "relu4_2": 0.011, "relu5_2": 0.011}
    (at, eta, line), total, etas = simulate(layers, 3, lambda layer, index: steps[layer, index], speed)
    assert "as typical" in line
    assert 0.5 < (at + eta) / total < 2.0, (at, eta, total)
    later = [(at, eta, line) for at, eta, line in etas if "finished cells" in line]
    assert later and all(0.5 < (at + eta) / total < 2.0 for at, eta, _ in later)


def test_the_estimate_says_what_it_rests_on_and_counts_from_before():
    log = Lines()
    now = [0.0]
    tracker = progress.Progress({"i/relu1_1/filter_0": ("relu1_1", 1.0), "i/relu1_1/filter_1": ("relu1_1", 1.0),
                                 "i/relu2_1/filter_0": ("relu2_1", 2.0)}, {"i/relu1_1/filter_0": 40}, log,
                                max_steps=1000, clock=lambda: now[0])
    assert "cells 1/3 (1 from before)" in tracker.line() and "ETA unknown (no step timed yet)" in tracker.line()
    tracker.planned([["i/relu1_1/filter_1"], ["i/relu2_1/filter_0"]])
    assert log.lines[-1] == "2 batches of 2 cells to run; 1 of 3 finished before"
    tracker.batch_started(["i/relu1_1/filter_1"], "b")
    now[0] = 10.0
    tracker.batch_done(["i/relu1_1/filter_1"], 10.0, [60])  # 60 steps of work 1 in 10 s
    # left: relu2_1 filter 0, predicted 50 steps (mean of the two finished cells) x work 2 x 10/60 s
    assert "cells 2/3 (1 from before), batches 1 of 2, elapsed 10 s, ETA 17 s (steps from 2 finished cells)" \
        in log.lines[-1]


def test_progress_lines_of_a_run_and_of_its_resume(tmp_path, tiny_image, caplog, interrupt_batch):
    caplog.set_level("INFO")
    interrupt_batch(2)
    argv = tiny_run(tmp_path / "out", tiny_image, "--log-every", "1", steps=3)
    assert run_fmi.main(argv) == 130
    assert any(re.search(r"tiny relu1_1 filters 0, 1 step 1: .* \| cells 0/4, batches 0 of 2, elapsed \d+ s, "
                         r"ETA \d+ s \(3 steps a cell, as typical\)", m) for m in caplog.messages)
    interrupt_batch(None)
    caplog.clear()
    assert run_fmi.main(argv + ["--resume"]) == 0
    assert any("1 batch of 2 cells to run; 2 of 4 finished before" in m for m in caplog.messages)
    assert any("cells 4/4 (2 from before), batches 1 of 1" in m for m in caplog.messages)


def test_l_bfgs_plans_and_counts_its_batches_as_it_runs_them(tmp_path, tiny_image, caplog):
    """L-BFGS inverts cells one at a time: the plan says so, and the count agrees with it."""
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--optimizer", "lbfgs", steps=3)) == 0
    assert "4 batches of 4 cells to run" in caplog.messages
    assert any("cells 4/4, batches 4 of 4" in message for message in caplog.messages)
