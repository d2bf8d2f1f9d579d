"""Where fmi installs and runs: CPython 3.10 to 3.12, one numpy for all (MXNet 1.9.1's removed aliases set
back by fmi alone), the same cells under the numpy pinned before, and one line where it cannot run."""
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, one_error, tiny_run, write_image
from packaging.specifiers import SpecifierSet

import run_fmi
from fmi.run.machine import device

PREVIOUS_NUMPY = "1.23.5"  # the version pinned until fmi 0.4
PLATFORMS = {"x86_64": ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "linux_x86_64"],
             "aarch64": ["manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"]}


def test_requires_python_admits_exactly_3_10_to_3_12():
    admitted = SpecifierSet(re.search(r'^requires-python = "(.*)"$', (ROOT / "pyproject.toml").read_text(),
                                      re.MULTILINE).group(1))
    assert [version for version in ("3.9", "3.10", "3.11", "3.12", "3.13") if version in admitted] == [
        "3.10", "3.11", "3.12"]


def resolve(tmp_path, requirements, python, machine="x86_64", timeout=900):
    """pip's resolver, for another Python and platform, on a copy of ``requirements`` (and the files it
    includes) without the editable install of fmi itself: the finished process."""
    for name in ("requirements.txt", "requirements-common.txt", "requirements-gpu.txt"):
        (tmp_path / name).write_text("".join(line for line in (ROOT / name).read_text().splitlines(True)
                                             if not line.startswith("-e")))
    platforms = [argument for name in PLATFORMS[machine] for argument in ("--platform", name)]
    return subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--only-binary=:all:",
                           "--python-version", python, *platforms, "--implementation", "cp", "--target",
                           str(tmp_path / "target"), "-r", str(tmp_path / requirements)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("requirements, python, machine", [
    ("requirements.txt", "3.10", "x86_64"), ("requirements.txt", "3.12", "x86_64"),
    ("requirements.txt", "3.11", "aarch64"), ("requirements-gpu.txt", "3.10", "x86_64"),
    ("requirements-gpu.txt", "3.11", "x86_64"), ("requirements-gpu.txt", "3.12", "x86_64")])
def test_the_requirements_resolve_from_wheels_alone(tmp_path, requirements, python, machine):
    """pip's resolver, for another Python and platform, finds a wheel for every pinned package, the GPU
    environment's MXNet and NVIDIA libraries included."""
    done = resolve(tmp_path, requirements, python, machine)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_two_environments_share_every_pin_but_mxnet():
    def pins(name):
        return {line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines()
                if line.split("#")[0].strip() and not line.startswith(("-r", "-e", "--"))}

    assert "-r requirements-common.txt" in (ROOT / "requirements.txt").read_text().splitlines()
    assert "-r requirements-common.txt" in (ROOT / "requirements-gpu.txt").read_text().splitlines()
    assert pins("requirements.txt") == {"mxnet==1.9.1"}
    gpu = pins("requirements-gpu.txt")
    assert "mxnet-cu117==1.9.1" in gpu and not any(pin.startswith("mxnet==") for pin in gpu)
    assert not any(pin.startswith("mxnet") for pin in pins("requirements-common.txt"))


def test_on_an_unsupported_python_pip_stops_at_once_naming_what_has_no_wheel(tmp_path):
    """No source builds: on CPython 3.13 (and 3.8) pip refuses numpy 1.26.4 in seconds instead of building it."""
    for python in ("3.13", "3.8"):
        started = time.perf_counter()
        done = resolve(tmp_path, "requirements.txt", python, timeout=300)
        assert done.returncode != 0 and "No matching distribution found for numpy==1.26.4" in done.stderr, done.stderr
        assert time.perf_counter() - started < 120


FRESH = """
import sys, warnings
import numpy
before = dict(vars(numpy))
import fmi
changed = sorted(name for name, value in vars(numpy).items() if name not in before or before[name] is not value)
import mxnet
print(numpy.__version__, changed, mxnet.__version__)
"""


