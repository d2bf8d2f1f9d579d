"""fmi/run/interface/config.py: a YAML block given in part keeps the figure's other settings, and a run says
which of its settings are not the paper's."""
import dataclasses
import json

import pytest
from conftest import one_error, tiny_run, write_image

import run_fmi
import run_pmci
import run_random
from fmi.core.optimizers import LBFGS, SGD
from fmi.experiments import fig3, fig4, fig5
from fmi.run.interface import config

FIGURES = {"fig3": fig3.Config, "fig4": fig4.Config, "fig5": fig5.Config}
# a value for every field of each block that is not the default of any figure
CHANGED = {"sgd": {"learning_rate": 0.25, "momentum": 0.5, "weight_decay": 0.125, "clip_gradient": 3.0,
                   "lr_factor": 0.75, "lr_step": 7, "stop_eps": 0.0625, "max_steps": 9},
           "lbfgs": {"max_steps": 9, "history": 3, "weight_decay": 0.125, "stop_eps": 0.0625}}


@pytest.mark.parametrize("figure", FIGURES)
@pytest.mark.parametrize("block", ["sgd", "lbfgs"])
@pytest.mark.parametrize("source", ["yaml", "--set"])
def test_each_key_of_a_block_merges_into_the_figures_defaults(tmp_path, figure, block, source):
    cls = FIGURES[figure]
    defaults = dataclasses.asdict(cls.model_fields[block].default)
    for key, value in CHANGED[block].items():
        if source == "yaml":
            path = tmp_path / "config.yaml"
            path.write_text(f"{block}:\n  {key}: {value}\n")
            loaded = config.load(cls, path)
        else:
            loaded = config.load(cls, None, [(f"{block}.{key}", value, f"--set {block}.{key}")])
        expected = dict(defaults, **{key: value})
        assert dataclasses.asdict(getattr(loaded, block)) == expected, (figure, block, key)


def test_a_partial_sgd_block_keeps_fig5s_weight_decay_in_a_run(tmp_path, tiny_image):
    """The case users met: Fig. 5's SGD decays weights by 0.005, the other figures' by 0.0005."""
    assert fig5.Config().sgd.weight_decay == 0.005 and SGD().weight_decay == 0.0005
    path = tmp_path / "pmci.yaml"
    output = tmp_path / "run"
    path.write_text(f"content: [{tiny_image}]\nstyles: [{tiny_image}]\nmethods: [pmci]\nmax_long_edge: 24\n"
                    f"weights: random:0\nsgd:\n  learning_rate: 0.1\n  max_steps: 2\noutput: {output}\n")
    assert run_pmci.main(["--config", str(path)]) == 0
    record = json.loads((output / "record.json").read_text())
    assert record["config"]["sgd"]["weight_decay"] == 0.005
    assert "sgd.weight_decay" not in [item["key"] for item in record["paper_differences"]]
    assert "weight_decay: 0.005" in (output / "config.yaml").read_text()


def test_a_setting_that_is_not_the_papers_is_named_at_the_start_in_the_record_and_in_the_title(
        tmp_path, tiny_image, caplog):
    path = tmp_path / "pmci.yaml"
    output = tmp_path / "run"
    path.write_text(f"content: [{tiny_image}]\nstyles: [{tiny_image}]\nmethods: [pmci]\nmax_long_edge: 24\n"
                    f"weights: random:0\nsgd:\n  weight_decay: 0.0005\n  max_steps: 2\noutput: {output}\n")
    caplog.set_level("INFO", logger="fmi")
    assert run_pmci.main(["--config", str(path)]) == 0
    said = "sgd.weight_decay 0.0005 (paper 0.005)"
    settings_lines = [message for message in caplog.messages if message.startswith("settings:")]
    assert len(settings_lines) == 1 and "differs from the paper's Fig. 5" in settings_lines[0]
    assert said in settings_lines[0]
    first_cell = next(index for index, message in enumerate(caplog.messages) if "done in" in message)
    assert caplog.messages.index(settings_lines[0]) < first_cell  # said before anything is computed
    record = json.loads((output / "record.json").read_text())
    assert {"key": "sgd.weight_decay", "value": 0.0005, "paper": 0.005} in record["paper_differences"]
    assert "sgd.max_steps" in [item["key"] for item in record["paper_differences"]]
    titles = [message for message in caplog.messages if message.startswith("figure titled:")]
    assert titles and all("differs from the paper's Fig. 5" in title and said in title for title in titles)


