"""fmi/run/interface/config.py: a YAML block given in part keeps the figure's other settings, and a run says
which of its settings are not the paper's."""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pydantic
import pytest
import yaml
from conftest import ROOT, one_error, tiny_run, write_image

import run_fmi
import run_pmci
import run_random
from fmi.core.optimizers import LBFGS, SGD
from fmi.experiments import fig3, fig4, fig5
from fmi.run.interface import config, config_words

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
    defaults = cls.model_fields[block].default.model_dump()
    for key, value in CHANGED[block].items():
        if source == "yaml":
            path = tmp_path / "config.yaml"
            path.write_text(f"{block}:\n  {key}: {value}\n")
            loaded = config.load(cls, path)
        else:
            loaded = config.load(cls, None, [(f"{block}.{key}", value, f"--set {block}.{key}")])
        expected = dict(defaults, **{key: value})
        assert getattr(loaded, block).model_dump() == expected, (figure, block, key)


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
        assert config.differences(paper, paper) == []
        assert config_words.describe_differences([], "Fig. 9") == "the paper's settings of Fig. 9"
    # the quick config of Fig. 4 differs in size and steps, and only in settings that decide a result
    quick = config.load(fig4.Config, config.CONFIG_DIR / "fig4_quick.yaml")
    paper = config.load(fig4.Config, config.CONFIG_DIR / "fig4.yaml")
    keys = [key for key, _, _ in config.differences(quick, paper)]
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
    one_error(capsys, code, r"key 'draw_seeds\[0\]' must be at most 2147483647")
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


@pytest.mark.parametrize("extra, pattern", [
    (["--max-memory", "nan"], r"key 'max_memory_gib' must be a finite number, got nan"),
    (["--max-memory", "inf"], r"key 'max_memory_gib' must be a finite number, got inf"),
    (["--set", "denoise_weight=.nan"], r"key 'denoise_weight' must be a finite number, got nan"),
    (["--set", "sgd.learning_rate=.inf"], r"key 'sgd.learning_rate' must be a finite number, got inf"),
    (["--size", "\u0661\u0662"], r"key 'max_long_edge': expected an integer, got '\u0661\u0662'"),
    (["--size", "0x20"], r"key 'max_long_edge': expected an integer, got '0x20'"),
    (["--size", "1_000"], r"key 'max_long_edge': expected an integer, got '1_000'"),
    (["--size", "1e3"], r"key 'max_long_edge': expected an integer, got 1000.0"),
    (["--filters", "0,\u0663"], r"key 'filters\[1\]': expected an integer, got '\u0663'"),
    (["--seed", "99999999999"], r"key 'seed' must be at most 2147483647, got 99999999999"),
    (["--shard", "\u0661/2"], r"--shard \u0661/2: expected I/N with 0 <= I < N"),
    (["--output", ""], r"key 'output' is empty; name an output folder"),
    (["--output", "  "], r"key 'output' is empty; name an output folder"),
    (["--set", "sgd.momentun=0.5"], r"unknown key 'sgd.momentun'; valid keys are sgd.learning_rate, "),
    (["--set", "max_long_edge"], r"--set 'max_long_edge': expected KEY=VALUE"),
    (["--set", "max_long_edge=[1"], r"--set max_long_edge: YAML syntax error"),
    (["--threads", "100000"], r"key 'threads' must be at most 1024, got 100000"),
])
def test_odd_numbers_and_settings_are_refused(tmp_path, tiny_image, capsys, extra, pattern):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, *extra, steps=3, batch=2))
    one_error(capsys, code, pattern)
    assert not (tmp_path / "out").exists()




def test_leading_zeros_are_decimal(tmp_path):
    from fmi.run.interface import config

    path = tmp_path / "run.yaml"
    path.write_text("max_long_edge: 010\nseed: +7\n")
    loaded = config.load(fig3.Config, path)
    assert (loaded.max_long_edge, loaded.seed) == (10, 7)