def test_fmi_sets_back_the_numpy_aliases_mxnet_needs_and_nothing_else():
    done = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, check=True, cwd=ROOT)
    version, *rest = done.stdout.split(" ", 1)
    expected = "[]" if version.startswith(("1.22", "1.23")) else str(sorted(["bool", "int", "float", "complex",
                                                                             "object", "str"]))
    assert rest == [f"{expected} 1.9.1\n"]


def test_without_fmi_mxnet_cannot_load_on_this_numpy():
    """The test above can fail: on numpy 1.24 and later MXNet 1.9.1 alone stops at a removed alias."""
    import numpy

    if numpy.__version__.startswith(("1.22", "1.23")):
        pytest.skip(f"numpy {numpy.__version__} still has the aliases MXNet 1.9.1 uses")
    done = subprocess.run([sys.executable, "-c", "import mxnet"], capture_output=True, text=True)
    assert done.returncode != 0 and "has no attribute 'bool'" in done.stderr


@pytest.mark.parametrize("python, numpy_version, problem", [
    ((3, 13), "1.26.4", "this is Python 3.13"), ((3, 9), "1.26.4", "this is Python 3.9"),
    ((3, 12), "2.1.0", "this is numpy 2.1.0"), ((3, 10), "1.26.4", None), ((3, 12), "1.23.5", None)])
def test_an_unsupported_python_or_numpy_is_named_with_the_route_that_works(python, numpy_version, problem):
    found = device.environment_problem(python, numpy_version)
    if problem is None:
        assert found is None
    else:
        assert found.startswith(problem) and "CPython 3.10 to 3.12" in found
        assert "'uv venv --python 3.12 .venv && . .venv/bin/activate && uv pip install -r requirements.txt'" in found


def test_a_run_under_numpy_2_stops_in_one_line_before_mxnet(tmp_path, tiny_image, capsys, monkeypatch):
    import numpy

    monkeypatch.setattr(numpy, "__version__", "2.1.0")
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image))
    one_error(capsys, code, r"^error: this is numpy 2\.1\.0 .*uv venv --python 3\.12")
    assert not (tmp_path / "out").exists()


# --- the same cells under the numpy pinned before -----------------------------------------------

FIGURES = {  # a tiny run of each figure, Fig. 5 in both fidelity modes
    "fig3": ["run_fmi.py", "--layers", "relu1_2,relu3_1", "--filters", "0,3"],
    "fig4": ["run_random.py", "--layers", "relu1_1,relu3_1", "--draw-seeds", "1,2"],
    "fig5": ["run_pmci.py", "--style", "{style}", "--style-layers", "relu1_1,relu2_1,relu3_1"],
    "fig5_authors": ["run_pmci.py", "--style", "{style}", "--style-layers", "relu1_1,relu2_1", "--fidelity",
                     "authors"],
}


def cells(folder):
    """Every cell's image bytes and recorded numbers (steps, stop reason, losses, details)."""
    found = {}
    for path in sorted((folder / "cells").rglob("*.*")):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".json":
            record = json.loads(path.read_text())
            found[name] = {key: record[key] for key in ("steps", "stop_reason", "loss_history", "term_history",
                                                        "details")}
        else:
            found[name] = path.read_bytes()
    return found


@pytest.mark.skipif(sys.version_info >= (3, 12), reason=f"numpy {PREVIOUS_NUMPY} has no wheel for Python 3.12")
def test_every_figure_gives_the_same_cells_under_the_numpy_pinned_before(tmp_path):
    """Each figure's tiny run, once with the numpy of requirements.txt and once with numpy 1.23.5 (installed
    beside it, nothing else changed), gives the same bytes and numbers in every cell."""
    previous = tmp_path / f"numpy-{PREVIOUS_NUMPY}"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
                           "--target", str(previous), f"numpy=={PREVIOUS_NUMPY}"], capture_output=True, text=True)
    assert done.returncode == 0, f"pip could not install numpy {PREVIOUS_NUMPY}: {done.stderr[-1000:]}"
    write_image(tmp_path / "content.png", 36, 48, seed=1)
    write_image(tmp_path / "style.png", 40, 40, seed=2)
    for name, argv in FIGURES.items():
        runs = {}
        for numpy_path in (None, previous):
            output = tmp_path / name / ("previous" if numpy_path else "pinned")
            environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
                str(path) for path in (numpy_path, ROOT) if path))
            script, *options = [item.format(style=tmp_path / "style.png") for item in argv]
            subprocess.run([sys.executable, script, *options, "--image", str(tmp_path / "content.png"), "--weights",
                            "random:0", "--size", "48", "--steps", "20", "--output", str(output)], cwd=ROOT,
                           env=environment, check=True, capture_output=True)
            runs[numpy_path] = cells(output)
            versions = json.loads((output / "record.json").read_text())["versions"]
            assert (versions["numpy"] == PREVIOUS_NUMPY) == (numpy_path is not None), versions
        assert runs[None] and runs[None] == runs[previous], name


