"""The run record: one typed schema, with a version, that writes and reads ``record.json`` and
every cell's own record; cell keys parsed in one place; one read-only view of a run folder.

A run folder may come from someone else (a collaborator's sweep, shards copied between
machines), so everything read from it is data, never instructions. It passes through this
module: the record and each cell record are checked against the schema below (names from a
fixed alphabet, keys by their grammar, numbers that are numbers, hex digests that are hex),
every path is built from checked names and resolved inside the run folder, and a symbolic
link that leads out of the folder is refused. A cell that fails is left out with a log line
where the rest of the run is usable; a record that fails is refused with one line naming the
file and the entry.
"""
import hashlib
import json
import logging
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pydantic

from fmi.core.vgg19 import RELU_LAYERS
from fmi.errors import FmiError
from fmi.files import image_files
from fmi.io import quote
from fmi.run.folder.keys import METHODS, NAME, parse_key
from fmi.run.interface.config import RUN_ONLY_KEYS

log = logging.getLogger("fmi")

RECORD_FORMAT = 4
SCRIPT = r"^run_[a-z]{1,20}\.py$"  # a figure script's name (fmi.experiments.FIGURES lists them)
MAX_RECORD_BYTES = 1 << 30        # a 5504-cell sweep with 1000-step histories is about 200 MB
MAX_CELL_RECORD_BYTES = 16 << 20
MAX_SIDE = 100_000                # pixels on a side: more than any image fmi can decode

SHARD_PATTERN = re.compile(r"([0-9]{1,6})-of-([0-9]{1,6})")


def _key(text):
    parse_key(text)
    return text


# --- cell states ----------------------------------------------------------------------------------

# A finished cell's state, the first that applies in this order; '' when it stopped by the authors'
# rule. Figures, titles, the log, the record and the atlas all read it from ``cell_status``.
CELL_STATES = {
    "non-finite": "its loss or image stopped being finite; it keeps its last finite image",
    "silent": "the filter responds nowhere on the cell's final image",
    "stuck": "its loss fell by less than stuck_fraction (1 % by default) of its first value",
    "step limit": "it ran to the step limit before the stop rule held",
}


def cell_status(cell, stuck_fraction):
    """The state of a finished cell (a ``CellRecord`` or its dict): one of ``CELL_STATES``, or ''
    for a cell that stopped by the rule, or for no cell."""
    if not cell:
        return ""
    cell = cell if isinstance(cell, dict) else cell.model_dump()
    if str(cell.get("stop_reason", "")).startswith("non-finite"):
        return "non-finite"
    if cell.get("silent"):
        return "silent"
    first, last = cell.get("initial_loss"), cell.get("final_loss")
    if first is not None and last is not None and first > 0 and (first - last) < stuck_fraction * first:
        return "stuck"
    if cell.get("stop_reason") == "max_steps":
        return "step limit"
    return ""


def status_counts(cells, keys, stuck_fraction):
    """{state: [keys]} of the finished cells among ``keys`` that are in a state other than ''."""
    found = {}
    for key in keys:
        state = cell_status(cells.get(key), stuck_fraction)
        if state:
            found.setdefault(state, []).append(key)
    return found


# --- fingerprints ---------------------------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent.parent
# the modules whose code decides a cell's numbers: the paper's mathematics, the image decoder and the
# weights (random ones are drawn there), the three experiments that assemble targets and terms, and
# the run modules that prepare pictures and post-process cells
NUMERICS = ("core/*.py", "files/image_files.py", "files/weight_files.py", "experiments/*.py", "run/session.py",
            "run/inversion.py")


def settings_of(config_dict, weights_identity, input_hashes):
    """The settings that decide a cell's result, as plain data."""
    config = {key: value for key, value in config_dict.items() if key not in RUN_ONLY_KEYS}
    return {"config": config, "weights": weights_identity, "inputs": input_hashes}


def fingerprint_of(settings):
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()


