"""The house: imports run one way, from the commands down to the paper's mathematics, never back up and
never round in a cycle (``lint-imports``, with the contracts of pyproject.toml), and the paper stands alone."""
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(folder):
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=folder, capture_output=True, text=True, timeout=300)


def test_every_import_contract_is_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout


def test_the_contracts_catch_an_upward_import_and_a_cycle(tmp_path):
    """The check above can fail: a copy of fmi whose run layer imports the experiments (upward, and round
    in a cycle, since the experiments import the run layer) breaks both contracts."""
    shutil.copytree(ROOT / "fmi", tmp_path / "fmi", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    session = tmp_path / "fmi" / "run" / "session.py"
    session.write_text(session.read_text() + "\n\ndef figures():\n    from fmi import experiments\n\n"
                                             "    return experiments.FIGURES\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0 and "0 kept, 2 broken" in done.stdout, done.stdout[-3000:]
    assert "fmi.run.session -> fmi.experiments" in done.stdout


def test_the_front_doors_are_thin_and_the_paper_lives_in_core():
    core = sorted(path.stem for path in (ROOT / "fmi" / "core").glob("*.py") if path.stem != "__init__")
    assert core == ["codes", "fidelity", "graph", "invert", "losses", "network", "optimizers", "preprocessing", "terms",
                    "vgg19"]
    for door in ("analyze", "atlas", "compare", "data", "network", "parity", "weights"):
        assert len((ROOT / "fmi" / f"{door}.py").read_text().splitlines()) <= 15, door


def test_importing_a_core_module_runs_nothing_else_of_fmi():
    """In a fresh interpreter, ``import fmi.core.losses`` loads the package (with its environment check), its
    errors, core and the two modules it needs, no more."""
    done = subprocess.run([sys.executable, "-c", "import sys, fmi.core.losses; "
                           "print(' '.join(sorted(name for name in sys.modules if name.startswith('fmi'))))"],
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["fmi", "fmi.core", "fmi.core.losses", "fmi.core.terms", "fmi.environment",
                                   "fmi.errors"]


FIGURE_WORDS = re.compile(r"purposeful|random_draw|draw_seed|gatys|pmci|style_layers|methods", re.IGNORECASE)


def code_of(path):
    """The names and strings of a module's code, its docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value
        elif isinstance(node, ast.Name):
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.arg)):
            yield node.lineno, getattr(node, "name", None) or node.arg


def test_the_run_layer_and_the_tools_know_no_figure():
    """fmi/run speaks no figure's vocabulary; nothing outside fmi/experiments compares with a figure's name."""
    spoken = [f"{path.relative_to(ROOT)}:{line} {text!r}" for path in sorted((ROOT / "fmi" / "run").rglob("*.py"))
              for line, text in code_of(path) if FIGURE_WORDS.search(text)]
    assert not spoken, spoken
    compared = []
    for path in sorted((ROOT / "fmi").rglob("*.py")):
        if "experiments" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for side in [node.left, *node.comparators]:
                    if isinstance(side, ast.Constant) and re.fullmatch(r"fig[0-9]+", str(side.value)):
                        compared.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not compared, compared


def test_no_string_of_fmi_builds_markdown_and_no_class_is_long():
    """Reports come from templates: no string of fmi's code (docstrings aside) is a Markdown table row or
    heading; and no class passes 120 lines."""
    built = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "fmi").rglob("*.py"))
             for line, text in code_of(path)
             if isinstance(text, str) and (re.search(r"(^|\n)\|.*\|", text) or re.search(r"(^|\n)#{1,6} \S", text))
             and not path.name == "config.py"]  # config.py writes YAML comments, '# ...', not Markdown
    assert not built, built
    long = [f"{path.relative_to(ROOT)}:{node.name} {node.end_lineno - node.lineno + 1}"
            for path in sorted((ROOT / "fmi").rglob("*.py")) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 120]
    assert not long, long
