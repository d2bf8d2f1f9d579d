"""Paper-layout figure grids and loss curves, drawn with matplotlib's Agg backend; ``save`` and
``wrap_title`` serve the tools' plots too."""
import io
import re
import textwrap
from collections.abc import Sequence
from typing import Optional

import matplotlib

matplotlib.use("Agg")
# titles and labels carry file names ('vgg $x$.params'): plain text, never mathtext
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fmi.io import PathLike, write_bytes  # noqa: E402
from fmi.run.measures import Image  # noqa: E402


def save(figure: Figure, path: PathLike, dpi: int = 100) -> None:
    """Write a matplotlib figure as a PNG, whole or not at all, and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    write_bytes(path, buffer.getvalue())


def _mark(axis: Axes, text: str, fontsize: int = 8) -> None:
    """Write a cell's state ('silent', 'stuck', ...) across its foot."""
    if text:
        axis.text(0.5, 0.04, text, transform=axis.transAxes, ha="center", va="bottom", fontsize=fontsize,
                  color="white", bbox={"facecolor": "black", "alpha": 0.65, "pad": 1.5, "edgecolor": "none"})


def fitting(labels: Sequence[str], points: float, largest: int = 14, smallest: int = 8) -> tuple[list[str], float]:
    """The labels of a grid's rows (or columns) and one font size for them all, so that each fits the
    ``points`` of a cell's side: the paper's 14 pt where they fit (VGG-19's layer names do in a cell more
    than a third as tall as it is wide, as the paper's images give), smaller for long names (another
    network's layers), and a label broken into lines after its '_', '.' or '/' where even ``smallest``
    would not fit it."""
    def widest(text: str) -> int:
        return max(len(line) for line in text.split("\n"))

    per_line = max(4, int(points / (0.6 * smallest)))
    fitted = []
    for label in labels:
        if widest(label) > per_line:
            lines, line = [], ""
            for part in re.findall(r"[^_./]+[_./]?|[_./]", label):
                if line and len(line) + len(part) > per_line:
                    lines.append(line)
                    line = ""
                line += part
            label = "\n".join(lines + [line])
        fitted.append(label)
    longest = max((widest(label) for label in fitted), default=1)
    return fitted, max(smallest, min(largest, points / (0.6 * longest)))


def wrap_title(title: str, width_inches: float, fontsize: int = 11) -> str:
    """``title`` with each line wrapped to the figure's width, so it never widens the figure."""
    characters = max(20, int(width_inches * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, characters) for line in title.split("\n"))


def grid(images: Sequence[Sequence[Optional[Image]]], row_labels: Sequence[str], column_labels: Sequence[str],
         path: PathLike, title: Optional[str] = None, cell_inches: float = 2.4,
         marks: Optional[Sequence[Sequence[str]]] = None) -> None:
    """Save a grid of RGB images (rows x columns, None for an empty cell), labelled like the paper.

    Column labels go on top, row labels vertically on the left, as in Figs. 3-5; ``marks``
    (rows x columns of strings) are written across the foot of their cells. The figure is
    sized from the images' aspect, so cells neither touch nor float in empty margins.
    """
    rows, columns = len(row_labels), len(column_labels)
    aspect = next((image.shape[0] / image.shape[1] for row in images for image in row
                   if image is not None), 0.75)
    width = cell_inches * columns + 0.5
    title = wrap_title(title, width) if title else None
    label_lines = max(label.count("\n") + 1 for label in column_labels)
    header = (title.count("\n") + 1) * 0.2 + 0.15 if title else 0.0
    height = rows * (cell_inches * aspect + 0.12) + label_lines * 0.28 + header
    figure, axes = plt.subplots(rows, columns, squeeze=False, figsize=(width, height))
    rows_fitted, row_size = fitting(row_labels, cell_inches * aspect * 72)
    columns_fitted, column_size = fitting(column_labels, cell_inches * 72)
    for r in range(rows):
        for c in range(columns):
            axis = axes[r][c]
            image = images[r][c]
            if image is not None:
                axis.imshow(image)
            else:
                axis.text(0.5, 0.5, "not run", ha="center", va="center", transform=axis.transAxes)
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(columns_fitted[c], fontsize=column_size)
            if c == 0:
                axis.set_ylabel(rows_fitted[r], fontsize=row_size)
            if marks:
                _mark(axis, marks[r][c])
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    save(figure, path)


