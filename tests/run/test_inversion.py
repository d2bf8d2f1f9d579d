"""fmi/run/inversion.py: batches of cells inverted and saved; a failing cell stops alone; snapshots."""
import json

import numpy as np
from conftest import tiny_run

import run_fmi
from fmi.core import codes


def test_nan_in_one_cell_stops_only_that_cell(tmp_path, caplog, tiny_image, monkeypatch):
    real = codes.feature_map

    def poisoned(code, index):
        target = real(code, index)
        if index == 1:
            target[0, 1, 0, 0] = np.nan
        return target

    monkeypatch.setattr(codes, "feature_map", poisoned)
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, steps=3, batch=1)) == 0
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    assert record["cells"]["tiny/relu2_1/filter_1"]["stop_reason"] == "non-finite loss at step 1"
    assert record["cells"]["tiny/relu2_1/filter_0"]["steps"] == 3
    assert any("tiny/relu2_1/filter_1: non-finite loss at step 1 (layer relu2_1)" in m for m in caplog.messages)
    assert (tmp_path / "out" / "fig3_tiny.png").exists()


def test_snapshots_on_request(tmp_path, tiny_image):
    argv = tiny_run(tmp_path / "out", tiny_image, "--save-every", "2", "--layers", "relu1_1", "--filters", "0",
                    steps=5, batch=1)
    assert run_fmi.main(argv) == 0
    snapshots = sorted(p.name for p in (tmp_path / "out" / "snapshots" / "tiny" / "relu1_1" / "filter_0").iterdir())
    assert snapshots == ["step_0002.png", "step_0004.png"]


def test_a_diverging_cell_with_snapshots_is_marked_and_the_others_go_on(tmp_path, tiny_image, caplog):
    output = tmp_path / "out"
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(output, tiny_image, "--save-every", "1", "--set", "sgd.learning_rate=1e30",
                                 "--set", "sgd.clip_gradient=1e30")) == 0
    record = json.loads((output / "record.json").read_text())
    assert any(cell["stop_reason"].startswith("non-finite") for cell in record["cells"].values())
    assert len(record["cells"]) == 4 and "non-finite" in record["status"]
