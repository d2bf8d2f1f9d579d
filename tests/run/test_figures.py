"""fmi/run/figures.py and labels.py: titles that say how a figure was made, marks on cells, file names."""
import json
from types import SimpleNamespace

import pytest
from conftest import tiny_run, write_image

import run_fmi
import run_pmci
import run_random
from fmi.run.folder import record


@pytest.mark.parametrize("extra, words", [
    ([], ["random weights (seed 0), not ImageNet", "24x32 px", "the authors' SGD, at most 3 steps",
          "fidelity: paper", "of 4 cells: 0 stopped by the rule"]),
    (["--optimizer", "lbfgs"], ["L-BFGS, at most 3 steps"]),
    (["--fidelity", "authors", "--size", "31"], ["fidelity: authors", "23x31 px"]),
])
def test_figure_titles_say_how_they_were_made(tmp_path, tiny_image, captured_figures, extra, words):
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, *extra, steps=3)) == 0
    title = captured_figures[0]["title"]
    for word in words:
        assert word in title, title


def test_a_figure_of_a_stand_in_says_what_it_stands_in_for(tmp_path, captured_figures, caplog, monkeypatch):
    """The quickstart without the paper's images: grace_hopper stands in for golden_gate, and the title
    that names grace_hopper says so, as the log does."""
    monkeypatch.chdir(tmp_path)  # no data/paper here
    assert run_fmi.main(["--weights", "random:0", "--size", "32", "--layers", "relu1_1", "--filters", "0",
                         "--steps", "2", "--output", str(tmp_path / "out")]) == 0
    title = captured_figures[0]["title"]
    first, second = title.splitlines()[:2]
    assert first.startswith("Feature Map Inversion of grace_hopper, ") and \
        second == "grace_hopper standing in for golden_gate", title
    assert any("standing in for golden_gate" in message for message in caplog.messages)


def test_figure_names_follow_one_scheme(tmp_path):
    paths = []
    for index, name in enumerate(("content", "style")):
        paths.append(tmp_path / f"{name}.png")
        write_image(paths[-1], 24, 32, seed=index)
    assert run_random.main(["--image", str(paths[0]), "--weights", "random:0", "--size", "32", "--steps", "2",
                            "--layers", "relu1_1", "--draw-seeds", "1", "--output", str(tmp_path / "fig4")]) == 0
    assert run_pmci.main(["--image", str(paths[0]), "--style", str(paths[1]), "--weights", "random:0", "--size",
                          "32", "--steps", "2", "--style-layers", "relu1_1", "--output", str(tmp_path / "fig5")]) == 0
    assert run_fmi.main(tiny_run(tmp_path / "fig3", paths[0], steps=3)) == 0
    for figure in ("fig3", "fig4", "fig5"):
        record = json.loads((tmp_path / figure / "record.json").read_text())
        assert record["figures"] == [f"{figure}_content.png", "loss.png"]


@pytest.mark.parametrize("cell, mark", [
    (None, ""),
    ({"silent": True, "stop_reason": "converged", "initial_loss": 100.0, "final_loss": 10.0}, "silent"),
    ({"stop_reason": "non-finite loss at step 4", "initial_loss": 1.0, "final_loss": 1.0}, "non-finite"),
    ({"stop_reason": "converged", "initial_loss": 100.0, "final_loss": 99.5}, "stuck"),
    ({"stop_reason": "max_steps", "initial_loss": 100.0, "final_loss": 99.5}, "stuck"),
    ({"stop_reason": "max_steps", "initial_loss": 100.0, "final_loss": 98.0}, "step limit"),
    ({"stop_reason": "converged", "initial_loss": 100.0, "final_loss": 10.0}, ""),
])
def test_cell_marks(cell, mark):
    found = None if cell is None else SimpleNamespace(**{"silent": False, **cell})
    assert record.cell_status(found, 0.01) == mark


def test_each_figure_title_counts_only_its_own_cells(tmp_path, caplog):
    for index, name in enumerate(("one", "two")):
        write_image(tmp_path / f"{name}.png", 24, 32, seed=index)
    caplog.set_level("INFO")
    argv = tiny_run(tmp_path / "out", ",".join(map(str, [tmp_path / "one.png", tmp_path / "two.png"])), steps=3)
    assert run_fmi.main(argv) == 0
    titles = [message for message in caplog.messages if message.startswith("figure titled: Feature Map")]
    assert len(titles) == 2 and all("of 4 cells:" in title for title in titles), titles  # not "of 8"


def test_grid_labels_keep_the_paper_s_size_and_long_names_fit_their_cells():
    from fmi.core import vgg19
    from fmi.run.figures import fitting

    side = 2.4 * 0.75 * 72  # a row of 4:3 cells, in points
    labels, size = fitting(list(vgg19.RELU_LAYERS), side)
    assert labels == list(vgg19.RELU_LAYERS) and size == 14
    long = ["resnetv10_stage1_activation0", "layer1.relu_2.Relu_output_0", "short"]
    labels, size = fitting(long, side)
    assert 8 <= size < 14
    for label, name in zip(labels, long):
        assert label.replace("\n", "") == name  # broken into lines, nothing lost
        assert max(len(line) for line in label.split("\n")) * 0.6 * size <= side
