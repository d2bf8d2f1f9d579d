"""fmi/run/folder/record.py: one schema for run and cell records, strict JSON, crafted records refused."""
import json

import numpy as np
import pytest
from conftest import craft, one_error, tiny_run

import fmi.analyze
import fmi.atlas
import fmi.compare
import run_fmi
from fmi import io as fmi_io
from fmi.errors import FmiError
from fmi.files import image_files
from fmi.run.folder import record


def test_records_are_strict_json(tmp_path, tiny_image, monkeypatch):
    from fmi.core import codes

    real = codes.feature_map
    monkeypatch.setattr(codes, "feature_map", lambda code, index: np.full_like(real(code, index), np.inf))
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, steps=3, batch=2)) == 0

    def refuse(constant):
        raise ValueError(f"bare {constant} in JSON")

    for path in (tmp_path / "out").rglob("*.json"):
        json.loads(path.read_text(), parse_constant=refuse)


def tools(run):
    """Every command that reads a run folder, as (name, call)."""
    return [("atlas", lambda: fmi.atlas.main([str(run)])), ("analyze", lambda: fmi.analyze.main([str(run)])),
            ("compare", lambda: fmi.compare.main([str(run), str(run.parent / "figure.png")]))]


def _cell_key_is(key):
    def change(record):
        cell = record["cells"].pop("tiny/relu1_1/filter_0")
        cell["key"] = key
        record["cells"][key] = cell
        record["plan"][key] = record["plan"].pop("tiny/relu1_1/filter_0")
    return change


@pytest.mark.parametrize("change, entry", [
    (_cell_key_is("/tmp/../../canary/secret"), "is not content/group/item"),
    (_cell_key_is("../../canary/relu1_1/filter_0"), "is not content/group/item"),
    (_cell_key_is("tiny/../filter_0"), "is not a name of letters, digits"),
    (_cell_key_is("javascript:alert(1)/relu1_1/filter_0"), "is not an image name"),
    (_cell_key_is("tiny/relu9_9/filter_0"), "is not a cell its config plans"),
    (lambda record: record["cells"]["tiny/relu1_1/filter_1"].update(image="/tmp/canary/secret.png"), "image"),
    (lambda record: record["cells"]["tiny/relu1_1/filter_1"].update(image="../../x.png"), "image"),
    (lambda record: record["cells"]["tiny/relu1_1/filter_1"].update(steps="<script>alert(1)</script>"), "steps"),
    (lambda record: record["plan"].update({"tiny/relu1_1/filter_1": ["1e9", 2]}), "plan"),
    (lambda record: record["plan"].update({"tiny/relu1_1/filter_1": [10**9, 2]}), "plan"),
    (lambda record: record["inputs"]["tiny"].update(size=[-1, 5]), "inputs"),
    (lambda record: record.update(figures=["../../canary/secret.png"]), "figures"),
    (lambda record: record.update(script="evil.py"), "script"),
    (lambda record: record.update(record_format=99), "record_format"),
    (lambda record: record.update(collected_from=["../x"]), "collected_from"),
])
def test_a_crafted_record_is_refused_by_every_tool_in_one_line(run, canary, capsys, change, entry):
    image_files.save_png(run.parent / "figure.png", np.zeros((40, 40, 3), np.uint8))
    craft(run, change)
    for name, call in tools(run):
        line = one_error(capsys, call(), r"record.json is not a run record fmi can trust")
        assert entry in line, (name, line)
    assert not (run / "atlas").exists()


def test_resume_and_collect_never_copy_an_unchecked_value(run, canary, tiny_image, caplog):
    """A crafted cell record (a path in its image, a script in its steps) is not reused: the cell is redone."""
    cell_file = run / "cells" / "tiny" / "relu1_1" / "filter_0.json"
    cell = json.loads(cell_file.read_text())
    cell_file.write_text(json.dumps({**cell, "image": str(canary / "secret.png")}))
    craft(run, lambda record: record["cells"].clear())
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(run, tiny_image, "--resume")) == 0
    assert any("tiny/relu1_1/filter_0 will be redone: its record is damaged" in m for m in caplog.messages)
    record = json.loads((run / "record.json").read_text())
    assert record["cells"]["tiny/relu1_1/filter_0"]["image"] == "filter_0.png"
    assert str(canary) not in (run / "record.json").read_text()


def test_a_record_that_cannot_be_read_says_why(tmp_path, monkeypatch):
    (tmp_path / "record.json").write_text("{}")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fmi_io, "open", denied, raising=False)  # the one bounded reader's open
    with pytest.raises(FmiError, match=r"record.json: cannot be read \(Permission denied\)"):
        record.load_record(tmp_path / "record.json")
