"""Splitting a run over N machines, and gathering it.

``--shard I/N`` runs every N-th batch of a run's plan, starting at I, into its own run folder
``<output>/shards/I-of-N``; ``--collect`` checks each shard (its record, its settings, each
cell) and copies the good cells into the run folder. Shard folders are found by name; anything
else under ``shards/``, and any link that leads out of the run folder, is named and ignored.
"""
import logging
import os
import shlex
from pathlib import Path
from typing import Optional

from fmi.errors import FmiError
from fmi.io import parse_int, read_bytes
from fmi.run.folder.record import SHARD_PATTERN, inside, load_record
from fmi.run.folder.runfolder import RunFolder, differences

log = logging.getLogger("fmi")
SWEEP_SCRIPT = Path(__file__).resolve().parent.parent.parent.parent / "slurm" / "sweep.sbatch"


def folder_of(output: Path, shard: Optional[tuple[int, int]]) -> Path:
    """The run folder of shard (I, N) of the run in ``output``."""
    return inside(output, "shards", f"{shard[0]}-of-{shard[1]}") if shard else output


def shard_folders(run_folder: RunFolder) -> dict[tuple[int, int], Path]:
    """{(index, count): folder} of the well-formed shard folders under ``shards/``; anything else
    there (stray files, misnamed folders, links out of the run folder) is named and ignored."""
    root = inside(run_folder.path, "shards")
    folders = {}
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        match = SHARD_PATTERN.fullmatch(entry.name)
        if not entry.is_dir() or not match or int(match.group(1)) >= int(match.group(2)):
            log.warning("ignoring %s: not a shard folder (shard folders are named I-of-N, 0 <= I < N)", entry)
            continue
        try:
            inside(run_folder.path, "shards", entry.name)
        except FmiError as error:
            log.warning("ignoring %s", error)
            continue
        folders[(int(match.group(1)), int(match.group(2)))] = entry
    return folders


def collect(run_folder: RunFolder) -> tuple[list[str], int]:
    """Copy every shard's good cells of this run here; return the planned keys still missing and the
    shard count."""
    root = run_folder.path / "shards"
    folders = shard_folders(run_folder)
    if not folders:
        raise FmiError(f"nothing to collect: no shard folders in {root}; run with --shard I/N first")
    counts = sorted({count for _, count in folders})
    if len(counts) != 1:
        raise FmiError(f"{root} holds shards of different splits ({', '.join(f'of {n}' for n in counts)}); "
                       f"keep the folders of one split only")
    count = counts[0]
    for (index, _), folder in sorted(folders.items()):
        try:
            record = load_record(inside(folder, "record.json"))
        except FmiError as error:
            log.warning("shard %s: %s; its cells will be missing", folder.name, error)
            continue
        if record.fingerprint != run_folder.fingerprint:
            changed = differences(record.settings, run_folder.record.settings)
            raise FmiError(f"shard {folder.name}: {folder / 'record.json'} was made with other settings "
                           f"({'; '.join(changed[:6])}); rerun it with this config, or collect with its own")
        for key, cell in run_folder.find_finished(folder).items():
            image = read_bytes(run_folder.cell_path(folder, key, run_folder.suffix), 1 << 30)
            if key not in run_folder.cells and image is not None:
                run_folder.write_cell(key, image, cell)
    run_folder.save_record(collected_from=[folder.name for _, folder in sorted(folders.items())])
    log.info("collected %d of %d cells from the shards in %s", len(run_folder.cells), len(run_folder.plan), root)
    return [key for key in run_folder.plan if key not in run_folder.cells], count


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N: this machine's part of a split into N shards."""
    index_text, _, count_text = str(text).partition("/")
    index, count = parse_int(index_text), parse_int(count_text)
    if index is None or count is None or not 0 <= index < count or count > 100000:
        raise FmiError(f"--shard {str(text)[:40]}: expected I/N with 0 <= I < N, e.g. 0/4 .. 3/4 "
                       f"(Slurm: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")
    return index, count


def resubmit_line(shards: list[int], count: int, argv: list[str], script: str = "run_fmi.py") -> str:
    """The sbatch line that reruns only ``shards`` of a split of ``script``'s run into ``count``, with the
    options of ``argv`` (a --collect run's arguments) that every shard shares."""
    options = [arg for arg in argv if arg != "--collect"]
    sweep = os.path.relpath(SWEEP_SCRIPT) if SWEEP_SCRIPT.is_relative_to(Path.cwd()) else str(SWEEP_SCRIPT)
    export = [] if script == "run_fmi.py" else [f"--export=ALL,FMI_SCRIPT={script}"]
    return shlex.join(["sbatch", f"--array={','.join(map(str, shards))}", *export, sweep, str(count), *options])
