"""fmi/run/labels.py: what a run's figures say of themselves, through the tests' own experiment: the loss
panels derived from its plan and named by its labels, titles that say how the figure was made (a
stand-in image included), and each cell's state on its badge."""
import json

import pytest
from conftest import write_image
from fake_experiment import ITEMS, configure, run

from fmi.run import figures


@pytest.fixture
def drawn(monkeypatch):
    """Every figure the run draws: its kind and what it was given."""
    found = []
    grid, curves = figures.grid, figures.loss_curves

    def capture_grid(images, rows, columns, path, title=None, cell_inches=2.4, marks=None):
        found.append(("grid", {"rows": rows, "columns": columns, "title": title, "marks": marks}))
        return grid(images, rows, columns, path, title=title, cell_inches=cell_inches, marks=marks)

    def capture_curves(panels, path, title=None):
        found.append(("loss", {"panels": panels, "title": title}))
        return curves(panels, path, title=title)

    monkeypatch.setattr(figures, "grid", capture_grid)
    monkeypatch.setattr(figures, "loss_curves", capture_curves)
    return found


def test_the_loss_figure_has_a_panel_per_content_and_group_and_a_line_per_item(fake, tmp_path, drawn):
    image = tmp_path / "photo.png"
    write_image(image, 24, 32)
    run(fake, configure([image], tmp_path / "out"))
    (kind, loss), = [item for item in drawn if item[0] == "loss"]
    assert list(loss["panels"]) == ["photo relu1_1", "photo relu2_1"]
    assert all(list(lines) == [item.upper() for item in ITEMS] for lines in loss["panels"].values())
    assert all(len(history) == 2 for lines in loss["panels"].values() for history in lines.values())
    assert loss["title"] == "loss; random weights (seed 0), not ImageNet"


def test_a_title_says_how_its_figure_was_made_and_what_stands_in_for_what(fake, tmp_path, drawn, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/paper here: the paper's tubingen is missing
    image = tmp_path / "photo.png"
    write_image(image, 24, 32)
    run(fake, configure(["tubingen"], tmp_path / "out", fallbacks={"tubingen": str(image)}))
    (kind, figure), = [item for item in drawn if item[0] == "grid"]
    lines = figure["title"].splitlines()
    assert lines[:3] == ["Fake of photo, 24x32 px (h x w)", "photo standing in for tubingen",
                         "random weights (seed 0), not ImageNet; the authors' SGD, at most 2 steps; fidelity: paper"]
    assert lines[-1].startswith("of 6 cells: ")


def test_each_cell_s_badge_is_its_state_in_the_record(fake, tmp_path, drawn):
    image = tmp_path / "photo.png"
    write_image(image, 24, 32)
    output = tmp_path / "out"
    run(fake, configure([image], output, **{"sgd.max_steps": 1}))
    status = json.loads((output / "record.json").read_text())["status"]
    (kind, figure), = [item for item in drawn if item[0] == "grid"]
    marks = {f"photo/{layer}/{item}": mark for layer, row in zip(figure["rows"], figure["marks"])
             for item, mark in zip(ITEMS, row)}
    assert status and {key: state for state, keys in status.items() for key in keys} == \
        {key: mark for key, mark in marks.items() if mark}
