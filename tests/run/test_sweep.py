"""Sweeps over every filter of a layer, split into shards and collected."""
import json
import re

import numpy as np
import pytest
from conftest import ROOT, tiny_run

import run_fmi
from fmi.core import vgg19
from fmi.experiments import fig3
from fmi.files import image_files
from fmi.run.interface.config import CONFIG_DIR


def sweep_args(output, image_path, *extra):
    return ["--image", str(image_path), "--weights", "random:0", "--size", "16", "--layers", "relu1_1",
            "--all-filters", "--steps", "2", "--batch-size", "8", "--output", str(output), *extra]


@pytest.fixture
def single_run(tmp_path, tiny_image):
    assert run_fmi.main(sweep_args(tmp_path / "single", tiny_image)) == 0
    return tmp_path / "single"


def test_two_shards_and_collect_equal_one_run(tmp_path, tiny_image, single_run):
    split = tmp_path / "split"
    assert run_fmi.main(sweep_args(split, tiny_image, "--shard", "1/2")) == 0
    assert run_fmi.main(sweep_args(split, tiny_image, "--shard", "0/2")) == 0
    first = json.loads((split / "shards" / "0-of-2" / "record.json").read_text())["cells"]
    second = json.loads((split / "shards" / "1-of-2" / "record.json").read_text())["cells"]
    assert len(first) == len(second) == 32 and not set(first) & set(second)
    assert run_fmi.main(sweep_args(split, tiny_image, "--collect")) == 0

    cells = sorted((single_run / "cells").rglob("*.png"))
    assert len(cells) == 64
    for cell in cells:
        np.testing.assert_array_equal(image_files.read_rgb(cell),
                                      image_files.read_rgb(split / cell.relative_to(single_run)))
    sheet = "fig3_tiny_relu1_1.png"
    assert (single_run / sheet).read_bytes() == (split / sheet).read_bytes()
    assert (single_run / "loss.png").read_bytes() == (split / "loss.png").read_bytes()
    collected = json.loads((split / "record.json").read_text())
    assert collected["collected_from"] == ["0-of-2", "1-of-2"] and len(collected["cells"]) == 64


def test_rerunning_a_shard_skips_finished_cells(tmp_path, tiny_image, caplog):
    output = tmp_path / "out"
    assert run_fmi.main(sweep_args(output, tiny_image, "--shard", "0/4")) == 0
    caplog.clear()
    caplog.set_level("INFO")
    assert run_fmi.main(sweep_args(output, tiny_image, "--shard", "0/4")) == 0
    assert not any("done in" in message for message in caplog.messages)
    assert any("resuming: 16 finished cell(s)" in message for message in caplog.messages)


@pytest.mark.parametrize("extra, pattern", [
    (["--shard", "2/2"], r"--shard 2/2: expected I/N with 0 <= I < N"),
    (["--shard", "a/b"], r"--shard a/b: expected I/N"),
    (["--collect"], r"nothing to collect: no shard folders in .*shards; run with --shard I/N first"),
    (["--shard", "0/2", "--collect"], r"--shard and --collect go in separate runs"),
])
def test_bad_shard_use(tmp_path, tiny_image, capsys, extra, pattern):
    assert run_fmi.main(sweep_args(tmp_path / "out", tiny_image, *extra)) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err) and "Traceback" not in err


def test_collect_names_missing_shards_and_other_configs(tmp_path, tiny_image, capsys):
    output = tmp_path / "out"
    assert run_fmi.main(sweep_args(output, tiny_image, "--shard", "0/3")) == 0
    assert run_fmi.main(sweep_args(output, tiny_image, "--collect")) == 2
    err = capsys.readouterr().err
    assert "rerun shard(s) 1/3, 2/3" in err
    argv = " ".join(sweep_args(output, tiny_image))
    assert f"on Slurm: sbatch --array=1,2 {ROOT / 'slurm' / 'sweep.sbatch'} 3 {argv}" in err or \
        f"on Slurm: sbatch --array=1,2 slurm/sweep.sbatch 3 {argv}" in err
    assert run_fmi.main(sweep_args(output, tiny_image, "--shard", "1/3")) == 0
    assert run_fmi.main(sweep_args(output, tiny_image, "--shard", "2/3", "--seed", "5")) == 0
    assert run_fmi.main(sweep_args(output, tiny_image, "--collect")) == 2
    assert re.search(r"shard 2-of-3: .*2-of-3/record.json was made with other settings \(seed: 5 there, 0 here\)",
                     capsys.readouterr().err)


def test_all_layers_sweep_is_every_filter():
    from fmi.run.interface import config

    sweep = config.load(fig3.Config, CONFIG_DIR / "fig3_sweep.yaml")
    assert sweep.layers == list(vgg19.RELU_LAYERS) and sweep.all_filters
    batches = fig3.EXPERIMENT.plan(sweep, ["image"], [])
    assert sum(len(batch.items) for batch in batches) == 5504


def test_stray_folders_under_shards_are_named_and_ignored(tmp_path, tiny_image, caplog):
    output = tmp_path / "sweep"
    argv = ["--image", str(tiny_image), "--weights", "random:0", "--size", "16", "--layers", "relu1_1",
            "--all-filters", "--steps", "2", "--batch-size", "32", "--output", str(output)]
    assert run_fmi.main(argv + ["--shard", "0/2"]) == 0
    assert run_fmi.main(argv + ["--shard", "1/2"]) == 0
    (output / "shards" / "notes.txt").write_text("mine")
    (output / "shards" / "backup").mkdir()
    (output / "shards" / "5-of-2").mkdir()
    caplog.set_level("INFO")
    assert run_fmi.main(argv + ["--collect"]) == 0
    ignored = [message for message in caplog.messages if message.startswith("ignoring")]
    assert len(ignored) == 3 and all("not a shard folder" in message for message in ignored)
    assert len(json.loads((output / "record.json").read_text())["cells"]) == 64


def test_collect_ignores_a_shard_folder_linked_from_outside(tmp_path, tiny_image, canary, caplog):
    output = tmp_path / "split"
    assert run_fmi.main(tiny_run(output, tiny_image, "--shard", "0/2")) == 0
    outside = tmp_path / "outside-shard"
    assert run_fmi.main(tiny_run(outside, tiny_image, "--shard", "1/2")) == 0
    (output / "shards" / "1-of-2").symlink_to(outside / "shards" / "1-of-2", target_is_directory=True)
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(output, tiny_image, "--collect")) == 2
    assert any("ignoring" in m and "leads out of the run folder" in m for m in caplog.messages)
