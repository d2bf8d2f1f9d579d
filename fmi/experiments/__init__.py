"""The paper's figures: ``FIGURES``, the one list every tool reads, one module each (``fig3``, ``fig4``,
``fig5``) with its ``Experiment``: its settings, what its cells record, its plan, its grids, its
batches' terms and targets, and what ``fmi.analyze`` measures for it. Adding a figure is a module
here, its entry in ``FIGURES`` and a script of three lines. Imports from ``fmi.run`` and below.
"""
from pathlib import Path

import pydantic

from fmi.errors import FmiError
from fmi.experiments import fig3, fig4, fig5
from fmi.io import quote
from fmi.run.experiment import AnyExperiment
from fmi.run.folder.record import RunView, problem_of
from fmi.run.interface.config import Common
from fmi.run.interface.config_words import describe_differences

FIGURES: tuple[AnyExperiment, ...] = (fig3.EXPERIMENT, fig4.EXPERIMENT, fig5.EXPERIMENT)
BY_NAME = {figure.name: figure for figure in FIGURES}
SCRIPTS = tuple(figure.script for figure in FIGURES)


def of_script(script: str) -> AnyExperiment:
    """The figure a run made by ``script`` belongs to; FmiError for a script that makes none."""
    for figure in FIGURES:
        if figure.script == script:
            return figure
    raise FmiError(f"{quote(script)} is not one of fmi's figure scripts ({', '.join(SCRIPTS)})")


def view(folder: Path) -> tuple[AnyExperiment, RunView, Common]:
    """A run folder read for a tool: its experiment, its view (each cell's details checked by the
    experiment's model), and its config checked as its script checks it."""
    found = RunView(folder)
    figure = of_script(found.script)
    found.check_details(figure.details_model)
    config = config_of(figure, found)
    planned = {key for batch in figure.plan(config, found.contents, found.styles) for key in batch.keys}
    stray = next((key for key in found.plan if key not in planned), None)
    if stray is not None:
        raise FmiError(f"{found.folder / 'record.json'} is not a run record fmi can trust: planned cell "
                       f"{quote(stray)} is not a cell its config plans")
    return figure, found, config


def config_of(figure: AnyExperiment, found: RunView) -> Common:
    """The config of the run in ``found``, checked as its script checks it."""
    where = f"{found.folder / 'record.json'}: its config"
    try:
        config = figure.config_model.model_validate(found.config)
    except pydantic.ValidationError as error:
        raise FmiError(f"{where}: {problem_of(error)}") from None
    if found.record.network is not None:  # the network as the record describes it: its file need not be here
        config.use_network(found.record.network.network())
    config.check(where)
    return config


def settings_line(found: RunView) -> str:
    """How the settings of the run in ``found`` differ from the paper's figure, in one line."""
    differences = [(item.key, item.value, item.paper) for item in found.record.paper_differences]
    return describe_differences(differences, of_script(found.script).paper)
