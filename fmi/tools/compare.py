"""Compare a run's cells with the authors' published figure, cell by cell.

    python -m fmi.compare RUN_DIR REFERENCE.png [--name NAME]

The reference is a composite figure (the authors' ``output/*.png``, fetched by ``python -m
fmi.data download`` into ``data/authors/``): a grid of framed images with row and column
labels. Its frames are found as long dark lines, the cells cut out inside them, and each is
paired with the run's cell at the same position of the run's figure laid out as theirs (Fig. 3:
layer and filter; Fig. 4: layer and draw; Fig. 5: style, method and content image). For each
pair ``compare.md`` gives numbers that say whether the textures agree, and
``compare_<name>.png`` shows theirs beside ours:

- mean colour distance: CIE 1976 Delta E between the two images' mean CIE Lab colours;
- colourfulness of each (Hasler and Suesstrunk, as ``fmi.analyze``);
- colour histogram distance: total variation between 8 x 8 x 8 RGB histograms (0..1);
- orientation distance: total variation between the luminance power spectra binned by
  orientation into 12 bins of 15 degrees centred on 0, 15, ... 165 degrees (0..1).

A pair *agrees* when all three distances are under ``AGREE``, bounds chosen on the authors'
three figures themselves: each of their 55 cells against a copy of itself shrunk to 60 %,
enlarged back and saved as JPEG agrees in 52 cases, while of the 1070 pairs of different
cells of the same figure 43 (4 %) agree.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, cast

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2lab

from fmi import experiments
from fmi.errors import FmiError
from fmi.files import image_files, published
from fmi.io import write_text
from fmi.run import measures
from fmi.run.figures import plt, save  # the Agg backend, chosen there
from fmi.run.folder.record import inside
from fmi.tools import pages

RGB = npt.NDArray[np.uint8]  # (H, W, 3)

AGREE = {"delta_e": 8.0, "histogram": 0.6, "orientation": 0.25}
LINE_FRACTION = 0.03  # a frame side is a dark run at least this fraction of the figure's size
DARK = 110            # gray level below which a pixel can belong to a frame line
ORIENTATION_BINS = 12



@dataclass(frozen=True)
class Cell:
    """One framed image of a composite figure: its row and column in the grid and its pixels' box."""

    row: int
    column: int
    top: int
    left: int
    bottom: int
    right: int


def read_figure(path: Path) -> RGB:
    """A figure as (H, W, 3) uint8 RGB, transparency composited over white; its header is checked
    first, so a file that is no image or declares more pixels than fmi decodes is refused."""

    image_files.read_header(path)
    try:
        with Image.open(path) as opened:
            rgba = np.asarray(opened.convert("RGBA")).astype(np.float64)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise FmiError(f"figure {path}: not an image fmi can read ({error})") from None
    alpha = rgba[..., 3:] / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def find_cells(rgb: RGB) -> list[list[Cell]]:
    """Every framed image of a composite figure, as a grid of ``Cell``s (rows of columns).

    Frames are the rectangles drawn by long horizontal and vertical dark runs; labels and
    image content, which rarely make such runs, are left out.
    """

    height, width = rgb.shape[:2]
    dark = rgb.astype(np.float64).mean(axis=2) < DARK
    length = max(12, int(LINE_FRACTION * min(height, width)))
    lines = (ndimage.binary_opening(dark, structure=np.ones((1, length), bool))
             | ndimage.binary_opening(dark, structure=np.ones((length, 1), bool)))
    labels = cast(tuple[Any, int], ndimage.label(lines))[0]
    boxes = []
    for found in ndimage.find_objects(labels):
        box = _tighten(lines, found[0].start, found[1].start, found[0].stop, found[1].stop)
        if box and box[2] - box[0] >= 3 * length and box[3] - box[1] >= 3 * length:
            boxes.append(box)
    if not boxes:
        raise FmiError("found no framed images in the figure; it should be a grid of images drawn with frames")
    rows = _cluster([box[0] for box in boxes], 0.03 * height)
    columns = _cluster([box[1] for box in boxes], 0.03 * width)
    grid: list[list[Optional[Cell]]] = [[None] * len(columns) for _ in rows]
    for top, left, bottom, right in boxes:
        row, column = rows.index(_nearest(rows, top)), columns.index(_nearest(columns, left))
        inset = max(2, round(0.01 * min(bottom - top, right - left)))
        grid[row][column] = Cell(row, column, top + inset, left + inset, bottom - inset, right - inset)
    holes = [(r, c) for r, row in enumerate(grid) for c, cell in enumerate(row) if cell is None]
    if holes:
        raise FmiError(f"found {len(boxes)} framed images that do not fill a {len(rows)} x {len(columns)} grid "
                       f"(nothing at row {holes[0][0] + 1}, column {holes[0][1] + 1})")
    return [[cell for cell in row if cell is not None] for row in grid]  # no holes: refused above


