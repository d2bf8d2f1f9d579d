"""The run record: one typed schema, with a version, that writes and reads ``record.json`` and
every cell's own record; one read-only view of a run folder.

A run folder may come from someone else (a collaborator's sweep, shards copied between
machines), so everything read from it is data, never instructions. It passes through this
module: the record and each cell record are checked against the schema below (names from a
fixed alphabet, keys by their grammar, numbers that are numbers, hex digests that are hex),
every path is built from checked names and resolved inside the run folder, and a symbolic
link that leads out of the folder is refused. What an experiment adds to its cells, ``details``,
is checked here as plain JSON and by the experiment's own model where it is read. A cell that
fails is left out with a log line where the rest of the run is usable; a record that fails is
refused with one line naming the file and the entry.
"""
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypeVar, get_args

import numpy as np
import numpy.typing as npt
import pydantic

from fmi.core.fidelity import FidelityName
from fmi.core.network import Network, RecordedNetwork
from fmi.core.optimizers import Optimizer
from fmi.core.vgg19 import VGG19
from fmi.errors import FmiError
from fmi.io import digest_of_bytes, quote, read_file
from fmi.run.folder.keys import NAME, parse_key

RecordFormat = Literal[5]
RECORD_FORMAT: int = get_args(RecordFormat)[0]
MAX_RECORD_BYTES = 1 << 30        # a 5504-cell sweep with 1000-step histories is about 200 MB
MAX_CELL_RECORD_BYTES = 16 << 20
MAX_SIDE = 100_000                # pixels on a side: more than any image fmi can decode
SHARD_PATTERN = re.compile(r"([0-9]{1,6})-of-([0-9]{1,6})")
Model = TypeVar("Model", bound=pydantic.BaseModel)


# --- cell states ----------------------------------------------------------------------------------

# A finished cell's state, the first that applies in this order; '' when it stopped by the authors'
# rule. Figures, titles, the log, the record and the atlas all read it from ``cell_status``.
State = Literal["non-finite", "silent", "stuck", "step limit"]
CELL_STATES: dict[State, str] = {
    "non-finite": "its loss or image stopped being finite; it keeps its last finite image",
    "silent": "the filter responds nowhere on the cell's final image",
    "stuck": "its loss fell by less than stuck_fraction (1 % by default) of its first value",
    "step limit": "it ran to the step limit before the stop rule held",
}


# --- fingerprints ---------------------------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent.parent
# the modules whose code decides a cell's numbers: the paper's mathematics, the image decoder and the
# weights (random ones are drawn there), the experiments that assemble targets and terms, and the run
# modules that batch cells, prepare pictures and post-process cells
NUMERICS = ("core/*.py", "files/image_files.py", "files/weight_files.py", "files/networks.py", "experiments/*.py",
            "run/driver.py", "run/session.py", "run/inversion.py")


