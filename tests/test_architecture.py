"""The house: imports run one way, from the commands down to the paper's mathematics, never back up.

Layers, lowest first: the floor (``fmi`` itself, ``fmi.errors``, ``fmi.io``), ``fmi.core`` (the
paper), ``fmi.files`` (image and weights files, the authors' published files), ``fmi.run``
(running an experiment), ``fmi.experiments`` (the three figures), ``fmi.tools`` (what reads run
folders), and the front doors (the ``python -m fmi.X`` commands). A module may import from its
own layer and the ones below; every import counts, also one inside a function. The paper stands
alone: ``fmi.core`` imports nothing of fmi but ``fmi.errors``.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fmi"
LAYERS = {"fmi.errors": 0, "fmi.io": 0, "fmi.core": 1, "fmi.files": 2, "fmi.run": 3, "fmi.experiments": 4,
          "fmi.tools": 5}
FRONT = 6


def layer_of(module):
    if module == "fmi":
        return 0
    for prefix, layer in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return FRONT


def fmi_imports(path):
    """Every fmi module ``path`` imports, with the line it does it on."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.split(".")[0] == "fmi"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "fmi":
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            # "from fmi.core import codes" imports a module; "from fmi.io import quote" a name in one
            found += [(name if (PACKAGE / Path(*name.split(".")[1:])).with_suffix(".py").exists()
                       or (PACKAGE / Path(*name.split(".")[1:])).is_dir() else node.module, node.lineno)
                      for name in names]
    return found


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


@pytest.mark.parametrize("module, path", list(modules()), ids=lambda item: str(item) if isinstance(item, str) else "")
def test_no_import_runs_back_up(module, path):
    own = layer_of(module)
    upward = [f"{path.name}:{line} imports {name}" for name, line in fmi_imports(path) if layer_of(name) > own]
    assert not upward, "; ".join(upward)


def test_the_layering_sees_an_upward_import(tmp_path):
    """The check above can fail: a core module importing the run layer is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from fmi.run import config\n")
    assert [layer_of(name) for name, _ in fmi_imports(bad)] == [LAYERS["fmi.run"]]
    assert layer_of("fmi.core.codes") < layer_of("fmi.run.interface.config")


def test_the_paper_lives_in_core_and_every_layer_has_its_place():
    names = {module for module, _ in modules()}
    core = sorted(module for module in names if module.startswith("fmi.core."))
    assert core == [f"fmi.core.{name}" for name in ("codes", "fidelity", "invert", "losses", "optimizers",
                                                     "preprocessing", "terms", "vgg19")]
    front = sorted(module for module in names if layer_of(module) == FRONT)
    assert front == ["fmi.analyze", "fmi.atlas", "fmi.compare", "fmi.data", "fmi.parity", "fmi.weights"]
    for module, path in modules():  # the front doors are thin
        if layer_of(module) == FRONT:
            assert len(path.read_text().splitlines()) <= 15, module


@pytest.mark.parametrize("module, path", [(m, p) for m, p in modules() if m.startswith("fmi.core")],
                         ids=lambda item: str(item) if isinstance(item, str) else "")
def test_core_imports_nothing_of_fmi_but_errors(module, path):
    outside = [f"{path.name}:{line} imports {name}" for name, line in fmi_imports(path)
               if not name.startswith("fmi.core") and name != "fmi.errors"]
    assert not outside, "; ".join(outside)


def test_importing_a_core_module_runs_nothing_else_of_fmi():
    """In a fresh interpreter, ``import fmi.core.losses`` loads the package, core and that module, no more."""
    done = subprocess.run([sys.executable, "-c", "import sys, fmi.core.losses; "
                           "print(sorted(name for name in sys.modules if name.startswith('fmi')))"],
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["['fmi',", "'fmi.core',", "'fmi.core.losses',", "'fmi.core.terms']"]
