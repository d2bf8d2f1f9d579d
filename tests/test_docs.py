"""The README's and docs/'s promises: their commands, their Python example, their times, their counts."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, snapshot, write_image

import run_fmi
from fmi.files import image_files


def readme_example():
    """The Options example of docs/usage.md, as a list of arguments after 'python run_fmi.py'."""
    text = (ROOT / "docs" / "usage.md").read_text()
    line = next(line for line in text.splitlines() if line.startswith("python run_fmi.py --image"))
    return line.split()[2:]


@pytest.mark.parametrize("image_present", [False, True])
def test_the_readme_example_leaves_a_finished_run_byte_identical(tmp_path, finished, capsys, monkeypatch,
                                                                  image_present):
    monkeypatch.chdir(tmp_path)
    if image_present:
        (tmp_path / "data" / "paper").mkdir(parents=True)
        write_image(tmp_path / "data" / "paper" / "tubingen.jpg", 40, 50)
    before = snapshot(finished)
    argv = readme_example() + ["--output", str(finished)]
    code = run_fmi.main(argv)
    assert code == 2
    assert snapshot(finished) == before
    err = capsys.readouterr().err
    assert ("holds a run made with other settings" in err) if image_present else ("tubingen.jpg" in err)


def test_the_readme_example_writes_to_its_own_folder():
    argv = readme_example()
    assert "--output" in argv and argv[argv.index("--output") + 1] != "runs/quickstart"


def readme_block(heading):
    """The first ``` block after the README heading ``heading``."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    return section.split("```")[1].removeprefix("python\n")


def test_the_readme_library_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "example.py"
    script.write_text(readme_block("## Using fmi from Python"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    rgb = image_files.read_rgb(tmp_path / "runs" / "relu3_2_filter_7.png")
    assert rgb.ndim == 3 and rgb.std() > 0


def test_the_readme_states_no_test_count():
    text = "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    assert not re.search(r"\b\d+ tests\b", text)


def test_the_measured_times_name_the_machine_they_were_measured_on():
    text = "\n".join((ROOT / page).read_text() for page in ("README.md", "docs/performance.md"))
    table = text[text.index("## Measured times"):].split("\n## ")[0]
    assert "CPU" in table and re.search(r"\d+ cores?", table)
    for vague in ("about a minute", "under a minute", "minutes on a laptop", "a few minutes"):
        assert vague not in text
    for script in ("run_fmi.py", "run_random.py", "run_pmci.py"):
        assert "minutes on a laptop" not in (ROOT / script).read_text()
    for config in (ROOT / "configs").glob("*.yaml"):
        assert "a few minutes" not in config.read_text()


def test_commands_in_the_readme_and_the_docs_name_real_files():
    text = "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    configs = re.findall(r"--config (configs/\S+\.yaml)", text)
    modules = set(re.findall(r"python -m (fmi\.\w+)", text))
    assert len(configs) >= 3 and {"fmi.analyze", "fmi.atlas", "fmi.compare", "fmi.data", "fmi.parity"} <= modules
    for config in configs:
        assert (ROOT / config).is_file(), config
    for module in modules:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_every_test_file_the_docs_name_exists():
    """The docs name the test that proves a promise: each named file is there (tests/test_trust.py was
    named long after it was split up)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "fmi").rglob("*.py"))]
    named = {name for page in pages for name in re.findall(r"\btests/[\w/]+\.py\b", page.read_text())}
    assert len(named) >= 5
    missing = sorted(name for name in named if not (ROOT / name).is_file())
    assert not missing, missing


def test_the_tests_mirror_the_package():
    """A test module in a folder of tests/ tests a module of the same folder of fmi/ (or a figure, a tool)."""
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        folder = path.parent.relative_to(ROOT / "tests")
        if folder != Path("."):
            assert (ROOT / "fmi" / folder).is_dir(), path