def test_fmi_s_version_is_read_without_loading_mxnet_opencv_or_matplotlib():
    script = ("import sys, fmi; version = fmi.__version__; "
              "print(version, sorted({m.split('.')[0] for m in sys.modules} & {'mxnet', 'cv2', 'matplotlib'}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    installed = importlib.metadata.version("fmi")
    assert done.stdout.split() == [installed, "[]"]


def pyenv_python(version):
    """A pyenv CPython of ``version`` (3.8, 3.13, ...), or a skip saying it is not on this machine."""
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))
    if not found:
        pytest.skip(f"no CPython {version} from pyenv here (pyenv install {version}) to start fmi with")
    return found[-1]


@pytest.mark.parametrize("version", ["3.8", "3.9", "3.13"])
def test_every_door_on_an_unsupported_python_says_why_in_one_line(version):
    """On any Python from 3.8 up, a figure script, reproduce.py and python -m fmi.* say in one line what
    Python fmi needs and the route that makes one: no SyntaxError, no traceback."""
    python = pyenv_python(version)
    for command in (["run_fmi.py", "--help"], ["reproduce.py"], ["-m", "fmi.analyze", "runs/x"]):
        done = subprocess.run([str(python), *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, (command, done.stderr)
        assert done.stderr.startswith(f"error: this is Python {version}; fmi runs on CPython 3.10 to 3.12")
        assert "uv venv --python 3.12" in done.stderr


def test_a_python_without_the_requirements_names_what_is_missing_and_how_to_install(tmp_path):
    """A bare CPython 3.10-3.12 (no numpy, no MXNet): one line naming the missing packages and the command; a
    program importing fmi gets the same words as an ImportError."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    python = bare / "bin" / "python"
    done = subprocess.run([str(python), "run_pmci.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert re.match(r"error: this Python \(.*\) lacks numpy, mxnet, opencv-python-headless, pyyaml, pydantic, .*: "
                    r"install fmi's requirements with 'pip install -r requirements.txt'", done.stderr), done.stderr
    done = subprocess.run([str(python), "-c", "import fmi"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "ImportError: this Python" in done.stderr


def test_nvidia_s_libraries_load_by_path_before_mxnet_and_only_then(tmp_path):
    """A stand-in for NVIDIA's wheels (site-packages/nvidia/<package>/lib/<library>, here a copy of the C maths
    library under NVTX's name): nothing is loaded when fmi is imported, and the library is in the process,
    from that path, once MXNet is."""
    import ctypes.util

    libm = Path("/lib/x86_64-linux-gnu/libm.so.6") if Path("/lib/x86_64-linux-gnu/libm.so.6").exists() else None
    if libm is None:
        libm = Path(ctypes.util.find_library("m") or "")
        if not libm.is_absolute():
            pytest.skip("no path to the C maths library to stand in for a CUDA library")
    stand_in = tmp_path / "site" / "nvidia" / "nvtx" / "lib" / "libnvToolsExt.so.1"
    stand_in.parent.mkdir(parents=True)
    stand_in.write_bytes(libm.read_bytes())
    code = ("import fmi, sys\n"
            "def loaded(): return 'nvidia/nvtx/lib/libnvToolsExt.so.1' in open('/proc/self/maps').read()\n"
            "before = loaded()\n"
            "import mxnet\n"
            "print(before, loaded(), fmi.environment.cuda_library_paths())")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}"}, check=True)
    assert done.stdout.strip() == f"False True ['{stand_in}']"
