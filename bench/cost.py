"""What a full reproduction costs on this machine and on a Slurm array (a benchmark, not a test).

    python bench/cost.py table RUN_DIR... [--size PX]   # the cost table of docs/performance.md
    python bench/cost.py validate [--size 64] [--steps 300]  # predict a small sweep, run it, compare

``table``: each figure at the paper's settings and the 5504-filter sweep of one image. Measured:
the time of a step of each kind of cell, of its whole batch and of one image alone, timed here now
(``fmi.tools.whole_paper.time_kind``, the median of three timings), and the steps cells take, read
from the given run folders (cells made at the paper's settings). Derived: the total, the sum over
cells of each cell's expected seconds (``cell_seconds``: images leave a batch as they stop, so the
last ones step on in a smaller batch; a step of b images costs ``fixed + per_image * b``, so a
batch runs until its slowest image stops); a layer no run measured takes the steps of the
measured layer of its block; an N-task array's wall time is its busiest task's share, the batches
dealt out as ``--shard I/N`` deals them. Start-up, saving and drawing the figures are not counted.
``--size`` times the steps at another long edge than the paper's (a smoke test's).

``validate``: runs a pilot (the first filters of two layers at 64 px), predicts from it and
from the timed steps the wall time of the sweep of all their filters, runs that sweep, and
prints the prediction beside the measurement.
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fmi import experiments
from fmi.core import vgg19
from fmi.experiments import fig3
from fmi.files import weight_files
from fmi.run.folder.keys import parse_key
from fmi.run.folder.record import RunView
from fmi.run.interface import cli
from fmi.run.interface import config as config_module
from fmi.run.machine import facts as machine
from fmi.tools import whole_paper

ARRAY = 16
ROOT = Path(__file__).resolve().parent.parent


def measured_steps(run_dirs):
    """{(script, group): [steps of each finished cell]} of the given run folders."""
    steps = {}
    for folder in run_dirs:
        view = RunView(folder)
        for key, cell in view.cells.items():
            steps.setdefault((view.script, parse_key(key).group), []).append(cell.steps)
    return steps


def expected_max(samples: Sequence[float], count: int) -> float:
    """The expected largest of ``count`` draws from the measured ``samples``: how long a batch runs."""
    values = np.sort(np.asarray(samples, dtype=float))
    below = (np.arange(values.size + 1) / values.size) ** count
    return float(values @ np.diff(below))


def cell_seconds(samples: Sequence[float], batch: int, together: float, alone: float) -> float:
    """Expected seconds of one cell whose steps are like ``samples``, inverted in a batch of ``batch``.

    A step of b images is taken to cost ``fixed + per_image * b``, the line through the timed step of
    the whole batch (``together``) and of one image alone (``alone``): every step of the batch pays
    ``fixed`` until its slowest image stops, every image pays ``per_image`` for each of its own steps.
    """
    if batch == 1:
        return float(np.mean(samples)) * together
    per_image = (together - alone) / (batch - 1)
    fixed = alone - per_image
    return per_image * float(np.mean(samples)) + fixed * expected_max(samples, batch) / batch


def steps_of(steps, script, group):
    """The measured steps of a group's cells, else of the measured layer of its block."""
    if (script, group) in steps:
        return steps[(script, group)]
    block = [values for (other_script, other), values in steps.items() if other_script == script
             and other in vgg19.RELU_LAYERS and other[:5] == group[:5]]
    if not block:
        raise SystemExit(f"no measured cells of {script} at {group} or its block")
    return block[0]


def step_times(job, weights, repeats=3):
    """(every cell of a job as (key, kind), {kind: (batch, seconds of a step of the batch, seconds of a
    step of one image alone)}): the last images of a batch step on alone."""
    cells = whole_paper.cell_kinds(job)
    times = {}
    for kind in dict.fromkeys(kind for _, kind in cells):
        batch = whole_paper.batch_of(job, kind, cells)
        together = whole_paper.time_kind(job, weights, kind, batch, repeats)
        times[kind] = (batch, together, together if batch == 1 else whole_paper.time_kind(job, weights, kind, 1,
                                                                                           repeats))
    return cells, times


