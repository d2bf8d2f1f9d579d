import json
import re

import numpy as np
import pytest
import yaml
from conftest import tiny_run, write_image

import run_fmi
from fmi import experiments
from fmi.files import image_files, weight_files
from fmi.run.interface.config import CONFIG_DIR
from fmi.tools import commands


def quick_args(tmp_path, image_path, *extra):
    return ["--image", str(image_path), "--weights", "random:0", "--size", "32",
            "--layers", "relu1_2,relu2_1", "--filters", "0,2", "--steps", "3",
            "--output", str(tmp_path / "out"), *extra]


def test_main_writes_every_promised_output(tmp_path, tiny_image):
    assert run_fmi.main(quick_args(tmp_path, tiny_image)) == 0
    out = tmp_path / "out"
    for layer in ("relu1_2", "relu2_1"):
        for index in (0, 2):
            cell = image_files.read_rgb(out / "cells" / "tiny" / layer / f"filter_{index}.png")
            assert cell.shape == (24, 32, 3)
    assert image_files.read_rgb(out / "fig3_tiny.png").shape[2] == 3
    assert image_files.read_rgb(out / "loss.png").shape[2] == 3
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["layers"] == ["relu1_2", "relu2_1"] and config["sgd"]["max_steps"] == 3
    record = json.loads((out / "record.json").read_text())
    assert record["weights"]["label"] == "random weights (seed 0), not ImageNet"
    assert record["weights"]["pretrained"] is False
    assert record["seed"] == 0 and record["versions"]["mxnet"] == "1.9.1"
    assert record["wall_s"] > 0 and record["figures"] == ["fig3_tiny.png", "loss.png"]
    assert len(record["cells"]) == 4
    cell = record["cells"]["tiny/relu2_1/filter_2"]
    assert cell["weights"] == "random weights (seed 0), not ImageNet" and cell["seed"] == 0
    assert cell["steps"] == 3 and len(cell["loss_history"]) == 3 and cell["wall_s"] > 0
    assert cell["stop_reason"] in ("max_steps", "converged")
    assert [p.name for p in out.rglob(".*")] == []  # no temporary files left


def test_default_config_is_the_quickstart():
    parser = commands.figure_parser(experiments.BY_NAME["fig3"])
    assert parser.parse_args([]).config.name == "fig3_quick.yaml"
    assert parser.parse_args([]).config.exists()


def test_cells_do_not_depend_on_batch_size(tmp_path, tiny_image):
    run_fmi.main(quick_args(tmp_path / "a", tiny_image, "--batch-size", "1"))
    run_fmi.main(quick_args(tmp_path / "b", tiny_image, "--batch-size", "2"))
    a = json.loads((tmp_path / "a" / "out" / "record.json").read_text())["cells"]
    b = json.loads((tmp_path / "b" / "out" / "record.json").read_text())["cells"]
    for key in a:
        np.testing.assert_allclose(a[key]["loss_history"], b[key]["loss_history"], rtol=1e-4)


