"""A figure's layout, declared once per experiment and read by everything that shows cells.

Each experiment module (``fig3``, ``fig4``, ``fig5``) turns its config and the run's image names
into ``Grid``s: the figures it draws, and, with ``paper_grid``, the shape of the authors'
published figure filled with the run's cells. Drawing (``fmi.run.figures``), the atlas and
``fmi.tools.compare`` all read these; none spells a layout of its own.
"""
from dataclasses import dataclass

from fmi.run import figures, labels


@dataclass(frozen=True)
class Grid:
    """One figure: its file name, its title's subject, its row and column labels, and the cell key
    at each position (None where the figure shows something else, e.g. Fig. 5's style column)."""

    file: str
    what: str
    rows: tuple
    columns: tuple
    keys: tuple   # rows of columns of cell keys or None
    sheet: bool = False  # drawn as a contact sheet (a sweep's many filters), not a labelled grid

    @property
    def cells(self):
        """Every cell key of the grid, row by row."""
        return [key for row in self.keys for key in row if key]


def grid(file, what, rows, columns, keys, sheet=False):
    """A ``Grid`` from lists (its fields are tuples, so grids compare and hash)."""
    return Grid(file, what, tuple(rows), tuple(columns), tuple(tuple(row) for row in keys), sheet)


def draw(session, grid, size, fill=None):
    """Draw ``grid`` from the session's finished cells into the run folder; return its path.

    ``fill(row, column)`` gives the image of a position that holds no cell (Fig. 5's styles).
    The title says how the figure was made and the states of its own cells (``fmi.run.labels``).
    """

    images = [[session.cell_image(key) if key else (fill(r, c) if fill else None) for c, key in enumerate(row)]
              for r, row in enumerate(grid.keys)]
    marks = [labels.marks(session, row) for row in grid.keys]
    title = labels.title(session, grid.what, size, grid.cells)
    path = session.output / grid.file
    if grid.sheet:
        figures.contact_sheet(images[0], list(grid.columns), path, title=title, marks=marks[0])
    else:
        figures.grid(images, list(grid.rows), list(grid.columns), path, title=title, marks=marks)
    return path
