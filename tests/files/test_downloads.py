"""Fetching the paper's images and the authors' figures: checked before they get their names, and
recognised as the authors' files by their git blob ids."""
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import SHARED_PAPER, one_error, write_image

import fmi.data
import run_fmi
from fmi.errors import FmiError
from fmi.files import downloads, image_files, published
from fmi.io import git_blob_id

NO_PAPER_IMAGES = "the paper's six input images are not available to the tests on this machine"
TREES = Path(__file__).resolve().parent / "data" / "published_trees.txt"
SHARED_REFERENCE = SHARED_PAPER.parent.parent / "reference"


@pytest.fixture
def served(tmp_path):
    """A folder laid out like the authors' repository: input/ and output/, with their file names."""
    folder = tmp_path / "served"
    for index, item in enumerate(published.IMAGES + published.FIGURES):
        (folder / item.remote).parent.mkdir(parents=True, exist_ok=True)
        write_image(folder / "x.png", 8, 10, seed=index)
        (folder / "x.png").rename(folder / item.remote)
    return folder


def quiet():
    return open("/dev/null", "w")


@pytest.mark.skipif(not SHARED_PAPER.is_dir(), reason=NO_PAPER_IMAGES)
def test_download_fetches_the_six_images_and_the_three_figures(tmp_path, serve, monkeypatch, capsys):
    """Served as the authors' repository serves them, each file passes its SHA-256 and gets its name."""
    repository = tmp_path / "repository"
    for item in published.IMAGES + published.FIGURES:
        (repository / item.remote).parent.mkdir(parents=True, exist_ok=True)
        source = published.find(SHARED_PAPER if item in published.IMAGES else SHARED_REFERENCE, item)
        shutil.copy(source, repository / item.remote)
    monkeypatch.chdir(tmp_path)
    downloads.download_data(base_url=serve(repository))
    assert sorted(p.name for p in (tmp_path / "data" / "paper").iterdir()) == sorted(published.PAPER_IMAGES.values())
    assert sorted(p.name for p in (tmp_path / "data" / "authors").iterdir()) == sorted(
        item.local for item in published.FIGURES)
    said = [line.rpartition("\r")[2] for line in capsys.readouterr().err.splitlines() if "saved " in line]
    assert len(said) == 9 and all("exactly the authors'" in line for line in said), said


