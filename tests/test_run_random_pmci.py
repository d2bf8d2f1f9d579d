import hashlib
import json
import re

import numpy as np
import pytest
from conftest import write_image

import run_pmci
import run_random
from fmi.core import codes, invert
from fmi.experiments import fig4
from fmi.experiments import fig5 as fig5_module
from fmi.files import image_files
from fmi.run.interface import config as config_module
from fmi.run.interface import inputs


@pytest.fixture
def images(tmp_path):
    paths = {}
    for index, name in enumerate(["content", "style_a", "style_b"]):
        paths[name] = tmp_path / f"{name}.png"
        write_image(paths[name], 24 + 4 * index, 32, seed=index)
    return paths


def common(tmp_path, content):
    return ["--image", str(content), "--weights", "random:0", "--size", "32", "--steps", "3",
            "--output", str(tmp_path / "out")]


def read_record(tmp_path):
    return json.loads((tmp_path / "out" / "record.json").read_text())


def test_run_random_writes_every_promised_output(tmp_path, images):
    argv = common(tmp_path, images["content"]) + ["--layers", "relu1_1,relu2_1", "--draw-seeds", "4,9"]
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
    code = invert.extract(random_weights, ["relu1_1"], content)["relu1_1"]
    vector = np.random.default_rng(np.random.SeedSequence([9, 0])).normal(3.0, 1000.0, size=64)
    np.testing.assert_array_equal(fig4.channel_weights("relu1_1", 9, "authors"), vector)
    target = codes.random_rescale(code, fig4.channel_weights("relu1_1", 9, "authors"))
    flat = code[0].reshape(64, -1).astype(np.float64)
    sums = flat.sum(axis=1, keepdims=True)
    expected = flat.sum() * (vector / vector.sum())[:, None] * np.divide(flat, sums, out=np.zeros_like(flat),
                                                                         where=sums != 0)
    np.testing.assert_allclose(target[0].reshape(64, -1), expected, rtol=1e-4, atol=1e-3)
    assert not np.allclose(target, code)


def test_run_random_purposeful_mode(tmp_path, images):
    argv = common(tmp_path, images["content"]) + ["--layers", "relu1_1", "--mode", "purposeful",
                                                  "--style", f"{images['style_a']},{images['style_b']}"]
    assert run_random.main(argv) == 0
    cells = read_record(tmp_path)["cells"]
    assert sorted(cells) == ["content/relu1_1/purposeful_style_a", "content/relu1_1/purposeful_style_b"]
    assert cells["content/relu1_1/purposeful_style_b"]["details"]["style"] == "style_b"


def test_run_pmci_writes_every_promised_output(tmp_path, images):
    argv = common(tmp_path, images["content"]) + [
        "--style", f"{images['style_a']},{images['style_b']}", "--style-layers", "relu1_1,relu2_1"]
    assert run_pmci.main(argv) == 0
    out = tmp_path / "out"
    for method in ("gatys", "pmci"):
        for style in ("style_a", "style_b"):
            assert image_files.read_rgb(out / "cells" / "content" / method / f"{style}.png").shape == (24, 32, 3)
    assert image_files.read_rgb(out / "fig5_content.png").ndim == 3
    assert image_files.read_rgb(out / "loss.png").ndim == 3
    record = read_record(tmp_path)
    assert record["config"]["content_weight"] == 10.0 and record["config"]["sgd"]["weight_decay"] == 0.005
    cell = record["cells"]["content/pmci/style_b"]
    assert cell["details"]["method"] == "pmci" and cell["details"]["style"] == "style_b"
    assert len(cell["term_history"][0]) == 3  # content + two style layers, logged every step
    np.testing.assert_allclose([sum(t) for t in cell["term_history"]], cell["loss_history"], rtol=1e-5)