def code_identity(package=PACKAGE):
    """{"modules": {path: SHA-1 of its bytes}, "fingerprint": SHA-1 of them all} of the numerics
    modules as they are on disk now."""
    package = Path(package)
    files = sorted(path for pattern in NUMERICS for path in package.glob(pattern))
    modules = {path.relative_to(package).as_posix(): hashlib.sha1(path.read_bytes()).hexdigest() for path in files}
    return {"modules": modules, "fingerprint": fingerprint_of(modules)}


def cell_fingerprint(settings_fingerprint, code_fingerprint):
    """What a cell carries: its run's settings and the code that computed it, in one SHA-1."""
    return fingerprint_of({"settings": settings_fingerprint, "code": code_fingerprint})


# --- the schema -----------------------------------------------------------------------------------

STRICT = pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
Hex40 = Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9a-f]{40}$")]
Name = Annotated[str, pydantic.StringConstraints(pattern=rf"^{NAME}$")]
Key = Annotated[str, pydantic.AfterValidator(_key)]
Text = Annotated[str, pydantic.StringConstraints(max_length=1000)]
LongText = Annotated[str, pydantic.StringConstraints(max_length=8192)]
FileName = Annotated[str, pydantic.StringConstraints(pattern=rf"^{NAME}\.(png|jpg)$")]
Count = Annotated[int, pydantic.Field(ge=0, le=2**31 - 1)]
Side = Annotated[int, pydantic.Field(ge=1, le=MAX_SIDE)]
Size = Annotated[list[Side], pydantic.Field(min_length=2, max_length=2)]
Seconds = Annotated[float, pydantic.Field(ge=0)]
Layer = Literal[RELU_LAYERS]
Loss = Optional[float]


class Strict(pydantic.BaseModel):
    model_config = STRICT


class Response(Strict):
    max: float
    sum: float


class Draw(Strict):
    seed: Count
    distribution: Literal["authors", "positive"]
    generator: Text
    channels: Count
    negative_entries: Count
    sha1_float32: Hex40


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


class PaperDifference(Strict):
    """A setting of a run that is not the paper's: its dotted key, its value here, the paper's."""

    key: Text
    value: Any
    paper: Any


class CellRecord(Strict):
    """A finished cell: how it was made, its losses, why it stopped, and what it is."""

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
    optimizer: Literal["sgd", "lbfgs"]
    max_steps: Count
    fidelity: Literal["paper", "authors"]
    size: Size
    machine: MachineRecord
    before_denoise: Optional[Measures] = None
    fingerprint: Hex40
    settings_fingerprint: Hex40
    code_fingerprint: Hex40
    # what the experiment adds (Fig. 3: layer, filter, response, silent; Fig. 4: draw or style; Fig. 5: method)
    layer: Optional[Layer] = None
    filter: Optional[Count] = None
    response: Optional[dict[Literal["content", "final"], Response]] = None
    silent: Optional[bool] = None
    draw_seed: Optional[Count] = None
    draw: Optional[Draw] = None
    style: Optional[Name] = None
    content: Optional[Name] = None
    method: Optional[Literal[METHODS]] = None
    layers: Optional[list[Layer]] = None

    @pydantic.model_validator(mode="after")
    def _image_belongs_to_key(self):
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


class CodeRecord(Strict):
    modules: dict[Text, Hex40]
    fingerprint: Hex40


class RunRecord(Strict):
    """How a run was made, what it plans, and every finished cell."""

    record_format: Literal[RECORD_FORMAT]
    script: Annotated[str, pydantic.StringConstraints(pattern=SCRIPT)]
    argv: list[LongText]
    config: dict[Text, Any]
    fingerprint: Hex40
    settings: dict[Text, Any]
    code: CodeRecord
    fidelity: Literal["paper", "authors"]
    weights: WeightsRecord
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
    status: dict[Literal[tuple(CELL_STATES)], list[Key]] = {}
    wall_s: Optional[Seconds] = None
    collected_from: list[Annotated[str, pydantic.StringConstraints(pattern=SHARD_PATTERN.pattern)]] = []

    @pydantic.model_validator(mode="after")
    def _cells_are_planned(self):
        contents = {name for name, item in self.inputs.items() if item.role == "content"}
        for key in self.plan:
            if parse_key(key).content not in contents:
                raise ValueError(f"planned cell {key!r} names no content image of the run")
        for key, cell in self.cells.items():
            if key not in self.plan or cell.key != key:
                raise ValueError(f"cell {key!r} is not a planned cell of the run, or names another cell")
        return self


