"""fmi/run/folder/runfolder.py: a run folder you can trust: other settings refused, resume redoes only what must
be redone, links out of the folder refused, damaged cells redone."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, one_error, snapshot, tiny_run

import fmi.atlas
import run_fmi
from fmi.files import image_files
from fmi.run import inversion
from fmi.run.folder import runfolder


def _replace_cell(run_dir, key, source_dir):
    for suffix in (".png", ".json"):
        shutil.copyfile(source_dir / "cells" / f"{key}{suffix}", run_dir / "cells" / f"{key}{suffix}")


def test_other_settings_are_refused_with_the_differences_and_the_ways_out(finished, tiny_image, capsys):
    before = snapshot(finished)
    for extra in ([], ["--resume"]):
        code = run_fmi.main(tiny_run(finished, tiny_image, "--steps", "5", "--seed", "2", *extra, steps=3, batch=2))
        line = one_error(capsys, code, r"holds a run made with other settings \(lbfgs.max_steps: 3 there, 5 here; "
                                       r"seed: 0 there, 2 here; sgd.max_steps: 3 there, 5 here\)")
        assert "--output NEW" in line and "--overwrite" in line
    assert snapshot(finished) == before


def test_the_same_settings_without_resume_are_refused(finished, tiny_image, capsys):
    before = snapshot(finished)
    code = run_fmi.main(tiny_run(finished, tiny_image, steps=3, batch=2))
    one_error(capsys, code, r"already holds 4 finished cell\(s\) of this run; add --resume to continue it, "
                            r"or --overwrite")
    assert snapshot(finished) == before


def test_overwrite_moves_the_old_run_aside(finished, tiny_image, caplog):
    before = snapshot(finished)
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(finished, tiny_image, "--steps", "2", "--overwrite", steps=3, batch=2)) == 0
    moved = [path for path in finished.parent.iterdir() if path.name.startswith("finished.replaced-")]
    assert len(moved) == 1 and snapshot(moved[0]) == before
    assert json.loads((finished / "record.json").read_text())["config"]["sgd"]["max_steps"] == 2
    assert any("was moved to" in message for message in caplog.messages)


def test_a_folder_that_is_not_a_run_is_never_written(tmp_path, tiny_image, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    code = run_fmi.main(tiny_run(folder, tiny_image, "--overwrite", steps=3, batch=2))
    one_error(capsys, code, r"is not empty and holds no fmi run; choose a new or empty folder")
    assert sorted(path.name for path in folder.iterdir()) == ["notes.txt"]


def test_resume_redoes_cells_made_with_other_steps(tmp_path, tiny_image, caplog):
    other = tmp_path / "other"
    assert run_fmi.main(tiny_run(other, tiny_image, "--steps", "2", steps=3, batch=2)) == 0
    run_dir = tmp_path / "run"
    assert run_fmi.main(tiny_run(run_dir, tiny_image, "--steps", "4", steps=3, batch=2)) == 0
    key = "tiny/relu1_1/filter_0"
    _replace_cell(run_dir, key, other)
    kept = (run_dir / "cells" / "tiny" / "relu2_1" / "filter_1.png").stat().st_mtime_ns
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(run_dir, tiny_image, "--steps", "4", "--resume", steps=3, batch=2)) == 0
    assert any(f"cell {key} will be redone: it was made with other settings" in m for m in caplog.messages)
    assert json.loads((run_dir / "cells" / f"{key}.json").read_text())["steps"] == 4
    assert json.loads((run_dir / "record.json").read_text())["cells"][key]["steps"] == 4
    assert (run_dir / "cells" / "tiny" / "relu2_1" / "filter_1.png").stat().st_mtime_ns == kept


def test_a_change_to_the_numerics_code_makes_resume_redo_the_cells(tmp_path, tiny_image):
    """No version to bump: editing a module that computes cells (here the losses) is enough."""
    from fmi.core import losses

    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "fmi", repo / "fmi", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("run_fmi.py", "configs"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, repo / name)
    argv = tiny_run(tmp_path / "out", tiny_image, steps=3, batch=2)

    def run(*extra):
        done = subprocess.run([sys.executable, "run_fmi.py", *argv, *extra], cwd=repo, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr

    run()
    code = json.loads((tmp_path / "out" / "record.json").read_text())["code"]
    cells = sorted((tmp_path / "out" / "cells").rglob("*.json"))
    before = {path: path.read_bytes() for path in cells}
    assert "will be redone" not in run("--resume")
    assert {path: path.read_bytes() for path in cells} == before
    edited = repo / Path(losses.__file__).resolve().relative_to(ROOT)
    edited.write_text(edited.read_text() + "\n# an edit to a numerics module\n")
    log = run("--resume")
    assert log.count("will be redone: it was computed by other numerics code") == 4, log
    after = json.loads((tmp_path / "out" / "record.json").read_text())
    changed = [name for name in code["modules"] if code["modules"][name] != after["code"]["modules"][name]]
    assert changed == [edited.relative_to(repo / "fmi").as_posix()]
    assert all(json.loads(path.read_text())["code_fingerprint"] == after["code"]["fingerprint"] for path in cells)


@pytest.mark.parametrize("damage, reason", [
    (lambda png, js: js.write_text("{}"), "its record is damaged"),
    (lambda png, js: js.write_text("[]"), "its record is damaged"),
    (lambda png, js: js.write_text("{oops"), "its record is damaged"),
    (lambda png, js: js.unlink(), "its record is missing"),
    (lambda png, js: png.write_bytes(b""), "its image filter_0.png does not read back"),
    (lambda png, js: png.write_bytes(png.read_bytes()[:60]), "its image filter_0.png does not read back"),
    (lambda png, js: png.unlink(), "its image filter_0.png is missing"),
    (lambda png, js: cv2.imwrite(str(png), np.zeros((5, 5, 3), np.uint8)), "its image is 5x5, not 24x32"),
])
def test_a_damaged_cell_is_redone(finished, tiny_image, caplog, damage, reason):
    key = "tiny/relu2_1/filter_0"
    damage(finished / "cells" / f"{key}.png", finished / "cells" / f"{key}.json")
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(finished, tiny_image, "--resume", steps=3, batch=2)) == 0
    assert any(f"cell {key} will be redone: {reason}" in message for message in caplog.messages)
    assert image_files.read_rgb(finished / "cells" / f"{key}.png").shape == (24, 32, 3)
    assert json.loads((finished / "cells" / f"{key}.json").read_text())["steps"] == 3


def test_interrupt_then_resume_gives_the_same_outputs(tmp_path, capsys, tiny_image, monkeypatch, interrupt_batch):
    assert run_fmi.main(tiny_run(tmp_path / "whole" / "out", tiny_image, steps=3, batch=1)) == 0
    real_invert = inversion.invert_batch
    interrupt_batch(3)
    argv = tiny_run(tmp_path / "split" / "out", tiny_image, steps=3, batch=1)
    assert run_fmi.main(argv) == 130
    assert "rerun the same command with --resume" in capsys.readouterr().err
    interrupt_batch(None)
    record = json.loads((tmp_path / "split" / "out" / "record.json").read_text())
    assert len(record["cells"]) == 2

    resumed = []
    monkeypatch.setattr(inversion, "invert_batch",
                        lambda session, keys, *a, **k: resumed.extend(keys) or real_invert(session, keys, *a, **k))
    assert run_fmi.main(argv + ["--resume"]) == 0
    assert resumed == ["tiny/relu2_1/filter_0", "tiny/relu2_1/filter_1"]
    whole, split = tmp_path / "whole" / "out", tmp_path / "split" / "out"
    for cell in whole.glob("cells/**/*.png"):
        np.testing.assert_array_equal(image_files.read_rgb(cell), image_files.read_rgb(split / cell.relative_to(whole)))
    assert (whole / "fig3_tiny.png").read_bytes() == (split / "fig3_tiny.png").read_bytes()


def test_each_cell_has_its_own_record_and_the_run_record_is_not_rewritten_per_batch(
        tmp_path, tiny_image, monkeypatch):
    written = []
    real_write_text = runfolder.write_text
    monkeypatch.setattr(runfolder, "write_text",
                        lambda path, text: (written.append(path.name), real_write_text(path, text)))
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, steps=3, batch=1)) == 0  # 4 batches of one cell
    assert written.count("record.json") == 2  # at the start and at the end
    out = tmp_path / "out"
    record = json.loads((out / "record.json").read_text())
    for key, cell in record["cells"].items():
        assert json.loads((out / "cells" / f"{key}.json").read_text()) == cell


def test_resume_refuses_another_config(tmp_path, capsys, tiny_image):
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, steps=3, batch=1)) == 0
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--resume", "--seed", "3", steps=3, batch=1))
    one_error(capsys, code, r"output folder .*out holds a run made with other settings \(seed: 0 there, 3 here\); "
                            r"it is left as it is: choose another folder with --output NEW, or add --overwrite")


@pytest.mark.parametrize("linked", ["atlas", "cells", "shards", "snapshots", "inputs"])
def test_a_link_out_of_the_run_folder_is_refused_by_every_writer(run, canary, tiny_image, capsys, linked):
    target = run / linked
    if target.exists():
        shutil.rmtree(target)
    target.symlink_to(canary, target_is_directory=True)
    calls = [lambda: run_fmi.main(tiny_run(run, tiny_image, "--resume", "--save-every", "1"))]
    calls += {"atlas": [lambda: fmi.atlas.main([str(run)])],
              "shards": [lambda: run_fmi.main(tiny_run(run, tiny_image, "--shard", "0/2")),
                         lambda: run_fmi.main(tiny_run(run, tiny_image, "--collect"))]}.get(linked, [])
    for call in calls:
        line = one_error(capsys, call())
        assert "leads out of the run folder" in line and "symbolic link" in line, line


def test_a_link_inside_the_run_folder_is_followed(run, tiny_image):
    """The rule refuses only what leads out: a run folder whose cells live in a linked folder inside it runs."""
    (run / "cells").rename(run / "cells-elsewhere")
    (run / "cells").symlink_to(run / "cells-elsewhere", target_is_directory=True)
    assert run_fmi.main(tiny_run(run, tiny_image, "--resume")) == 0
    assert fmi.atlas.main([str(run)]) == 0


def test_resume_over_a_crafted_record_names_the_file_and_the_entry(tmp_path, tiny_image, capsys):
    output = tmp_path / "run"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=1)) == 0
    record = json.loads((output / "record.json").read_text())
    record["plan"]["tiny/relu1_1/../../../escape"] = [24, 32]
    (output / "record.json").write_text(json.dumps(record))
    line = one_error(capsys, run_fmi.main(tiny_run(output, tiny_image, "--resume", steps=1)),
                     r"holds an fmi run whose settings cannot be compared \(.*record\.json is not a run record fmi "
                     r"can trust: 'plan\.tiny/relu1_1/\.\./\.\./\.\./escape\..*'")
    assert "--overwrite" in line


def test_an_empty_cell_image_is_redone_on_resume(tmp_path, tiny_image, caplog):
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3)) == 0
    (output / "cells" / "tiny" / "relu1_1" / "filter_0.png").write_bytes(b"")
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3) + ["--resume"]) == 0
    assert any("tiny/relu1_1/filter_0 will be redone: its image filter_0.png does not read back" in message
               for message in caplog.messages)
    assert json.loads((output / "record.json").read_text())["cells"]["tiny/relu1_1/filter_0"]["steps"] == 3
