"""A newcomer's first hour: outputs that say how they were made, progress, every setting on the
command line, and the README's promises (its commands, its Python example, its counts)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_run, write_image

import run_fmi
import run_pmci
import run_random
from fmi.files import image_files
from fmi.run import figures, progress
from fmi.run.folder import record

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def captured_figures(monkeypatch):
    """Every grid figure drawn: its title and marks."""
    drawn = []
    real = figures.grid

    def grid(images, rows, columns, path, title=None, cell_inches=2.4, marks=None):
        drawn.append({"path": Path(path), "title": title, "marks": marks})
        return real(images, rows, columns, path, title=title, cell_inches=cell_inches, marks=marks)

    monkeypatch.setattr(figures, "grid", grid)
    return drawn


def test_help_answers_without_loading_mxnet():
    code = ("import sys, contextlib, io, run_fmi, run_random, run_pmci, reproduce\n"
            "from fmi.tools import commands\n"
            "for door in (commands.atlas, commands.compare, commands.analyze, commands.data, commands.weights,\n"
            "             commands.parity):\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): door(['--help'])\n"
            "for script in (run_fmi, run_random, run_pmci): script.build_parser().format_help()\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    reproduce.main(['--help'])\n"
            "print(sorted(m for m in ('mxnet', 'matplotlib', 'cv2', 'skimage') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("extra, words", [
    ([], ["random weights (seed 0), not ImageNet", "24x32 px", "the authors' SGD, at most 3 steps",
          "fidelity: paper", "of 4 cells: 0 stopped by the rule"]),
    (["--optimizer", "lbfgs"], ["L-BFGS, at most 3 steps"]),
    (["--fidelity", "authors", "--size", "31"], ["fidelity: authors", "23x31 px"]),
])
def test_figure_titles_say_how_they_were_made(tmp_path, tiny_image, captured_figures, extra, words):
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, *extra, steps=3)) == 0
    title = captured_figures[0]["title"]
    for word in words:
        assert word in title, title


def test_figure_names_follow_one_scheme(tmp_path):
    paths = []
    for index, name in enumerate(("content", "style")):
        paths.append(tmp_path / f"{name}.png")
        write_image(paths[-1], 24, 32, seed=index)
    assert run_random.main(["--image", str(paths[0]), "--weights", "random:0", "--size", "32", "--steps", "2",
                            "--layers", "relu1_1", "--draw-seeds", "1", "--output", str(tmp_path / "fig4")]) == 0
    assert run_pmci.main(["--image", str(paths[0]), "--style", str(paths[1]), "--weights", "random:0", "--size",
                          "32", "--steps", "2", "--style-layers", "relu1_1", "--output", str(tmp_path / "fig5")]) == 0
    assert run_fmi.main(tiny_run(tmp_path / "fig3", paths[0], steps=3)) == 0
    for figure in ("fig3", "fig4", "fig5"):
        record = json.loads((tmp_path / figure / "record.json").read_text())
        assert record["figures"] == [f"{figure}_content.png", "loss.png"]


def test_configs_follow_one_naming_scheme():
    names = sorted(path.stem for path in (ROOT / "configs").glob("*.yaml"))
    assert all(re.fullmatch(r"fig[345](_(quick|fast|sweep))?", name) for name in names), names
    for figure in ("fig3", "fig4", "fig5"):
        assert {figure, f"{figure}_quick", f"{figure}_fast"} <= set(names)


def test_a_filter_silent_on_the_content_is_inverted_and_switches_on(tmp_path, tiny_image, captured_figures, caplog):
    """With random weights (seed 0) filters 11 and 16 respond nowhere on the tiny image at relu2_1
    and relu3_1. Each gets SGD steps like any other filter: relu2_1's 11 switches on and gives a
    texture; relu3_1's 16 stays silent and is marked so."""
    caplog.set_level("INFO")
    argv = tiny_run(tmp_path / "out", tiny_image, "--layers", "relu2_1,relu3_1", "--filters", "11,16", steps=3)
    argv[argv.index("--steps") + 1] = "30"
    assert run_fmi.main(argv) == 0
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    woken, silent = record["cells"]["tiny/relu2_1/filter_11"], record["cells"]["tiny/relu3_1/filter_16"]
    for cell in (woken, silent):
        assert cell["response"]["content"]["max"] == 0.0 and cell["steps"] == 30
    assert woken["response"]["final"]["max"] > 10.0 and woken["silent"] is False
    assert silent["response"]["final"]["max"] == 0.0 and silent["silent"] is True
    texture = image_files.read_rgb(tmp_path / "out" / "cells" / "tiny" / "relu2_1" / "filter_11.png")
    assert texture.astype(float).std() > 5.0  # not a flat cell
    assert record["status"]["silent"] == ["tiny/relu3_1/filter_16"]
    assert captured_figures[0]["marks"][1][1] == "silent"
    assert any("relu2_1: filter(s) 11 respond nowhere on the content image" in m for m in caplog.messages)
    assert any("tiny/relu3_1/filter_16: still silent on its final image" in m for m in caplog.messages)


