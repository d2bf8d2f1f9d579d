"""The paper's three figures: ``FIGURES``, the one list every tool reads (name, script, title, the
paper's figure, its experiment module, the authors' published file), and one module each with its
config, its plan of cells, its grid (drawn, shown by the atlas, paired by compare) and its run.
Imports from ``fmi.run`` and below."""
from dataclasses import dataclass
from types import ModuleType

import pydantic

from fmi.errors import FmiError
from fmi.experiments import fig3, fig4, fig5
from fmi.files import published
from fmi.io import quote
from fmi.run.interface.config import CONFIG_DIR, describe_differences


@dataclass(frozen=True)
class Figure:
    """One of the paper's figures as fmi runs it."""

    name: str                     # fig3, fig4, fig5: the names of its configs and of reproduce.py's folders
    script: str                   # the script that runs it, recorded in its run folders
    title: str
    paper: str                    # "Fig. 3"
    experiment: ModuleType        # its module: Config, grids, paper_grid, run
    authors: published.Published  # the authors' own figure

    @property
    def paper_config(self):
        """The paper's settings of this figure, a config file in fmi/configs."""
        return CONFIG_DIR / f"{self.name}.yaml"


FIGURES = (
    Figure("fig3", "run_fmi.py", "Feature Map Inversion", "Fig. 3", fig3, published.FIGURES[0]),
    Figure("fig4", "run_random.py", "Randomly modified code inversion", "Fig. 4", fig4, published.FIGURES[1]),
    Figure("fig5", "run_pmci.py", "PMCI beside Gatys", "Fig. 5", fig5, published.FIGURES[2]),
)
BY_NAME = {figure.name: figure for figure in FIGURES}
SCRIPTS = tuple(figure.script for figure in FIGURES)


def of_script(script):
    """The figure a run made by ``script`` belongs to; FmiError for a script that makes none."""
    for figure in FIGURES:
        if figure.script == script:
            return figure
    raise FmiError(f"{quote(script)} is not one of fmi's figure scripts ({', '.join(SCRIPTS)})")


def of_config(config):
    """The figure a config (a ``fig3.Config``, ...) is for."""
    return next(figure for figure in FIGURES if isinstance(config, figure.experiment.Config))


def settings_line(view):
    """How the settings of the run in ``view`` differ from the paper's figure, in one line."""
    differences = [(item.key, item.value, item.paper) for item in view.record.paper_differences]
    return describe_differences(differences, of_script(view.script).paper)


def config_of(view):
    """The config of the run in ``view`` (a ``fmi.run.folder.record.RunView``), checked as its script checks it."""
    where = f"{view.folder / 'record.json'}: its config"
    try:
        config = of_script(view.script).experiment.Config.model_validate(view.config)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        raise FmiError(f"{where}: key {'.'.join(map(str, first['loc']))!r}: {first['msg']}") from None
    config.check(where)
    return config
