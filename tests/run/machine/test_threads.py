"""fmi sets MXNet's thread count before MXNet loads; these run in fresh interpreters."""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, tiny_run

from fmi.run.machine import threads


def python(code, **environment):
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "FMI_THREADS")}
    env.update(environment)
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                            check=True)
    return result.stdout.strip()


SHOW = "import fmi, os; print(os.environ['OMP_NUM_THREADS'])"


def test_every_usable_core_whatever_the_environment_says():
    cores = str(threads.usable_cores())
    assert python(SHOW) == cores
    assert python(SHOW, OMP_NUM_THREADS="1") == cores


def test_fmi_threads_chooses_another_count():
    assert python(SHOW, FMI_THREADS="1") == "1"
    assert python(SHOW, FMI_THREADS="nonsense") == str(threads.usable_cores())


def test_threads_setting_restarts_the_script_and_is_recorded(tmp_path, tiny_image):
    wanted = 1 if threads.usable_cores() > 1 else 2
    command = [sys.executable, "run_fmi.py", "--image", str(tiny_image), "--weights", "random:0", "--size", "16",
               "--layers", "relu1_1", "--filters", "0", "--steps", "1", "--threads", str(wanted),
               "--output", str(tmp_path / "out")]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    assert record["threads"] == wanted and record["config"]["threads"] == wanted


def test_sigterm_stops_a_script_cleanly_and_it_resumes(tmp_path, tiny_image):
    import signal
    import time

    command = [sys.executable, "run_fmi.py", "--image", str(tiny_image), "--weights", "random:0", "--size", "32",
               "--layers", "relu1_1,relu3_1", "--filters", "0,1,2,3", "--batch-size", "1", "--steps", "400",
               "--output", str(tmp_path / "out")]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    cells = tmp_path / "out" / "cells" / "tiny" / "relu1_1"
    deadline = time.monotonic() + 60
    while not (cells.is_dir() and list(cells.glob("*.json"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=60)[1]
    assert process.returncode == 130, err
    assert "rerun the same command with --resume" in err and "Traceback" not in err
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    assert 0 < len(record["cells"]) < 8
    subprocess.run(command + ["--resume"], cwd=ROOT, check=True, capture_output=True)
    assert len(json.loads((tmp_path / "out" / "record.json").read_text())["cells"]) == 8


@pytest.mark.parametrize("text", ["\u0663", "1_0", "0x2", "-1", "99999"])
def test_fmi_threads_accepts_only_plain_counts(monkeypatch, text):
    monkeypatch.setenv("FMI_THREADS", text)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.configure_default_threads() == threads.usable_cores()


def test_fmi_threads_that_is_not_a_number_is_an_error(tmp_path, tiny_image):
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "run_fmi.py", *tiny_run(tmp_path / "out", tiny_image, steps=3)], cwd=ROOT,
                          env={**env, "FMI_THREADS": "abc"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: FMI_THREADS='abc': expected a whole number of threads from 1 to 1024")
    assert not (tmp_path / "out").exists()