@pytest.mark.parametrize("cell, mark", [
    (None, ""),
    ({"silent": True, "stop_reason": "converged", "initial_loss": 100.0, "final_loss": 10.0}, "silent"),
    ({"stop_reason": "non-finite loss at step 4", "initial_loss": 1.0, "final_loss": 1.0}, "non-finite"),
    ({"stop_reason": "converged", "initial_loss": 100.0, "final_loss": 99.5}, "stuck"),
    ({"stop_reason": "max_steps", "initial_loss": 100.0, "final_loss": 99.5}, "stuck"),
    ({"stop_reason": "max_steps", "initial_loss": 100.0, "final_loss": 98.0}, "step limit"),
    ({"stop_reason": "converged", "initial_loss": 100.0, "final_loss": 10.0}, ""),
])
def test_cell_marks(cell, mark):
    assert record.cell_status(cell, 0.01) == mark


class Lines:
    def __init__(self):
        self.lines = []

    def info(self, text, *args):
        self.lines.append(text % args)


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


def test_every_key_can_be_set_on_the_command_line(tmp_path, tiny_image):
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, "--pooling", "max", "--log-every", "2", "--set",
                              "sgd.learning_rate=0.05", "--set", "denoise_weight=0", "--set",
                              "fallbacks={golden_gate: 'sample:grace_hopper'}", steps=3)) == 0
    config = json.loads((output / "record.json").read_text())["config"]
    assert (config["pooling"], config["log_every"], config["sgd"]["learning_rate"], config["denoise_weight"]) == (
        "max", 2, 0.05, 0.0)
    assert config["fallbacks"] == {"golden_gate": "sample:grace_hopper"}


def readme_block(heading):
    """The first ``` block after the README heading ``heading``."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    return section.split("```")[1].removeprefix("python\n")


def test_the_readme_library_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "example.py"
    script.write_text(readme_block("## Using fmi from Python"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    from fmi.files import image_files

    rgb = image_files.read_rgb(tmp_path / "runs" / "relu3_2_filter_7.png")
    assert rgb.ndim == 3 and rgb.std() > 0


def test_the_readme_states_no_test_count():
    text = "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    assert not re.search(r"\b\d+ tests\b", text)


def test_the_measured_times_name_the_machine_they_were_measured_on():
    text = "\n".join((ROOT / page).read_text() for page in ("README.md", "docs/performance.md"))
    table = text[text.index("## Measured times"):].split("\n## ")[0]
    assert "CPU" in table and re.search(r"\d+ cores?", table)
    for vague in ("about a minute", "under a minute", "minutes on a laptop", "a few minutes"):
        assert vague not in text
    for script in ("run_fmi.py", "run_random.py", "run_pmci.py"):
        assert "minutes on a laptop" not in (ROOT / script).read_text()
    for config in (ROOT / "configs").glob("*.yaml"):
        assert "a few minutes" not in config.read_text()


def test_commands_in_the_readme_and_the_docs_name_real_files():
    text = "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    for config in re.findall(r"--config (configs/\S+\.yaml)", text):
        assert (ROOT / config).is_file(), config
    for module in set(re.findall(r"python -m (fmi\.\w+)", text)):
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_random_weights_cells_differ_from_their_start(tmp_path, tiny_image):
    """The quick run's cells move away from the start noise (a smoke test of the whole path)."""
    from fmi.files import image_files

    output = tmp_path / "out"
    argv = tiny_run(output, tiny_image, "--steps", "20", "--layers", "relu1_1", "--filters", "2", steps=3)
    assert run_fmi.main(argv) == 0
    cell = image_files.read_rgb(output / "cells" / "tiny" / "relu1_1" / "filter_2.png")
    assert np.std(cell.astype(float)) > 1.0
