"""The paper's three figures, one module each: its config, its plan of cells, its grid (drawn,
shown by the atlas, paired by compare) and its run. Imports from ``fmi.run`` and below."""
import pydantic

from fmi.errors import FmiError
from fmi.experiments import fig3, fig4, fig5
from fmi.run.interface.config import describe_differences

MODULES = {fig3.SCRIPT: fig3, fig4.SCRIPT: fig4, fig5.SCRIPT: fig5}
TITLES = {fig3.SCRIPT: "Feature Map Inversion (Fig. 3)", fig4.SCRIPT: "Modified code inversion (Fig. 4)",
          fig5.SCRIPT: "PMCI beside Gatys (Fig. 5)"}


def module_of(script):
    """The experiment module of a run made by ``script`` (run_fmi.py, run_random.py, run_pmci.py)."""
    return MODULES[script]


def settings_line(view):
    """How the settings of the run in ``view`` differ from the paper's figure, in one line."""
    differences = [(item.key, item.value, item.paper) for item in view.record.paper_differences]
    return describe_differences(differences, module_of(view.script).PAPER[0])


def config_of(view):
    """The config of the run in ``view`` (a ``fmi.run.folder.record.RunView``), checked as its script checks it."""
    module = module_of(view.script)
    where = f"{view.folder / 'record.json'}: its config"
    try:
        config = module.Config.model_validate(view.config)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        raise FmiError(f"{where}: key {'.'.join(map(str, first['loc']))!r}: {first['msg']}") from None
    config.check(where)
    return config
