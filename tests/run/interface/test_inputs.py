"""fmi/run/interface/inputs.py: images located and named, names never collide, names in any encoding."""
import json
import os
import re

import numpy as np
from conftest import one_error, tiny_run, write_image

import fmi.analyze
import fmi.atlas
import run_fmi
import run_pmci
from fmi.files import image_files


def test_inputs_with_the_same_stem_get_their_own_cells(tmp_path, caplog):
    for index, folder in enumerate(("a", "b")):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / "same.png", 24, 32, seed=index)
    output = tmp_path / "out"
    caplog.set_level("INFO")
    argv = tiny_run(output, f"{tmp_path / 'a' / 'same.png'},{tmp_path / 'b' / 'same.png'}", steps=3, batch=2)
    assert run_fmi.main(argv) == 0
    assert sorted(path.name for path in (output / "cells").iterdir()) == ["a-same", "b-same"]
    assert (output / "fig3_a-same.png").exists() and (output / "fig3_b-same.png").exists()
    first = image_files.read_rgb(output / "cells" / "a-same" / "relu1_1" / "filter_0.png")
    second = image_files.read_rgb(output / "cells" / "b-same" / "relu1_1" / "filter_0.png")
    assert not np.array_equal(first, second)
    assert any(re.search(r"content b-same: .*b/same\.png", message) for message in caplog.messages)


def test_styles_with_the_same_stem_get_their_own_cells(tmp_path):
    for index, folder in enumerate(("a", "b", "c")):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / "same.png", 24, 32, seed=index)
    output = tmp_path / "out"
    assert run_pmci.main(["--image", str(tmp_path / "c" / "same.png"), "--style",
                          f"{tmp_path / 'a' / 'same.png'},{tmp_path / 'b' / 'same.png'}", "--weights", "random:0",
                          "--size", "32", "--steps", "2", "--style-layers", "relu1_1", "--methods", "pmci",
                          "--output", str(output)]) == 0
    record = json.loads((output / "record.json").read_text())
    assert sorted(record["cells"]) == ["c-same/pmci/a-same", "c-same/pmci/b-same"]


def test_a_repeated_input_is_refused(tmp_path, tiny_image, capsys):
    code = run_fmi.main(tiny_run(tmp_path / "out", f"{tiny_image},{tiny_image}", steps=3, batch=2))
    one_error(capsys, code, r"key 'content' lists '.*tiny.png' twice")


def test_a_file_name_that_is_not_utf8_runs_through_every_tool(tmp_path, capsys):
    name = os.fsdecode(b"caf\xe9 \xff.png")
    path = tmp_path / name
    write_image(tmp_path / "plain.png", 24, 32)
    os.rename(tmp_path / "plain.png", path)  # OpenCV's own writer cannot take such a name
    output = tmp_path / "run"
    assert run_fmi.main(tiny_run(output, path)) == 0
    record = json.loads((output / "record.json").read_text())
    content = next(iter(record["inputs"]))
    assert content == "caf" and record["inputs"][content]["path"].endswith("caf\\xe9 \\xff.png")
    assert fmi.atlas.main([str(output)]) == 0 and fmi.analyze.main([str(output)]) == 0
    assert "caf\\xe9" in (output / "atlas" / "index.html").read_text(encoding="utf-8")
    capsys.readouterr()
