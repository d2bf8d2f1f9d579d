"""Issue 4's table, row by row, through the scripts' main(); and nothing lost on failure."""
import errno
import json
import re

import cv2
import numpy as np
import pytest
from conftest import one_error, save_authors_file, tiny_run, write_image

import run_fmi
from fmi import io
from fmi.core import codes
from fmi.files import image_files
from fmi.run import inversion
from fmi.run.folder import runfolder
from fmi.run.machine import memory

# --- images ----------------------------------------------------------------------------------

def _truncated_jpeg(path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    path.write_bytes(cv2.imencode(".jpg", rgb)[1].tobytes()[:300])


@pytest.mark.parametrize("make, problem", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory, expected a file"),
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_text("not an image at all"), r"not an image fmi can read \(use JPEG or PNG\)"),
    (_truncated_jpeg, r"JPEG is truncated"),
])
def test_bad_image_files(tmp_path, capsys, make, problem):
    path = tmp_path / "photo.jpg"
    make(path)
    code = run_fmi.main(tiny_run(tmp_path / "out", path, steps=3, batch=1))
    one_error(capsys, code, rf"^error: image {re.escape(str(path))}: {problem}")


@pytest.mark.parametrize("kind", ["gray", "gray16", "rgba"])
def test_unusual_images_are_converted(tmp_path, caplog, kind):
    rgb = write_image(tmp_path / "colour.png", 24, 32)
    path = tmp_path / f"{kind}.png"
    if kind == "gray":
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    elif kind == "gray16":
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    else:
        bgra = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
        bgra[0, :, 3] = 0  # a transparent row: an opaque alpha channel loses nothing and is not said
        cv2.imwrite(str(path), bgra)
    caplog.set_level("INFO")
    assert run_fmi.main(tiny_run(tmp_path / "out", path, steps=3, batch=1)) == 0
    assert any("converted" in message for message in caplog.messages)


def test_image_too_small_names_the_minimum(tmp_path, capsys, tiny_image):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--layers", "relu4_1", "--size", "6", steps=3, batch=1))
    one_error(capsys, code, r"image 4x6 is too small for relu4_1: it needs at least 8 px on each side")


def test_run_too_large_is_refused_before_any_work(tmp_path, capsys, tiny_image):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--max-memory", "0.1", steps=3, batch=1))
    line = one_error(capsys, code, r"needs about 0\.\d GiB, more than the limit of 0\.1 GiB \(--max-memory\)")
    assert "smaller --size or --batch-size" in line
    assert not (tmp_path / "out" / "cells").exists()


def test_memory_estimate_grows_with_size_batch_and_depth():
    small = memory.estimate_bytes(["relu5_2"], 1, 384, 512)
    assert memory.estimate_bytes(["relu5_2"], 2, 384, 512) > small
    assert memory.estimate_bytes(["relu5_2"], 1, 768, 1024) > 3 * (small - memory.FIXED_BYTES)
    assert memory.estimate_bytes(["relu1_1", "relu5_4"], 1, 384, 512) > small
    # measured peak for this case (docstring of fmi.memory): 707 MiB
    assert 700 * 2**20 < small < 850 * 2**20


# --- layers and filters ----------------------------------------------------------------------

@pytest.mark.parametrize("option, value, pattern", [
    ("--layers", "relu1_1,conv1_1", r"unknown layer 'conv1_1'; valid layers are relu1_1, relu1_2, .*, relu5_4$"),
    ("--layers", ",", r"key 'layers' is empty; valid layers are relu1_1, .*relu5_4$"),
    ("--filters", "0,64", r"index 64 is out of range for relu1_1, which has 64 filters \(0\.\.63\)$"),
    ("--filters", "-1", r"index -1 is out of range for relu1_1, which has 64 filters \(0\.\.63\)$"),
    ("--filters", ",", r"key 'filters' is empty"),
])
def test_bad_layers_and_filters(tmp_path, capsys, tiny_image, option, value, pattern):
    one_error(capsys, run_fmi.main(tiny_run(tmp_path / "out", tiny_image, option, value, steps=3, batch=1)), pattern)


