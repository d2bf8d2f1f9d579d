"""A run folder from someone else is data, never instructions.

Crafted records, names, links and images are given to every tool that reads or writes run
folders (``--resume``, ``--collect``, ``fmi.atlas``, ``fmi.analyze``, ``fmi.compare``); a canary
folder outside the run folder must stay untouched, every refusal is one line with exit 2, and
no page built from a crafted record may run script in a real Chromium.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import one_error, tiny_run, write_image
from test_atlas import Page, browser  # noqa: F401  (the browser fixture)

import run_fmi
from fmi.files import image_files
from fmi.tools import atlas, commands

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def canary(tmp_path):
    """A folder outside every run folder, with a file in it: watched for any change."""
    folder = tmp_path / "canary"
    folder.mkdir()
    (folder / "secret.png").write_bytes(b"not to be read or written")

    def untouched():
        entries = sorted((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in folder.rglob("*"))
        return entries

    before = untouched()
    yield folder
    assert untouched() == before, "something was written in the canary folder"


@pytest.fixture
def run(tmp_path, tiny_image):
    output = tmp_path / "run"
    assert run_fmi.main(tiny_run(output, tiny_image)) == 0
    return output


def craft(run, change):
    """Rewrite the run's record.json with ``change(record)``."""
    record = json.loads((run / "record.json").read_text())
    change(record)
    (run / "record.json").write_text(json.dumps(record))


def tools(run):
    """Every command that reads a run folder, as (name, call)."""
    return [("atlas", lambda: commands.atlas([str(run)])), ("analyze", lambda: commands.analyze([str(run)])),
            ("compare", lambda: commands.compare([str(run), str(run.parent / "figure.png")]))]


# --- 1. one gate for what a run folder says ----------------------------------------------------------

def _cell_key_is(key):
    def change(record):
        cell = record["cells"].pop("tiny/relu1_1/filter_0")
        cell["key"] = key
        record["cells"][key] = cell
        record["plan"][key] = record["plan"].pop("tiny/relu1_1/filter_0")
    return change


@pytest.mark.parametrize("change, entry", [
    (_cell_key_is("/tmp/../../canary/secret"), "is not content/group/item"),
    (_cell_key_is("../../canary/relu1_1/filter_0"), "is not content/group/item"),
    (_cell_key_is("tiny/../filter_0"), "neither a relu layer nor a method"),
    (_cell_key_is("javascript:alert(1)/relu1_1/filter_0"), "is not an image name"),
    (_cell_key_is("tiny/relu9_9/filter_0"), "neither a relu layer nor a method"),
    (lambda record: record["cells"]["tiny/relu1_1/filter_1"].update(image="/tmp/canary/secret.png"), "image"),
    (lambda record: record["cells"]["tiny/relu1_1/filter_1"].update(image="../../x.png"), "image"),
    (lambda record: record["cells"]["tiny/relu1_1/filter_1"].update(steps="<script>alert(1)</script>"), "steps"),
    (lambda record: record["plan"].update({"tiny/relu1_1/filter_1": ["1e9", 2]}), "plan"),
    (lambda record: record["plan"].update({"tiny/relu1_1/filter_1": [10**9, 2]}), "plan"),
    (lambda record: record["inputs"]["tiny"].update(size=[-1, 5]), "inputs"),
    (lambda record: record.update(figures=["../../canary/secret.png"]), "figures"),
    (lambda record: record.update(script="evil.py"), "script"),
    (lambda record: record.update(record_format=99), "record_format"),
    (lambda record: record.update(collected_from=["../x"]), "collected_from"),
])
def test_a_crafted_record_is_refused_by_every_tool_in_one_line(run, canary, capsys, change, entry):
    image_files.save_png(run.parent / "figure.png", np.zeros((40, 40, 3), np.uint8))
    craft(run, change)
    for name, call in tools(run):
        line = one_error(capsys, call(), r"record.json is not a run record fmi can trust")
        assert entry in line, (name, line)
    assert not (run / "atlas").exists()


