"""fmi/experiments/fig4.py: modified code inversion (Fig. 4) from its script: every output, the random
target against the authors' reallocation, purposeful mode, bad inputs and the quick config."""
import hashlib

import numpy as np
import pytest
from conftest import figure_args, one_error, read_record

import run_random
from fmi.core import codes, invert, vgg19
from fmi.experiments import fig4
from fmi.files import image_files
from fmi.run.interface import config as config_module


def test_run_random_writes_every_promised_output(tmp_path, figure_images):
    argv = figure_args(tmp_path, figure_images["content"]) + ["--layers", "relu1_1,relu2_1", "--draw-seeds", "4,9"]
    assert run_random.main(argv) == 0
    out = tmp_path / "out"
    for layer in ("relu1_1", "relu2_1"):
        for seed in (4, 9):
            cell = out / "cells" / "content" / layer / f"random_draw_{seed}.png"
            assert image_files.read_rgb(cell).shape == (24, 32, 3)
    assert image_files.read_rgb(out / "fig4_content.png").ndim == 3
    assert image_files.read_rgb(out / "loss.png").ndim == 3
    assert (out / "config.yaml").exists()
    record = read_record(tmp_path)
    assert record["weights"]["label"] == "random weights (seed 0), not ImageNet"
    cell = record["cells"]["content/relu2_1/random_draw_9"]
    draw = cell["details"]["draw"]
    assert cell["details"]["draw_seed"] == 9 and draw["seed"] == 9 and draw["distribution"] == "authors"
    assert draw["channels"] == 128 and len(cell["loss_history"]) == 3
    vector = np.random.default_rng(np.random.SeedSequence([9, 2])).normal(3.0, 1000.0, size=128)  # relu2_1: layer 2
    assert draw["negative_entries"] == int((vector < 0).sum())
    assert draw["sha1_float32"] == hashlib.sha1(vector.astype(np.float32).tobytes()).hexdigest()
    hashes = {key: cell["details"]["draw"]["sha1_float32"] for key, cell in record["cells"].items()}
    assert len(set(hashes.values())) == 4  # two seeds by two layers: four different vectors


def test_random_target_is_the_authors_reallocation_of_the_drawn_vector(random_weights):
    """v drawn from the recorded seed; each channel c of the target is the code's total times v_c / sum(v),
    spread over the channel's positions as the channel's own code is (utils.py's ModifyCode, random)."""
    content = np.random.default_rng(0).uniform(-50, 50, (1, 3, 16, 16)).astype(np.float32)
    code = invert.extract(vgg19.VGG19(), random_weights, ["relu1_1"], content)["relu1_1"]
    vector = np.random.default_rng(np.random.SeedSequence([9, 0])).normal(3.0, 1000.0, size=64)
    np.testing.assert_array_equal(fig4.channel_weights("relu1_1", 9, "authors"), vector)
    target = codes.random_rescale(code, fig4.channel_weights("relu1_1", 9, "authors"))
    flat = code[0].reshape(64, -1).astype(np.float64)
    sums = flat.sum(axis=1, keepdims=True)
    expected = flat.sum() * (vector / vector.sum())[:, None] * np.divide(flat, sums, out=np.zeros_like(flat),
                                                                         where=sums != 0)
    np.testing.assert_allclose(target[0].reshape(64, -1), expected, rtol=1e-4, atol=1e-3)
    assert not np.allclose(target, code)


def test_run_random_purposeful_mode(tmp_path, figure_images):
    argv = figure_args(tmp_path, figure_images["content"]) + ["--layers", "relu1_1", "--mode", "purposeful",
                                                  "--style", f"{figure_images['style_a']},{figure_images['style_b']}"]
    assert run_random.main(argv) == 0
    cells = read_record(tmp_path)["cells"]
    assert sorted(cells) == ["content/relu1_1/purposeful_style_a", "content/relu1_1/purposeful_style_b"]
    assert cells["content/relu1_1/purposeful_style_b"]["details"]["style"] == "style_b"


@pytest.mark.parametrize("extra, message", [
    (["--mode", "purposeful", "--style", ","], r"mode purposeful needs a style image"),
    (["--mode", "purposeful", "--style", "nowhere.png"], r"^error: image nowhere.png: no such file$"),
    (["--distribution", "uniform"], r"key 'distribution' must be one of authors, positive"),
])
def test_bad_inputs(tmp_path, figure_images, capsys, extra, message):
    one_error(capsys, run_random.main(figure_args(tmp_path, figure_images["content"]) + extra), message)


def test_the_quick_config_loads():
    quick = config_module.load(fig4.Config, config_module.CONFIG_DIR / "fig4_quick.yaml")
    paper = config_module.load(fig4.Config, config_module.CONFIG_DIR / "fig4.yaml")
    assert paper.draw_seeds == [1, 2] and paper.distribution == "authors" and paper.max_long_edge == 512
    assert quick.fallbacks["golden_gate"] == "sample:grace_hopper"
