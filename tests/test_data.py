"""Fetching the paper's images and the authors' figures: checked before they get their names."""
import http.server
import threading

import pytest
from conftest import SHARED_PAPER, write_image

from fmi import data, image
from fmi.errors import FmiError

NO_PAPER_IMAGES = "the paper's six input images are not available to the tests on this machine"


@pytest.fixture
def served(tmp_path):
    """A folder laid out like the authors' repository: input/ (names with spaces) and output/."""
    folder = tmp_path / "served"
    (folder / "input").mkdir(parents=True)
    (folder / "output").mkdir()
    for index, remote in enumerate(data.AUTHORS_NAMES.values()):
        write_image(folder / "input" / "x.png", 8, 10, seed=index)
        (folder / "input" / "x.png").rename(folder / "input" / remote)
    for index, name in enumerate(data.AUTHORS_FIGURES):
        write_image(folder / "output" / name, 12, 16, seed=10 + index)
    return folder


def quiet():
    return open("/dev/null", "w")


def test_download_fetches_the_six_images_and_the_three_figures(tmp_path, served, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data.download(base_url=served.as_uri() + "/", progress=quiet())
    assert sorted(p.name for p in (tmp_path / "data" / "paper").iterdir()) == sorted(image.PAPER_IMAGES.values())
    assert sorted(p.name for p in (tmp_path / "data" / "authors").iterdir()) == sorted(data.AUTHORS_FIGURES)
    assert image.read_rgb(tmp_path / "data" / "paper" / "golden_gate.jpg").shape == (8, 10, 3)


def test_copy_from_a_folder(tmp_path, served):
    data.download(tmp_path / "paper", source_dir=served / "input", progress=quiet(), what="images")
    assert len(list((tmp_path / "paper").iterdir())) == 6


def test_a_broken_image_never_gets_its_final_name(tmp_path, served):
    (served / "input" / "the tubingen.jpg").write_bytes(b"<html>rate limited</html>")
    destination = tmp_path / "paper"
    with pytest.raises(FmiError, match="not an image"):
        data.download(destination, base_url=served.as_uri() + "/", progress=quiet(), what="images")
    assert sorted(p.name for p in destination.iterdir()) == ["golden_gate.jpg"]


def test_offline_error_says_what_to_do(tmp_path, capsys):
    code = data.main(["download", "--dest", str(tmp_path), "--url", "http://127.0.0.1:9/", "--what", "images"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: could not download http://127.0.0.1:9/input/the%20golden")
    assert "or use --from DIR" in err and "Traceback" not in err


class CutServer(http.server.BaseHTTPRequestHandler):
    """Promises 100000 bytes, sends 1000, then closes the connection."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\xff\xd8\xff" + bytes(997))
        self.wfile.flush()
        self.connection.close()

    def log_message(self, *args):
        pass


@pytest.fixture
def cut_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_cut_download_leaves_no_file(tmp_path, cut_server, capsys):
    from fmi import weights

    destination = tmp_path / "paper"
    code = data.main(["download", "--dest", str(destination), "--url", cut_server, "--what", "images"])
    err = capsys.readouterr().err
    assert code == 2 and "nothing was saved" in err and "Traceback" not in err
    assert not destination.exists() or list(destination.iterdir()) == []
    model = tmp_path / "model"
    code = weights.main(["download", "--dest", str(model / "vgg19.params"), "--url", cut_server + "vgg19.params"])
    err = capsys.readouterr().err
    assert code == 2 and "nothing was saved; run it again" in err.splitlines()[-1] and "Traceback" not in err
    assert list(model.iterdir()) == []


@pytest.mark.skipif(not SHARED_PAPER.is_dir(), reason=NO_PAPER_IMAGES)
def test_the_paper_images_copy_and_decode_at_their_documented_sizes(tmp_path):
    data.download(tmp_path, source_dir=SHARED_PAPER, progress=quiet(), what="images")
    sizes = {name: image.read_rgb(tmp_path / file).shape[:2] for name, file in image.PAPER_IMAGES.items()}
    assert sizes == {"golden_gate": (734, 979), "tubingen": (768, 1024), "frida_kahlo": (500, 384),
                     "seated_nude": (845, 650), "starry_night": (313, 196), "the_scream": (1528, 1200)}
