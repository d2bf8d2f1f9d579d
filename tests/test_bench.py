"""bench/: the cost table takes run folders from anywhere, and answers bad ones in one line."""
import re
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.parametrize("make, pattern", [
    (lambda folder: folder.mkdir(), r"record\.json: no such file; give the output folder of a run"),
    (lambda folder: (folder.mkdir(), (folder / "record.json").write_text('{"record_format": 1}')),
     r"is not a run record fmi can trust"),
    (lambda folder: (folder.mkdir(), (folder.parent / "outside.json").write_text("{}"),
                     (folder / "record.json").symlink_to(folder.parent / "outside.json")),
     r"leads out of the run folder"),
])
def test_the_cost_table_of_a_folder_without_a_run_is_one_line(tmp_path, make, pattern):
    folder = tmp_path / "runs"
    make(folder)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "cost.py"), "table", str(folder)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(errors) == 1 and re.search(pattern, errors[0]), done.stderr
