"""Shared fixtures: seeded random weights, tiny images, and the paper images when present."""
import os
import re
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from fmi.files import weight_files

# fmi.run.machine.facts keeps what oneDNN says of itself in a cache file: the tests' own, not the user's
os.environ.setdefault("FMI_CACHE_DIR", tempfile.mkdtemp(prefix="fmi-test-cache-"))
SHARED_PAPER = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "paper"


@pytest.fixture(scope="session")
def random_weights():
    return weight_files.load("random:0")


def write_image(path, height, width, seed=0):
    """A smooth, colourful RGB test image saved as PNG; returns its RGB array."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([
        127 + 100 * np.sin(x / 3.0 + rng.uniform(0, 6)),
        127 + 100 * np.cos(y / 4.0 + rng.uniform(0, 6)),
        127 + 100 * np.sin((x + y) / 5.0),
    ], axis=-1).round().astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return rgb


def tiny_run(output, image_path, *extra, steps=2, batch=None):
    """Arguments of a small run_fmi/run_random run: 32 px, two filters of relu1_1 and relu2_1; ``image_path``
    may be several, comma-separated."""
    return ["--image", str(image_path), "--weights", "random:0", "--size", "32", "--layers", "relu1_1,relu2_1",
            "--filters", "0,1", "--steps", str(steps), *(["--batch-size", str(batch)] if batch else []),
            "--output", str(output), *extra]


def save_authors_file(path, params, change=None):
    """Write ``params`` as the authors' vgg19.params is laid out (mx.nd.save, 'arg:' keys); ``change``
    may alter the saved dict first."""
    import mxnet as mx

    saved = {f"arg:{name}": value for name, value in params.items()}
    if change:
        change(saved)
    mx.nd.save(str(path), saved)


def one_error(capsys, code, pattern=None):
    """Exit 2 and exactly one 'error:' line on stderr (matching ``pattern``, if given), and no traceback."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and (pattern is None or re.search(pattern, errors[0])), err
    return errors[0]


@pytest.fixture
def tiny_image(tmp_path):
    path = tmp_path / "tiny.png"
    write_image(path, 24, 32)
    return path


@pytest.fixture
def interrupt_batch(monkeypatch):
    """``interrupt_batch(n)`` makes the n-th batch of the next runs raise KeyboardInterrupt (as
    Ctrl-C would); ``interrupt_batch(None)`` lets every batch run again."""
    from fmi.run import inversion

    real = inversion.invert_batch

    def arm(batch):
        calls = []

        def invert(*args, **kwargs):
            calls.append(1)
            if len(calls) == batch:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(inversion, "invert_batch", invert if batch else real)

    return arm
