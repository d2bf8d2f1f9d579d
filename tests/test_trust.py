"""The run folder can be trusted: nothing finished is lost, mixed or silently wrong.

One group of tests per promise of docs/usage.md's "When things go wrong".
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import one_error, save_authors_file, tiny_run, write_image
from PIL import Image, ImageOps

import run_fmi
import run_pmci
from fmi import weights
from fmi.core import invert
from fmi.errors import FmiError
from fmi.experiments import fig3
from fmi.files import image_files
from fmi.run.interface import cli
from fmi.tools import commands

ROOT = Path(__file__).resolve().parent.parent


def snapshot(folder):
    """Every file under ``folder``: its bytes and mode."""
    return {path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mode)
            for path in sorted(Path(folder).rglob("*")) if path.is_file()}


@pytest.fixture
def finished(tmp_path, tiny_image):
    output = tmp_path / "finished"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3, batch=2)) == 0
    return output


# --- 1. a run folder you can trust --------------------------------------------------------------

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


def _replace_cell(run_dir, key, source_dir):
    for suffix in (".png", ".json"):
        shutil.copyfile(source_dir / "cells" / f"{key}{suffix}", run_dir / "cells" / f"{key}{suffix}")


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


# --- 2. names never collide --------------------------------------------------------------------

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


# --- 3. non-finite and odd numbers ---------------------------------------------------------------

def test_weights_with_a_nan_are_refused_at_load_and_by_check(tmp_path, tiny_image, random_weights, capsys):
    import mxnet as mx

    path = tmp_path / "vgg19.params"

    def poison(saved):
        values = saved["arg:conv3_1_weight"].asnumpy()
        values[0, 0, 0, 0] = np.nan
        saved["arg:conv3_1_weight"] = mx.nd.array(values)

    save_authors_file(path, random_weights.params, poison)
    argv = tiny_run(tmp_path / "out", tiny_image, steps=3, batch=2)
    argv[argv.index("random:0")] = str(path)
    code = run_fmi.main(argv)
    one_error(capsys, code, r"conv3_1_weight has 1 non-finite value\(s\) \(NaN or infinity\)")
    code = weights.main(["check", str(path)])
    one_error(capsys, code, r"conv3_1_weight has 1 non-finite value")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_float16_and_float64_weights_become_float32(tmp_path, random_weights, dtype, caplog):
    import mxnet as mx

    path = tmp_path / "vgg19.params"
    save_authors_file(path, {name: mx.nd.array(value.asnumpy(), dtype=dtype)
                         for name, value in random_weights.params.items()})
    caplog.set_level("INFO")
    loaded = weights.load(str(path))
    assert {value.dtype for value in loaded.params.values()} == {np.float32}
    expected = random_weights.params["conv2_1_weight"].asnumpy().astype(dtype).astype(np.float32)
    np.testing.assert_array_equal(loaded.params["conv2_1_weight"].asnumpy(), expected)
    assert any(f"converted from {dtype} to float32" in message for message in caplog.messages)


def test_integer_weights_are_refused(tmp_path, random_weights):
    import mxnet as mx

    path = tmp_path / "vgg19.params"
    save_authors_file(path, {name: mx.nd.array(value.asnumpy(), dtype="int32")
                         for name, value in random_weights.params.items()})
    with pytest.raises(FmiError, match=r"conv1_1_weight holds int32 values, not floating point"):
        weights.load(str(path))


@pytest.mark.parametrize("extra, pattern", [
    (["--max-memory", "nan"], r"key 'max_memory_gib': must be a finite number, got nan"),
    (["--max-memory", "inf"], r"key 'max_memory_gib': must be a finite number, got inf"),
    (["--set", "denoise_weight=.nan"], r"key 'denoise_weight': must be a finite number, got nan"),
    (["--set", "sgd.learning_rate=.inf"], r"key 'sgd.learning_rate': must be a finite number, got inf"),
    (["--size", "\u0661\u0662"], r"key 'max_long_edge': expected an integer, got '\u0661\u0662'"),
    (["--size", "0x20"], r"key 'max_long_edge': expected an integer, got '0x20'"),
    (["--size", "1_000"], r"key 'max_long_edge': expected an integer, got '1_000'"),
    (["--size", "1e3"], r"key 'max_long_edge': expected an integer, got 1000.0"),
    (["--filters", "0,\u0663"], r"key 'filters\[1\]': expected an integer, got '\u0663'"),
    (["--seed", "99999999999"], r"key 'seed': must be at most 2147483647 in size"),
    (["--shard", "\u0661/2"], r"--shard \u0661/2: expected I/N with 0 <= I < N"),
    (["--output", ""], r"key 'output' is empty; name an output folder"),
    (["--output", "  "], r"key 'output' is empty; name an output folder"),
    (["--set", "sgd.momentun=0.5"], r"unknown key 'sgd.momentun'; valid keys are sgd.learning_rate, "),
    (["--set", "max_long_edge"], r"--set 'max_long_edge': expected KEY=VALUE"),
    (["--set", "max_long_edge=[1"], r"--set max_long_edge: YAML syntax error"),
    (["--threads", "100000"], r"key 'threads' must be between 1 and 1024, got 100000"),
])
def test_odd_numbers_and_settings_are_refused(tmp_path, tiny_image, capsys, extra, pattern):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, *extra, steps=3, batch=2))
    one_error(capsys, code, pattern)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, pattern", [
    ("max_long_edge: 0x20\n", r"key 'max_long_edge': expected an integer, got '0x20'"),
    ("max_long_edge: 1_024\n", r"expected an integer, got '1_024'"),
    ("seed: 1:20\n", r"key 'seed': expected an integer, got '1:20'"),
    ("denoise_weight: .NaN\n", r"key 'denoise_weight': must be a finite number, got nan"),
    ("sgd: {learning_rate: -.inf}\n", r"key 'sgd.learning_rate': must be a finite number, got -inf"),
    ("all_filters: yes\n", r"key 'all_filters': expected true or false, got 'yes'"),
    ("seed: 2020-01-01\n", r"key 'seed': expected an integer, got '2020-01-01'"),
    ("seed: !!int 0x10\n", r"YAML error.*'0x10' is not a decimal integer"),
])
def test_yaml_numbers_follow_the_same_grammar(tmp_path, tiny_image, capsys, text, pattern):
    config = tmp_path / "run.yaml"
    config.write_text(text)
    code = run_fmi.main(["--config", str(config), "--image", str(tiny_image), "--output", str(tmp_path / "o")])
    one_error(capsys, code, pattern)


def test_leading_zeros_are_decimal(tmp_path):
    from fmi.run.interface import config

    path = tmp_path / "run.yaml"
    path.write_text("max_long_edge: 010\nseed: +7\n")
    loaded = config.load(fig3.Config, path)
    assert (loaded.max_long_edge, loaded.seed) == (10, 7)


def test_a_nonfinite_image_stops_its_cell_with_the_last_finite_image(random_weights):
    shape = (3, 16, 16)
    start = invert.initial_images(shape, [0])
    code = invert.extract(random_weights, ["relu1_1"], start * 50)["relu1_1"]
    problem = invert.Problem([invert.Term("relu1_1")], random_weights, (1,) + shape)
    problem.set_targets([code])
    result = invert.sgd(problem, start, invert.SGD(learning_rate=1e38, max_steps=5))
    assert result.stop_reasons == ["non-finite image at step 1"]
    np.testing.assert_array_equal(result.images, start)


def test_records_are_strict_json(tmp_path, tiny_image, monkeypatch):
    from fmi.core import codes

    real = codes.feature_map
    monkeypatch.setattr(codes, "feature_map", lambda code, index: np.full_like(real(code, index), np.inf))
    assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, steps=3, batch=2)) == 0

    def refuse(constant):
        raise ValueError(f"bare {constant} in JSON")

    for path in (tmp_path / "out").rglob("*.json"):
        json.loads(path.read_text(), parse_constant=refuse)


# --- 4. every remaining input: one line, exit 2, within seconds ------------------------------------

@pytest.mark.parametrize("which", ["image", "config", "weights"])
def test_a_fifo_errors_within_seconds(tmp_path, which):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    write_image(tmp_path / "tiny.png", 24, 32)
    argv = tiny_run(tmp_path / "out", tmp_path / "tiny.png", steps=3, batch=2)
    if which == "image":
        argv[argv.index("--image") + 1] = str(fifo)
    elif which == "config":
        argv += ["--config", str(fifo)]
    else:
        argv[argv.index("random:0")] = str(fifo)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(ROOT / "run_fmi.py"), *argv], capture_output=True, text=True,
                          timeout=120)
    assert time.monotonic() - started < 60
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("is a FIFO (named pipe), not a regular file")


@pytest.mark.parametrize("command", [["-m", "fmi.analyze"], ["-m", "fmi.atlas"]])
def test_a_fifo_in_a_run_folder_is_not_read(tmp_path, command):
    folder = tmp_path / "run"
    folder.mkdir()
    os.mkfifo(folder / "record.json")
    done = subprocess.run([sys.executable, *command, str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "record" in done.stderr


def test_a_device_as_input_is_refused(tmp_path, capsys):
    code = run_fmi.main(tiny_run(tmp_path / "out", "/dev/zero", steps=3, batch=2))
    one_error(capsys, code, r"image /dev/zero: is a character device, not a regular file")


def _png_header_only(path, width, height):
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))


def test_an_image_with_too_many_pixels_is_refused_from_its_header(tmp_path, capsys):
    path = tmp_path / "huge.png"
    _png_header_only(path, 40000, 40000)
    started = time.monotonic()
    code = run_fmi.main(tiny_run(tmp_path / "out", path, steps=3, batch=2))
    one_error(capsys, code, r"image .*huge.png: has more than 178,956,970 pixels, more than fmi decodes")
    assert time.monotonic() - started < 5


def test_huge_or_exploding_yaml_is_refused_quickly(tmp_path, tiny_image, capsys):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    code = run_fmi.main(["--config", str(big), "--image", str(tiny_image)])
    one_error(capsys, code, r"larger than 1024 KiB")
    lines = ["fallbacks:", '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        lines.append(f"  {level}: &{level} [" + ",".join([f"*{chr(ord(level) - 1)}"] * 9) + "]")
    lines.append("content: [*i, *i]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    code = run_fmi.main(["--config", str(bomb), "--image", str(tiny_image)])
    line = one_error(capsys, code, r"key '(fallbacks.a|content\[0\])': expected a string, got \[")
    assert time.monotonic() - started < 5 and len(line) < 400
    deep = tmp_path / "deep.yaml"
    deep.write_text("content: [" + "[" * 40 + '"x"' + "]" * 40 + "]\n")
    code = run_fmi.main(["--config", str(deep), "--output", str(tmp_path / "o")])
    line = one_error(capsys, code, r"key 'content\[0\]': expected a string, got \[\[\[")
    assert len(line) < 300


def test_stray_folders_under_shards_are_named_and_ignored(tmp_path, tiny_image, caplog):
    output = tmp_path / "sweep"
    argv = ["--image", str(tiny_image), "--weights", "random:0", "--size", "16", "--layers", "relu1_1",
            "--all-filters", "--steps", "2", "--batch-size", "32", "--output", str(output)]
    assert run_fmi.main(argv + ["--shard", "0/2"]) == 0
    assert run_fmi.main(argv + ["--shard", "1/2"]) == 0
    (output / "shards" / "notes.txt").write_text("mine")
    (output / "shards" / "backup").mkdir()
    (output / "shards" / "5-of-2").mkdir()
    caplog.set_level("INFO")
    assert run_fmi.main(argv + ["--collect"]) == 0
    ignored = [message for message in caplog.messages if message.startswith("ignoring")]
    assert len(ignored) == 3 and all("not a shard folder" in message for message in ignored)
    assert len(json.loads((output / "record.json").read_text())["cells"]) == 64


# --- 5. images as a viewer shows them -----------------------------------------------------------

@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    path = tmp_path / "photo.jpg"
    rgb = write_image(tmp_path / "plain.png", 20, 30)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif.tobytes(), quality=95)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(image_files.read_rgb(path), shown)
    header = image_files.read_header(path)
    assert (header.height, header.width) == shown.shape[:2]


def test_a_rotated_photo_is_inverted_upright(tmp_path):
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(write_image(tmp_path / "plain.png", 24, 32)).save(path, exif=exif.tobytes())
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, path, "--layers", "relu1_1", "--filters", "0", steps=3, batch=2)) == 0
    assert image_files.read_rgb(output / "cells" / "photo" / "relu1_1" / "filter_0.png").shape == (32, 24, 3)


def test_a_multi_frame_file_uses_its_first_frame(tmp_path, caplog):
    path = tmp_path / "moving.gif"
    first = np.zeros((10, 12, 3), np.uint8)
    first[..., 0] = 255
    second = np.zeros((10, 12, 3), np.uint8)
    second[..., 2] = 255
    Image.fromarray(first).save(path, save_all=True, append_images=[Image.fromarray(second)])
    caplog.set_level("INFO")
    rgb = image_files.read_rgb(path)
    assert rgb.shape == (10, 12, 3) and rgb[..., 0].min() > 200 and rgb[..., 2].max() < 50
    assert any("first of 2 frames used" in message for message in caplog.messages)


# --- 6. output that others can read -------------------------------------------------------------

@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_get_the_permissions_of_the_umask(tmp_path, tiny_image, umask, file_mode, folder_mode):
    old = os.umask(umask)
    try:
        assert run_fmi.main(tiny_run(tmp_path / "out", tiny_image, steps=3, batch=2)) == 0
    finally:
        os.umask(old)
    paths = list((tmp_path / "out").rglob("*"))
    assert {oct(path.stat().st_mode & 0o777) for path in paths if path.is_file()} == {oct(file_mode)}
    assert {oct(path.stat().st_mode & 0o777) for path in paths if path.is_dir()} == {oct(folder_mode)}


def test_tilde_is_expanded_in_yaml_and_on_the_command_line(tmp_path, tiny_image, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "run.yaml"
    config.write_text("output: ~/from_yaml\n")
    argv = tiny_run("unused", tiny_image, "--layers", "relu1_1", "--filters", "0", steps=3, batch=2)
    argv = argv[:argv.index("--output")]
    assert run_fmi.main(argv + ["--config", str(config)]) == 0
    assert (tmp_path / "from_yaml" / "record.json").exists()
    assert run_fmi.main(argv + ["--output", "~/from_cli"]) == 0
    assert (tmp_path / "from_cli" / "record.json").exists()
    assert not Path("~").exists()


# --- 7. messages that fit the command -----------------------------------------------------------

def test_ctrl_c_names_resume_only_where_the_command_has_it(capsys):
    def interrupted():
        raise KeyboardInterrupt

    assert cli.run_guarded(interrupted) == 130
    assert "--resume" in capsys.readouterr().err
    assert cli.run_guarded(interrupted, resume_hint=False) == 130
    assert "--resume" not in capsys.readouterr().err


def test_an_error_reading_an_input_does_not_talk_about_outputs(tmp_path, capsys, monkeypatch):
    from fmi import io

    unreadable = tmp_path / "locked.png"
    write_image(unreadable, 24, 32)
    real_access = os.access
    # root reads every file whatever its mode, so the refusal is simulated for this one path
    monkeypatch.setattr(io.os, "access", lambda path, mode: False if Path(path) == unreadable
                        else real_access(path, mode))
    code = run_fmi.main(tiny_run(tmp_path / "out", unreadable, steps=3, batch=2))
    line = one_error(capsys, code, r"no permission to read it")
    assert "output" not in line


def test_an_error_while_reading_mid_run_does_not_claim_outputs(capsys):
    def failing():
        raise PermissionError(13, "Permission denied", "/data/input.png")

    assert cli.run_guarded(failing) == 2
    assert capsys.readouterr().err.strip() == "error: /data/input.png: Permission denied"


@pytest.mark.parametrize("argv, pattern", [
    (["--bogus"], r"^error: unrecognized arguments: --bogus; see 'run_fmi.py --help'$"),
    (["--size"], r"^error: argument --size: expected one argument; see 'run_fmi.py --help'$"),
])
def test_argument_errors_are_one_line_with_a_help_hint(capsys, argv, pattern):
    with pytest.raises(SystemExit) as stopped:
        run_fmi.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(pattern, err), err


# --- 8. fmi.analyze says what it measured -------------------------------------------------------

def test_analyze_refuses_a_partial_run_unless_asked(tmp_path, tiny_image, capsys, interrupt_batch):
    interrupt_batch(2)
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3, batch=2)) == 130
    capsys.readouterr()
    code = commands.analyze([str(output)])
    one_error(capsys, code, r"2 of 4 cells are finished \(first missing: tiny/relu2_1/filter_0\); finish the "
                            r"run with --resume, or add --partial")
    assert commands.analyze([str(output), "--partial"]) == 0
    assert "--partial: measuring 2 of 4 cells" in capsys.readouterr().out


def test_analyze_refuses_a_control_that_differs(tmp_path, tiny_image, finished, capsys):
    control = tmp_path / "control"
    assert run_fmi.main(tiny_run(control, tiny_image, "--weights", "random:1", "--steps", "2",
                                 "--filters", "0,2", steps=3, batch=2)) == 0
    capsys.readouterr()
    code = commands.analyze([str(finished), "--control", str(control)])
    one_error(capsys, code, r"is not the same run with other weights: filters: \[0, 1\] here, \[0, 2\] in the "
                            r"control; steps: 3 here, 2 in the control")


def test_analyze_opens_only_the_weights_it_is_given_and_checks_them(tmp_path, random_weights, capsys, monkeypatch):
    """A record names a weights path; analyze never opens it. It takes --weights (default
    model/vgg19.params in the current folder) and checks its SHA-1 against the record."""
    paths = []
    for index, name in enumerate(["content", "style"]):
        paths.append(tmp_path / f"{name}.png")
        write_image(paths[-1], 24, 32, seed=index)
    weights_file = tmp_path / "weights" / "vgg19.params"
    weights_file.parent.mkdir()
    save_authors_file(weights_file, random_weights.params)
    output = tmp_path / "pmci"
    assert run_pmci.main(["--image", str(paths[0]), "--style", str(paths[1]), "--weights", str(weights_file),
                          "--size", "32", "--steps", "2", "--style-layers", "relu1_1", "--output", str(output)]) == 0
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "model").mkdir(parents=True)
    (elsewhere / "model" / "vgg19.params").write_bytes(b"not the weights")
    monkeypatch.chdir(elsewhere)
    one_error(capsys, commands.analyze([str(output)]), r"model/vgg19.params is not the weights file the run used")
    assert commands.analyze([str(output), "--weights", str(weights_file)]) == 0
    capsys.readouterr()
    with open(weights_file, "r+b") as stream:
        stream.seek(-4, 2)
        stream.write(b"\x00\x00\x80\x3f")
    code = commands.analyze([str(output), "--weights", str(weights_file)])
    one_error(capsys, code, r"is not the weights file the run used \(SHA-1")