def build(model, what, **fields):
    """``model(**fields)``, or FmiError naming the entry the schema refuses: the same rule that reads
    records, applied before one is written (a name, a number or a key fmi would not read back)."""
    try:
        return model(**fields)
    except pydantic.ValidationError as error:
        raise FmiError(f"{what} would not pass the run record's schema ({_problem(error)}); change the "
                       f"input or setting it comes from") from None


def _problem(error):
    """The first problem pydantic found, as 'entry: what is wrong'."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the top level"
    return f"{quote(where)}: {first['msg']}"


# --- reading --------------------------------------------------------------------------------------

def read_file(path, limit):
    """(the bytes of the regular file at ``path``, None), or (None, why not): missing, not a regular
    file (a FIFO would block the read), unreadable (with the system's reason) or larger than ``limit``."""
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None, "is not a regular file"
        if status.st_size > limit:
            return None, f"is larger than the {limit // 2**20} MiB fmi reads"
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        return None, "no such file"
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"
    if len(data) > limit:
        return None, f"is larger than the {limit // 2**20} MiB fmi reads"
    return data, None


def read_bytes(path, limit):
    """The bytes of the regular file at ``path`` (at most ``limit``), or None if they cannot be had."""
    return read_file(path, limit)[0]


def load_record(path):
    """The ``RunRecord`` in ``path``; FmiError naming the file and the entry if it is not one."""
    data, problem = read_file(path, MAX_RECORD_BYTES)
    if problem:
        raise FmiError(f"{path}: {problem}; give the output folder of a run")
    try:
        return RunRecord.model_validate_json(data)
    except pydantic.ValidationError as error:
        raise FmiError(f"{path} is not a run record fmi can trust: {_problem(error)}") from None


def load_cell(path, key):
    """The ``CellRecord`` of ``key`` in ``path``, or (None, why not)."""
    data, problem = read_file(path, MAX_CELL_RECORD_BYTES)
    if problem:
        return None, "its record is missing" if problem == "no such file" else f"its record {problem}"
    try:
        cell = CellRecord.model_validate_json(data)
    except pydantic.ValidationError as error:
        return None, f"its record is damaged ({_problem(error)})"
    if cell.key != key:
        return None, f"its record is the record of {quote(cell.key)}"
    return cell, None


def inside(folder, *parts):
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
    """A run folder as data: its record checked against the schema, and its cells' paths resolved
    inside the folder. Read-only: the tools and the run folder share it."""

    def __init__(self, folder):
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

    @property
    def label(self):
        return self.record.weights.label

    def image_path(self, key):
        """Where the image of finished cell ``key`` lies, inside the run folder."""
        cell_key = parse_key(key)
        return inside(self.folder, "cells", cell_key.content, cell_key.group, self.cells[key].image)

    def status(self, key):
        return cell_status(self.cells.get(key), self.stuck_fraction)

    def read_image(self, key):
        """The RGB image of finished cell ``key``, or None if it is missing or does not decode."""
        return read_image(self.image_path(key), self.plan.get(key))


def read_image(path, size=None):
    """The (H, W, 3) uint8 RGB image at ``path``, or None if it is missing, not a regular file, not
    an image, larger than fmi decodes, or (with ``size``) not ``size`` = [height, width]."""

    try:
        header = image_files.read_header(path)
        if size is not None and [header.height, header.width] != list(size):
            return None
        return image_files.read_rgb(path, header)
    except (FmiError, OSError, ValueError):
        return None
