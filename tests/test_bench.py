"""bench/: every script runs at tiny arguments (so a change that breaks one is seen here), the cost
model against brute force and a simulation, and the cost table answers bad run folders in one line."""
import importlib.util
import itertools
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT


def bench_module(name):
    """A bench script loaded as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_expected_longest_image_of_a_batch_is_the_mean_over_every_possible_batch():
    cost = bench_module("cost")
    samples = [70, 95, 95, 140, 300]
    for count in (1, 2, 3):
        every = [max(draw) for draw in itertools.product(samples, repeat=count)]
        assert cost.expected_max(samples, count) == pytest.approx(np.mean(every))


def test_a_cells_expected_seconds_equal_a_batch_simulated_step_by_step():
    """Images leave a batch as they stop; a step of b images costs fixed + per_image * b."""
    cost = bench_module("cost")
    samples, batch, fixed, per_image = [3, 5, 9], 2, 0.4, 1.5
    together, alone = fixed + per_image * batch, fixed + per_image
    simulated = []
    for steps in itertools.product(samples, repeat=batch):
        seconds = sum(fixed + per_image * sum(s >= step for s in steps) for step in range(1, max(steps) + 1))
        simulated.append(seconds / batch)
    assert cost.cell_seconds(samples, batch, together, alone) == pytest.approx(np.mean(simulated))
    assert cost.cell_seconds(samples, 1, alone, alone) == pytest.approx(np.mean(samples) * alone)


@pytest.mark.parametrize("make, pattern", [
    (lambda folder: folder.mkdir(), r"record\.json: no such file; give the output folder of a run"),
    (lambda folder: (folder.mkdir(), (folder / "record.json").write_text('{"record_format": 1}')),
     r"is not a run record fmi can trust"),
    (lambda folder: (folder.mkdir(), (folder.parent / "outside.json").write_text("{}"),
                     (folder / "record.json").symlink_to(folder.parent / "outside.json")),
     r"leads out of the run folder"),
])
def test_the_cost_table_of_a_folder_without_a_run_is_one_line(tmp_path, make, pattern):
    folder = tmp_path / "runs"
    make(folder)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "cost.py"), "table", str(folder)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(errors) == 1 and re.search(pattern, errors[0]), done.stderr


def bench(*arguments, timeout=600):
    """Run a bench script as a user does; its exit code must be 0."""
    done = subprocess.run([sys.executable, *map(str, arguments)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_speed_runs_at_tiny_sizes_and_checks_every_target():
    out = bench(ROOT / "bench" / "speed.py", "--steps", "1", "--size", "64", "--race-size", "32", "--weights",
                "random:0")
    assert re.search(r"fmi SGD step, 48x64 to relu5_2 \(s\) +\d", out), out
    for name in ("overhead", "threads_speedup", "lbfgs_time_ratio", "peak_rss_mib", "peak_fraction"):
        assert re.search(rf"^{name} .* target [<>]= [\d.]+: (met|NOT met)$", out, re.MULTILINE), (name, out)
    assert re.search(r"^overhead=\d+\.\d+ threads_speedup=\d+\.\d+ .* peak_fraction=\d+\.\d+$", out, re.MULTILINE)


def test_cell_time_runs_at_a_tiny_size():
    out = bench(ROOT / "bench" / "cell_time.py", "--size", "32", "--steps", "1", "--layers", "relu1_1,relu2_1",
                "--weights", "random:0", "--cell-steps", "10")
    assert out.startswith("24x32, batch 1, random weights (seed 0)")
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["relu1_1", "relu2_1"]


def test_atlas_build_writes_and_builds_a_small_synthetic_sweep():
    out = bench(ROOT / "bench" / "atlas_build.py", "--size", "8x8", "--layers", "relu1_1,relu2_1")
    assert out.startswith("synthetic run of 192 cells at 8x8")
    assert "first build:" in out and "(192 thumbnails" in out
    assert "rebuild, nothing new:" in out and "(0 thumbnails, 0 files written)" in out


def test_the_cost_table_runs_on_tiny_runs_of_every_figure(tmp_path):
    common = ["--weights", "random:0", "--size", "32", "--steps", "3", "--image", "sample:grace_hopper"]
    bench(ROOT / "run_fmi.py", *common, "--filters", "0", "--output", tmp_path / "fig3")
    bench(ROOT / "run_random.py", *common, "--output", tmp_path / "fig4")
    bench(ROOT / "run_pmci.py", *common, "--output", tmp_path / "fig5")
    out = bench(ROOT / "bench" / "cost.py", "table", tmp_path / "fig3", tmp_path / "fig4", tmp_path / "fig5",
                "--size", "32")
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| run")]
    assert [row.split(" | ")[1] for row in rows] == ["50", "10", "16", "5504"], out
    assert all(row.split(" | ")[2] == "3" for row in rows), out  # every cell of the tiny runs took 3 steps


def test_the_cost_model_is_validated_on_a_tiny_sweep():
    out = bench(ROOT / "bench" / "cost.py", "validate", "--size", "24", "--steps", "3")
    assert re.search(r"^sweep of 192 cells \(relu1_1, relu2_1, 24 px\): predicted \d+ s, measured \d+ s, ratio "
                     r"\d+\.\d+ on ", out, re.MULTILINE), out


def test_the_network_bench_times_native_and_imported_networks_at_a_tiny_size():
    out = bench(ROOT / "bench" / "networks.py", "--size", "32", "--steps", "1", "--rounds", "1", "--layer", "relu2_1",
                "--resnet-layer", "resnetv10_stage1_activation0")
    assert re.search(r"^vgg19 +relu2_1 +\d+\.\d+ +\d+\.\d+ +\d+\.\d+$", out, re.MULTILINE), out
    assert re.search(r"^vgg19_onnx_ratio=\d+\.\d+ resnet18_onnx_ratio=\d+\.\d+ \(target <= 1\.05: (met|NOT met)\)$",
                     out, re.MULTILINE), out


def test_the_gpu_library_check_runs_and_says_there_is_nothing_to_check_on_the_cpu_environment():
    out = bench(ROOT / "bench" / "gpu_libraries.py")
    assert "this is the CPU environment" in out and out.rstrip().endswith("verdict=ok"), out
