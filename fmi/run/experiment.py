"""What an experiment declares, and the one driver (``fmi.run.driver``) runs: ``Experiment``.

A figure is one module of ``fmi.experiments`` with one subclass of ``Experiment[Config, Prepared]``,
generic over its settings model and over what its ``prepare`` gives its ``problem``, so that a
checker reads ``config.layers`` in a figure's module. It says what is its own: its settings
(``config_model``), what its cells add to their records (``details_model``), its named command-line
options, its input images, its cells planned as batches, each batch's loss terms and targets, its
figures (``Grid``), and what ``fmi.analyze`` measures for it. Hooks that only some figures need
(measures taken on the final images, contact sheets, input pictures in a grid, a published figure
to compare with, findings) are optional: their defaults do nothing. Everything else (inputs
checked, the run folder, resuming, shards, progress, the figures drawn and the record) is the
driver's, the same for every experiment. Nothing here loads MXNet, so a config can be read,
checked and shown at once.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Optional, Protocol, TypeVar

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
ConfigT = TypeVar("ConfigT", bound=Common)  # an experiment's settings model
PreparedT = TypeVar("PreparedT")           # what an experiment's prepare gives its problem


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
    """What an experiment's ``prepare`` may use of the running session (``fmi.run.session.Session``
    is one; mypy checks that it is)."""

    @property
    def fidelity(self) -> Fidelity:
        """The image handling in force (the paper's, or the authors' code's)."""

    @property
    def styles(self) -> dict[str, list[Picture]]:
        """{content name: the style images, resized to that content image}."""

    def extract(self, layers: list[str], array: Images) -> dict[str, Images]:
        """The codes of network-space images at ``layers``: {layer: (N, C, h, w)}."""


@dataclass(frozen=True)
class Grid:
    """One figure: its file name, its title's subject, its row and column labels, and at each position
    the key of the cell shown there, or None. Optional: ``pictures`` names the input image shown at a
    position that holds no cell (Fig. 5's style column); a ``sheet`` is drawn as a contact sheet of
    many cells, one row (Fig. 3's sweeps)."""

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
    cell's record adds (per cell, its ``details_model`` as a dict) and a label for the log.

    Optional (Fig. 3's): ``measure(images, positions)``, what is measured on the final images of the
    cells at ``positions`` in the batch (all of them, or one at a time under L-BFGS): per cell, what
    its details add and whether the cell is silent (its target's response is zero on its final image).
    ``positions`` is filled in by the driver."""

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
    under ``name``), a table of them for people, and optionally (Fig. 5's) plots of its own: {file
    name: draw(path, title)}, drawn into the run folder beside analysis.md."""

    name: str
    numbers: dict[str, Any]
    title: str
    note: str
    header: list[str]
    rows: list[list[str]]
    plots: dict[str, Callable[[Path, str], None]] = field(default_factory=dict, repr=False)


@dataclass
class Finished(Generic[ConfigT]):
    """What ``Experiment.findings`` measures: a run's config, its measured cells' images, its style
    images' names, and, for figures whose findings need them (Fig. 5's), what extracts codes of an
    8-bit image through the run's weights and what reads an input image of the run by name."""

    config: ConfigT
    images: dict[str, npt.NDArray[np.uint8]]
    styles: list[str]
    codes: Callable[[list[str], npt.NDArray[np.uint8]], dict[str, Images]] = field(repr=False)
    input_image: Callable[[str], npt.NDArray[np.uint8]] = field(repr=False)


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` in consecutive runs of ``size`` (the last may be shorter): how cells are batched."""
    return [items[start:start + size] for start in range(0, len(items), size)]


class Experiment(Generic[ConfigT, PreparedT]):
    """A figure as fmi runs it. Subclasses set the class attributes and the functions that raise
    ``NotImplementedError``; the others have defaults that suit most figures."""

    name: str                              # fig3: the names of its configs and of reproduce.py's folders
    script: str                            # run_fmi.py: the script that runs it, recorded in its run folders
    title: str
    paper: str                             # "Fig. 3": how titles and reports name it
    config_model: type[ConfigT]            # its settings: a subclass of Common
    details_model: type[pydantic.BaseModel]  # what each of its cells adds to its record
    options: tuple[Option, ...] = ()       # its named command-line options, beside the common ones
    loss_title: str = "loss"
    authors: Optional[Published] = None    # optional: the authors' published figure, laid out by paper_grid
    notes: tuple[tuple[str, str], ...] = ()  # optional: (measure, how it is taken) of its findings, for analysis.md
    config_dir: Path = CONFIG_DIR          # where its configs are: NAME.yaml, NAME_quick.yaml, NAME_fast.yaml

    def config_file(self, variant: str = "") -> Path:
        """This figure's config of ``variant``: the paper's settings (""), "quick" or "fast"."""
        return self.config_dir / f"{self.name}{'_' + variant if variant else ''}.yaml"

    @property
    def paper_config(self) -> Path:
        """The paper's settings of this figure."""
        return self.config_file()

    def images(self, config: ConfigT) -> tuple[list[str], list[str]]:
        """The specs of the run's content images and of its style images."""
        return list(config.content), []

    def plan(self, config: ConfigT, contents: list[str], styles: list[str]) -> list[Batch]:
        """Every batch of the run in running order, for the content and style images of these names."""
        raise NotImplementedError

    def grids(self, config: ConfigT, contents: list[str], styles: list[str]) -> list[Grid]:
        """The figures a run draws."""
        raise NotImplementedError

    def paper_grid(self, config: ConfigT, contents: list[str], styles: list[str]) -> Grid:
        """Needed with ``authors``: their published figure's layout, filled with the run's cells (``fmi.compare``)."""
        raise NotImplementedError

    def atlas_grids(self, config: ConfigT, contents: list[str], styles: list[str]) -> list[Grid]:
        """The atlas's pages after its overview: a page per figure, unless the experiment wants others."""
        return self.grids(config, contents, styles)

    def label(self, config: ConfigT, name: str) -> str:
        """How loss.png names a group or an item of the plan (a layer, a filter): the name itself, unless
        the figure says otherwise."""
        return name

    def loss_panels(self, config: ConfigT, contents: list[str], styles: list[str]) -> dict[str, dict[str, str]]:
        """The panels of loss.png, {panel: {line: cell key}}: a panel per content image and group of the
        plan, a line per item, each named by ``label``."""
        panels: dict[str, dict[str, str]] = {}
        for batch in self.plan(config, contents, styles):
            lines = panels.setdefault(f"{batch.content} {self.label(config, batch.group)}", {})
            lines.update({self.label(config, item): key for item, key in zip(batch.items, batch.keys)})
        return panels

    def terms(self, config: ConfigT, group: str) -> list[Term]:
        """The loss terms of a cell of ``group``."""
        return [Term(group)]

    def prepare(self, config: ConfigT, session: Context, content: Picture) -> PreparedT:
        """What the batches of one content image share (its codes, say), computed once."""
        raise NotImplementedError

    def problem(self, config: ConfigT, prepared: PreparedT, batch: Batch) -> Problem:
        """The terms, targets and details of ``batch``, from what ``prepare`` gave."""
        raise NotImplementedError

    def findings(self, run: Finished[ConfigT]) -> list[Finding]:
        """Optional: what ``fmi.analyze`` measures for this experiment beyond the image measures of every run."""
        return []


AnyExperiment = Experiment[Any, Any]  # any figure, whatever its settings model: what the driver and the tools hold