def run_and_capture(capsys, argv):
    code = run_fmi.main(argv)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("change, message", [
    (lambda a, t: a.__setitem__(1, str(t / "missing.jpg")), r"^error: image .*missing.jpg: no such file$"),
    (lambda a, t: a.__setitem__(7, "relu1_2,relu9_1"),
     r"^error: config .*fig3_quick.yaml \+ command line: key 'layers': "
     r"unknown layer 'relu9_1'; valid layers are relu1_1, .*relu5_4$"),
    (lambda a, t: a.__setitem__(9, "0,64"),
     r"^error: config .*fig3_quick.yaml \+ command line: key 'filters': "
     r"index 64 is out of range for relu1_2, which has 64 filters \(0..63\)$"),
    (lambda a, t: a.__setitem__(7, "relu5_2"), r"^error: image 8x10 is too small for relu5_2: it needs at least 16 px"),
])
def test_bad_inputs_give_one_clear_line(tmp_path, capsys, change, message):
    small = tmp_path / "small.png"
    write_image(small, 24, 32)
    argv = quick_args(tmp_path, small)
    argv[5] = "10"  # --size 10: an 8x10 image
    change(argv, tmp_path)
    code, err = run_and_capture(capsys, argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len([line for line in lines if line.startswith("error:")]) == 1
    assert re.search(message, lines[-1]), lines[-1]
    assert "Traceback" not in err


def test_unwritable_output_is_refused_up_front(tmp_path, capsys, tiny_image):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run_and_capture(capsys, quick_args(tmp_path, tiny_image)[:-1] + [str(blocker / "out")])
    assert code == 2 and "is not writable" in err and "choose another with --output" in err


def test_paper_config_offline_lists_everything_missing_and_the_offline_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(CONFIG_DIR / "fig3.yaml")
    code, err = run_and_capture(capsys, ["--config", config])
    assert code == 2 and "Traceback" not in err
    assert err.splitlines() == [
        "error: this run needs files that are not here:",
        "  weights file model/vgg19.params: run 'python -m fmi.weights download' to fetch it",
        "  data/paper/golden_gate.jpg, data/paper/tubingen.jpg: run 'python -m fmi.data download'",
        "to run the same config offline, with random weights and bundled images:",
        f"  python run_fmi.py --config {config} --weights random:0 --image sample:grace_hopper,sample:rocket"]
    assert not (tmp_path / "runs").exists()


def test_lbfgs_option_runs_each_cell_alone(tmp_path, tiny_image):
    assert run_fmi.main(quick_args(tmp_path, tiny_image, "--optimizer", "lbfgs", "--batch-size", "2")) == 0
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    assert record["config"]["optimizer"] == "lbfgs" and record["config"]["lbfgs"]["max_steps"] == 3
    assert {cell["batch_size"] for cell in record["cells"].values()} == {1}
    assert all(len(cell["loss_history"]) <= 3 for cell in record["cells"].values())
    assert (tmp_path / "out" / "fig3_tiny.png").exists()


def test_names_that_matplotlib_or_markdown_would_parse_stay_plain_text(tmp_path, tiny_image, random_weights):
    """A weights file named like mathtext ('$\\foo{$') once crashed the figure title after every cell had
    run; titles are plain text, whatever the names in them."""
    path = tmp_path / "vgg $\\foo{$ x.params"
    weight_files.save_authors_format(random_weights, path)
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, "--weights", str(path), steps=1)) == 0
    assert (output / "fig3_tiny.png").is_file() and (output / "loss.png").is_file()


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
        assert cell["details"]["response"]["content"]["max"] == 0.0 and cell["steps"] == 30
    assert woken["details"]["response"]["final"]["max"] > 10.0 and woken["silent"] is False
    assert silent["details"]["response"]["final"]["max"] == 0.0 and silent["silent"] is True
    texture = image_files.read_rgb(tmp_path / "out" / "cells" / "tiny" / "relu2_1" / "filter_11.png")
    assert texture.astype(float).std() > 5.0  # not a flat cell
    assert record["status"]["silent"] == ["tiny/relu3_1/filter_16"]
    assert captured_figures[0]["marks"][1][1] == "silent"
    assert any("relu2_1: filter(s) 11 respond nowhere on the content image" in m for m in caplog.messages)
    assert any("tiny/relu3_1/filter_16: still silent on its final image" in m for m in caplog.messages)


def test_random_weights_cells_differ_from_their_start(tmp_path, tiny_image):
    """The quick run's cells move away from the start noise (a smoke test of the whole path)."""
    from fmi.files import image_files

    output = tmp_path / "out"
    argv = tiny_run(output, tiny_image, "--steps", "20", "--layers", "relu1_1", "--filters", "2", steps=3)
    assert run_fmi.main(argv) == 0
    cell = image_files.read_rgb(output / "cells" / "tiny" / "relu1_1" / "filter_2.png")
    assert np.std(cell.astype(float)) > 1.0
