"""What a run's figures say about themselves: titles, the marks on cells, and the loss figure.

Each reads the cells' states from ``fmi.run.folder.record.cell_status``, the one definition, so a
figure's badges, its title, the log and the record cannot disagree.
"""
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from fmi.core import optimizers
from fmi.run import figures
from fmi.run.folder.record import CELL_STATES, cell_status, status_counts

log = logging.getLogger("fmi")


def optimiser(config: Any) -> str:
    """The optimiser of a config and its step limit, as every title and page says it."""
    return f"{optimizers.NAMES[config.optimizer]}, at most {config.steps} steps"


def marks(session: Any, keys: Sequence[Optional[str]]) -> list[str]:
    """The state of each cell key for the figures' badges ('' for a cell that stopped by the rule)."""
    return [cell_status(session.folder.cells.get(key), session.config.stuck_fraction) if key else "" for key in keys]


def title(session: Any, what: str, size: tuple[int, int], keys: Sequence[str]) -> str:
    """A figure title that says how the figure was made and the states of its own cells ``keys``."""
    config = session.config
    finished = [key for key in keys if key and key in session.folder.cells]
    counts = status_counts(session.folder.cells, finished, config.stuck_fraction)
    lines = [f"{what}, {size[0]}x{size[1]} px (h x w)", *session.input_notes,  # right below the images it names
             f"{session.label}; {optimiser(config)}; fidelity: {session.fidelity.name}"]
    if session.settings_line:
        lines.append(session.settings_line)
    if counts:
        by_rule = len(finished) - sum(len(found) for found in counts.values())
        lines.append(f"of {len(finished)} cells: {by_rule} stopped by the rule, " + ", ".join(
            f"{len(counts[state])} {state}" for state in CELL_STATES if state in counts))
    log.info("figure titled: %s", " | ".join(lines))
    return "\n".join(lines)


def loss_figure(session: Any, groups: dict[str, dict[str, str]], what: str) -> Path:
    """Draw ``loss.png``: one panel per entry of ``groups`` = {panel: {line: cell key}}."""
    cells = session.folder.cells
    panels = {panel: {line: cells[key].loss_history for line, key in lines.items() if key in cells}
              for panel, lines in groups.items()}
    path = session.output / "loss.png"
    figures.loss_curves(panels, path, title=f"{what}; {session.label}")
    return path
