import json
import re

import numpy as np
import pytest
from conftest import one_error, save_authors_file, tiny_run, write_image

import fmi.analyze
import run_fmi
import run_pmci
from fmi.run import measures


def flat(value, shape=(16, 16)):
    return np.full(shape + (3,), value, dtype=np.uint8)


def test_colourfulness_by_hand():
    assert measures.colourfulness(flat(128)) == 0.0
    pure_red = np.zeros((4, 4, 3), dtype=np.uint8)
    pure_red[..., 0] = 200
    # rg = 200, yb = 100 everywhere: sigma 0, mu = sqrt(200^2 + 100^2)
    assert measures.colourfulness(pure_red) == pytest.approx(0.3 * np.hypot(200, 100))
    half = np.zeros((2, 2, 3), dtype=np.uint8)
    half[0, :, 0] = 100  # rg: 100, 100, 0, 0 -> mean 50, sd 50; yb: 50, 50, 0, 0 -> mean 25, sd 25
    assert measures.colourfulness(half) == pytest.approx(np.hypot(50, 25) + 0.3 * np.hypot(50, 25))


def test_checkerboard_is_busier_than_a_ramp():
    y, x = np.mgrid[0:32, 0:32]
    checker = np.repeat((((x + y) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)
    ramp = np.repeat((x * 8).astype(np.uint8)[..., None], 3, axis=2)
    assert measures.gradient_magnitude(checker) > 10 * measures.gradient_magnitude(ramp)
    assert measures.gradient_magnitude(flat(90)) == 0.0
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert measures.png_bytes_per_pixel(noise) > 5 * measures.png_bytes_per_pixel(ramp)
    assert measures.spectral_entropy(flat(90)) == 0.0
    assert measures.spectral_entropy(noise) > 0.9
    assert measures.spectral_entropy(checker) < 0.1  # one frequency


def test_identical_images_have_distance_zero_and_similarity_one():
    rgb = np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    assert measures.texture_distance(rgb, rgb.copy()) == 0.0
    assert measures.texture_distance(flat(0), flat(255)) == pytest.approx(0.5)  # colours disjoint
    assert measures.cosine_similarity(rgb, rgb) == pytest.approx(1.0)
    assert measures.cosine_similarity([1, 0], [0, 3]) == 0.0
    assert measures.cosine_similarity([1, 2], [2, 4]) == pytest.approx(1.0)


@pytest.fixture
def fmi_run(tmp_path):
    images = []
    for index, name in enumerate(["one", "two"]):
        images.append(tmp_path / f"{name}.png")
        write_image(images[-1], 24, 32, seed=index)
    output = tmp_path / "fmi"
    assert run_fmi.main(["--image", f"{images[0]},{images[1]}", "--weights", "random:0", "--size", "32",
                         "--layers", "relu1_1,relu2_1", "--filters", "0,1,2", "--steps", "4",
                         "--output", str(output)]) == 0
    return output


def test_analyze_writes_all_outputs(fmi_run, capsys):
    assert fmi.analyze.main([str(fmi_run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("random weights (seed 0), not ImageNet")
    assert re.search(r"\| relu1_1 \| 6 \| ", out) and "| relu2_1 | 6 |" in out
    result = json.loads((fmi_run / "analysis.json").read_text())
    assert result["weights"] == "random weights (seed 0), not ImageNet"
    assert set(result["groups"]) == {"relu1_1", "relu2_1"} and len(result["cells"]) == 12
    specificity = result["specificity"]["relu2_1"]
    assert specificity["filters"] == 3 and specificity["contents"] == ["one", "two"]
    assert 0 <= specificity["same_filter"] <= 1 and 0 <= specificity["different_filter"] <= 1
    text = (fmi_run / "analysis.md").read_text()
    assert "random weights \\(seed 0\\), not ImageNet" in text and "Hasler and Suesstrunk (2003)" in text
    assert (fmi_run / "analysis_measures.png").stat().st_size > 0
    # the per-group numbers are the means of the per-cell numbers
    values = [cell["colourfulness"] for key, cell in result["cells"].items() if "/relu1_1/" in key]
    assert result["groups"]["relu1_1"]["colourfulness"]["mean"] == pytest.approx(np.mean(values))


def test_measures_before_and_after_the_denoise_are_reported_apart(tmp_path, capsys):
    """Without a denoise the two sets of numbers are the same; with the default they differ, and
    the report says which image each was taken on."""
    write_image(tmp_path / "one.png", 24, 32)
    results = {}
    for weight in ("0", "0.2"):
        output = tmp_path / f"denoise_{weight}"
        assert run_fmi.main(["--image", str(tmp_path / "one.png"), "--weights", "random:0", "--size", "32",
                             "--layers", "relu2_1", "--filters", "0,1", "--steps", "4", "--set",
                             f"denoise_weight={weight}", "--output", str(output)]) == 0
        assert fmi.analyze.main([str(output)]) == 0
        results[weight] = json.loads((output / "analysis.json").read_text())
        assert "before the denoise" in (output / "analysis.md").read_text()
    for cell in results["0"]["cells"].values():
        for name in measures.IMAGE_MEASURES:
            assert cell["before_denoise"][name] == pytest.approx(cell[name])
    denoised = results["0.2"]["cells"]
    assert all(cell["before_denoise"]["gradient_magnitude"] > cell["gradient_magnitude"] for cell in denoised.values())
    assert results["0.2"]["measured_on"] == "each cell's saved image, after the TV denoise"
    assert "the same before the denoise:" in capsys.readouterr().out


def test_analyze_with_control(fmi_run, tmp_path, capsys):
    """The control is the same run made with other random weights: measured the same way (its numbers are
    those of analysing it alone) and shown beside the run's."""
    control = tmp_path / "fmi_control"
    argv = json.loads((fmi_run / "record.json").read_text())["argv"]
    argv[argv.index("--weights") + 1], argv[argv.index("--output") + 1] = "random:1", str(control)
    assert run_fmi.main(argv) == 0
    assert fmi.analyze.main([str(control)]) == 0
    alone = json.loads((control / "analysis.json").read_text())["groups"]
    assert fmi.analyze.main(["--control", str(control), str(fmi_run)]) == 0
    result = json.loads((fmi_run / "analysis.json").read_text())
    assert result["control"]["groups"] == alone and result["control"]["weights"].startswith("random weights (seed 1)")
    assert result["groups"]["relu1_1"]["colourfulness"] != alone["relu1_1"]["colourfulness"]
    assert " / " in capsys.readouterr().out


def test_analyze_pmci_style_similarity(tmp_path):
    paths = []
    for index, name in enumerate(["content", "style_a", "style_b"]):
        paths.append(tmp_path / f"{name}.png")
        write_image(paths[-1], 24, 32, seed=index)
    output = tmp_path / "pmci"
    assert run_pmci.main(["--image", str(paths[0]), "--style", f"{paths[1]},{paths[2]}", "--weights",
                          "random:0", "--size", "32", "--steps", "3", "--style-layers", "relu1_1,relu2_1",
                          "--output", str(output)]) == 0
    assert fmi.analyze.main([str(output)]) == 0
    style = json.loads((output / "analysis.json").read_text())["style"]
    assert style["items"][:2] == ["style style_a", "style style_b"] and len(style["items"]) == 6
    for kind in ("channel_sums", "gram"):
        matrix = np.array(style["matrices"][kind])
        np.testing.assert_allclose(np.diag(matrix), 1.0, rtol=1e-9)
        np.testing.assert_allclose(matrix, matrix.T, rtol=1e-9)
    assert set(style["own_style"]) == {"gatys content style_a", "gatys content style_b",
                                       "pmci content style_a", "pmci content style_b"}
    assert (output / "analysis_style_similarity.png").exists()


@pytest.mark.parametrize("make, pattern", [
    (lambda folder: None, r"no such folder"),
    (lambda folder: folder.mkdir(), r"record.json: no such file; give the output folder"),
    (lambda folder: (folder.mkdir(), (folder / "record.json").write_text("{oops")),
     r"is not a run record fmi can trust"),
    (lambda folder: (folder.mkdir(), (folder / "record.json").write_text(
        json.dumps({"script": "run_fmi.py", "cells": {}, "plan": {}, "weights": {"label": "x"}}))),
     r"is not a run record fmi can trust: 'record_format': Field required"),
])
def test_bad_run_folders(tmp_path, capsys, make, pattern):
    folder = tmp_path / "run"
    make(folder)
    assert fmi.analyze.main([str(folder)]) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err) and "Traceback" not in err


def test_run_with_missing_cells(fmi_run, capsys):
    (fmi_run / "cells" / "two" / "relu2_1" / "filter_1.png").unlink()
    assert fmi.analyze.main([str(fmi_run)]) == 2
    err = capsys.readouterr().err
    assert "1 cell image(s) missing or unreadable, e.g. cells/two/relu2_1/filter_1.png" in err


def test_analyze_refuses_a_partial_run_unless_asked(tmp_path, tiny_image, capsys, interrupt_batch):
    interrupt_batch(2)
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3, batch=2)) == 130
    capsys.readouterr()
    code = fmi.analyze.main([str(output)])
    one_error(capsys, code, r"2 of 4 cells are finished \(first missing: tiny/relu2_1/filter_0\); finish the "
                            r"run with --resume, or add --partial")
    assert fmi.analyze.main([str(output), "--partial"]) == 0
    assert "--partial: measuring 2 of 4 cells" in capsys.readouterr().out


def test_analyze_refuses_a_control_that_differs(tmp_path, tiny_image, finished, capsys):
    control = tmp_path / "control"
    assert run_fmi.main(tiny_run(control, tiny_image, "--weights", "random:1", "--steps", "2",
                                 "--filters", "0,2", steps=3, batch=2)) == 0
    capsys.readouterr()
    code = fmi.analyze.main([str(finished), "--control", str(control)])
    one_error(capsys, code, r"is not the same run with other weights: sgd.max_steps: 3 here, 2 in the control; "
                            r"filters: \[0, 1\] here, \[0, 2\] in the control")


def test_analyze_opens_only_the_weights_it_is_given_and_checks_them(tmp_path, random_weights, capsys, monkeypatch):
    """A record names a weights path; analyze never opens it. It takes --weights (default
    model/vgg19.params in the current folder) and checks its SHA-1 against the record."""
    paths = []
    for index, name in enumerate(["content", "style"]):
        paths.append(tmp_path / f"{name}.png")
        write_image(paths[-1], 24, 32, seed=index)
    weights_file = tmp_path / "weights" / "vgg19.params"
    weights_file.parent.mkdir()
    save_authors_file(weights_file, random_weights.params)
    output = tmp_path / "pmci"
    assert run_pmci.main(["--image", str(paths[0]), "--style", str(paths[1]), "--weights", str(weights_file),
                          "--size", "32", "--steps", "2", "--style-layers", "relu1_1", "--output", str(output)]) == 0
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "model").mkdir(parents=True)
    (elsewhere / "model" / "vgg19.params").write_bytes(b"not the weights")
    monkeypatch.chdir(elsewhere)
    one_error(capsys, fmi.analyze.main([str(output)]), r"model/vgg19.params is not the weights file the run used")
    assert fmi.analyze.main([str(output), "--weights", str(weights_file)]) == 0
    capsys.readouterr()
    with open(weights_file, "r+b") as stream:
        stream.seek(-4, 2)
        stream.write(b"\x00\x00\x80\x3f")
    code = fmi.analyze.main([str(output), "--weights", str(weights_file)])
    one_error(capsys, code, r"is not the weights file the run used \(SHA-1")
