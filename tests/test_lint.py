"""The code is linted as part of the tests, so CI keeps it clean: ruff with the rules in pyproject.toml."""
import subprocess
import sys

from conftest import ROOT


def test_ruff_finds_nothing():
    scripts = sorted(path.name for path in ROOT.glob("*.py"))
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "fmi", "tests", "bench", *scripts], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
