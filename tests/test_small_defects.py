"""Small defects found in review, each with the test that failed before it was fixed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import one_error, tiny_run, write_image

import run_fmi
from fmi.errors import FmiError
from fmi.files import image_files
from fmi.run import measures
from fmi.run.folder import record
from fmi.run.machine import memory

ROOT = Path(__file__).resolve().parent.parent


def test_each_figure_title_counts_only_its_own_cells(tmp_path, caplog):
    for index, name in enumerate(("one", "two")):
        write_image(tmp_path / f"{name}.png", 24, 32, seed=index)
    caplog.set_level("INFO")
    argv = tiny_run(tmp_path / "out", ",".join(map(str, [tmp_path / "one.png", tmp_path / "two.png"])), steps=3)
    assert run_fmi.main(argv) == 0
    titles = [message for message in caplog.messages if message.startswith("figure titled: Feature Map")]
    assert len(titles) == 2 and all("of 4 cells:" in title for title in titles), titles  # not "of 8"


def test_a_jpeg_with_data_after_its_end_marker_is_read(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", rgb)
    path = tmp_path / "phone.jpg"
    path.write_bytes(data.tobytes() + b"trailer" + bytes(range(256)) * 16)  # 4 KiB after the end marker
    assert image_files.read_rgb(path).shape == (40, 50, 3)
    path.write_bytes(data.tobytes()[:-200])  # cut inside the scan: refused as before
    with pytest.raises(FmiError, match="JPEG is truncated"):
        image_files.read_header(path)


def test_a_key_given_twice_in_a_config_is_refused(tmp_path, tiny_image, capsys):
    config = tmp_path / "twice.yaml"
    config.write_text("seed: 1\nsteps_unused: 2\nseed: 2\n")
    code = run_fmi.main(["--config", str(config), "--image", str(tiny_image), "--output", str(tmp_path / "o")])
    one_error(capsys, code, r"twice.yaml: YAML error at line 3, column 1: key 'seed' is given twice")
    assert not (tmp_path / "o").exists()


def test_fmi_threads_that_is_not_a_number_is_an_error(tmp_path, tiny_image):
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "run_fmi.py", *tiny_run(tmp_path / "out", tiny_image, steps=3)], cwd=ROOT,
                          env={**env, "FMI_THREADS": "abc"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: FMI_THREADS='abc': expected a whole number of threads from 1 to 1024")
    assert not (tmp_path / "out").exists()


def test_a_record_that_cannot_be_read_says_why(tmp_path, monkeypatch):
    (tmp_path / "record.json").write_text("{}")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(record, "open", denied, raising=False)
    with pytest.raises(FmiError, match=r"record.json: cannot be read \(Permission denied\)"):
        record.load_record(tmp_path / "record.json")


def test_a_failed_png_encoding_is_an_error_not_a_crash(monkeypatch):
    monkeypatch.setattr(cv2, "imencode", lambda *args: (False, None))
    with pytest.raises(ValueError, match="could not encode"):
        measures.png_bytes_per_pixel(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(FmiError, match="could not encode an image as PNG"):
        image_files.encode(np.zeros((4, 4, 3), np.uint8))


def test_unknown_available_memory_is_said(monkeypatch, caplog):
    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    caplog.set_level("INFO")
    memory.check(["relu5_1"], 1, 64, 64)
    assert any("the memory available is unknown here" in message for message in caplog.messages)


def test_an_empty_cell_image_is_redone_on_resume(tmp_path, tiny_image, caplog):
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3)) == 0
    (output / "cells" / "tiny" / "relu1_1" / "filter_0.png").write_bytes(b"")
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3) + ["--resume"]) == 0
    assert any("tiny/relu1_1/filter_0 will be redone: its image filter_0.png does not read back" in message
               for message in caplog.messages)
    assert json.loads((output / "record.json").read_text())["cells"]["tiny/relu1_1/filter_0"]["steps"] == 3
