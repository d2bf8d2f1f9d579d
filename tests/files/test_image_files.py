import re
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from conftest import one_error, tiny_run, write_image
from PIL import Image, ImageOps

import run_fmi
from fmi.core import preprocessing
from fmi.errors import FmiError
from fmi.files import image_files
from fmi.run import measures


@pytest.mark.parametrize("contract", [preprocessing.CAFFE_RGB, preprocessing.TORCH_RGB])
def test_preprocess_round_trip(contract):
    rgb = np.random.default_rng(0).integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    x = contract.preprocess(rgb)
    assert x.shape == (1, 3, 7, 9) and x.dtype == np.float32
    np.testing.assert_array_equal(contract.deprocess(x), rgb)
    np.testing.assert_array_equal(contract.deprocess(x[0]), rgb)


def test_preprocess_formulas():
    rgb = np.array([[[255, 0, 10]]], dtype=np.uint8)
    np.testing.assert_allclose(preprocessing.CAFFE_RGB.preprocess(rgb)[0, :, 0, 0],
                               [255 - 123.68, 0 - 116.779, 10 - 103.939], rtol=1e-6)
    np.testing.assert_allclose(preprocessing.TORCH_RGB.preprocess(rgb)[0, :, 0, 0],
                               [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (10 / 255 - 0.406) / 0.225],
                               rtol=1e-6)


def test_deprocess_clips():
    x = np.full((1, 3, 2, 2), 1000.0, dtype=np.float32)
    x[0, 1] = -1000.0
    out = preprocessing.CAFFE_RGB.deprocess(x)
    assert out.dtype == np.uint8
    assert (out[..., 0] == 255).all() and (out[..., 1] == 0).all()


def test_read_converts_bgr_to_rgb(tmp_path):
    path = tmp_path / "red.png"
    bgr = np.zeros((4, 5, 3), dtype=np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(path), bgr)
    rgb = image_files.read_rgb(path)
    assert rgb.shape == (4, 5, 3)
    assert (rgb[..., 0] == 200).all() and not rgb[..., 1:].any()


def test_save_and_read_round_trip(tmp_path):
    rgb = write_image(tmp_path / "a.png", 10, 12)
    image_files.save_png(tmp_path / "b.png", rgb)
    np.testing.assert_array_equal(image_files.read_rgb(tmp_path / "b.png"), rgb)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_sixteen_bit_colour_png_is_rounded_to_8_bits(tmp_path):
    """Each value v becomes round(v / 257), not v >> 8 (what Pillow gives, a level lower at times)."""
    rgb16 = (np.arange(36, dtype=np.uint16).reshape(3, 4, 3) * 1500 + 7)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])
    rgb = image_files.read_rgb(tmp_path / "c16.png")
    np.testing.assert_array_equal(rgb, np.round(rgb16 / 257.0).astype(np.uint8))
    assert not np.array_equal(rgb, (rgb16 >> 8).astype(np.uint8))


def test_grayscale_sixteen_bit_and_alpha_become_rgb8(tmp_path):
    gray = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    cv2.imwrite(str(tmp_path / "g16.png"), gray)
    rgb = image_files.read_rgb(tmp_path / "g16.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 4, 3)
    np.testing.assert_array_equal(rgb[..., 0], np.round(gray / 257.0).astype(np.uint8))
    bgra = np.zeros((2, 2, 4), dtype=np.uint8)
    bgra[..., 0], bgra[..., 3] = 90, 128
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert image_files.read_rgb(tmp_path / "a.png")[0, 0].tolist() == [0, 0, 90]


def test_only_a_transparency_that_is_lost_is_said(tmp_path, caplog):
    caplog.set_level("INFO")
    bgra = np.full((2, 2, 4), 255, dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "opaque.png"), bgra)
    bgra[0, 0, 3] = 0
    cv2.imwrite(str(tmp_path / "hole.png"), bgra)
    image_files.read_rgb(tmp_path / "opaque.png")
    assert "transparency" not in caplog.text
    image_files.read_rgb(tmp_path / "hole.png")
    assert "hole.png converted: transparency dropped" in caplog.text


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_text("hello"), "not an image"),
])
def test_bad_image_files(tmp_path, make, message):
    path = tmp_path / "input.jpg"
    make(path)
    with pytest.raises(FmiError, match=message):
        image_files.read_rgb(path)


