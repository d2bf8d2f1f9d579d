"""fmi/tools/parity.py, the side-by-side check, on a small authors-like tree the tests build: the
harness's own behaviour (missing files, a wrong commit, a case that differs reported as differing,
the authors' NaN, the Python 3 adaptations at run time). The real comparison runs against a clone
of the authors' repository (docs/differences.md, "Parity with the authors' code")."""
import json
import re

import numpy as np
import pytest
from conftest import one_error, write_image

import fmi.parity
from fmi.tools import parity
from fmi.tools.parity import CASES, Comparison, Outcome, judge

# An authors-like vis_invert.py: their options, their 2016 calls (xrange, resize, the TV denoise with
# multichannel, imsave of a float image), their unseeded start draw, their log lines and file name;
# it takes as many steps as its hard-coded filter plus 6, so the harness's filter setting shows.
FAKE_VIS_INVERT = """
import argparse, logging, os
import mxnet as mx
import numpy as np
from skimage import io, transform
from skimage.restoration import denoise_tv_chambolle
parser = argparse.ArgumentParser()
for name in ('--content-image', '--style-image', '--layer-name', '--mod_type', '--output'):
    parser.add_argument(name)
for name in ('--max-long-edge', '--max-num-epochs', '--gpu'):
    parser.add_argument(name, type=int)
args = parser.parse_args()
logging.basicConfig(level=logging.DEBUG)
units = [1]
picture = transform.resize(io.imread(args.content_image), (12, 16))
start = mx.rnd.uniform(-0.1, 0.1, (12, 16, 3)).asnumpy()
out = denoise_tv_chambolle(np.clip(picture + 100 * start, 0, 1), weight=0.2, multichannel=True)
for e in xrange(units[0] + 6):
    logging.info('epoch %d, relative change %f', e, float('nan') if os.environ.get('FAKE_NAN') else 0.1)
io.imsave(os.path.join(args.output, '%s_%s_golden_gate_%d.jpg' % (args.layer_name, args.mod_type, e + 1)), out)
"""


@pytest.fixture
def authors_tree(tmp_path):
    """A folder shaped like the authors' repository, with a fake vis_invert.py and their input names."""
    tree = tmp_path / "authors"
    (tree / "input").mkdir(parents=True)
    for name in parity.SCRIPTS:
        (tree / name).write_text("# not the authors' code\n")
    (tree / "vis_invert.py").write_text(FAKE_VIS_INVERT)
    write_image(tree / "input" / "the golden gate bridge.jpg", 48, 64, seed=1)
    write_image(tree / "input" / "the scream.jpg", 40, 32, seed=2)
    return tree


def run(tree, output, *extra):
    return fmi.parity.main(["--authors", str(tree), "--output", str(output), "--size", "32", "--steps", "3",
                        "--any-commit", *extra])