def test_resume_and_collect_never_copy_an_unchecked_value(run, canary, tiny_image, caplog):
    """A crafted cell record (a path in its image, a script in its steps) is not reused: the cell is redone."""
    cell_file = run / "cells" / "tiny" / "relu1_1" / "filter_0.json"
    cell = json.loads(cell_file.read_text())
    cell_file.write_text(json.dumps({**cell, "image": str(canary / "secret.png")}))
    craft(run, lambda record: record["cells"].clear())
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(run, tiny_image, "--resume")) == 0
    assert any("tiny/relu1_1/filter_0 will be redone: its record is damaged" in m for m in caplog.messages)
    record = json.loads((run / "record.json").read_text())
    assert record["cells"]["tiny/relu1_1/filter_0"]["image"] == "filter_0.png"
    assert str(canary) not in (run / "record.json").read_text()


# --- 2. symbolic links -----------------------------------------------------------------------------

@pytest.mark.parametrize("linked", ["atlas", "cells", "shards", "snapshots", "inputs"])
def test_a_link_out_of_the_run_folder_is_refused_by_every_writer(run, canary, tiny_image, capsys, linked):
    target = run / linked
    if target.exists():
        shutil.rmtree(target)
    target.symlink_to(canary, target_is_directory=True)
    calls = [lambda: run_fmi.main(tiny_run(run, tiny_image, "--resume", "--save-every", "1"))]
    calls += {"atlas": [lambda: commands.atlas([str(run)])],
              "shards": [lambda: run_fmi.main(tiny_run(run, tiny_image, "--shard", "0/2")),
                         lambda: run_fmi.main(tiny_run(run, tiny_image, "--collect"))]}.get(linked, [])
    for call in calls:
        line = one_error(capsys, call())
        assert "leads out of the run folder" in line and "symbolic link" in line, line


def test_a_link_inside_the_run_folder_is_followed(run, tiny_image):
    """The rule refuses only what leads out: a run folder whose cells live in a linked folder inside it runs."""
    (run / "cells").rename(run / "cells-elsewhere")
    (run / "cells").symlink_to(run / "cells-elsewhere", target_is_directory=True)
    assert run_fmi.main(tiny_run(run, tiny_image, "--resume")) == 0
    assert commands.atlas([str(run)]) == 0


def test_collect_ignores_a_shard_folder_linked_from_outside(tmp_path, tiny_image, canary, caplog):
    output = tmp_path / "split"
    assert run_fmi.main(tiny_run(output, tiny_image, "--shard", "0/2")) == 0
    outside = tmp_path / "outside-shard"
    assert run_fmi.main(tiny_run(outside, tiny_image, "--shard", "1/2")) == 0
    (output / "shards" / "1-of-2").symlink_to(outside / "shards" / "1-of-2", target_is_directory=True)
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(output, tiny_image, "--collect")) == 2
    assert any("ignoring" in m and "leads out of the run folder" in m for m in caplog.messages)


# --- 3. pages that cannot run injected script ---------------------------------------------------------

PAYLOAD = '"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def test_pages_built_from_hostile_text_run_no_script(browser, run, tmp_path):  # noqa: F811
    def change(record):
        record["weights"]["label"] = PAYLOAD
        record["started"] = PAYLOAD
        record["versions"]["numpy"] = PAYLOAD
        record["inputs"]["tiny"]["path"] = "/x/" + PAYLOAD + ".png"
        for cell in record["cells"].values():
            cell["stop_reason"] = PAYLOAD
            cell["weights"] = "javascript:window.pwned=3"

    craft(run, change)
    for cell_file in (run / "cells").rglob("*.json"):
        cell = json.loads(cell_file.read_text())
        cell_file.write_text(json.dumps({**cell, "stop_reason": PAYLOAD}))
    index, _ = atlas.build(run)
    (index.parent / "analysis-note.txt").write_text("")
    page = Page(browser)
    dialogs = []
    page.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for url in (index.as_uri(), (index.parent / "tiny_relu1_1.html").as_uri(),
                index.parent.as_uri() + "/cell.html#tiny/relu1_1/filter_0",
                index.parent.as_uri() + "/cell.html#../../canary/x",
                index.parent.as_uri() + "/cell.html#javascript:window.pwned=4"):
        html = page.open(url)
        html.wait_for_timeout(200)
        assert html.evaluate("window.pwned === undefined"), url
        if "cell.html#tiny" in url:
            page.wait_until("document.getElementById('title').textContent === 'tiny/relu1_1/filter_0'")
            assert PAYLOAD in html.inner_text("#facts")  # shown as text
    assert dialogs == []
    text = index.read_text()
    assert "<script>window.pwned" not in text and "Content-Security-Policy" in text
    assert all(problem.startswith("failed:") is False for problem in page.problems), page.problems