def test_truncated_jpeg_is_refused(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", rgb)
    (tmp_path / "cut.jpg").write_bytes(data.tobytes()[: data.size // 2])
    with pytest.raises(FmiError, match="truncated"):
        image_files.read_rgb(tmp_path / "cut.jpg")


def test_resizing():
    rgb = np.zeros((300, 400, 3), dtype=np.uint8)
    assert preprocessing.content_size(300, 400, 100) == (75, 100)
    assert preprocessing.content_size(400, 300, 100) == (100, 75)
    assert preprocessing.content_size(734, 979, 512) == (384, 512)  # rounded
    assert preprocessing.content_size(734, 979, 512, "floor") == (383, 512)  # the authors' int()
    for method in ("opencv", "skimage"):
        resized = preprocessing.resize(rgb, 31, 17, method)
        assert resized.shape == (31, 17, 3) and resized.dtype == np.float64


def _total_variation(rgb):
    rgb = rgb.astype(np.float64)
    return np.abs(np.diff(rgb, axis=0)).sum() + np.abs(np.diff(rgb, axis=1)).sum()


def test_denoise_reduces_total_variation():
    noisy = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert preprocessing.denoise_tv(noisy, 0.0) is noisy
    denoised = preprocessing.denoise_tv(noisy, 0.2)
    assert denoised.dtype == np.uint8 and denoised.shape == noisy.shape
    assert _total_variation(denoised) < 0.5 * _total_variation(noisy)


def test_resolve_specs(tmp_path):
    from fmi.run.interface import inputs

    assert inputs.resolve("golden_gate", tmp_path) == tmp_path / "golden_gate.jpg"
    assert inputs.resolve("starry_night", tmp_path) == tmp_path / "starry_night.png"
    assert inputs.resolve("sample:grace_hopper", tmp_path).exists()
    assert inputs.resolve("x/y.png", tmp_path).as_posix() == "x/y.png"
    assert inputs.base_name("sample:grace_hopper") == "grace_hopper"
    assert inputs.base_name("some/where/photo.jpg") == "photo"


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


def _truncated_jpeg(path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    path.write_bytes(cv2.imencode(".jpg", rgb)[1].tobytes()[:300])


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


def test_a_jpeg_with_data_after_its_end_marker_is_read(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", rgb)
    path = tmp_path / "phone.jpg"
    path.write_bytes(data.tobytes() + b"trailer" + bytes(range(256)) * 16)  # 4 KiB after the end marker
    assert image_files.read_rgb(path).shape == (40, 50, 3)
    path.write_bytes(data.tobytes()[:-200])  # cut inside the scan: refused as before
    with pytest.raises(FmiError, match="JPEG is truncated"):
        image_files.read_header(path)


def test_a_failed_png_encoding_is_an_error_not_a_crash(monkeypatch):
    monkeypatch.setattr(cv2, "imencode", lambda *args: (False, None))
    with pytest.raises(ValueError, match="could not encode"):
        measures.png_bytes_per_pixel(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(FmiError, match="could not encode an image as PNG"):
        image_files.encode(np.zeros((4, 4, 3), np.uint8))


@pytest.mark.parametrize("make, problem", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory, expected a file"),
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_text("not an image at all"), r"not an image fmi can read \(use JPEG or PNG\)"),
    (_truncated_jpeg, r"JPEG is truncated"),
])
def test_a_bad_image_file_is_one_line_from_the_command(tmp_path, capsys, make, problem):
    path = tmp_path / "photo.jpg"
    make(path)
    code = run_fmi.main(tiny_run(tmp_path / "out", path, steps=3, batch=1))
    one_error(capsys, code, rf"^error: image {re.escape(str(path))}: {problem}")
