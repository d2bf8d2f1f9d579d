"""fmi.compare: finding the cells of a composite figure and pairing them with a run's."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import ROOT  # noqa: E402

import fmi.compare  # noqa: E402
from fmi.files import image_files  # noqa: E402
from fmi.tools import compare  # noqa: E402

SHARED_REFERENCE = ROOT.parent / "shared" / "reference"
NO_REFERENCE = "the authors' three result figures are not available to the tests on this machine"
LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


def texture(seed, height=60, width=80):
    """A colourful oriented texture, different for every seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    angle, frequency = rng.uniform(0, np.pi), rng.uniform(0.2, 0.6)
    wave = np.sin(frequency * (x * np.cos(angle) + y * np.sin(angle)))
    colour = rng.uniform(30, 225, size=3)
    return np.clip(colour + 60 * wave[..., None] * rng.uniform(-1, 1, size=3), 0, 255).astype(np.uint8)


def draw_composite(images, path, row_labels, column_labels):
    """A figure laid out like the authors': framed axes, column labels on top, row labels left."""
    figure, axes = plt.subplots(len(row_labels), len(column_labels), figsize=(2.2 * len(column_labels),
                                                                                 1.8 * len(row_labels)))
    for r, row in enumerate(images):
        for c, picture in enumerate(row):
            axis = axes[r][c]
            axis.imshow(picture)
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(column_labels[c], fontsize=16)
            if c == 0:
                axis.set_ylabel(row_labels[r], fontsize=16)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def random_run_holding(folder, images):
    """A real run of run_random.py (rows: draws 1, 2; columns: LAYERS) whose cell images are then
    replaced by ``images``, resized to the run's cell size."""
    import cv2
    from conftest import write_image

    import run_random

    height, width = images[0][0].shape[:2]
    write_image(folder.parent / "photo.png", height, width)
    assert run_random.main(["--image", str(folder.parent / "photo.png"), "--weights", "random:0", "--size",
                            str(max(height, width)), "--steps", "1", "--draw-seeds", "1,2",
                            "--output", str(folder)]) == 0
    for r, row in enumerate(images):
        for c, picture in enumerate(row):
            resized = cv2.resize(np.ascontiguousarray(picture), (width, height), interpolation=cv2.INTER_AREA)
            image_files.save_png(folder / "cells" / "photo" / LAYERS[c] / f"random_draw_{r + 1}.png", resized)
    return folder


def test_a_composite_drawn_here_is_found_and_its_cells_agree(tmp_path, capsys):
    images = [[texture(10 * r + c) for c in range(5)] for r in range(2)]
    reference = tmp_path / "random.png"
    draw_composite(images, reference, ["", ""], LAYERS)
    grid = compare.find_cells(compare.read_figure(reference))
    assert (len(grid), len(grid[0])) == (2, 5)
    run = random_run_holding(tmp_path / "run", images)
    assert fmi.compare.main([str(run), str(reference)]) == 0
    out = capsys.readouterr().out
    assert "10 of 10 compared cells agree" in out
    assert (run / "compare_random.png").stat().st_size > 0 and (run / "compare.md").read_text() == out.split(
        "wrote")[0]
    swapped = [images[1], images[0]]
    draw_composite(swapped, reference, ["", ""], LAYERS)
    results, _, _ = compare.compare(run, reference)
    assert sum(row["numbers"]["agree"] for row in results) <= 2


def test_measures_by_hand():
    grey = np.full((20, 20, 3), 128, np.uint8)
    red = np.zeros((20, 20, 3), np.uint8)
    red[..., 0] = 255
    numbers = compare.compare_pair(grey, grey.copy())
    assert numbers["delta_e"] == 0 and numbers["histogram"] == 0 and numbers["agree"]
    assert compare.compare_pair(grey, red)["histogram"] == 1.0  # disjoint colours
    assert compare.compare_pair(grey, red)["delta_e"] > 50
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::4] = 255  # vertical stripes: power on the horizontal frequency axis
    spectrum = compare.orientation_spectrum(stripes)
    assert spectrum[0] > 0.9 and spectrum.sum() == pytest.approx(1.0)
    assert compare.compare_pair(stripes, stripes.transpose(1, 0, 2))["orientation"] > 0.8