def _tighten(lines: npt.NDArray[np.bool_], top: int, left: int, bottom: int,
             right: int) -> Optional[tuple[int, int, int, int]]:
    """Shrink a box until each side lies on a frame line (90 % covered); None if nothing is left.

    A label touching a frame (a tall letter above it) makes the box too big at first."""
    def coverage(side: str) -> float:
        edge = {"top": lines[top, left:right], "bottom": lines[bottom - 1, left:right],
                "left": lines[top:bottom, left], "right": lines[top:bottom, right - 1]}[side]
        return float(edge.mean())

    while bottom - top > 2 and right - left > 2:
        weakest = min(("top", "bottom", "left", "right"), key=coverage)
        if coverage(weakest) >= 0.9:
            return top, left, bottom, right
        if weakest == "top":
            top += 1
        elif weakest == "bottom":
            bottom -= 1
        elif weakest == "left":
            left += 1
        else:
            right -= 1
    return None


def _cluster(values: list[int], tolerance: float) -> list[int]:
    """Representative values of groups of ``values`` closer than ``tolerance``."""
    groups: list[list[int]] = []
    for value in sorted(values):
        if groups and value - groups[-1][-1] <= tolerance:
            groups[-1].append(value)
        else:
            groups.append([value])
    return [group[0] for group in groups]


def _nearest(centres: list[int], value: int) -> int:
    return min(centres, key=lambda centre: abs(centre - value))


def crop(rgb: RGB, cell: Cell) -> RGB:
    return rgb[cell.top:cell.bottom, cell.left:cell.right]


# --- the measures ---------------------------------------------------------------------------------

def mean_lab(rgb: RGB) -> npt.NDArray[np.float64]:

    return rgb2lab(rgb.astype(np.float64) / 255.0).reshape(-1, 3).mean(axis=0)


def colour_histogram(rgb: RGB, bins: int = 8) -> npt.NDArray[np.float64]:
    quantised = rgb.astype(np.int64) * bins // 256
    index = (quantised[..., 0] * bins + quantised[..., 1]) * bins + quantised[..., 2]
    counts = np.bincount(index.ravel(), minlength=bins ** 3).astype(np.float64)
    return counts / counts.sum()


def orientation_spectrum(rgb: RGB, bins: int = ORIENTATION_BINS) -> npt.NDArray[np.float64]:
    """Share of the luminance power spectrum (Hann-windowed, without DC) in each orientation bin."""
    gray = rgb.astype(np.float64).mean(axis=2)
    gray = (gray - gray.mean()) * np.outer(np.hanning(gray.shape[0]), np.hanning(gray.shape[1]))
    power = np.abs(np.fft.fft2(gray)) ** 2
    fy = np.fft.fftfreq(gray.shape[0])[:, None] * np.ones((1, gray.shape[1]))
    fx = np.fft.fftfreq(gray.shape[1])[None, :] * np.ones((gray.shape[0], 1))
    radius = np.hypot(fy * gray.shape[0], fx * gray.shape[1])
    keep = radius >= 2  # leave out DC and the lowest frequencies, which the window blurs
    angle = np.mod(np.arctan2(fy, fx), np.pi)[keep]
    centred = np.mod(np.floor(angle / np.pi * bins + 0.5).astype(int), bins)  # bin 0 is centred on 0 degrees
    shares = np.bincount(centred, weights=power[keep], minlength=bins)
    total = shares.sum()
    return shares / total if total > 0 else np.full(bins, 1.0 / bins)


def compare_pair(theirs: RGB, ours: RGB) -> dict[str, Any]:
    """The numbers of one pair; ``ours`` is resized to ``theirs``' size first."""
    ours = resized(ours, theirs.shape[0], theirs.shape[1])
    numbers = {
        "delta_e": float(np.linalg.norm(mean_lab(theirs) - mean_lab(ours))),
        "colourfulness_theirs": measures.colourfulness(theirs),
        "colourfulness_ours": measures.colourfulness(ours),
        "histogram": float(0.5 * np.abs(colour_histogram(theirs) - colour_histogram(ours)).sum()),
        "orientation": float(0.5 * np.abs(orientation_spectrum(theirs) - orientation_spectrum(ours)).sum()),
    }
    numbers["agree"] = all(numbers[key] < bound for key, bound in AGREE.items())
    return numbers


