"""The filter atlas, opened in a real headless Chromium: images load, the jump box, sorting and the
links work, and the console stays clean.

These tests need Chromium (Debian: ``apt-get install chromium``; elsewhere set FMI_CHROMIUM to
a Chrome or Chromium executable) and the Playwright package of requirements.txt. Without
them they fail with a message saying so; they never skip.
"""
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import tiny_run, write_image

import run_fmi
import run_pmci
from fmi.tools import atlas, commands

INSTALL_HINT = ("the atlas tests need Chromium: install it with 'apt-get install chromium' (Debian, Ubuntu) or set "
                "FMI_CHROMIUM to a Chrome or Chromium executable")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path():
    found = os.environ.get("FMI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")
    if not found or not os.access(found, os.X_OK):
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the atlas tests need Playwright: pip install -r requirements.txt", pytrace=False)
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Page:
    """A page with its console watched: every error or failed request is kept."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.problems = []
        self.page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))

    def open(self, url):
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        return self.page

    def wait_until(self, expression, timeout=10.0):
        """Wait until the JavaScript ``expression`` is true. Playwright's own wait_for_function polls
        with eval() inside the page, which the atlas's Content-Security-Policy forbids; evaluate()
        comes from outside the page and is allowed."""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(expression):
            assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
            time.sleep(0.05)

    def images_loaded(self):
        """Scroll through the page so lazy images load, then (count, names of broken images)."""
        page = self.page
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(300)
        self.wait_until("Array.from(document.images).filter(i => !i.closest('[hidden]')).every(i => i.complete)")
        broken = page.evaluate("Array.from(document.images).filter(i => !i.closest('[hidden]'))"
                               ".filter(i => i.naturalWidth === 0).map(i => i.src)")
        count = page.evaluate("Array.from(document.images).filter(i => !i.closest('[hidden]')).length")
        return count, broken


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
    assert commands.analyze([str(run)]) == 0
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
    assert commands.atlas([str(tmp_path / "nothing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert commands.atlas([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "record.json: no such file; give the output folder" in err and "Traceback" not in err


def test_a_run_folder_named_in_another_encoding_gets_its_atlas(tmp_path, tiny_image, browser):  # noqa: F811
    """A folder whose name is not UTF-8 (Latin-1 'résultat'): the run and the atlas work, the pages
    show the name with its odd byte written out."""
    output = Path(os.fsdecode(bytes(tmp_path) + b"/r\xe9sultat"))
    assert run_fmi.main(tiny_run(output, tiny_image, steps=1)) == 0
    assert commands.atlas([str(output)]) == 0
    index = output / "atlas" / "index.html"
    assert "r\\xe9sultat" in index.read_text(encoding="utf-8")
    page = Page(browser)
    html = page.open(index.as_uri())
    assert "r\\xe9sultat" in html.inner_text("body") and page.problems == []