def test_a_figure_without_frames_is_refused(tmp_path):
    from fmi.errors import FmiError

    path = tmp_path / "plain.png"
    image_files.save_png(path, texture(3, 200, 300))
    with pytest.raises(FmiError, match="found no framed images"):
        compare.find_cells(compare.read_figure(path))


@pytest.mark.skipif(not SHARED_REFERENCE.is_dir(), reason=NO_REFERENCE)
@pytest.mark.parametrize("name, layout, shape", [
    ("fig3_feature_map_inversion.png", "fig3", (5, 5)),
    ("fig4_random_modification.png", "fig4", (2, 5)),
    ("fig5_pmci_vs_gatys.png", "fig5", (4, 5)),
])
def test_the_authors_figures_are_read_as_their_grids(tmp_path, name, layout, shape):
    figure = compare.read_figure(SHARED_REFERENCE / name)
    grid = compare.find_cells(figure)
    assert (len(grid), len(grid[0])) == shape
    sizes = {(cell.bottom - cell.top, cell.right - cell.left) for row in grid for cell in row}
    heights, widths = zip(*sizes)
    assert max(heights) - min(heights) <= 2 and max(widths) - min(widths) <= 2  # one size of cell
    for row in grid:
        for cell in row:  # no black frame line left along the crop's edges
            inside = compare.crop(figure, cell).astype(float).max(axis=2)
            for edge in (inside[0], inside[-1], inside[:, 0], inside[:, -1]):
                assert (edge < 30).mean() < 0.9
    if layout == "fig4":
        run = random_run_holding(tmp_path / "run", [[compare.crop(figure, cell) for cell in row] for row in grid])
        results, picture, report = compare.compare(run, SHARED_REFERENCE / name)
        assert all(row["numbers"]["delta_e"] < 1.0 for row in results) and "10 of 10 compared cells agree" in report


MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~:<>")


def inert(line):
    """True when every character Markdown gives a meaning is escaped (or an entity) in ``line``."""
    escaped = False
    for character in line:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character in MARKDOWN_SPECIAL:
            return False
    return True


def test_names_that_would_become_markdown_are_escaped_in_compare_md(tmp_path, capsys):
    """An authors' figure saved under a name with a heading, a link, raw HTML and a table cell of its own."""
    images = [[texture(10 * r + c) for c in range(5)] for r in range(2)]
    name = "x](javascript:alert(1)) <img src=x onerror=alert(1)> | `y`\n# pwned"
    reference = tmp_path / f"{name}.png"
    draw_composite(images, reference, ["", ""], LAYERS)
    run = random_run_holding(tmp_path / "run", images)
    assert fmi.compare.main([str(run), str(reference), "--name", "authors"]) == 0
    text = (run / "compare.md").read_text()
    title = text.splitlines()[0]
    assert title.startswith("# ") and inert(title.removeprefix("# ").replace(" against ", ""))
    assert not any(line.startswith("# pwned") for line in text.splitlines())
    assert "<img" not in text and "](javascript" not in text and "&lt;img" in text


@pytest.mark.parametrize("text", ["a_b", "[x](javascript:alert(1))", "<img onerror=x>", "# h\n# i", "a | b", "`c`",
                                  "1. item", "- item", "**bold**", "\\", "r\udce9sultat", "\ud800"])
def test_markdown_escapes_every_character_markdown_gives_a_meaning(text):
    from fmi.tools.pages import markdown

    escaped = markdown(text)
    assert "\n" not in escaped and "<" not in escaped and ">" not in escaped
    assert inert(escaped.replace("&lt;", "").replace("&gt;", "").replace("&amp;", "")), escaped
