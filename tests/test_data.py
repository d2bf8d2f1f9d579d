
import pytest
from conftest import SHARED_PAPER, write_image

from fmi import data, image
from fmi.errors import FmiError


@pytest.fixture
def served(tmp_path):
    """A folder laid out like the authors' input/ folder, names with spaces."""
    folder = tmp_path / "served"
    folder.mkdir()
    for index, remote in enumerate(data.AUTHORS_NAMES.values()):
        write_image(folder / remote.replace(".jpg", ".png"), 8, 10, seed=index)
        (folder / remote.replace(".jpg", ".png")).rename(folder / remote)
    return folder


def test_download_fetches_all_six(tmp_path, served):
    destination = tmp_path / "paper"
    data.download(destination, base_url=served.as_uri() + "/", progress=open("/dev/null", "w"))
    assert sorted(p.name for p in destination.iterdir()) == sorted(image.PAPER_IMAGES.values())
    assert image.read_rgb(destination / "golden_gate.jpg").shape == (8, 10, 3)


def test_copy_from_a_folder(tmp_path, served):
    data.download(tmp_path / "paper", source_dir=served, progress=open("/dev/null", "w"))
    assert len(list((tmp_path / "paper").iterdir())) == 6


def test_a_broken_image_never_gets_its_final_name(tmp_path, served):
    (served / "the tubingen.jpg").write_bytes(b"<html>rate limited</html>")
    destination = tmp_path / "paper"
    with pytest.raises(FmiError, match="not an image"):
        data.download(destination, base_url=served.as_uri() + "/", progress=open("/dev/null", "w"))
    assert sorted(p.name for p in destination.iterdir()) == ["golden_gate.jpg"]


def test_offline_error_says_what_to_do(tmp_path, capsys):
    code = data.main(["download", "--dest", str(tmp_path), "--url", "http://127.0.0.1:9/"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: could not download http://127.0.0.1:9/the%20golden")
    assert "or use --from DIR" in err and "Traceback" not in err


@pytest.mark.skipif(not SHARED_PAPER.is_dir(), reason="the paper's images (../shared/data/paper) are not here")
def test_the_paper_images_copy_and_decode_at_their_documented_sizes(tmp_path):
    data.download(tmp_path, source_dir=SHARED_PAPER, progress=open("/dev/null", "w"))
    sizes = {name: image.read_rgb(tmp_path / file).shape[:2] for name, file in image.PAPER_IMAGES.items()}
    assert sizes == {"golden_gate": (734, 979), "tubingen": (768, 1024), "frida_kahlo": (500, 384),
                     "seated_nude": (845, 650), "starry_night": (313, 196), "the_scream": (1528, 1200)}