@pytest.mark.parametrize("method", ["gatys", "pmci"])
def test_style_transfer_terms_weigh_as_the_paper_says(random_weights, method):
    """Each term's value, from the experiment's own terms, against the formulas of docs/method.md
    computed here in numpy on the same codes: alpha = 10, beta = 1, the Gram and channel-sum
    normalisations, and PMCI's content term divided by HW."""
    from fmi.core import invert

    config = fig5_module.Config(style_layers=["relu1_1", "relu2_1"])
    rng = np.random.default_rng(4)
    content, style, x = (rng.uniform(-60, 60, (1, 3, 16, 20)).astype(np.float32) for _ in range(3))
    terms = fig5_module.EXPERIMENT.terms(config, method)
    layers = ["relu2_2", "relu1_1", "relu2_1"]
    codes = {name: invert.extract(random_weights, layers, array) for name, array in
             (("content", content), ("style", style), ("x", x))}
    problem = invert.Problem(terms, random_weights, x.shape)
    problem.set_targets([codes["content"]["relu2_2"], codes["style"]["relu1_1"], codes["style"]["relu2_1"]])
    _, values, _ = problem.evaluate(x)

    def flat(name, layer):
        code = codes[name][layer].astype(np.float64)[0]
        return code.reshape(code.shape[0], -1)

    difference = flat("x", "relu2_2") - flat("content", "relu2_2")
    expected = [10.0 / 2 * (difference ** 2).sum() / (difference.shape[1] if method == "pmci" else 1)]
    for layer in ("relu1_1", "relu2_1"):
        f, s = flat("x", layer), flat("style", layer)
        channels, positions = f.shape
        if method == "gatys":
            expected.append(1.0 / 4 * ((f @ f.T - s @ s.T) ** 2).sum() / (channels ** 2 * positions))
        else:
            expected.append(1.0 / 2 * ((f.sum(axis=1) - s.sum(axis=1)) ** 2).sum() / (channels * positions))
    np.testing.assert_allclose(values[:, 0], expected, rtol=2e-4)


@pytest.mark.parametrize("script, extra, message", [
    (run_pmci, ["--style", "MISSING"], r"^error: image MISSING: no such file$"),
    (run_pmci, ["--style-layers", "relu1_1,relu6_1"],
     r"key 'style_layers': unknown layer 'relu6_1'; valid layers are relu1_1"),
    (run_pmci, ["--style-weight", "-1"], r"key 'style_weight' must be 0 or more, got -1$"),
    (run_pmci, ["--content-weight", "-0.5"], r"key 'content_weight' must be 0 or more, got -0.5$"),
    (run_pmci, ["--style", ","], r"key 'styles' is empty; name at least one style image$"),
    (run_pmci, ["--methods", "gatys,johnson"], r"key 'methods\[1\]' must be one of gatys, pmci, got 'johnson'$"),
    (run_random, ["--mode", "purposeful", "--style", ","], r"mode purposeful needs a style image"),
    (run_random, ["--mode", "purposeful", "--style", "nowhere.png"], r"^error: image nowhere.png: no such file$"),
    (run_random, ["--distribution", "uniform"], r"key 'distribution' must be one of authors, positive"),
])
def test_bad_inputs(tmp_path, images, capsys, script, extra, message):
    code = script.main(common(tmp_path, images["content"]) + extra)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(message, errors[0]), err


def test_quick_configs_load():
    from fmi.run.interface import config

    quick_random = config.load(fig4.Config, config_module.CONFIG_DIR / "fig4_quick.yaml")
    paper = config.load(fig4.Config, config_module.CONFIG_DIR / "fig4.yaml")
    assert paper.draw_seeds == [1, 2] and paper.distribution == "authors" and paper.max_long_edge == 512
    assert quick_random.fallbacks["golden_gate"] == "sample:grace_hopper"
    fig5 = config.load(fig5_module.Config, config_module.CONFIG_DIR / "fig5.yaml")
    assert fig5.styles == ["frida_kahlo", "seated_nude", "starry_night", "the_scream"]
    assert fig5.content == ["golden_gate", "tubingen"] and fig5.sgd.weight_decay == 0.005
    assert (fig5.content_weight, fig5.style_weight) == (10.0, 1.0)
    quick_pmci = config.load(fig5_module.Config, config_module.CONFIG_DIR / "fig5_quick.yaml")
    for name in quick_pmci.content + quick_pmci.styles:
        assert inputs.resolve(quick_pmci.fallbacks[name], "unused").exists()
