"""fmi/tools/pages.py: text for people from templates: values escaped in HTML and inert in Markdown, the
"how it was made" table of a run (the tests' own experiment's), and files rewritten only when they change."""
import pytest
from conftest import write_image
from fake_experiment import configure, run

from fmi.run.folder.record import RunView
from fmi.tools import pages


def test_html_templates_escape_every_value():
    assert pages.HTML.from_string("<p>{{ value }}</p>").render(value="<img src=x onerror=alert(1)>") == \
        "<p>&lt;img src=x onerror=alert(1)&gt;</p>"


@pytest.mark.parametrize("value", ["a | b", "# heading", "[x](javascript:alert(1))", "<b>bold</b>", "line\nbreak"])
def test_a_value_in_a_markdown_table_stays_in_its_cell(value):
    text = pages.MARKDOWN.from_string('{% from "tables.md" import facts %}{{ facts(rows) }}').render(
        rows=[("name", value)])
    row = text.splitlines()[2]
    assert row.startswith("| name | ") and row.endswith(" |")
    assert row.count("|") - row.count("\\|") == 3, row  # the value adds no column
    assert "<" not in row and "\n" not in row


def test_how_a_run_was_made_row_by_row(fake, tmp_path):
    image = tmp_path / "photo.png"
    write_image(image, 24, 32)
    config = configure([image], tmp_path / "out")
    run(fake, config)
    rows = dict(pages.made(RunView(tmp_path / "out"), fake, config, "the settings line"))
    assert rows["made by"] == "run_fake.py: Fake experiment (Fig. 0)"
    assert rows["weights"] == "random weights (seed 0), not ImageNet"
    assert rows["images"] == "photo (content: photo.png, 24x32)"
    assert rows["inverted at"] == "24x32 px (h x w)"
    assert rows["optimiser"] == "the authors' SGD, at most 2 steps"
    assert rows["settings"] == "the settings line" and rows["cells"] == "6 of 6 finished"


def test_a_file_is_rewritten_only_when_its_text_changes(tmp_path):
    path = tmp_path / "page.html"
    assert pages.write_if_changed(path, "one") is True
    stamp = path.stat().st_mtime_ns
    assert pages.write_if_changed(path, "one") is False and path.stat().st_mtime_ns == stamp
    assert pages.write_if_changed(path, "two") is True and path.read_text() == "two"
    assets = len(list(pages.ASSETS.iterdir()))
    assert assets and pages.copy_assets(tmp_path) == assets and pages.copy_assets(tmp_path) == 0
