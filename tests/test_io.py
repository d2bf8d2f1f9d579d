"""fmi/io.py: inputs that are no regular files refused within seconds, outputs whole or not at all, with the
umask's permissions."""
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, one_error, tiny_run, write_image

import run_fmi
from fmi import io


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


def test_nested_settings_flatten_to_dotted_keys_and_their_differences_are_listed_in_order():
    from fmi.io import changed, flatten

    assert flatten({"sgd": {"max_steps": 5, "decay": {"rate": 0.5}}, "seed": 0}) == {
        "sgd.max_steps": 5, "sgd.decay.rate": 0.5, "seed": 0}
    ours = {"seed": 1, "sgd": {"max_steps": 5, "momentum": 0.9}, "only_ours": True}
    theirs = {"seed": 1, "sgd": {"max_steps": 7, "momentum": 0.9}, "only_theirs": "x"}
    assert changed(ours, theirs) == [("sgd.max_steps", 5, 7), ("only_ours", True, None), ("only_theirs", None, "x")]
    assert changed(ours, ours) == []


@pytest.mark.parametrize("size, data, problem", [
    (10, b"x" * 10, None), (10, b"x" * 11, "is larger than the 0 KiB fmi reads"),
    (2048, b"x" * 2049, "is larger than the 2 KiB fmi reads"), (2**20, b"", None)])
def test_the_bounded_reader_reads_a_regular_file_up_to_its_limit(tmp_path, size, data, problem):
    from fmi.io import read_file

    path = tmp_path / "file"
    path.write_bytes(data)
    assert read_file(path, size) == ((None, problem) if problem else (data, None))
    assert read_file(tmp_path / "missing", size) == (None, "no such file")
    assert read_file(tmp_path, size) == (None, "is not a regular file")
