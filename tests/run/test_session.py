"""fmi/run/session.py: every check that can fail on the inputs runs before the first write."""
import errno
import json
import time

from conftest import one_error, tiny_run, write_image

import run_fmi
from fmi.files import image_files
from fmi.run.folder import runfolder


def test_every_check_runs_before_anything_is_written(tmp_path, tiny_image, capsys):
    output = tmp_path / "never"
    started = time.monotonic()
    code = run_fmi.main(tiny_run(output, tiny_image, "--size", "100000", steps=3, batch=2))
    one_error(capsys, code, r"needs about \d+\.\d GiB, more than the limit")
    assert time.monotonic() - started < 10
    long_name = tmp_path / ("x" * 250 + ".png")
    write_image(long_name, 24, 32)
    code = run_fmi.main(tiny_run(output, long_name, steps=3, batch=2))
    one_error(capsys, code, r"its name in the run, 'x+\.\.\.x+', would be 250 characters; names of images are at "
                            r"most 200 \(they name cells, files and folders\): rename the file")
    assert not output.exists()


def test_image_too_small_names_the_minimum(tmp_path, capsys, tiny_image):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--layers", "relu4_1", "--size", "6", steps=3, batch=1))
    one_error(capsys, code, r"image 4x6 is too small for relu4_1: it needs at least 8 px on each side")


def test_run_too_large_is_refused_before_any_work(tmp_path, capsys, tiny_image):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--max-memory", "0.1", steps=3, batch=1))
    line = one_error(capsys, code, r"needs about 0\.\d GiB, more than the limit of 0\.1 GiB \(--max-memory\)")
    assert "smaller --size or --batch-size" in line
    assert not (tmp_path / "out" / "cells").exists()


def test_disk_full_mid_run_keeps_finished_outputs(tmp_path, capsys, tiny_image, monkeypatch):
    real_save = runfolder.RunFolder.save_cell
    calls = []

    def save_until_full(self, key, encoded, cell):
        calls.append(self.cell_image_path(key))
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(calls[-1]))
        return real_save(self, key, encoded, cell)

    monkeypatch.setattr(runfolder.RunFolder, "save_cell", save_until_full)
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, steps=3, batch=1))
    line = one_error(capsys, code, r"error: .*filter_0.png: No space left on device; outputs finished "
                                   r"before this are intact, rerun with --resume")
    assert "relu2_1" in line
    out = tmp_path / "out"
    for finished in calls[:2]:
        assert image_files.read_rgb(finished).shape == (24, 32, 3)
    record = json.loads((out / "record.json").read_text())
    assert sorted(record["cells"]) == ["tiny/relu1_1/filter_0", "tiny/relu1_1/filter_1"]