def test_a_download_that_is_not_the_authors_file_is_refused_and_nothing_is_left(tmp_path, served, serve,
                                                                                 monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = fmi.data.main(["download", "--url", serve(served), "--what", "images"])
    one_error(capsys, code, r"the%20golden%20gate%20bridge.jpg: the file is not the authors' \(its SHA-256 differs "
                            r"from theirs\); nothing was saved$")
    assert not (tmp_path / "data").exists()  # not even an empty data/paper


def test_copy_from_a_folder_under_either_name_or_from_a_clone(tmp_path, served):
    downloads.download_data(tmp_path / "paper", source_dir=served / "input", progress=quiet(), what="images")
    assert len(list((tmp_path / "paper").iterdir())) == 6
    downloads.download_data(tmp_path / "figures", source_dir=served, progress=quiet(), what="figures")
    assert len(list((tmp_path / "figures").iterdir())) == 3


def test_an_exact_copy_under_any_name_is_found_by_its_bytes_and_a_look_alike_is_not(tmp_path, monkeypatch):
    folder = tmp_path / "authors"
    folder.mkdir()
    write_image(folder / "theirs, renamed.PNG", 8, 10, seed=1)
    write_image(folder / "a_other.png", 8, 10, seed=2)  # same size and kind, other bytes; sorted first
    item = published.Published("fig9", "fig9.png", "output/their fig9.png",
                               git_blob_id(folder / "theirs, renamed.PNG"), "a figure")
    assert published.find(folder, item) == folder / "theirs, renamed.PNG"
    (folder / "theirs, renamed.PNG").unlink()
    assert published.find(folder, item) == folder / "fig9.png"  # fmi's name, absent: the caller says what is missing
    assert published.find(tmp_path / "no such folder", item) == tmp_path / "no such folder" / "fig9.png"


def test_copy_from_a_folder_that_renamed_the_authors_files(tmp_path, served, monkeypatch):
    """Served stand-ins play the authors' files: their blob ids are made the published ones."""
    stand_ins = tuple(published.Published(item.name, item.local, item.remote, git_blob_id(served / item.remote),
                                          item.what) for item in published.FIGURES)
    monkeypatch.setitem(downloads.SETS, "figures", (stand_ins, published.FIGURES_DIR))
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for index, item in enumerate(stand_ins):
        shutil.copy(served / item.remote, renamed / f"figure {index}.png")
    downloads.download_data(tmp_path / "figures", source_dir=renamed, progress=quiet(), what="figures")
    for item in stand_ins:
        assert git_blob_id(tmp_path / "figures" / item.local) == item.blob
    (renamed / "figure 1.png").write_bytes((renamed / "figure 0.png").read_bytes())  # random.png lost
    with pytest.raises(FmiError, match="exact bytes"):
        downloads.download_data(tmp_path / "more", source_dir=renamed, progress=quiet(), what="figures")


@pytest.mark.skipif(not SHARED_REFERENCE.is_dir(), reason="the authors' three result figures are not available "
                                                          "to the tests on this machine")
def test_the_authors_figures_under_other_names_are_recognised(tmp_path, capsys):
    downloads.download_data(tmp_path, source_dir=SHARED_REFERENCE, what="figures")
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 3 and all("exactly the authors'" in line for line in said), said


def test_offline_error_says_what_to_do_and_leaves_no_new_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = fmi.data.main(["download", "--url", "http://127.0.0.1:9/", "--what", "images"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: could not download http://127.0.0.1:9/input/the%20golden")
    assert "nothing was saved" in err and "--from FOLDER" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # not even an empty data/paper


def test_the_offline_advice_works_as_written(tmp_path, served, monkeypatch):
    """Copying the authors' input/ and output/ files, under their own names, into data/paper/ and
    data/authors/ is enough: runs find them."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    shutil.copytree(served / "input", tmp_path / "data" / "paper")
    shutil.copytree(served / "output", tmp_path / "data" / "authors")
    assert published.find(published.PAPER_DIR, published.image("golden_gate")).name == "the golden gate bridge.jpg"
    assert run_fmi.main(["--image", "golden_gate", "--weights", "random:0", "--size", "16", "--layers", "relu1_1",
                         "--filters", "0", "--steps", "2", "--output", "out"]) == 0
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    assert record["inputs"]["golden_gate"]["path"].endswith("the golden gate bridge.jpg")


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
    code = fmi.data.main(["download", "--dest", str(destination), "--url", cut_server, "--what", "images"])
    err = capsys.readouterr().err
    assert code == 2 and "nothing was saved" in err and "Traceback" not in err
    assert not destination.exists()
    model = tmp_path / "model"
    code = weights.main(["download", "--dest", str(model / "vgg19.params"), "--url", cut_server + "vgg19.params"])
    err = capsys.readouterr().err
    assert code == 2 and "nothing was saved; run it again" in err.splitlines()[-1] and "Traceback" not in err
    assert list(model.iterdir()) == []


# --- the authors' files, recognised --------------------------------------------------------------

def test_git_blob_ids_are_what_git_hash_object_prints(tmp_path):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed, so there is nothing to compare the blob ids with")
    files = {"empty": b"", "text": b"hello\n", "binary": bytes(range(256)) * 5000}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        expected = subprocess.run([git, "hash-object", str(tmp_path / name)], capture_output=True, text=True,
                                  check=True).stdout.strip()
        assert git_blob_id(tmp_path / name) == expected


def test_every_address_and_blob_id_is_in_the_published_trees():
    listed = {}
    for line in TREES.read_text().splitlines():
        if not line.startswith("#"):
            meta, path = line.split("\t")
            listed[path] = meta.split()[2]
    for item in published.IMAGES + published.FIGURES + (published.WEIGHTS,):
        assert listed.get(item.remote) == item.blob, item.remote
    assert published.AUTHORS_BASE_URL == ("https://github.com/xzqjack/FeatureMapInversion/raw/"
                                          "1811b35840afddb7ffea59670ecc7e6e89fbc3a5/")


@pytest.mark.skipif(not SHARED_PAPER.is_dir(), reason=NO_PAPER_IMAGES)
def test_the_paper_images_copy_decode_and_are_recognised_as_the_authors(tmp_path, capsys):
    downloads.download_data(tmp_path, source_dir=SHARED_PAPER, what="images")
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 6 and all("exactly the authors'" in line for line in said), said
    sizes = {name: image_files.read_rgb(tmp_path / file).shape[:2] for name, file in published.PAPER_IMAGES.items()}
    assert sizes == {"golden_gate": (734, 979), "tubingen": (768, 1024), "frida_kahlo": (500, 384),
                     "seated_nude": (845, 650), "starry_night": (313, 196), "the_scream": (1528, 1200)}


@pytest.mark.skipif(not SHARED_PAPER.is_dir(), reason=NO_PAPER_IMAGES)
def test_a_changed_byte_is_noticed_and_said(tmp_path, monkeypatch, caplog):
    paper = tmp_path / "data" / "paper"
    paper.mkdir(parents=True)
    shutil.copy(SHARED_PAPER / "golden_gate.jpg", paper)
    shutil.copy(SHARED_PAPER / "tubingen.jpg", paper)
    changed = bytearray((paper / "tubingen.jpg").read_bytes())
    changed[len(changed) // 2] ^= 0x01
    (paper / "tubingen.jpg").write_bytes(bytes(changed))
    monkeypatch.chdir(tmp_path)
    caplog.set_level("INFO")
    assert run_fmi.main(["--image", "golden_gate,tubingen", "--weights", "random:0", "--size", "16", "--layers",
                         "relu1_1", "--filters", "0", "--steps", "1", "--output", "out"]) == 0
    inputs = json.loads((tmp_path / "out" / "record.json").read_text())["inputs"]
    assert inputs["golden_gate"]["published"] == "input/the golden gate bridge.jpg"
    assert inputs["tubingen"]["published"] is None
    assert inputs["tubingen"]["git_blob"] == git_blob_id(paper / "tubingen.jpg")
    lines = [m for m in caplog.messages if m.startswith("content ")]
    assert "the authors' 'the golden gate bridge.jpg'" in lines[0]
    assert "not the authors' 'the tubingen.jpg'" in lines[1]
    titles = [m for m in caplog.messages if m.startswith("figure titled")]
    assert all("tubingen: not the authors' files" in title for title in titles)


# --- special and big files where a regular file is expected -----------------------------------------

@pytest.mark.parametrize("kind, pattern", [("fifo", r"is a FIFO \(named pipe\), not a regular file; remove it"),
                                           ("device", r"is a character device, not a regular file; remove it")])
def test_a_special_file_under_a_published_name_is_refused_not_read(tmp_path, served, kind, pattern):
    """Reading a FIFO or /dev/zero to see whether it is the authors' file would never end."""
    dest = tmp_path / "dest"
    dest.mkdir()
    target = dest / published.FIGURES[0].local
    os.mkfifo(target) if kind == "fifo" else os.symlink("/dev/zero", target)
    done = subprocess.run([sys.executable, "-m", "fmi.data", "download", "--what", "figures", "--from", str(served),
                           "--dest", str(dest)], capture_output=True, text=True, timeout=60)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and re.search(pattern, errors[0]), done.stderr
    assert "Traceback" not in done.stderr


def test_a_huge_source_file_is_refused_before_it_is_copied(tmp_path, served, capsys):
    source = served / published.IMAGES[0].remote
    with open(source, "r+b") as stream:  # sparse: 1 GiB on paper, nothing on disk
        stream.truncate(1 << 30)
    dest = tmp_path / "dest"
    code = fmi.data.main(["download", "--what", "images", "--from", str(served), "--dest", str(dest)])
    line = one_error(capsys, code, r"is 1024 MiB, larger than any of the authors' files \(at most 64 MiB\); "
                                   r"nothing was copied")
    assert str(source) in line and ".part" not in line
    assert not dest.exists() or not any(dest.iterdir())


def test_a_copy_that_is_no_image_names_its_source_not_a_temporary_file(tmp_path, served, capsys):
    (served / published.IMAGES[0].remote).write_bytes(b"not an image at all")
    code = fmi.data.main(["download", "--what", "images", "--from", str(served), "--dest", str(tmp_path / "d")])
    line = one_error(capsys, code, r"not an image fmi can read")
    assert str(served) in line and ".fmi-" not in line


def test_lookups_by_bytes_are_bounded_cached_and_say_what_they_skipped(tmp_path, monkeypatch):
    folder = tmp_path / "authors"
    folder.mkdir()
    for index in range(published.SCANNED_MAX_FILES):
        (folder / f"a{index:03d}.png").write_bytes(b"x%d" % index)
    item = published.FIGURES[0]
    theirs = folder / "z_theirs.png"  # sorted after the first 200 image files
    theirs.write_bytes(b"y")
    hashed = []
    real = published.git_blob_id
    monkeypatch.setattr(published, "git_blob_id", lambda path: hashed.append(path) or real(path))
    assert published.find(folder, item) == folder / item.local  # not found
    assert "1 beyond the first 200 image files" in published.skipped(folder)
    count = len(hashed)
    assert count == published.SCANNED_MAX_FILES
    published.find(folder, item)
    assert len(hashed) == count  # the second lookup hashes nothing again
    os.mkfifo(folder / "a000b.png")
    published.find(folder, item)
    assert "1 not regular files" in published.skipped(folder)
