"""What an experiment declares, and the one driver (``fmi.run.driver``) runs: ``Experiment``.

A figure of the paper is one module of ``fmi.experiments`` with one subclass of ``Experiment``. It
says what is its own: its settings (``Config``), what its cells add to their records (``Details``),
its named command-line options, its input images, its cells planned as batches, each batch's loss
terms and targets, its figures (``Grid``), its loss curves, and what ``fmi.analyze`` measures for
it. Everything else (inputs checked, the run folder, resuming, shards, progress, the figures drawn
and the record) is the driver's, the same for every experiment. Nothing here loads MXNet, so a
config can be read, checked and shown at once.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np
import numpy.typing as npt
import pydantic

from fmi.core.fidelity import Fidelity
from fmi.core.terms import Term
from fmi.files.published import Published
from fmi.run.folder.keys import cell_key, parse_key
from fmi.run.interface.cli import Option
from fmi.run.interface.config import CONFIG_DIR, Common

Images = npt.NDArray[np.float32]  # network-space images or codes, (N, C, H, W)


@dataclass
class Picture:
    """One input image, ready: its run name, 8-bit RGB as resized, and the network's input (1, 3, H, W)."""

    name: str
    rgb: npt.NDArray[np.uint8]
    array: Images

    @property
    def size(self) -> tuple[int, int]:
        return int(self.array.shape[2]), int(self.array.shape[3])


class Context(Protocol):
    """What an experiment's ``prepare`` uses of the running session (``fmi.run.session.Session``)."""

    fidelity: Fidelity
    styles: dict[str, list[Picture]]  # {content name: the style images, resized to that content image}

    def extract(self, layers: list[str], array: Images) -> dict[str, Images]:
        """The codes of network-space images at ``layers``: {layer: (N, C, h, w)}."""


@dataclass(frozen=True)
class Grid:
    """One figure: its file name, its title's subject, its row and column labels, and at each position
    the key of the cell shown there, or None. ``pictures`` names the input image shown at a position
    that holds no cell (Fig. 5's style column); a ``sheet`` is drawn as a contact sheet of many cells."""

    file: str
    what: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    keys: tuple[tuple[Optional[str], ...], ...]
    sheet: bool = False
    pictures: tuple[tuple[Optional[str], ...], ...] = ()

    @property
    def cells(self) -> list[str]:
        """Every cell key of the grid, row by row."""
        return [key for row in self.keys for key in row if key]

    def label(self, key: str) -> str:
        """How the figure labels the cell ``key``: its column's label in a sheet, else 'row / column'."""
        for row, keys in zip(self.rows, self.keys):
            if key in keys:
                column = self.columns[keys.index(key)].replace("\n", " ")
                return column if self.sheet else f"{row} / {column}"
        return key


def grid(file: str, what: str, rows: list[str], columns: list[str], keys: list[list[Optional[str]]],
         sheet: bool = False, pictures: Optional[list[list[Optional[str]]]] = None) -> Grid:
    """A ``Grid`` from lists (its fields are tuples, so grids compare and hash)."""
    return Grid(file, what, tuple(rows), tuple(columns), tuple(tuple(row) for row in keys), sheet,
                tuple(tuple(row) for row in pictures or ()))


@dataclass(frozen=True)
class Batch:
    """Cells inverted together: one content image, one group of the experiment's, the cells' own names
    in it (``items``), and the deepest layer they reach (for the memory check and the cost model)."""

    content: str
    group: str
    items: tuple[str, ...]
    layer: str

    @property
    def keys(self) -> list[str]:
        return [cell_key(self.content, self.group, item) for item in self.items]

    def only(self, keys: list[str]) -> "Batch":
        """This batch with only the cells of ``keys``."""
        return Batch(self.content, self.group, tuple(parse_key(key).item for key in keys), self.layer)


Measured = tuple[dict[str, Any], bool]  # what a cell's record adds once it is inverted, and whether it is silent