def test_a_case_that_differs_is_reported_as_differing(authors_tree, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative folders, as a user types them
    output = tmp_path / "parity"
    assert fmi.parity.main(["--authors", "authors", "--output", "parity", "--size", "32", "--steps", "3",
                            "--any-commit", "--cases", "fmi", "--filter", "2"]) == 1
    printed = capsys.readouterr().out
    assert re.search(r"^fmi +DIFFERS: .*% of pixels > 1 level apart", printed, re.MULTILINE)
    report = (output / "report.md").read_text()
    assert "| Feature Map Inversion | golden\\_gate, 32 px, relu3\\_2 filter 2 | 3 / 8 |" in report  # filter 2: 8 steps
    assert "% of pixels > 1 level apart" in report
    assert "machine" in report and "MXNet 1\\.9\\.1" in report
    assert "`xrange(...)`" in report  # the adaptations applied are listed
    page = (output / "index.html").read_text()
    assert "Feature Map Inversion" in page and 'class="differs"' in page
    cases = json.loads((output / "parity.json").read_text())["cases"]
    assert [(case["name"], case["agrees"]) for case in cases] == [("fmi", False)]
    # each side nudged by one float32 step at the start: the fake's image follows its start draw
    moves = cases[0]["moves"]
    assert "theirs +1 step: " in moves and "fmi +1 step: " in moves
    their_log = (output / "work" / "fmi" / "authors" / "log.txt").read_text()
    assert "epoch 7, relative change" in their_log and "Traceback" not in their_log


def test_where_the_authors_code_meets_nan_the_report_says_what_fmi_does(authors_tree, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_NAN", "1")
    output = tmp_path / "parity"
    assert run(authors_tree, output, "--cases", "random", "--layer", "relu1_1") == 0
    printed = capsys.readouterr().out
    assert "random      agrees: the authors' code fails here" in printed
    assert "fmi keeps such channels at 0 and stopped after 3 steps" in printed


def test_missing_files_and_a_wrong_commit_are_one_line_and_write_nothing(authors_tree, tmp_path, capsys):
    output = tmp_path / "parity"
    (authors_tree / "vis_style.py").unlink()
    code = fmi.parity.main(["--authors", str(authors_tree), "--output", str(output)])
    one_error(capsys, code, r"vis_style\.py is missing, so this is not a copy of the authors' repository")
    (authors_tree / "vis_style.py").write_text("# changed\n")
    code = fmi.parity.main(["--authors", str(authors_tree), "--output", str(output)])
    line = one_error(capsys, code, r"is not the authors' file at commit 1811b35 \(git blob [0-9a-f]{8}, theirs "
                                   r"[0-9a-f]{8}\); check that commit out .* or add --any-commit")
    assert "vis_invert.py" in line  # the first script checked
    code = fmi.parity.main(["--authors", str(tmp_path / "nowhere"), "--output", str(output)])
    one_error(capsys, code, r"no such folder; clone the authors' repository")
    (authors_tree / "input" / "the scream.jpg").unlink()
    code = run(authors_tree, output, "--cases", "purposeful")
    one_error(capsys, code, r"style image the_scream: .* is not a file")
    assert not output.exists()


@pytest.mark.parametrize("options, pattern", [
    (["--cases", "fmi,bogus"], r"--cases 'fmi,bogus': use some of fmi, random, purposeful, pmci, gatys"),
    (["--size", "0"], r"--size must be a positive integer"),
    (["--size", "5", "--cases", "fmi"], r"--size 5 is too small for relu3_2: the content image becomes 3x5 px"),
    (["--size", "10", "--cases", "gatys"], r"--size 10 is too small for relu4_1"),
    (["--filter", "300", "--cases", "fmi"], r"--filter 300: relu3_2 has 256 filters"),
    (["--layer", "relu9_9"], r"--layer 'relu9_9': unknown layer"),
    (["--weights", "nothing.params"], r"nothing\.params"),
])
def test_bad_options_are_one_line(authors_tree, tmp_path, capsys, options, pattern):
    one_error(capsys, run(authors_tree, tmp_path / "parity", *options), pattern)
    assert not (tmp_path / "parity").exists()


def test_an_output_folder_of_something_else_is_left_alone(authors_tree, tmp_path, capsys):
    output = tmp_path / "mine"
    output.mkdir()
    (output / "notes.txt").write_text("keep me")
    one_error(capsys, run(authors_tree, output), r"holds something other than an fmi\.parity report")
    assert (output / "notes.txt").read_text() == "keep me"


def outcome(value, steps, size=(8, 8, 3)):
    """A saved JPEG of a flat image of ``value``, taking ``steps``."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full(size, value, np.uint8)).save(buffer, format="JPEG")
    return Outcome(image=buffer.getvalue(), steps=steps)


def test_the_verdicts():
    same, off = outcome(100, 50), outcome(120, 50)
    assert judge(CASES["fmi"], "", {("authors", 0): same, ("fmi", 0): outcome(100, 50),
                                    ("authors", 1): off, ("fmi", 1): off}).agrees
    exact_differs = judge(CASES["fmi"], "", {("authors", 0): same, ("fmi", 0): outcome(100, 51),
                                             ("authors", 1): same, ("fmi", 1): same})
    assert not exact_differs.agrees and "steps differ by 1" in exact_differs.says
    # PMCI and Gatys: within what a nudge of the start moves each side, and only then
    nudged = {("authors", 1): outcome(110, 52), ("authors", -1): same}
    ours = outcome(105, 51)
    assert judge(CASES["gatys"], "", {("authors", 0): same, ("fmi", 0): ours, ("fmi", 1): ours, ("fmi", -1): ours,
                                      **nudged}).agrees
    ours = outcome(130, 51)
    beyond = judge(CASES["gatys"], "", {("authors", 0): same, ("fmi", 0): ours, ("fmi", 1): ours, ("fmi", -1): ours,
                                        **nudged})
    assert not beyond.agrees and "one float32 step at the start moves the results by up to" in beyond.says
    failed = judge(CASES["pmci"], "", {("authors", 0): same, ("fmi", 0): Outcome(failure="exit code 2: x")})
    assert not failed.agrees and "fmi's run failed" in failed.says
    assert Comparison.of(same, outcome(100, 50)).identical
    assert Comparison.of(same, off).mean == pytest.approx(20, abs=1)