# --- YAML --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, pattern", [
    ("sgd: {max_steps: 10\n", r"YAML syntax error at line 2, column 1"),
    ("layer: [relu1_1]\n", r"unknown key 'layer'; valid keys are content, "),
    ("sgd: {momentun: 0.5}\n", r"unknown key 'sgd.momentun'; valid keys are sgd.learning_rate, "),
    ("max_long_edge: big\n", r"key 'max_long_edge': expected an integer, got 'big'"),
    ("sgd: {max_steps: 2.5}\n", r"key 'sgd.max_steps': expected an integer, got 2.5"),
    ("sgd: {max_steps: -3}\n", r"key 'sgd.max_steps' must be a positive integer, got -3"),
    ("sgd: {weight_decay: -0.1}\n", r"key 'sgd.weight_decay' must be 0 or more, got -0.1"),
    ("denoise_weight: -1\n", r"key 'denoise_weight' must be 0 or more, got -1"),
    ("content: golden_gate\n", r"key 'content': expected a list of strings, got 'golden_gate'"),
])
def test_bad_yaml(tmp_path, capsys, tiny_image, text, pattern):
    config = tmp_path / "run.yaml"
    config.write_text(text)
    line = one_error(capsys, run_fmi.main(["--config", str(config), "--image", str(tiny_image)]), pattern)
    assert str(config) in line


def test_missing_config_file(tmp_path, capsys):
    one_error(capsys, run_fmi.main(["--config", str(tmp_path / "nope.yaml")]), r"config .*nope.yaml: no such file")


# --- weights -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make, pattern", [
    (None, r"weights file .*vgg19.params: no such file; run 'python -m fmi.weights download --dest "
           r".*vgg19.params' to fetch it; or run offline with random weights and bundled images: python "
           r"run_fmi.py .* --weights random:0$"),
    ("html", r"weights file .*vgg19.params: not an MXNet .params file \(corrupt or truncated\?\); "
             r"delete it and run 'python -m fmi.weights download'"),
    ("truncated", r"not an MXNet .params file \(corrupt or truncated\?\)"),
    ("foreign", r"unknown key format \(keys like fc.weight\)"),
    ("missing", r"missing 1 of the 32 arrays \(conv5_4_weight\); get a good copy with 'python -m fmi.weights "
                r"download'"),
    ("shape", r"wrong shapes in 1 \(conv1_1_bias is \(3,\), expected \(64,\)"),
])
def test_bad_weights_files(tmp_path, capsys, tiny_image, random_weights, make, pattern):
    import mxnet as mx

    path = tmp_path / "vgg19.params"
    if make == "html":
        path.write_text("<html>Not Found</html>")
    elif make == "truncated":
        save_authors_file(path, random_weights.params)
        path.write_bytes(path.read_bytes()[:5000])
    elif make == "foreign":
        mx.nd.save(str(path), {"fc.weight": mx.nd.zeros((2, 2))})
    elif make == "missing":
        save_authors_file(path, random_weights.params, lambda saved: saved.pop("arg:conv5_4_weight"))
    elif make == "shape":
        save_authors_file(path, random_weights.params, lambda saved: saved.update({"arg:conv1_1_bias": mx.nd.zeros(3)}))
    argv = tiny_run(tmp_path / "out", tiny_image, steps=3, batch=1)
    argv[argv.index("--weights") + 1] = str(path)
    one_error(capsys, run_fmi.main(argv), pattern)


# --- output, GPU, NaN --------------------------------------------------------------------------

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


def test_gpu_without_cuda_build(tmp_path, capsys, tiny_image):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--gpu", "0", steps=3, batch=1))
    one_error(capsys, code, r"--gpu 0: this MXNet build sees no GPU; install a CUDA build of MXNet "
               r"\(e.g. 'pip install mxnet-cu117==1.9.1' .*\) or drop --gpu to run on the CPU")


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


# --- nothing lost ------------------------------------------------------------------------------

def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "figure.png"
    target.write_bytes(b"the old, complete figure")
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as temporary:
            temporary.write_bytes(b"half of the new fig")
            raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"the old, complete figure"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]
    with pytest.raises(RuntimeError):
        with io.atomic_path(tmp_path / "new.png") as temporary:
            temporary.write_bytes(b"partial")
            raise RuntimeError
    assert not (tmp_path / "new.png").exists()


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


def test_snapshots_on_request(tmp_path, tiny_image):
    argv = tiny_run(tmp_path / "out", tiny_image, "--save-every", "2", "--layers", "relu1_1", "--filters", "0",
                    steps=5, batch=1)
    assert run_fmi.main(argv) == 0
    snapshots = sorted(p.name for p in (tmp_path / "out" / "snapshots" / "tiny" / "relu1_1" / "filter_0").iterdir())
    assert snapshots == ["step_0002.png", "step_0004.png"]


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
