"""fmi/experiments/fig5.py: PMCI beside Gatys (Fig. 5) from its script: every output, each term against
the paper's formulas, bad inputs and the quick config."""

import numpy as np
import pytest
from conftest import figure_args, one_error, read_record

import run_pmci
from fmi.experiments import fig5 as fig5_module
from fmi.files import image_files
from fmi.run.interface import config as config_module
from fmi.run.interface import inputs


def test_run_pmci_writes_every_promised_output(tmp_path, figure_images):
    argv = figure_args(tmp_path, figure_images["content"]) + [
        "--style", f"{figure_images['style_a']},{figure_images['style_b']}", "--style-layers", "relu1_1,relu2_1"]
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
    from fmi.core import invert, vgg19

    config = fig5_module.Config(style_layers=["relu1_1", "relu2_1"])
    rng = np.random.default_rng(4)
    content, style, x = (rng.uniform(-60, 60, (1, 3, 16, 20)).astype(np.float32) for _ in range(3))
    terms = fig5_module.EXPERIMENT.terms(config, method)
    layers = ["relu2_2", "relu1_1", "relu2_1"]
    codes = {name: invert.extract(vgg19.VGG19(), random_weights, layers, array) for name, array in
             (("content", content), ("style", style), ("x", x))}
    problem = invert.Problem(terms, vgg19.VGG19(), random_weights, x.shape)
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


@pytest.mark.parametrize("extra, message", [
    (["--style", "MISSING"], r"^error: image MISSING: no such file$"),
    (["--style-layers", "relu1_1,relu6_1"],
     r"key 'style_layers': unknown layer 'relu6_1'; valid layers are relu1_1"),
    (["--style-weight", "-1"], r"key 'style_weight' must be 0 or more, got -1$"),
    (["--content-weight", "-0.5"], r"key 'content_weight' must be 0 or more, got -0.5$"),
    (["--style", ","], r"key 'styles' is empty; name at least one style image$"),
    (["--methods", "gatys,johnson"], r"key 'methods\[1\]' must be one of gatys, pmci, got 'johnson'$"),
])
def test_bad_inputs(tmp_path, figure_images, capsys, extra, message):
    one_error(capsys, run_pmci.main(figure_args(tmp_path, figure_images["content"]) + extra), message)


def test_the_quick_config_loads():
    fig5 = config_module.load(fig5_module.Config, config_module.CONFIG_DIR / "fig5.yaml")
    assert fig5.styles == ["frida_kahlo", "seated_nude", "starry_night", "the_scream"]
    assert fig5.content == ["golden_gate", "tubingen"] and fig5.sgd.weight_decay == 0.005
    assert (fig5.content_weight, fig5.style_weight) == (10.0, 1.0)
    quick = config_module.load(fig5_module.Config, config_module.CONFIG_DIR / "fig5_quick.yaml")
    for name in quick.content + quick.styles:
        assert inputs.resolve(quick.fallbacks[name], "unused").exists()