@dataclass
class Problem:
    """What a batch inverts: its terms, one target per term ((N, ...) for the batch's N cells), what each
    cell's record adds (a ``Details`` per cell, as a dict), a label for the log, and optionally what is
    measured on the final images: ``measure(images, positions)``, the images being those of the cells
    at ``positions`` in the batch (all of them, or one at a time under L-BFGS)."""

    terms: list[Term]
    targets: list[npt.NDArray[np.float32]]
    details: list[dict[str, Any]]
    label: str
    measure: Optional[Callable[[Images, list[int]], list[Measured]]] = None
    positions: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.positions = self.positions or list(range(len(self.details)))


@dataclass
class Finding:
    """One measure ``fmi.analyze`` takes of a run of an experiment: its numbers (kept in analysis.json
    under ``name``), a table of them for people, and optionally similarity matrices to plot."""

    name: str
    numbers: dict[str, Any]
    title: str
    note: str
    header: list[str]
    rows: list[list[str]]
    matrices: Optional[dict[str, Any]] = None


@dataclass
class Finished:
    """What ``Experiment.findings`` measures: a run's config, its measured cells' images, its style
    images' names, and what reads the run's weights and input images (the analysis loads them)."""

    config: Any
    images: dict[str, npt.NDArray[np.uint8]]
    styles: list[str]
    codes: Callable[[list[str], npt.NDArray[np.uint8]], dict[str, Images]] = field(repr=False)
    input_image: Callable[[str], npt.NDArray[np.uint8]] = field(repr=False)


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` in consecutive runs of ``size`` (the last may be shorter): how cells are batched."""
    return [items[start:start + size] for start in range(0, len(items), size)]


class Experiment:
    """A figure of the paper as fmi runs it. Subclasses set the class attributes and the functions that
    raise ``NotImplementedError``; the others have defaults that suit most figures."""

    name: str                              # fig3: the names of its configs and of reproduce.py's folders
    script: str                            # run_fmi.py: the script that runs it, recorded in its run folders
    title: str
    paper: str                             # "Fig. 3"
    authors: Published                     # the authors' own figure
    Config: type[Common]
    Details: type[pydantic.BaseModel]
    options: tuple[Option, ...] = ()       # its named command-line options, beside the common ones
    loss_title: str = "loss"

    @property
    def paper_config(self) -> Path:
        """The paper's settings of this figure, a config file in fmi/configs."""
        return CONFIG_DIR / f"{self.name}.yaml"

    def images(self, config: Any) -> tuple[list[str], list[str]]:
        """The specs of the run's content images and of its style images."""
        return list(config.content), []

    def plan(self, config: Any, contents: list[str], styles: list[str]) -> list[Batch]:
        """Every batch of the run in running order, for the content and style images of these names."""
        raise NotImplementedError

    def grids(self, config: Any, contents: list[str], styles: list[str]) -> list[Grid]:
        """The figures a run draws."""
        raise NotImplementedError

    def paper_grid(self, config: Any, contents: list[str], styles: list[str]) -> Grid:
        """The authors' published figure's layout, filled with the run's cells (``fmi.compare``)."""
        raise NotImplementedError

    def atlas_grids(self, config: Any, contents: list[str], styles: list[str]) -> list[Grid]:
        """The atlas's pages after its overview: a page per figure, unless the experiment wants others."""
        return self.grids(config, contents, styles)

    def loss_panels(self, config: Any, contents: list[str], styles: list[str]) -> dict[str, dict[str, str]]:
        """The panels of loss.png: {panel: {line: cell key}}."""
        raise NotImplementedError

    def terms(self, config: Any, group: str) -> list[Term]:
        """The loss terms of a cell of ``group``."""
        return [Term(group)]

    def prepare(self, config: Any, session: Context, content: Picture) -> Any:
        """What the batches of one content image share (its codes, say), computed once."""
        raise NotImplementedError

    def problem(self, config: Any, prepared: Any, batch: Batch) -> Problem:
        """The terms, targets and details of ``batch``, from what ``prepare`` gave."""
        raise NotImplementedError

    def findings(self, run: Finished) -> list[Finding]:
        """What ``fmi.analyze`` measures for this experiment beyond the image measures of every run."""
        return []
