"""Paper-layout figure grids and loss curves, drawn with matplotlib's Agg backend."""
import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from fmi.io import write_bytes  # noqa: E402


def _save(figure, path, dpi=100):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    write_bytes(path, buffer.getvalue())


def _mark(axis, text, fontsize=8):
    """Write a cell's state ('silent', 'stuck', ...) across its foot."""
    if text:
        axis.text(0.5, 0.04, text, transform=axis.transAxes, ha="center", va="bottom", fontsize=fontsize,
                  color="white", bbox={"facecolor": "black", "alpha": 0.65, "pad": 1.5, "edgecolor": "none"})


def wrap_title(title, width_inches, fontsize=11):
    """``title`` with each line wrapped to the figure's width, so it never widens the figure."""
    characters = max(20, int(width_inches * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, characters) for line in title.split("\n"))


def grid(images, row_labels, column_labels, path, title=None, cell_inches=2.4, marks=None):
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
                axis.set_title(column_labels[c], fontsize=14)
            if c == 0:
                axis.set_ylabel(row_labels[r], fontsize=14)
            if marks:
                _mark(axis, marks[r][c])
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    _save(figure, path)


def contact_sheet(images, labels, path, title=None, columns=16, cell_inches=1.1, marks=None):
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
    _save(figure, path)


MAX_LOSS_LINES = 10


def loss_curves(panels, path, title=None):
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
        for label, losses in lines.items():
            losses = np.asarray(losses, dtype=np.float64)
            if losses.size and losses[0] > 0:
                relative = losses / losses[0]
                lowest = min(lowest, relative.min())
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
    _save(figure, path)


def measure_plot(result, control, path):
    """Each image measure against the group (layer depth or method): the mean over the group's cells,
    with bars of one standard deviation either side; the control run dashed."""
    from fmi.core.measures import UNITS

    names = list(next(iter(result["groups"].values())))
    figure, axes = plt.subplots(1, len(names), figsize=(4.0 * len(names), 3.9), squeeze=False)
    groups = list(result["groups"])
    positions = np.arange(len(groups))
    runs = [(result, "-o", f"this run: {result['weights']}")]
    if control:
        runs.append((control, "--s", f"control: {control['weights']}"))
    for axis, name in zip(axes[0], names):
        for data, style, label in runs:
            shown = [g for g in groups if g in data["groups"]]
            means = [data["groups"][g][name]["mean"] for g in shown]
            spreads = [data["groups"][g][name]["std"] for g in shown]
            axis.errorbar([groups.index(g) for g in shown], means, yerr=spreads, fmt=style,
                          capsize=3, label=label)
        axis.set_xticks(positions)
        axis.set_xticklabels(groups, rotation=45, ha="right")
        axis.set_title(name.replace("_", " "), fontsize=10)
        axis.set_ylabel(UNITS.get(name, ""), fontsize=8)
    figure.suptitle("each point: the mean over a group's cells (their saved, denoised images); bars: one standard "
                    "deviation either side", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 0.95))
    _save(figure, path)


MAX_ANNOTATED = 12  # larger similarity matrices are drawn without numbers, which would overlap


def similarity_matrices(style, path, title=None):
    """Channel-sum and Gram cosine-similarity matrices between styles and outputs, side by side.

    Each matrix gets about 0.55 inch per row, so its numbers (shown up to 12 items) stay
    readable; the colour bar carries the scale either way.
    """
    names = style["items"]
    count = len(names)
    side = max(3.0, 0.55 * count + 1.5)
    figure, axes = plt.subplots(1, 2, figsize=(2 * side + 1.5, side + 1.2))
    for axis, kind in zip(axes, ("channel_sums", "gram")):
        matrix = np.asarray(style["matrices"][kind])
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
        axis.set_title(f"cosine similarity of {kind.replace('_', ' ')}", fontsize=10)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    figure.tight_layout()
    if title:  # just above the matrices' titles: square matrices leave the figure's top empty, which is cropped
        figure.canvas.draw()
        top = max(axis.title.get_window_extent().transformed(figure.transFigure.inverted()).y1 for axis in axes)
        figure.suptitle(wrap_title(title, 2 * side + 1.5, 10), fontsize=10, y=top + 0.01, va="bottom")
    _save(figure, path)


def side_by_side(pairs, rows, columns, path, title=None, cell_inches=3.0):
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
            right = _resized(ours, height, max(1, round(ours.shape[1] * scale)))
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
    _save(figure, path)


def _resized(rgb, height, width):
    import cv2

    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