def test_huge_or_exploding_yaml_is_refused_quickly(tmp_path, tiny_image, capsys):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    code = run_fmi.main(["--config", str(big), "--image", str(tiny_image)])
    one_error(capsys, code, r"is larger than the 1 MiB fmi reads; a config is a few lines of YAML$")
    lines = ["fallbacks:", '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        lines.append(f"  {level}: &{level} [" + ",".join([f"*{chr(ord(level) - 1)}"] * 9) + "]")
    lines.append("content: [*i, *i]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    code = run_fmi.main(["--config", str(bomb), "--image", str(tiny_image)])
    line = one_error(capsys, code, r"key '(fallbacks.a|content\[0\])': expected a string, got \[")
    assert time.monotonic() - started < 5 and len(line) < 400
    deep = tmp_path / "deep.yaml"
    deep.write_text("content: [" + "[" * 40 + '"x"' + "]" * 40 + "]\n")
    code = run_fmi.main(["--config", str(deep), "--output", str(tmp_path / "o")])
    line = one_error(capsys, code, r"key 'content\[0\]': expected a string, got \[\[\[")
    assert len(line) < 300


def test_tilde_is_expanded_in_yaml_and_on_the_command_line(tmp_path, tiny_image, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "run.yaml"
    config.write_text("output: ~/from_yaml\n")
    argv = tiny_run("unused", tiny_image, "--layers", "relu1_1", "--filters", "0", steps=3, batch=2)
    argv = argv[:argv.index("--output")]
    assert run_fmi.main(argv + ["--config", str(config)]) == 0
    assert (tmp_path / "from_yaml" / "record.json").exists()
    assert run_fmi.main(argv + ["--output", "~/from_cli"]) == 0
    assert (tmp_path / "from_cli" / "record.json").exists()
    assert not Path("~").exists()


@pytest.mark.parametrize("option, value, pattern", [
    ("--layers", "relu1_1,conv1_1", r"unknown layer 'conv1_1'; valid layers are relu1_1, relu1_2, .*, relu5_4$"),
    ("--layers", ",", r"key 'layers' is empty; valid layers are relu1_1, .*relu5_4$"),
    ("--filters", "0,64", r"index 64 is out of range for relu1_1, which has 64 filters \(0\.\.63\)$"),
    ("--filters", "-1", r"key 'filters\[0\]' must be 0 or more, got -1$"),
    ("--filters", ",", r"key 'filters' is empty"),
])
def test_bad_layers_and_filters(tmp_path, capsys, tiny_image, option, value, pattern):
    one_error(capsys, run_fmi.main(tiny_run(tmp_path / "out", tiny_image, option, value, steps=3, batch=1)), pattern)


@pytest.mark.parametrize("text, pattern", [
    ("sgd: {max_steps: 10\n", r"YAML syntax error at line 2, column 1"),
    ("layer: [relu1_1]\n", r"unknown key 'layer'; valid keys are content, "),
    ("sgd: {momentun: 0.5}\n", r"unknown key 'sgd.momentun'; valid keys are sgd.learning_rate, "),
    ("max_long_edge: big\n", r"key 'max_long_edge': expected an integer, got 'big'"),
    ("sgd: {max_steps: 2.5}\n", r"key 'sgd.max_steps': expected an integer, got 2.5"),
    ("sgd: {max_steps: -3}\n", r"key 'sgd.max_steps' must be 1 or more, got -3"),
    ("sgd: {weight_decay: -0.1}\n", r"key 'sgd.weight_decay' must be 0 or more, got -0.1"),
    ("denoise_weight: -1\n", r"key 'denoise_weight' must be 0 or more, got -1"),
    ("content: golden_gate\n", r"key 'content': expected a list of strings, got 'golden_gate'"),
    # numbers follow one grammar, in YAML as on the command line
    ("max_long_edge: 0x20\n", r"key 'max_long_edge': expected an integer, got '0x20'"),
    ("max_long_edge: 1_024\n", r"expected an integer, got '1_024'"),
    ("seed: 1:20\n", r"key 'seed': expected an integer, got '1:20'"),
    ("denoise_weight: .NaN\n", r"key 'denoise_weight' must be a finite number, got nan"),
    ("sgd: {learning_rate: -.inf}\n", r"key 'sgd.learning_rate' must be a finite number, got -inf"),
    ("all_filters: yes\n", r"key 'all_filters': expected true or false, got 'yes'"),
    ("seed: 2020-01-01\n", r"key 'seed': expected an integer, got '2020-01-01'"),
    ("seed: !!int 0x10\n", r"YAML error.*'0x10' is not a decimal integer"),
])
def test_bad_yaml(tmp_path, capsys, tiny_image, text, pattern):
    config = tmp_path / "run.yaml"
    config.write_text(text)
    code = run_fmi.main(["--config", str(config), "--image", str(tiny_image), "--output", str(tmp_path / "o")])
    line = one_error(capsys, code, pattern)
    assert str(config) in line and not (tmp_path / "o").exists()


def test_missing_config_file(tmp_path, capsys):
    one_error(capsys, run_fmi.main(["--config", str(tmp_path / "nope.yaml")]), r"config .*nope.yaml: no such file")


def test_configs_follow_one_naming_scheme():
    names = sorted(path.stem for path in (ROOT / "configs").glob("*.yaml"))
    assert all(re.fullmatch(r"fig[345](_(quick|fast|sweep))?", name) for name in names), names
    for figure in ("fig3", "fig4", "fig5"):
        assert {figure, f"{figure}_quick", f"{figure}_fast"} <= set(names)


def test_a_key_given_twice_in_a_config_is_refused(tmp_path, tiny_image, capsys):
    config = tmp_path / "twice.yaml"
    config.write_text("seed: 1\nsteps_unused: 2\nseed: 2\n")
    code = run_fmi.main(["--config", str(config), "--image", str(tiny_image), "--output", str(tmp_path / "o")])
    one_error(capsys, code, r"twice.yaml: YAML error at line 3, column 1: key 'seed' is given twice")
    assert not (tmp_path / "o").exists()


# --- a setting's one home -------------------------------------------------------------------------

@pytest.mark.parametrize("script, figure", [(run_fmi, "fig3"), (run_random, "fig4"), (run_pmci, "fig5")])
def test_print_config_says_every_key_and_reads_back_as_the_same_config(tmp_path, capsys, script, figure):
    assert script.main(["--print-config", "--size", "40", "--set", "sgd.momentum=0.5"]) == 0
    printed = capsys.readouterr().out
    cls = FIGURES[figure]
    for name, field in cls.model_fields.items():  # each key after a comment with its description and role
        comment = next(line for line in printed.splitlines() if line.startswith(f"# {field.description};"))
        assert comment.endswith("]") and printed.split(comment + "\n", 1)[1].startswith(f"{name}:")
    assert ("# long edge of the content image in pixels; an integer, 1 or more, at most 2147483647 [the paper's]"
            in printed)
    assert "  # momentum; a number, 0 or more [the paper's]\n  momentum: 0.5" in printed
    assert "# output folder; a string [of this run only]" in printed
    (tmp_path / "printed.yaml").write_text(printed)
    again = config.load(cls, tmp_path / "printed.yaml")
    assert again == config.load(cls, config.CONFIG_DIR / f"{figure}_quick.yaml",
                                [("max_long_edge", 40, "--size"), ("sgd.momentum", 0.5, "--set")])


def test_print_config_loads_no_mxnet():
    code = ("import sys, contextlib, io, run_pmci\n"
            "with contextlib.redirect_stdout(io.StringIO()): assert run_pmci.main(['--print-config']) == 0\n"
            "print(sorted(m for m in ('mxnet', 'cv2', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_setting_declared_in_one_line_reaches_every_door(tmp_path, tiny_image, monkeypatch, capsys):
    """A field added to Fig. 3's settings the plain pydantic way shows in --print-config with its
    description, is read from YAML and --set, lands in config.yaml and record.json, counts in the
    fingerprint (a method setting: not the paper's), and --resume with another value refuses, naming it."""
    class Probed(fig3.Config):
        probe: int = pydantic.Field(7, description="how deep the probe goes")

    monkeypatch.setattr(fig3.EXPERIMENT, "config_model", Probed)
    assert run_fmi.main(["--print-config", "--set", "probe=9"]) == 0
    assert "# how deep the probe goes; an integer [a setting of the method]\nprobe: 9\n" in capsys.readouterr().out
    (tmp_path / "probe.yaml").write_text("probe: 11\n")
    assert config.load(Probed, tmp_path / "probe.yaml").probe == 11
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, "--set", "probe=9", steps=2)) == 0
    assert yaml.safe_load((output / "config.yaml").read_text())["probe"] == 9
    record = json.loads((output / "record.json").read_text())
    assert record["config"]["probe"] == 9 and record["settings"]["config"]["probe"] == 9
    assert "probe" not in [item["key"] for item in record["paper_differences"]]
    capsys.readouterr()
    code = run_fmi.main(tiny_run(output, tiny_image, "--set", "probe=8", "--resume", steps=2))
    one_error(capsys, code, r"holds a run made with other settings \(probe: 9 there, 8 here\)")