def test_the_papers_own_configs_differ_in_nothing(tmp_path):
    for name, cls in FIGURES.items():
        paper = config.load(cls, config.CONFIG_DIR / f"{name}.yaml")
        assert config.paper_differences(paper, paper) == []
        assert config.describe_differences([], "Fig. 9") == "the paper's settings of Fig. 9"
    # the quick config of Fig. 4 differs in size and steps, and only in settings that decide a result
    quick = config.load(fig4.Config, config.CONFIG_DIR / "fig4_quick.yaml")
    paper = config.load(fig4.Config, config.CONFIG_DIR / "fig4.yaml")
    keys = [key for key, _, _ in config.paper_differences(quick, paper)]
    assert "max_long_edge" in keys and "sgd.max_steps" in keys
    assert not set(keys) & {"output", "batch_size", "seed", "weights", "draw_seeds", "fallbacks"}
    assert not any(key.startswith("lbfgs.") for key in keys)  # the optimiser not in use


def test_an_lbfgs_run_compares_its_lbfgs_settings(tmp_path, tiny_image, caplog):
    caplog.set_level("INFO", logger="fmi")
    output = tmp_path / "run"
    assert run_fmi.main(tiny_run(output, tiny_image, "--optimizer", "lbfgs")) == 0
    keys = [item["key"] for item in json.loads((output / "record.json").read_text())["paper_differences"]]
    assert "optimizer" in keys and "lbfgs.max_steps" in keys and not any(key.startswith("sgd.") for key in keys)
    assert LBFGS().max_steps == 1000


def test_random_runs_say_the_papers_figure(tmp_path, tiny_image, caplog):
    caplog.set_level("INFO", logger="fmi")
    assert run_random.main(["--image", str(tiny_image), "--weights", "random:0", "--size", "24", "--layers", "relu1_1",
                            "--steps", "2", "--output", str(tmp_path / "run")]) == 0
    assert any(message.startswith("settings: differs from the paper's Fig. 4:") for message in caplog.messages)


# --- YAML that is legal but odd, and text no file name can hold -------------------------------------

@pytest.mark.parametrize("text, pattern", [
    ("[a, b]: 1\n", r"line 1, column 1: a key must be a name, got a list or a mapping"),
    ("{a: 1}: 2\n", r"line 1, column 1: a key must be a name, got a list or a mapping"),
    ("sgd: {1: 2}\n", r"line 1, column 7: a key must be a name, got '1'"),
    ("sgd:\n  [x]: 1\n", r"line 2, column 3: a key must be a name"),
    ("fallbacks: {2: sample:coffee}\n", r"line 1, column 13: a key must be a name, got '2'"),
    ("fallbacks: {golden_gate: [x]}\n", r"key 'fallbacks.golden_gate': expected a string, got \['x'\]"),
    ('output: "\\ud800y"\n', r"'\\ud800y' is not text a file name can hold"),
    ('content: ["a", "\\udfffb"]\n', r"'\\udfffb' is not text a file name can hold"),
])
def test_odd_yaml_is_one_line_naming_the_place(tmp_path, capsys, text, pattern):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    one_error(capsys, run_fmi.main(["--config", str(path), "--output", str(tmp_path / "out")]), pattern)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting, pattern", [
    ("a.b.c=1", r"command line \(--set a\.b\.c\): unknown key 'a'"),
    ("sgd.nope=1", r"command line \(--set sgd\.nope\): unknown key 'sgd\.nope'"),
    ('output="\\ud800x"', r"--set output: '\\ud800x' is not text a file name can hold"),
])
def test_a_bad_set_is_blamed_on_the_set(tmp_path, capsys, setting, pattern):
    one_error(capsys, run_fmi.main(["--set", setting, "--output", str(tmp_path / "out")]), pattern)


# --- whatever the record would refuse is refused before anything is computed or written ------------

def test_a_draw_seed_the_record_cannot_hold_is_refused_first(tmp_path, tiny_image, capsys):
    output = tmp_path / "out"
    code = run_random.main(["--image", str(tiny_image), "--weights", "random:0", "--size", "16", "--layers",
                            "relu1_1", "--draw-seeds", str(2**32), "--steps", "1", "--output", str(output)])
    one_error(capsys, code, r"key 'draw_seeds\[0\]': must be at most 2147483647")
    assert not output.exists()


def test_an_image_name_the_record_cannot_hold_is_refused_first(tmp_path, capsys):
    picture = tmp_path / ("p" * 240 + ".png")
    write_image(picture, 24, 32)
    output = tmp_path / "out"
    code = run_fmi.main(tiny_run(output, picture))
    one_error(capsys, code, r"would be 240 characters; names of images are at most 200")
    assert not output.exists()
    exact = tmp_path / ("q" * 200 + ".png")  # the longest name the record holds runs
    write_image(exact, 24, 32)
    assert run_fmi.main(tiny_run(output, exact, steps=1)) == 0
