"""fmi/run/interface/cli.py: options, --help without MXNet, and errors in one line that fit the command."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, one_error, tiny_run, write_image

import run_fmi
from fmi.run.interface import cli


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


def test_help_answers_without_loading_mxnet():
    code = ("import sys, contextlib, io, run_fmi, run_random, run_pmci, reproduce\n"
            "from fmi.tools.doors import analyze, atlas, compare, data, network, parity, weights\n"
            "for door in (atlas, compare, analyze, data, weights, parity, network):\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "        door.main(['--help'])\n"
            "for script in (run_fmi, run_random, run_pmci):\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "        script.main(['--help'])\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    reproduce.main(['--help'])\n"
            "print(sorted(m for m in ('mxnet', 'matplotlib', 'cv2', 'skimage') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_key_can_be_set_on_the_command_line(tmp_path, tiny_image):
    output = tmp_path / "out"
    assert run_fmi.main(tiny_run(output, tiny_image, "--pooling", "max", "--log-every", "2", "--set",
                              "sgd.learning_rate=0.05", "--set", "denoise_weight=0", "--set",
                              "fallbacks={golden_gate: 'sample:grace_hopper'}", steps=3)) == 0
    config = json.loads((output / "record.json").read_text())["config"]
    assert (config["pooling"], config["log_every"], config["sgd"]["learning_rate"], config["denoise_weight"]) == (
        "max", 2, 0.05, 0.0)
    assert config["fallbacks"] == {"golden_gate": "sample:grace_hopper"}