# --- 4. names in any encoding --------------------------------------------------------------------------

def test_a_file_name_that_is_not_utf8_runs_through_every_tool(tmp_path, capsys):
    name = os.fsdecode(b"caf\xe9 \xff.png")
    path = tmp_path / name
    write_image(tmp_path / "plain.png", 24, 32)
    os.rename(tmp_path / "plain.png", path)  # OpenCV's own writer cannot take such a name
    output = tmp_path / "run"
    assert run_fmi.main(tiny_run(output, path)) == 0
    record = json.loads((output / "record.json").read_text())
    content = next(iter(record["inputs"]))
    assert content == "caf" and record["inputs"][content]["path"].endswith("caf\\xe9 \\xff.png")
    assert commands.atlas([str(output)]) == 0 and commands.analyze([str(output)]) == 0
    assert "caf\\xe9" in (output / "atlas" / "index.html").read_text(encoding="utf-8")
    capsys.readouterr()


# --- 5. the remaining crashes ---------------------------------------------------------------------------

def test_a_decompression_bomb_or_a_text_file_is_one_line_in_compare_and_the_atlas(run, tmp_path, capsys):
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 million pixels in a few kilobytes
    one_error(capsys, commands.compare([str(run), str(bomb)]), r"more than 178,956,970 pixels, more than fmi decodes")
    (run / "cells" / "tiny" / "relu1_1" / "filter_0.png").write_text("not an image")
    reference = tmp_path / "figure.png"
    image_files.save_png(reference, np.zeros((40, 40, 3), np.uint8))
    one_error(capsys, commands.compare([str(run), str(reference)]))
    one_error(capsys, commands.atlas([str(run)]), r"do not read back as images")
    assert not list(run.rglob("*.part*"))


def test_a_full_disk_under_the_atlas_leaves_no_temporary_file(run, monkeypatch, capsys):
    from fmi import io

    real = io.os.replace
    calls = []

    def full(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(source, target)

    monkeypatch.setattr(io.os, "replace", full)
    one_error(capsys, commands.atlas([str(run)]), r"No space left on device")
    monkeypatch.setattr(io.os, "replace", real)
    assert commands.atlas([str(run)]) == 0
    assert not [path for path in run.rglob("*") if ".part" in path.name or path.name.startswith(".fmi-")]


def test_a_diverging_cell_with_snapshots_is_marked_and_the_others_go_on(tmp_path, tiny_image, caplog):
    output = tmp_path / "out"
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(output, tiny_image, "--save-every", "1", "--set", "sgd.learning_rate=1e30",
                                 "--set", "sgd.clip_gradient=1e30")) == 0
    record = json.loads((output / "record.json").read_text())
    assert any(cell["stop_reason"].startswith("non-finite") for cell in record["cells"].values())
    assert len(record["cells"]) == 4 and "non-finite" in record["status"]


def test_a_regular_install_ships_the_atlas_assets_and_the_configs(tmp_path, run):
    source, target = tmp_path / "source", tmp_path / "installed"  # a copy: building leaves build/ behind
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "runs", "data", "model", "build", "*.egg-info",
                                                                "__pycache__", "tests", "docs"))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in (target / "fmi" / "configs").glob("*.yaml")) == sorted(
        path.name for path in (ROOT / "fmi" / "configs").glob("*.yaml"))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import fmi.tools.atlas as atlas; "
            "from fmi.tools import commands; "
            "assert atlas.__file__.startswith(sys.argv[1]), atlas.__file__; sys.exit(commands.atlas([sys.argv[2]]))")
    done = subprocess.run([sys.executable, "-c", code, str(target), str(run)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run / "atlas" / "assets" / "cell.js").is_file() and (run / "atlas" / "cell.html").is_file()


def test_resume_over_a_crafted_record_names_the_file_and_the_entry(tmp_path, tiny_image, capsys):
    output = tmp_path / "run"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=1)) == 0
    record = json.loads((output / "record.json").read_text())
    record["plan"]["tiny/relu1_1/../../../escape"] = [24, 32]
    (output / "record.json").write_text(json.dumps(record))
    line = one_error(capsys, run_fmi.main(tiny_run(output, tiny_image, "--resume", steps=1)),
                     r"holds an fmi run whose settings cannot be compared \(.*record\.json is not a run record fmi "
                     r"can trust: 'plan\.tiny/relu1_1/\.\./\.\./\.\./escape\..*'")
    assert "--overwrite" in line