def contact_sheet(images: Sequence[Optional[Image]], labels: Sequence[str], path: PathLike, title: Optional[str] = None,
                  columns: int = 16, cell_inches: float = 1.1, marks: Optional[Sequence[str]] = None) -> None:
    """Save many images (e.g. every filter of a layer) in rows of ``columns``, each labelled."""
    rows = -(-len(images) // columns)
    aspect = next((image.shape[0] / image.shape[1] for image in images if image is not None), 0.75)
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(cell_inches * columns, cell_inches * aspect * rows * 1.25 + 0.5))
    title = wrap_title(title, cell_inches * columns, 10) if title else None
    for axis in axes.flat:
        axis.set_axis_off()
    for index, (axis, image, label) in enumerate(zip(axes.flat, images, labels)):
        if image is not None:
            axis.imshow(image)
        axis.set_title(label, fontsize=7, pad=2)
        if marks:
            _mark(axis, marks[index], fontsize=5)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    save(figure, path)


MAX_LOSS_LINES = 10


def loss_curves(panels: dict[str, dict[str, Sequence[Optional[float]]]], path: PathLike,
                title: Optional[str] = None) -> None:
    """Save loss against step, one panel per entry of ``panels`` = {name: {line label: losses}}.

    Losses are shown relative to their first value, so layers of very different magnitude
    share one figure; the scale is logarithmic once a curve falls below a tenth.
    """
    count = len(panels)
    columns = min(count, 3)
    rows = -(-count // columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False, figsize=(4.2 * columns, 3.2 * rows))
    for axis, (name, lines) in zip(axes.flat, panels.items()):
        lowest = 1.0
        if len(lines) > MAX_LOSS_LINES:
            name = f"{name} ({MAX_LOSS_LINES} of {len(lines)} shown)"
            lines = dict(list(lines.items())[:MAX_LOSS_LINES])
        for label, history in lines.items():
            losses = np.asarray(history, dtype=np.float64)
            if losses.size and losses[0] > 0:
                relative = losses / losses[0]
                lowest = min(lowest, float(relative.min()))
                axis.plot(np.arange(1, losses.size + 1), relative, label=label)
        if lowest < 0.1:
            axis.set_yscale("log")
        axis.set_title(name, fontsize=10)
        axis.set_xlabel("step")
        axis.set_ylabel("loss / initial loss")
        if axis.lines:
            axis.legend(fontsize=7)
        else:
            axis.text(0.5, 0.5, "no finite losses", ha="center", va="center", transform=axis.transAxes)
    for axis in list(axes.flat)[count:]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    save(figure, path)


MAX_ANNOTATED = 12  # larger matrices are drawn without numbers, which would overlap


def similarity_matrices(matrices: dict[str, Sequence[Sequence[float]]], names: Sequence[str], path: PathLike,
                        title: Optional[str] = None) -> None:
    """Square similarity matrices between the same ``names``, side by side: {what each measures: matrix}.

    Each matrix gets about 0.55 inch per row, so its numbers (shown up to 12 items) stay
    readable; the colour bar carries the scale either way.
    """
    count = len(names)
    side = max(3.0, 0.55 * count + 1.5)
    figure, axes = plt.subplots(1, len(matrices), figsize=(len(matrices) * side + 1.5, side + 1.2), squeeze=False)
    for axis, (what, values) in zip(axes[0], matrices.items()):
        matrix = np.asarray(values)
        shown = axis.imshow(matrix, vmin=matrix.min(), vmax=1.0, cmap="viridis")
        if count <= MAX_ANNOTATED:
            middle = (matrix.min() + 1) / 2
            for row, column in np.ndindex(matrix.shape):
                axis.text(column, row, f"{matrix[row, column]:.2f}", ha="center", va="center", fontsize=8,
                          color="white" if matrix[row, column] < middle else "black")
        axis.set_xticks(range(count))
        axis.set_yticks(range(count))
        axis.set_xticklabels(names, rotation=90, fontsize=8)
        axis.set_yticklabels(names, fontsize=8)
        axis.set_title(what, fontsize=10)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    figure.tight_layout()
    if title:  # just above the matrices' titles: square matrices leave the figure's top empty, which is cropped
        figure.canvas.draw()
        top = max(axis.title.get_window_extent().transformed(figure.transFigure.inverted()).y1 for axis in axes[0])
        figure.suptitle(wrap_title(title, len(matrices) * side + 1.5, 10), fontsize=10, y=top + 0.01, va="bottom")
    save(figure, path)
