"""The filter atlas, opened in a real headless Chromium: images load, the jump box, sorting and the
links work, and the console stays clean.

These tests need Chromium (Debian: ``apt-get install chromium``; elsewhere set FMI_CHROMIUM to
a Chrome or Chromium executable) and the Playwright package of requirements.txt. Without
them they fail with a message saying so; they never skip.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, Page, craft, one_error, tiny_run, write_image

import fmi.analyze
import fmi.atlas
import fmi.compare
import run_fmi
import run_pmci
from fmi.files import image_files
from fmi.tools import atlas


@pytest.fixture(scope="module")
def fmi_atlas(tmp_path_factory):
    folder = tmp_path_factory.mktemp("atlas")
    images = []
    for index, name in enumerate(("bridge", "town")):
        images.append(folder / f"{name}.png")
        write_image(images[-1], 24, 32, seed=index)
    common = ["--image", f"{images[0]},{images[1]}", "--size", "32", "--layers", "relu1_1,relu2_1",
              "--filters", "0,1,2", "--steps", "4"]
    run, control = folder / "run", folder / "control"
    assert run_fmi.main(common + ["--weights", "random:0", "--output", str(run)]) == 0
    assert run_fmi.main(common + ["--weights", "random:1", "--output", str(control)]) == 0
    assert fmi.analyze.main([str(run)]) == 0
    index, done = atlas.build(run, control)
    assert done["thumbnails_made"] == 12
    return run, index


def test_the_overview_shows_every_image_and_links_each_layer(browser, fmi_atlas):
    run, index = fmi_atlas
    page = Page(browser)
    html = page.open(index.as_uri())
    count, broken = page.images_loaded()
    assert count >= 12 + 2 and broken == []  # the thumbnails of four layers, and the two figures
    links = html.eval_on_selector_all("li.entry h3 a", "links => links.map(a => a.getAttribute('href'))")
    assert links == ["bridge_relu1_1.html", "bridge_relu2_1.html", "town_relu1_1.html", "town_relu2_1.html"]
    assert "random weights (seed 0), not ImageNet" in html.inner_text("table.facts")
    assert page.problems == []


def test_a_layer_page_jumps_and_sorts(browser, fmi_atlas):
    run, index = fmi_atlas
    page = Page(browser)
    html = page.open((index.parent / "bridge_relu2_1.html").as_uri())
    count, broken = page.images_loaded()
    assert count == 3 and broken == []
    html.fill("#jump-to", "7")
    html.press("#jump-to", "Enter")
    assert html.inner_text("#jump-message") == "filter 7 is not in this run"
    measures = json.loads((run / "analysis.json").read_text())["cells"]
    expected = sorted(range(3), key=lambda i: -measures[f"bridge/relu2_1/filter_{i}"]["colourfulness"])
    html.select_option("#sort", "colourfulness")
    order = html.eval_on_selector_all("#cells a.cell", "cells => cells.map(c => Number(c.dataset.index))")
    assert order == expected
    html.fill("#jump-to", "2")
    html.press("#jump-to", "Enter")
    html.wait_for_url("**/cell.html#bridge/relu2_1/filter_2")
    page.wait_until("document.getElementById('title').textContent === 'bridge/relu2_1/filter_2'")
    assert page.problems == []


def test_the_cell_view_shows_the_cell_its_loss_and_its_links(browser, fmi_atlas):
    run, index = fmi_atlas
    record = json.loads((run / "record.json").read_text())
    page = Page(browser)
    html = page.open(index.parent.as_uri() + "/cell.html#bridge/relu1_1/filter_1")
    page.wait_until("document.getElementById('title').textContent === 'bridge/relu1_1/filter_1'")
    count, broken = page.images_loaded()
    assert count == 2 and broken == []  # this run's image and the control's
    points = html.get_attribute("#loss polyline", "points").split()
    losses = record["cells"]["bridge/relu1_1/filter_1"]["loss_history"]
    assert len(points) == len(losses)
    label = next(text for text in html.eval_on_selector_all("#loss text", "ts => ts.map(t => t.textContent)")
                 if text.startswith("loss / first loss"))
    lowest = float(label.rpartition(" to ")[2])  # enough digits to tell it from 1 (not "1.0")
    assert lowest == pytest.approx(min(losses) / losses[0], rel=1e-3) and lowest < 1
    facts = html.inner_text("#facts")
    assert "steps\t4" in facts and "layer\trelu1_1" in facts
    assert "random weights (seed 1)" in html.inner_text("#control-caption")
    html.click("a.sibling")
    page.wait_until("document.getElementById('title').textContent === 'town/relu1_1/filter_1'")
    count, broken = page.images_loaded()
    assert broken == [] and html.get_attribute("#image", "src").endswith("cells/town/relu1_1/filter_1.png")
    html.click("#back")
    html.wait_for_url("**/town_relu1_1.html")
    assert page.problems == []


def test_a_fig5_run_gets_its_grid_and_cell_views(browser, tmp_path):
    paths = []
    for index, name in enumerate(("content", "style_a", "style_b")):
        paths.append(tmp_path / f"{name}.png")
        write_image(paths[-1], 24, 32, seed=index)
    run = tmp_path / "pmci"
    assert run_pmci.main(["--image", str(paths[0]), "--style", f"{paths[1]},{paths[2]}", "--weights", "random:0",
                          "--size", "32", "--steps", "2", "--style-layers", "relu1_1", "--output", str(run)]) == 0
    index, _ = atlas.build(run)
    page = Page(browser)
    html = page.open((index.parent / "fig5_content.html").as_uri())
    count, broken = page.images_loaded()
    assert count == 4 and broken == []
    assert html.eval_on_selector_all("table.figure-grid tr th", "cells => cells.map(c => c.textContent)") == [
        "", "Gatys (content)", "PMCI (content)", "A: style_a", "B: style_b"]
    html.click("a.cell >> nth=0")
    html.wait_for_url("**/cell.html#content/gatys/style_a")
    page.wait_until("document.getElementById('title') !== null && "
                           "document.getElementById('title').textContent === 'content/gatys/style_a'")
    count, broken = page.images_loaded()
    assert count == 1 and broken == []
    assert page.problems == []


def test_a_rebuild_makes_only_new_thumbnails(fmi_atlas):
    run, index = fmi_atlas
    again, done = atlas.build(run)
    assert done["thumbnails_made"] == 0
    os.utime(run / "cells" / "town" / "relu2_1" / "filter_0.png")
    _, done = atlas.build(run)
    assert done["thumbnails_made"] == 1


def test_bad_run_folders_get_one_line(tmp_path, capsys):
    assert fmi.atlas.main([str(tmp_path / "nothing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert fmi.atlas.main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "record.json: no such file; give the output folder" in err and "Traceback" not in err


def test_a_run_folder_named_in_another_encoding_gets_its_atlas(tmp_path, tiny_image, browser):
    """A folder whose name is not UTF-8 (Latin-1 'résultat'): the run and the atlas work, the pages
    show the name with its odd byte written out."""
    output = Path(os.fsdecode(bytes(tmp_path) + b"/r\xe9sultat"))
    assert run_fmi.main(tiny_run(output, tiny_image, steps=1)) == 0
    assert fmi.atlas.main([str(output)]) == 0
    index = output / "atlas" / "index.html"
    assert "r\\xe9sultat" in index.read_text(encoding="utf-8")
    page = Page(browser)
    html = page.open(index.as_uri())
    assert "r\\xe9sultat" in html.inner_text("body") and page.problems == []


PAYLOAD = '"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def test_pages_built_from_hostile_text_run_no_script(browser, run, tmp_path):
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


def test_a_decompression_bomb_or_a_text_file_is_one_line_in_compare_and_the_atlas(run, tmp_path, capsys):
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 million pixels in a few kilobytes
    one_error(capsys, fmi.compare.main([str(run), str(bomb)]), r"more than 178,956,970 pixels, more than fmi decodes")
    (run / "cells" / "tiny" / "relu1_1" / "filter_0.png").write_text("not an image")
    reference = tmp_path / "figure.png"
    image_files.save_png(reference, np.zeros((40, 40, 3), np.uint8))
    one_error(capsys, fmi.compare.main([str(run), str(reference)]))
    one_error(capsys, fmi.atlas.main([str(run)]), r"do not read back as images")
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
    one_error(capsys, fmi.atlas.main([str(run)]), r"No space left on device")
    monkeypatch.setattr(io.os, "replace", real)
    assert fmi.atlas.main([str(run)]) == 0
    assert not [path for path in run.rglob("*") if ".part" in path.name or path.name.startswith(".fmi-")]


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
            "import fmi.atlas as door; "
            "assert atlas.__file__.startswith(sys.argv[1]), atlas.__file__; sys.exit(door.main([sys.argv[2]]))")
    done = subprocess.run([sys.executable, "-c", code, str(target), str(run)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run / "atlas" / "assets" / "cell.js").is_file() and (run / "atlas" / "cell.html").is_file()
