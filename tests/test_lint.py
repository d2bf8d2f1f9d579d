"""The code is checked as part of the tests, so CI keeps it clean: ruff with the rules in pyproject.toml, and
mypy with its configuration there (every function of fmi typed; only MXNet's imports go unchecked)."""
import ast
import subprocess
import sys

from conftest import ROOT


def test_ruff_finds_nothing():
    scripts = sorted(path.name for path in ROOT.glob("*.py"))
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "fmi", "tests", "bench", *scripts], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0 and "Success: no issues found" in done.stdout, done.stdout[-4000:] + done.stderr


def test_every_function_of_fmi_is_annotated():
    """Each parameter (but self and cls) and each return of every function, nested ones included."""
    missing = []
    for path in sorted((ROOT / "fmi").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                unannotated = [a.arg for a in arguments if a.annotation is None and a.arg not in ("self", "cls")]
                unannotated += [f"*{a.arg}" for a in (node.args.vararg, node.args.kwarg) if a and a.annotation is None]
                if unannotated or node.returns is None:
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not missing, missing
