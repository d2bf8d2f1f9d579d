"""Shared fixtures and helpers: seeded random weights, tiny images and runs, one-line errors, the paper
images when present, run folders to tamper with, and a real headless Chromium for the pages fmi writes."""
import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import run_fmi
from fmi.files import weight_files
from fmi.run import figures

# fmi.run.machine.facts keeps what oneDNN says of itself in a cache file: the tests' own, not the user's
os.environ.setdefault("FMI_CACHE_DIR", tempfile.mkdtemp(prefix="fmi-test-cache-"))
ROOT = Path(__file__).resolve().parent.parent
SHARED_PAPER = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "paper"


_AVX512_CORE = ("avx512f", "avx512dq", "avx512bw", "avx512vl")
# oneDNN's instruction-set ceilings (values of DNNL_MAX_CPU_ISA), lowest first, with the CPU flags each needs
ISA_LEVELS = (("SSE41", ("sse4_1",)), ("AVX", ("avx",)), ("AVX2", ("avx2",)),
              ("AVX512_CORE", _AVX512_CORE), ("AVX512_CORE_VNNI", _AVX512_CORE + ("avx512_vnni",)),
              ("AVX512_CORE_BF16", _AVX512_CORE + ("avx512_vnni", "avx512_bf16")),
              ("AVX512_CORE_AMX", _AVX512_CORE + ("avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")))


def isa_levels(flags=None):
    """The values of DNNL_MAX_CPU_ISA this CPU can run, lowest first: every kernel path it offers."""
    from fmi.run.machine import facts

    has = set(facts.cpu()[1] if flags is None else flags)
    return [name for name, needed in ISA_LEVELS if has.issuperset(needed)]


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
def figure_images(tmp_path):
    """A content image and two style images of their own sizes: {content, style_a, style_b: path}."""
    paths = {}
    for index, name in enumerate(["content", "style_a", "style_b"]):
        paths[name] = tmp_path / f"{name}.png"
        write_image(paths[name], 24 + 4 * index, 32, seed=index)
    return paths


def figure_args(tmp_path, content):
    """Arguments of a small run of any figure script: 32 px, random weights, 3 steps, into tmp_path/out."""
    return ["--image", str(content), "--weights", "random:0", "--size", "32", "--steps", "3",
            "--output", str(tmp_path / "out")]


def read_record(tmp_path):
    return json.loads((tmp_path / "out" / "record.json").read_text())


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


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """``serve(folder)`` serves ``folder`` over HTTP on localhost and returns its base URL (ending in /)."""
    servers = []

    def start(folder):
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()


def snapshot(folder):
    """Every file under ``folder``: its bytes and mode."""
    return {path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mode)
            for path in sorted(Path(folder).rglob("*")) if path.is_file()}


@pytest.fixture
def finished(tmp_path, tiny_image):
    output = tmp_path / "finished"
    assert run_fmi.main(tiny_run(output, tiny_image, steps=3, batch=2)) == 0
    return output


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The tests' own experiment (tests/fake_experiment.py), registered beside the paper's figures, its
    paper config in a folder of its own."""
    import fake_experiment

    from fmi import experiments

    experiment = fake_experiment.Fake()
    configs = tmp_path / "fake_configs"
    configs.mkdir()
    (configs / "fake.yaml").write_text("{}\n")
    monkeypatch.setattr(experiment, "config_dir", configs)
    monkeypatch.setattr(experiments, "FIGURES", experiments.FIGURES + (experiment,))
    monkeypatch.setitem(experiments.BY_NAME, "fake", experiment)
    return experiment


@pytest.fixture
def captured_figures(monkeypatch):
    """Every grid figure drawn: its title and marks."""
    drawn = []
    real = figures.grid

    def grid(images, rows, columns, path, title=None, cell_inches=2.4, marks=None):
        drawn.append({"path": Path(path), "title": title, "marks": marks})
        return real(images, rows, columns, path, title=title, cell_inches=cell_inches, marks=marks)

    monkeypatch.setattr(figures, "grid", grid)
    return drawn


@pytest.fixture
def run(tmp_path, tiny_image):
    output = tmp_path / "run"
    assert run_fmi.main(tiny_run(output, tiny_image)) == 0
    return output


@pytest.fixture
def canary(tmp_path):
    """A folder outside every run folder, with a file in it: watched for any change."""
    folder = tmp_path / "canary"
    folder.mkdir()
    (folder / "secret.png").write_bytes(b"not to be read or written")

    def untouched():
        entries = sorted((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in folder.rglob("*"))
        return entries

    before = untouched()
    yield folder
    assert untouched() == before, "something was written in the canary folder"


def craft(run, change):
    """Rewrite the run's record.json with ``change(record)``."""
    record = json.loads((run / "record.json").read_text())
    change(record)
    (run / "record.json").write_text(json.dumps(record))


# --- a real headless Chromium, for the pages fmi writes (atlas, reports) --------------------------

INSTALL_HINT = ("the atlas tests need Chromium: install it with 'apt-get install chromium' (Debian, Ubuntu) or set "
                "FMI_CHROMIUM to a Chrome or Chromium executable")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path():
    found = os.environ.get("FMI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")
    if not found or not os.access(found, os.X_OK):
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the atlas tests need Playwright: pip install -r requirements.txt", pytrace=False)
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Page:
    """A page with its console watched: every error or failed request is kept."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.problems = []
        self.page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))

    def open(self, url):
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        return self.page

    def wait_until(self, expression, timeout=10.0):
        """Wait until the JavaScript ``expression`` is true. Playwright's own wait_for_function polls
        with eval() inside the page, which the atlas's Content-Security-Policy forbids; evaluate()
        comes from outside the page and is allowed."""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(expression):
            assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
            time.sleep(0.05)

    def images_loaded(self):
        """Scroll through the page so lazy images load, then (count, names of broken images)."""
        page = self.page
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(300)
        self.wait_until("Array.from(document.images).filter(i => !i.closest('[hidden]')).every(i => i.complete)")
        broken = page.evaluate("Array.from(document.images).filter(i => !i.closest('[hidden]'))"
                               ".filter(i => i.naturalWidth === 0).map(i => i.src)")
        count = page.evaluate("Array.from(document.images).filter(i => !i.closest('[hidden]')).length")
        return count, broken