def cost(job, weights, steps, repeats=3):
    """(cells, mean steps, seconds on this machine, seconds of the busiest of ARRAY shards)."""
    cells, times = step_times(job, weights, repeats)
    script = job.figure.script
    per_cell = {str(key): cell_seconds(steps_of(steps, script, kind[0]), *times[kind]) for key, kind in cells}
    total = sum(per_cell.values())
    mean_steps = float(np.mean([np.mean(steps_of(steps, script, kind[0])) for _, kind in cells]))
    contents, styles = job.figure.images(job.config)
    batches = job.figure.plan(job.config, [f"c{index}" for index in range(len(contents))],
                              [f"s{index}" for index in range(len(styles))])
    shares = [sum(per_cell[key] for batch in batches[shard::ARRAY] for key in batch.keys) for shard in range(ARRAY)]
    return len(cells), mean_steps, total, max(shares)


def hours(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def table(args):
    steps = measured_steps(args.run_dirs)
    weights = weight_files.load("random:0")
    print(f"machine: {machine.name()}; steps measured on {sum(map(len, steps.values()))} cells")
    print(f"| run | cells | steps a cell | this machine | {ARRAY}-task array |")
    print("|---|---|---|---|---|")
    jobs = [job for job in whole_paper.plan(argparse.Namespace(quick=False, fast=False, control=False, output="/tmp",
                                                             size=args.size, steps=None, weights="random:0",
                                                             stand_ins=True))]
    sized = [("max_long_edge", args.size, "cost")] if args.size else []
    sweep = config_module.load(fig3.Config, cli.CONFIG_DIR / "fig3_sweep.yaml",
                               [("weights", "random:0", "cost"), ("output", "/tmp/sweep", "cost"), *sized])
    figure = experiments.BY_NAME["fig3"]
    sweep.fallbacks = whole_paper.stand_ins(figure, sweep)
    jobs.append(whole_paper.Job(figure, sweep, []))
    for job, name in zip(jobs, ["Fig. 3 (fig3.yaml)", "Fig. 4 (fig4.yaml)", "Fig. 5 (fig5.yaml)",
                                "all 5504 filters of one image (fig3_sweep.yaml)"]):
        cells, mean, total, share = cost(job, weights, steps)
        print(f"| {name} | {cells} | {mean:.0f} | {hours(total)} | {hours(share)} |")


def validate(args):
    layers = ["relu1_1", "relu2_1"]
    common = ["--weights", "random:0", "--image", "sample:grace_hopper", "--size", str(args.size), "--steps",
              str(args.steps), "--layers", ",".join(layers), "--batch-size", "8"]

    def run_fmi(*extra):
        subprocess.run([sys.executable, str(ROOT / "run_fmi.py"), *common, *extra], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with tempfile.TemporaryDirectory() as folder:
        pilot = Path(folder) / "pilot"
        run_fmi("--filters", ",".join(map(str, range(8))), "--output", str(pilot))
        steps = measured_steps([pilot])
        sweep = config_module.load(fig3.Config, cli.CONFIG_DIR / "fig3_sweep.yaml",
                                   [(key, value, "validate") for key, value in (
                                       ("weights", "random:0"), ("content", ["sample:grace_hopper"]),
                                       ("max_long_edge", args.size), ("sgd.max_steps", args.steps),
                                       ("layers", layers),
                                       ("batch_size", 8), ("output", str(Path(folder) / "sweep")))])
        job = whole_paper.Job(experiments.BY_NAME["fig3"], sweep, [])
        cells, mean, predicted, _ = cost(job, weight_files.load("random:0"), steps)
        started = time.perf_counter()
        run_fmi("--all-filters", "--output", str(Path(folder) / "sweep"))
        measured = time.perf_counter() - started
        shutil.rmtree(Path(folder) / "sweep", ignore_errors=True)
    print(f"sweep of {cells} cells ({', '.join(layers)}, {args.size} px): predicted {predicted:.0f} s, measured "
          f"{measured:.0f} s, ratio {predicted / measured:.2f} on {machine.name()}")


def main(argv=None):
    parser = cli.ArgumentParser(prog="bench/cost.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)
    made = commands.add_parser("table")
    made.add_argument("run_dirs", nargs="+", type=Path, help="run folders whose cells say how many steps cells take")
    made.add_argument("--size", type=int, help="long edge the steps are timed at, px (default: each config's)")
    check = commands.add_parser("validate")
    check.add_argument("--size", type=int, default=64, help="long edge of the pilot and the sweep, px")
    check.add_argument("--steps", type=int, default=300, help="step limit of their cells")
    args = parser.parse_args(argv)
    cli.setup_logging()
    # a folder without a run, a record of another format or one linked out of its folder: one line
    return cli.run_guarded(lambda: (table if args.command == "table" else validate)(args) or 0, resume_hint=False)


if __name__ == "__main__":
    sys.exit(main())