def settings_of(config: dict[str, Any], weights_identity: object, input_hashes: dict[str, str],
                network: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The settings that decide a cell's result, as plain data: the config's keys that count (its
    run-only keys left out by the caller), the weights, the inputs' SHA-1 and, for a network other than
    VGG-19, what it is (a file's SHA-256)."""
    settings = {"config": config, "weights": weights_identity, "inputs": input_hashes}
    return {**settings, "network": network} if network else settings


def fingerprint_of(settings: object) -> str:
    return digest_of_bytes(json.dumps(settings, sort_keys=True).encode("utf-8"))


def code_identity(package: Path = PACKAGE) -> dict[str, Any]:
    """{"modules": {path: SHA-1 of its bytes}, "fingerprint": SHA-1 of them all} of the numerics
    modules as they are on disk now."""
    files = sorted(path for pattern in NUMERICS for path in Path(package).glob(pattern))
    modules = {path.relative_to(package).as_posix(): digest_of_bytes(path.read_bytes()) for path in files}
    return {"modules": modules, "fingerprint": fingerprint_of(modules)}


def cell_fingerprint(settings_fingerprint: str, code_fingerprint: str) -> str:
    """What a cell carries: its run's settings and the code that computed it, in one SHA-1."""
    return fingerprint_of({"settings": settings_fingerprint, "code": code_fingerprint})


# --- the schema -----------------------------------------------------------------------------------

def worded(pattern: str, words: str) -> pydantic.AfterValidator:
    """A check that a string matches ``pattern``, refused in words ("'a b.png' is not a file name of
    letters ...") rather than by the pattern itself."""
    compiled = re.compile(pattern)

    def check(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError(f"{quote(text)} is not {words}")
        return text

    return pydantic.AfterValidator(check)


def _key(text: str) -> str:
    try:
        parse_key(text)
    except FmiError as error:
        raise ValueError(str(error)) from None
    return text


SCRIPT = r"run_[A-Za-z0-9][A-Za-z0-9_-]{0,39}\.py"
SCRIPT_WORDS = "run_ and up to 40 letters, digits, '_' and '-', then .py: run_fmi.py, run_fig6.py, ..."
NAMED = "letters, digits, '.', '_' and '-', starting with a letter or digit"
STRICT = pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
Hex40 = Annotated[str, worded(r"[0-9a-f]{40}", "a SHA-1 (40 hexadecimal digits)")]
Name = Annotated[str, worded(NAME, f"an image name ({NAMED}, at most 200)")]
Key = Annotated[str, pydantic.AfterValidator(_key)]
Text = Annotated[str, pydantic.StringConstraints(max_length=1000)]
LongText = Annotated[str, pydantic.StringConstraints(max_length=8192)]
FileName = Annotated[str, worded(rf"{NAME}\.(png|jpg)", f"a cell's file name ({NAMED}, ending in .png or .jpg)")]
Count = Annotated[int, pydantic.Field(ge=0, le=2**31 - 1)]
Side = Annotated[int, pydantic.Field(ge=1, le=MAX_SIDE)]
Size = Annotated[list[Side], pydantic.Field(min_length=2, max_length=2)]
Seconds = Annotated[float, pydantic.Field(ge=0)]
Loss = Optional[float]
ShardName = Annotated[str, worded(SHARD_PATTERN.pattern, "a shard folder's name, I-of-N")]


class Strict(pydantic.BaseModel):
    model_config = STRICT


class Measures(Strict):
    colourfulness: float
    gradient_magnitude: float
    spectral_entropy: float
    png_bytes_per_pixel: float


class MachineRecord(Strict):
    """What made a result: ``fmi.run.machine.facts``."""

    cpu: Text
    cores: Count
    cpu_flags: list[Text]
    mxnet: Text
    mxnet_features: list[Text]
    onednn: Optional[Text]
    onednn_isa: Optional[Text]
    settings: dict[Text, LongText]
    threads: Count
    device: Text
    gpu: Optional[dict[Text, Text]] = None  # the GPU in use: its name and compute capability


class PaperDifference(Strict):
    """A setting of a run that is not the paper's: its dotted key, its value here, the paper's."""

    key: Text
    value: Any
    paper: Any


class CellRecord(Strict):
    """A finished cell: how it was made, its losses, why it stopped, what it is, and what its
    experiment adds (``details``, checked by the experiment's own model)."""

    key: Key
    image: FileName
    steps: Count
    stop_reason: Text
    initial_loss: Loss
    final_loss: Loss
    loss_history: list[Loss]
    term_history: list[list[Loss]]
    wall_s: Seconds
    batch_wall_s: Seconds
    batch_size: Count
    weights: Text
    seed: Count
    optimizer: Optimizer
    max_steps: Count
    fidelity: FidelityName
    size: Size
    machine: MachineRecord
    before_denoise: Optional[Measures] = None
    silent: bool = False  # the filter the cell inverts responds nowhere on its final image
    details: dict[Text, pydantic.JsonValue] = {}
    fingerprint: Hex40
    settings_fingerprint: Hex40
    code_fingerprint: Hex40

    @pydantic.model_validator(mode="after")
    def _image_belongs_to_key(self) -> "CellRecord":
        item = parse_key(self.key).item
        if self.image not in (f"{item}.png", f"{item}.jpg"):
            raise ValueError(f"image {self.image!r} is not the image of cell {self.key!r}")
        return self


class InputRecord(Strict):
    spec: LongText
    path: LongText
    sha1: Hex40
    size: Size
    role: Literal["content", "style"]
    substitute: Optional[Text] = None
    git_blob: Hex40
    published: Optional[Text] = None


class WeightsRecord(Strict):
    source: Text
    pretrained: bool
    sha1: Optional[Hex40] = None
    git_blob: Optional[Hex40] = None
    published: Optional[Text] = None
    seed: Optional[Count] = None
    path: Optional[LongText] = None
    preprocessing: Text
    label: Text


class NetworkRecord(Strict):
    """Which network made a run: its source, for a file its name and SHA-256, and its input convention."""

    source: LongText
    input: Text
    pooling: Optional[Text] = None
    zoo: Optional[Text] = None
    file: Optional[Text] = None
    sha256: Optional[Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9a-f]{64}$")]] = None
    opset: Optional[Count] = None
    layers: list[Text] = []            # its rectified layers, in order (not for VGG-19, whose table fmi has)
    channels: dict[Text, Count] = {}  # of the layers the run used

    def network(self) -> Network:
        """The network as this record describes it, for the tools (``RecordedNetwork``); VGG-19 from its table."""
        if self.source == "vgg19":
            return VGG19(self.pooling or "avg")
        return RecordedNetwork(self.source, self.layers, self.channels)


class CodeRecord(Strict):
    modules: dict[Text, Hex40]
    fingerprint: Hex40


class RunRecord(Strict):
    """How a run was made, what it plans, and every finished cell."""

    record_format: RecordFormat
    script: Annotated[str, worded(SCRIPT, f"a figure script's name ({SCRIPT_WORDS})")]
    argv: list[LongText]
    config: dict[Text, Any]
    fingerprint: Hex40
    settings: dict[Text, Any]
    code: CodeRecord
    fidelity: FidelityName
    weights: WeightsRecord
    network: Optional[NetworkRecord] = None  # None in records made before networks other than VGG-19
    seed: Count
    inputs: dict[Name, InputRecord]
    plan: dict[Key, Size]
    threads: Count
    machine: MachineRecord
    paper_differences: list[PaperDifference]
    versions: dict[Text, LongText]
    started: Text
    shard: Optional[list[Count]] = None
    cells: dict[Key, CellRecord] = {}
    finished: Optional[Text] = None
    resumed: list[Text] = []
    figures: list[FileName] = []
    status: dict[State, list[Key]] = {}
    wall_s: Optional[Seconds] = None
    collected_from: list[ShardName] = []

    @pydantic.model_validator(mode="after")
    def _cells_are_planned(self) -> "RunRecord":
        contents = {name for name, item in self.inputs.items() if item.role == "content"}
        for key in self.plan:
            if parse_key(key).content not in contents:
                raise ValueError(f"planned cell {key!r} names no content image of the run")
        for key, cell in self.cells.items():
            if key not in self.plan or cell.key != key:
                raise ValueError(f"cell {key!r} is not a planned cell of the run, or names another cell")
        return self


def cell_status(cell: Optional[CellRecord], stuck_fraction: float) -> str:
    """The state of a finished cell: one of ``CELL_STATES``, or '' for a cell that stopped by the rule,
    or for no cell."""
    if cell is None:
        return ""
    if cell.stop_reason.startswith("non-finite"):
        return "non-finite"
    if cell.silent:
        return "silent"
    first, last = cell.initial_loss, cell.final_loss
    if first is not None and last is not None and first > 0 and (first - last) < stuck_fraction * first:
        return "stuck"
    return "step limit" if cell.stop_reason == "max_steps" else ""


def status_counts(cells: dict[str, CellRecord], keys: list[str], stuck_fraction: float) -> dict[str, list[str]]:
    """{state: [keys]} of the finished cells among ``keys`` that are in a state other than ''."""
    found: dict[str, list[str]] = {}
    for key in keys:
        state = cell_status(cells.get(key), stuck_fraction)
        if state:
            found.setdefault(state, []).append(key)
    return found


def build(model: type[Model], what: str, **fields: Any) -> Model:
    """``model(**fields)``, or FmiError naming the entry the schema refuses: the same rule that reads
    records, applied before one is written (a name, a number or a key fmi would not read back)."""
    try:
        return model(**fields)
    except pydantic.ValidationError as error:
        raise FmiError(f"{what} would not pass the run record's schema ({problem_of(error)}); change the "
                       f"input or setting it comes from") from None


def problem_of(error: pydantic.ValidationError) -> str:
    """The first problem pydantic found, as 'entry: what is wrong', in words."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the top level"
    return f"{quote(where)}: {first['msg'].removeprefix('Value error, ')}"


# --- reading --------------------------------------------------------------------------------------

def load_record(path: Path) -> RunRecord:
    """The ``RunRecord`` in ``path``; FmiError naming the file and the entry if it is not one."""
    data, problem = read_file(path, MAX_RECORD_BYTES)
    if data is None:
        raise FmiError(f"{path}: {problem}; give the output folder of a run")
    try:
        return RunRecord.model_validate_json(data)
    except pydantic.ValidationError as error:
        raise FmiError(f"{path} is not a run record fmi can trust: {problem_of(error)}") from None


def load_cell(path: Path, key: str) -> tuple[Optional[CellRecord], Optional[str]]:
    """The ``CellRecord`` of ``key`` in ``path``, or (None, why not)."""
    data, problem = read_file(path, MAX_CELL_RECORD_BYTES)
    if data is None:
        return None, "its record is missing" if problem == "no such file" else f"its record {problem}"
    try:
        cell = CellRecord.model_validate_json(data)
    except pydantic.ValidationError as error:
        return None, f"its record is damaged ({problem_of(error)})"
    if cell.key != key:
        return None, f"its record is the record of {quote(cell.key)}"
    return cell, None


def inside(folder: Path, *parts: str) -> Path:
    """``folder`` joined with ``parts``, refused unless it resolves inside ``folder`` (a symbolic
    link along the way may point elsewhere inside the folder, never out of it)."""
    root = Path(folder).resolve()
    path = Path(folder).joinpath(*parts)
    resolved = path.resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise FmiError(f"{path} leads out of the run folder {folder} (a symbolic link to {resolved}); fmi "
                       f"reads and writes only inside a run folder: replace the link with the folder itself")
    return path


class RunView:
    """A run folder as data: its record checked against the schema, its cells' paths resolved inside
    the folder, and, once ``check_details`` is given the experiment's model, each cell's details.
    Read-only: the tools and the run folder share it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FmiError(f"{self.folder}: no such folder; give the output folder of a run")
        self.record = load_record(inside(self.folder, "record.json"))
        self.script = self.record.script
        self.config = self.record.config
        self.plan = self.record.plan
        self.cells = self.record.cells
        self.contents = [name for name, item in self.record.inputs.items() if item.role == "content"]
        self.styles = [name for name, item in self.record.inputs.items() if item.role == "style"]
        stuck = self.config.get("stuck_fraction", 0.01)
        self.stuck_fraction = stuck if isinstance(stuck, float) and 0 <= stuck < 1 else 0.01

    def check_details(self, model: type[pydantic.BaseModel]) -> None:
        """Check every cell's details by its experiment's ``model``; FmiError naming the first that fails."""
        for cell in self.cells.values():
            check_details(model, cell, self.folder / "record.json")

    @property
    def label(self) -> str:
        return self.record.weights.label

    def image_path(self, key: str) -> Path:
        """Where the image of finished cell ``key`` lies, inside the run folder."""
        cell_key = parse_key(key)
        return inside(self.folder, "cells", cell_key.content, cell_key.group, self.cells[key].image)

    def status(self, key: str) -> str:
        return cell_status(self.cells.get(key), self.stuck_fraction)

    def read_image(self, key: str) -> Optional[npt.NDArray[np.uint8]]:
        """The RGB image of finished cell ``key``, or None if it is missing or does not decode."""
        return read_image(self.image_path(key), self.plan.get(key))


def check_details(model: type[Model], cell: CellRecord, where: Path) -> Model:
    """The details of ``cell`` as the experiment's ``model``; FmiError naming the record and the entry."""
    try:
        return model.model_validate(cell.details)
    except pydantic.ValidationError as error:
        raise FmiError(f"{where}: cell {cell.key}: its details are not what its experiment records "
                       f"({problem_of(error)})") from None


def read_image(path: Path, size: Optional[list[int]] = None) -> Optional[npt.NDArray[np.uint8]]:
    """The (H, W, 3) uint8 RGB image at ``path``, or None if it is missing, not a regular file, not
    an image, larger than fmi decodes, or (with ``size``) not ``size`` = [height, width]."""
    from fmi.files import image_files  # OpenCV: the experiments' settings load this schema, and --help no OpenCV

    try:
        header = image_files.read_header(path)
        if size is not None and [header.height, header.width] != list(size):
            return None
        return image_files.read_rgb(path, header)
    except (FmiError, OSError, ValueError):
        return None