# --- pairing a run's cells with the figure's ------------------------------------------------------

def compare(run_dir: Path, reference: Path, name: Optional[str] = None) -> tuple[list[dict[str, Any]], Path, str]:
    """Compare and write ``compare_<name>.png`` and ``compare.md`` into ``run_dir``; return the rows.

    The run's experiment lays out the authors' figure (its ``paper_grid``) with the run's cells,
    so each framed image of theirs is paired with the run's cell at the same position.
    """
    experiment, run, config = experiments.view(run_dir)
    reference = Path(reference)
    if experiment.authors is None:
        raise FmiError(f"{run.folder} was made by {run.script} ({experiment.title}), which has no published figure of "
                       f"the authors' to compare with")
    grid = experiment.paper_grid(config, run.contents, run.styles)
    figure = read_figure(reference)
    framed = find_cells(figure)
    if (len(framed), len(framed[0])) != (len(grid.rows), len(grid.columns)):
        raise FmiError(f"{reference} holds a {len(framed)} x {len(framed[0])} grid of images; the authors' "
                       f"{experiment.authors.what} has {len(grid.rows)} x {len(grid.columns)}: compare this run with "
                       f"{published.FIGURES_DIR / experiment.authors.local} "
                       f"(python -m fmi.data download --what figures)")
    if not any(key in run.cells for key in grid.cells):
        raise FmiError(f"{run.folder} holds none of the {len(grid.cells)} cells of {experiment.authors.what} (e.g. "
                       f"{grid.cells[0]}; the run's network: {config.net.title}); compare a run of VGG-19 at the "
                       f"paper's layers")
    results: list[dict[str, Any]] = []
    shown: list[tuple[str, RGB, Optional[RGB], Optional[dict[str, Any]]]] = []
    for r, row in enumerate(grid.keys):
        for c, key in enumerate(row):
            theirs = crop(figure, framed[r][c])
            ours = None
            if key in run.cells:
                ours = run.read_image(key)
                if ours is None:
                    raise FmiError(f"{run.image_path(key)}: the image of cell {key} does not read back; rerun the "
                                   f"run with --resume to redo it")
            numbers = compare_pair(theirs, ours) if ours is not None else None
            results.append({"row": grid.rows[r], "column": grid.columns[c].replace("\n", " "), "cell": key,
                            "numbers": numbers})
            shown.append((f"{grid.rows[r]} / {grid.columns[c]}".replace("\n", " "), theirs, ours, numbers))
    picture = inside(run.folder, f"compare_{name or reference.stem}.png")
    side_by_side(shown, len(grid.rows), len(grid.columns), picture,
                 title=f"{reference.name} (theirs, left) beside {run.folder.name} (ours, right); {run.label}")
    report = pages.render("compare.md", reference=reference.name, run=run, rows=results, agree=AGREE,
                          agreeing=sum(1 for row in results if row["numbers"] and row["numbers"]["agree"]),
                          compared=sum(1 for row in results if row["numbers"]))
    write_text(inside(run.folder, "compare.md"), report)
    return results, picture, report


def side_by_side(pairs: list[tuple[str, RGB, Optional[RGB], Optional[dict[str, Any]]]], rows: int, columns: int,
                 path: Path, title: Optional[str] = None, cell_inches: float = 3.0) -> None:
    """Save a grid of (label, theirs, ours or None, numbers or None): each cell shows theirs
    (left) beside ours (right, resized to theirs' height), with its numbers underneath."""
    figure, axes = plt.subplots(rows, columns, squeeze=False, figsize=(cell_inches * columns, 1.9 * rows + 0.6))
    for axis, (label, theirs, ours, numbers) in zip(axes.flat, pairs):
        height = theirs.shape[0]
        gap = np.full((height, 6, 3), 255, dtype=np.uint8)
        if ours is None:
            right = np.full_like(theirs, 255)
        else:
            scale = height / ours.shape[0]
            right = resized(ours, height, max(1, round(ours.shape[1] * scale)))
        axis.imshow(np.concatenate([theirs, gap, right], axis=1))
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(label, fontsize=9)
        if numbers is None:
            caption = "not in the run"
        else:
            caption = (f"dE {numbers['delta_e']:.1f}, hist {numbers['histogram']:.2f}, "
                       f"orient {numbers['orientation']:.2f}: {'agree' if numbers['agree'] else 'differ'}")
        axis.set_xlabel(caption, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    save(figure, path)


def resized(rgb: RGB, height: int, width: int) -> RGB:
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA).astype(np.uint8, copy=False)
