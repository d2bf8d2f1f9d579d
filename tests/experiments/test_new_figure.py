"""docs/layout.md's new figure, its module as written there (with a script named as a newcomer would,
and no published counterpart), through every door: the run, --resume, shards and --collect, the atlas,
fmi.analyze, fmi.compare and reproduce.py in each of its modes; and mypy reads its types."""
import importlib.util
import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, one_error, snapshot, write_image

import fmi.analyze
import fmi.compare
from fmi import experiments
from fmi.tools import atlas, commands

SHARED_REFERENCE = ROOT.parent / "shared" / "reference"
LAYERS = "relu1_1,relu2_1"


def example_source():
    """The module of docs/layout.md's "Adding a figure", its script renamed run_fig6.py."""
    text = (ROOT / "docs" / "layout.md").read_text().split("## Adding a figure", 1)[1]
    found = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert found, "docs/layout.md has no Python example under 'Adding a figure'"
    source = found.group(1)
    assert '"run_codes.py"' in source and "authors" not in source
    return source.replace('"run_codes.py"', '"run_fig6.py"')


@pytest.fixture
def fig6(tmp_path, monkeypatch):
    """The example figure, registered beside the paper's, its configs in a folder of its own."""
    module_file = tmp_path / "fig6.py"
    module_file.write_text(example_source())
    spec = importlib.util.spec_from_file_location("fig6", module_file)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fig6", module)
    spec.loader.exec_module(module)
    figure = module.EXPERIMENT
    configs = tmp_path / "configs"
    configs.mkdir()
    image = tmp_path / "tiny.png"
    write_image(image, 24, 32)
    (configs / "fig6.yaml").write_text("{}\n")  # the paper's settings: the module's defaults
    for variant, optimizer in (("quick", "sgd"), ("fast", "lbfgs")):
        (configs / f"fig6_{variant}.yaml").write_text(f"content: ['{image}']\nlayers: [relu1_1, relu2_1]\n"
                                                      f"optimizer: {optimizer}\n")
    monkeypatch.setattr(figure, "config_dir", configs)
    monkeypatch.setattr(experiments, "FIGURES", experiments.FIGURES + (figure,))
    monkeypatch.setitem(experiments.BY_NAME, "fig6", figure)
    monkeypatch.chdir(tmp_path)
    return figure, image


def run(image, output, *extra):
    return commands.figure("fig6", ["--image", str(image), "--weights", "random:0", "--size", "32", "--layers", LAYERS,
                                    "--steps", "3", "--output", str(output), *extra])


def cells_of(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted((folder / "cells").rglob("*.png"))}


def test_the_new_figure_runs_resumes_shards_and_is_read_by_every_tool(fig6, tmp_path, capsys):
    figure, image = fig6
    output = tmp_path / "out"
    assert run(image, output) == 0
    record = json.loads((output / "record.json").read_text())
    assert record["script"] == "run_fig6.py" and record["figures"] == ["fig6_tiny.png", "loss.png"]
    assert {key: cell["details"] for key, cell in record["cells"].items()} == {
        "tiny/relu1_1/code": {"layer": "relu1_1"}, "tiny/relu2_1/code": {"layer": "relu2_1"}}
    assert {"key": "layers", "value": ["relu1_1", "relu2_1"], "paper": ["relu1_1", "relu3_1", "relu5_1"]} in \
        record["paper_differences"]

    before = snapshot(output / "cells")
    assert run(image, output, "--resume") == 0
    assert snapshot(output / "cells") == before
    assert json.loads((output / "record.json").read_text())["resumed"]

    sharded = tmp_path / "sharded"
    for shard in ("0/2", "1/2"):
        assert run(image, sharded, "--shard", shard) == 0
    assert run(image, sharded, "--collect") == 0
    assert cells_of(sharded) == cells_of(output) and len(cells_of(output)) == 2

    index, done = atlas.build(output)
    assert done["cells"] == 2 and (index.parent / "fig6_tiny.html").is_file()
    capsys.readouterr()
    assert fmi.analyze.main([str(output)]) == 0 and "| relu2_1 | 1 |" in capsys.readouterr().out
    assert "texture distance" not in (output / "analysis.md").read_text()  # no other figure's notes

    reference = tmp_path / "figure.png"
    write_image(reference, 40, 60)
    one_error(capsys, fmi.compare.main([str(output), str(reference)]),
              r"run_fig6\.py \(Code inversion\), which has no published figure of the authors' to compare with")


@pytest.mark.parametrize("mode", ["--quick", "--fast", None])
def test_reproduce_runs_the_new_figure_and_says_it_has_no_published_counterpart(fig6, tmp_path, monkeypatch, mode):
    """Every mode of reproduce.py, with the authors' figures downloaded (when this machine has them):
    the new figure is run, its atlas built and measured, and its section says there is nothing to
    compare it with."""
    figure, _ = fig6
    monkeypatch.setattr(experiments, "FIGURES", (figure,))
    if SHARED_REFERENCE.is_dir():
        shutil.copytree(SHARED_REFERENCE, tmp_path / "data" / "authors")
    argv = ([mode] if mode else ["--stand-ins"]) + ["--size", "32", "--steps", "3", "--weights", "random:0",
                                                    "--output", "paper"]
    assert commands.reproduce(argv) == 0
    report = (tmp_path / "paper" / "report.md").read_text()
    assert report.startswith("# Reproduction of Xia et al. (2016): Fig. 6\n") and "## Fig. 6: Code inversion" in report
    assert "The paper has no figure of the authors' to compare this one with." in report
    assert "is not in" not in report  # not mistaken for a figure whose download is missing
    record = json.loads((tmp_path / "paper" / "fig6" / "record.json").read_text())
    assert record["config"]["optimizer"] == ("lbfgs" if mode == "--fast" else "sgd")
    assert (tmp_path / "paper" / "fig6" / "atlas" / "index.html").is_file()


def test_reproduce_names_a_missing_config_of_the_new_figure(fig6, tmp_path, monkeypatch, capsys):
    figure, _ = fig6
    monkeypatch.setattr(experiments, "FIGURES", (figure,))
    (figure.config_dir / "fig6_fast.yaml").unlink()
    one_error(capsys, commands.reproduce(["--fast", "--output", "paper"]), r"fig6_fast\.yaml")
    assert not (tmp_path / "paper").exists()


def mypy(module_file):
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent",
                           str(module_file)], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_reads_the_new_figure_s_settings_and_what_its_prepare_gives(tmp_path):
    """The example passes mypy as written; a mistyped setting, or a prepare that returns the wrong
    thing, fails it."""
    source = example_source()
    (tmp_path / "fig6.py").write_text(source)
    done = mypy(tmp_path / "fig6.py")
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = source.replace("for layer in config.layers]", "for layer in config.layerz]", 1)
    wrong = wrong.replace("return session.extract(config.layers, content.array)", "return content.name")
    assert wrong.count("layerz") == 1 and "return content.name" in wrong
    (tmp_path / "wrong.py").write_text(wrong)
    done = mypy(tmp_path / "wrong.py")
    assert done.returncode == 1
    assert '"Config" has no attribute "layerz"' in done.stdout, done.stdout
    assert 'Incompatible return value type (got "str", expected "dict[str,' in done.stdout, done.stdout
