"""The authors' fidelity mode, step by step, against transcriptions of what the authors' code does.

Each transcription below is written here from the description of the authors' code
(xzqjack/FeatureMapInversion at 1811b35: utils.py, vis_invert.py, vis_style.py, run with
the 2016 scikit-image they used), independently of fmi's implementation.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_PAPER, write_image
from PIL import Image

import run_fmi
import run_random
from fmi.core import codes, fidelity, invert, preprocessing
from fmi.experiments import fig4
from fmi.files import image_files, published, weight_files
from fmi.run import session

MEAN = np.array([123.68, 116.779, 103.939])


def old_bilinear_resize(rgb, height, width):
    """scikit-image 0.12's resize(img, (h, w)): the uint8 image on 0..1, an inverse map with
    pixel centres at +0.5, order 1, neighbours outside the image read as 0 (mode 'constant',
    cval 0), no anti-aliasing."""
    unit = rgb.astype(np.float64) / 255.0
    rows, columns = unit.shape[:2]
    ys = (np.arange(height) + 0.5) * rows / height - 0.5
    xs = (np.arange(width) + 0.5) * columns / width - 0.5
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    ty, tx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]

    def at(y, x):
        inside = ((y >= 0) & (y < rows))[:, None] & ((x >= 0) & (x < columns))[None, :]
        return unit[np.clip(y, 0, rows - 1)][:, np.clip(x, 0, columns - 1)] * inside[..., None]

    return ((1 - ty) * (1 - tx) * at(y0, x0) + (1 - ty) * tx * at(y0, x0 + 1)
            + ty * (1 - tx) * at(y0 + 1, x0) + ty * tx * at(y0 + 1, x0 + 1))


def authors_content(rgb, long_edge):
    """PreprocessContentImage: sizes floored with int(), resized, times 256, minus the mean."""
    factor = float(long_edge) / max(rgb.shape[:2])
    size = (int(rgb.shape[0] * factor), int(rgb.shape[1] * factor))
    sample = old_bilinear_resize(rgb, *size) * 256
    return (sample - MEAN).transpose(2, 0, 1)[None].astype(np.float32)


def authors_style(rgb, height, width):
    """PreprocessStyleImage: resized to the content's size, times 255, minus the mean."""
    return (old_bilinear_resize(rgb, height, width) * 255 - MEAN).transpose(2, 0, 1)[None].astype(np.float32)


def authors_postprocess(x):
    """PostprocessImage: the float32 image plus the mean, clipped to 0..255, truncated to uint8."""
    image_ = np.array(x, dtype=np.float32).reshape(3, x.shape[-2], x.shape[-1])
    for channel in range(3):
        image_[channel] += np.float32(MEAN[channel])
    return np.clip(image_.transpose(1, 2, 0), 0, 255).astype(np.uint8)


def chambolle_2016(channel, weight, eps=2e-4, iterations=200):
    """scikit-image 0.12's _denoise_tv_chambolle_nd for one 2-D channel."""
    p = np.zeros((2,) + channel.shape)
    gradient = np.zeros_like(p)
    divergence = np.zeros_like(channel)
    tau = 1.0 / 4.0
    for step in range(iterations):
        if step > 0:
            divergence = -p.sum(0)
            divergence[1:, :] += p[0, :-1, :]
            divergence[:, 1:] += p[1, :, :-1]
            out = channel + divergence
        else:
            out = channel
        energy = (divergence ** 2).sum()
        gradient[0, :-1, :] = np.diff(out, axis=0)
        gradient[1, :, :-1] = np.diff(out, axis=1)
        norm = np.sqrt((gradient ** 2).sum(axis=0))[None]
        energy += weight * norm.sum()
        norm = 1.0 + norm * tau / weight
        p = (p - tau * gradient) / norm
        energy /= channel.size
        if step == 0:
            first = previous = energy
        elif abs(previous - energy) < eps * first:
            break
        else:
            previous = energy
    return out


def authors_save(rgb8, weight=0.2):
    """SaveImage: per-channel TV on the image as floats 0..1 (img_as_float: float64), then imsave's
    img_as_ubyte, which in scikit-image 0.12.3 (util/dtype.py, lines 215-224) multiplies by 255 in
    the first of (input dtype, float32, float64) wider than a byte, the input's float64, rounds
    and clips."""
    unit = rgb8.astype(np.float64) / 255.0
    denoised = np.stack([chambolle_2016(unit[..., c], weight) for c in range(3)], axis=-1)
    return np.clip(np.rint(denoised * 255.0), 0, 255).astype(np.uint8)


def fmi_pictures(path, long_edge, styles=()):
    """fmi's own preprocessing in authors mode, through the path a run takes."""
    mode = fidelity.AUTHORS
    rgb = image_files.read_rgb(path)
    header = image_files.read_header(path)
    size = preprocessing.content_size(header.height, header.width, long_edge, "floor")
    random = weight_files.random_weights(0)
    content = session._picture("content", rgb, *size, random, mode, mode.content_scale)
    style_pictures = [session._picture("style", image_files.read_rgb(s), *size, random, mode, mode.style_scale)
                      for s in styles]
    return rgb, content, style_pictures


def test_content_and_style_preprocessing_match_the_authors(tmp_path):
    content_path, style_path = tmp_path / "content.png", tmp_path / "style.png"
    write_image(content_path, 73, 97, seed=1)
    write_image(style_path, 31, 20, seed=2)  # smaller than the content: enlarged, zeros leak in at the edges
    rgb, content, (style,) = fmi_pictures(content_path, 50, [style_path])
    expected = authors_content(rgb, 50)
    # int(73 * 50 / 97) = 37, not 38; and int(97 * (50 / 97)) = int(49.999...) = 49: the long edge comes out short
    assert content.array.shape == expected.shape == (1, 3, 37, 49)
    np.testing.assert_allclose(content.array, expected, atol=2e-4)
    style_expected = authors_style(image_files.read_rgb(style_path), 37, 49)
    np.testing.assert_allclose(style.array, style_expected, atol=2e-4)


def test_scikit_image_resize_called_directly_agrees():
    from skimage.transform import resize

    rgb = np.random.default_rng(0).integers(20, 236, (45, 61, 3), dtype=np.uint8)  # no black: edges show the zeros
    for size in ((30, 40), (90, 120)):
        direct = np.clip(resize(rgb, size, order=1, mode="constant", cval=0, anti_aliasing=False, clip=False), 0, 1)
        np.testing.assert_allclose(preprocessing.resize(rgb, *size, "skimage"), direct, atol=1e-12)
        np.testing.assert_allclose(old_bilinear_resize(rgb, *size), direct, atol=1e-12)
    enlarged = resize(rgb, (90, 120), order=1, mode="constant", cval=0, anti_aliasing=False)  # today's clip=True
    assert not np.allclose(preprocessing.resize(rgb, 90, 120, "skimage"), enlarged, atol=1e-3)


@pytest.mark.skipif(not SHARED_PAPER.is_dir(), reason="the paper's six input images are not available to "
                                                      "the tests on this machine")
def test_the_paper_images_preprocess_as_the_authors_did():
    sizes = {}
    for name in ("golden_gate", "tubingen", "frida_kahlo", "starry_night"):
        path = SHARED_PAPER / published.PAPER_IMAGES[name]
        rgb, content, _ = fmi_pictures(path, 512)
        np.testing.assert_allclose(content.array, authors_content(rgb, 512), atol=2e-4)
        sizes[name] = content.size
    assert sizes["golden_gate"] == (383, 512)  # the paper mode rounds to 384


def test_truncation_and_rounding_by_hand():
    """Values chosen so that truncating and rounding part or agree: 10.9 -> 10 or 11, 100.4 -> 100, -0.4 -> 0."""
    rgb = np.array([10.9, 100.4, 200.2, -0.4, 254.7, 300.0], dtype=np.float64).reshape(1, 2, 3)
    x = preprocessing.CAFFE_RGB.preprocess(rgb)
    assert preprocessing.CAFFE_RGB.deprocess(x, "truncate").reshape(-1).tolist() == [10, 100, 200, 0, 254, 255]
    assert preprocessing.CAFFE_RGB.deprocess(x, "round").reshape(-1).tolist() == [11, 100, 200, 0, 255, 255]


def test_deprocess_truncates_like_the_authors():
    x = np.random.default_rng(0).uniform(-160, 160, (1, 3, 9, 11)).astype(np.float32)
    ours = preprocessing.CAFFE_RGB.deprocess(x, "truncate")
    np.testing.assert_array_equal(ours, authors_postprocess(x))
    rounded = preprocessing.CAFFE_RGB.deprocess(x, "round")
    assert (rounded.astype(int) - ours).max() == 1 and (rounded.astype(int) - ours).min() == 0


def test_the_tv_denoise_and_save_are_the_authors():
    rgb = np.random.default_rng(3).integers(0, 256, (24, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(preprocessing.denoise_tv(rgb, 0.2), authors_save(rgb))


def colourful_image(height=96, width=128, seed=0):
    """Saturated patches of many hues with fine noise: a synthetic image with a colourfulness
    far above a photo's."""
    rng = np.random.default_rng(seed)
    hues = rng.integers(0, 180, (height // 16 + 1, width // 16 + 1), dtype=np.uint8)
    hsv = np.stack([np.kron(hues, np.ones((16, 16), np.uint8))[:height, :width],
                    np.full((height, width), 230, np.uint8), np.full((height, width), 220, np.uint8)], axis=-1)
    import cv2

    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.int16) + rng.integers(-12, 13, (height, width, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def colourfulness_kept(rgb, denoised):
    from fmi.run import measures

    return measures.colourfulness(denoised) / measures.colourfulness(rgb)


def volume_tv(rgb, weight=0.2):
    """The (H, W, 3) array denoised as one 3-D volume, colour as a third spatial axis."""
    from skimage.restoration import denoise_tv_chambolle

    return preprocessing.unit_to_uint8(denoise_tv_chambolle(rgb / 255.0, weight=weight, channel_axis=None))


def test_the_default_denoise_keeps_a_synthetic_images_colour():
    rgb = colourful_image()
    assert colourfulness_kept(rgb, preprocessing.denoise_tv(rgb, 0.2)) >= 0.85
    assert colourfulness_kept(rgb, volume_tv(rgb)) < 0.5  # the measure tells a denoise that washes colour out


@pytest.mark.skipif(not SHARED_PAPER.is_dir(), reason="the paper's six input images are not available to "
                                                      "the tests on this machine")
@pytest.mark.parametrize("name", sorted(published.PAPER_IMAGES))
def test_the_default_denoise_keeps_the_paper_images_colour(name):
    import cv2

    rgb = image_files.read_rgb(SHARED_PAPER / published.PAPER_IMAGES[name])
    height = round(rgb.shape[0] * 256 / rgb.shape[1])
    small = cv2.resize(rgb, (256, height), interpolation=cv2.INTER_AREA)
    assert colourfulness_kept(small, preprocessing.denoise_tv(small, 0.2)) >= 0.85


def test_purposeful_codes_are_the_authors_to_the_last_bit():
    """Their ModifyCode('purposeful'): float32 sums and means, numpy's default argsort for ties."""
    rng = np.random.default_rng(0)
    content = rng.uniform(0, 1, (1, 64, 4, 4)).astype(np.float32)
    style = rng.uniform(0, 1, (1, 64, 4, 4)).astype(np.float32)
    pattern = rng.uniform(0, 1, 16)
    for channel in rng.choice(64, 32, replace=False):  # 32 channels with the same sum, laid out differently
        content[0, channel] = rng.permutation(pattern).reshape(4, 4)
    style[0, rng.choice(64, 32, replace=False)] = 0
    flat_content, flat_style = content.squeeze().reshape(64, -1), style.squeeze().reshape(64, -1)
    order_style, order_content = np.argsort(np.sum(flat_style, axis=1)), np.argsort(np.sum(flat_content, axis=1))
    moved = np.zeros_like(flat_content)
    for rank in range(64):
        moved[order_style[rank], :] = flat_content[order_content[rank], :]
    expected = (moved - np.tile(np.mean(moved, axis=1), (16, 1)).T
                + np.tile(np.mean(flat_style, axis=1), (16, 1)).T)
    np.testing.assert_array_equal(codes.purposeful(content, style)[0].reshape(64, -1), expected)
    stable = np.argsort(np.sum(flat_style, axis=1), kind="stable")
    assert not np.array_equal(stable, order_style)  # the ties are ordered as numpy's default orders them


def test_random_draws_are_the_authors_after_seeding_numpy():
    np.random.seed(7)
    theirs = np.random.normal(3, 1e3, size=(1, 128))
    np.testing.assert_array_equal(fig4.channel_weights("relu2_1", 7, "authors", fidelity.AUTHORS.draw), theirs[0])
    assert not np.array_equal(fig4.channel_weights("relu2_1", 7, "authors", fidelity.PAPER.draw), theirs[0])


def test_the_authors_legacy_draws_repeat_across_layers_and_the_paper_modes_do_not():
    def vector(layer, mode):
        return fig4.channel_weights(layer, 1, "authors", mode.draw)

    legacy, fresh = fidelity.AUTHORS, fidelity.PAPER
    np.testing.assert_array_equal(vector("relu4_1", legacy), vector("relu5_1", legacy))
    np.testing.assert_array_equal(vector("relu1_1", legacy), vector("relu2_1", legacy)[:64])
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu5_2"]
    vectors = {layer: vector(layer, fresh) for layer in layers}
    for first in layers:
        for second in layers:
            if first != second:
                shorter = min(vectors[first].size, vectors[second].size)
                assert not np.any(vectors[first][:shorter] == vectors[second][:shorter]), (first, second)


def test_the_start_image_is_mxnet_uniform_after_seeding_mxnet():
    import mxnet as mx

    mx.random.seed(5)
    theirs = mx.nd.random.uniform(-0.1, 0.1, (1, 3, 6, 8)).asnumpy()
    np.testing.assert_array_equal(invert.initial_images((3, 6, 8), [5, 5]),
                                  np.concatenate([theirs, theirs]))


def ijg_quantization(quality):
    """The IJG reference library's luminance table (JPEG standard, Annex K) scaled to ``quality``,
    as libjpeg's jpeg_quality_scaling and jpeg_add_quant_table do it."""
    base = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
                     92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


def test_jpeg_cells_are_written_at_the_authors_quality_75():
    """Their imsave wrote JPEG through Pillow at its default quality, 75: the cell's luminance table
    is the standard one scaled to 75, computed here from the JPEG standard's table."""
    import io

    rgb = np.random.default_rng(1).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(image_files.encode(rgb, "jpeg"))) as cell:
        assert cell.format == "JPEG"
        luminance = np.array(cell.quantization[0])
    zigzag = np.array([0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
                       20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58,
                       59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63])
    table = ijg_quantization(75)
    assert np.array_equal(luminance, table) or np.array_equal(luminance, table[zigzag])
    assert not np.array_equal(luminance, ijg_quantization(90)) and not np.array_equal(luminance, table[zigzag] + 1)


def test_an_authors_mode_run_says_so_and_writes_jpeg_cells(tmp_path, tiny_image, caplog):
    output = tmp_path / "out"
    caplog.set_level("INFO")
    assert run_fmi.main(["--image", str(tiny_image), "--weights", "random:0", "--size", "31", "--layers", "relu1_1",
                         "--filters", "0,1", "--steps", "3", "--fidelity", "authors", "--output", str(output)]) == 0
    record = json.loads((output / "record.json").read_text())
    assert record["fidelity"] == "authors" and record["config"]["fidelity"] == "authors"
    assert sorted(p.name for p in (output / "cells" / "tiny" / "relu1_1").iterdir()) == [
        "filter_0.jpg", "filter_0.json", "filter_1.jpg", "filter_1.json"]
    assert Image.open(output / "cells" / "tiny" / "relu1_1" / "filter_0.jpg").size == (31, 23)  # int(24*31/32)
    assert (output / "fig3_tiny.png").exists()
    assert any("fidelity: authors" in message for message in caplog.messages)
    assert run_fmi.main(["--image", str(tiny_image), "--weights", "random:0", "--size", "31", "--layers", "relu1_1",
                         "--filters", "0,1", "--steps", "3", "--fidelity", "authors", "--output", str(output),
                         "--resume"]) == 0
    assert not any("will be redone" in message for message in caplog.messages)


def test_authors_mode_logs_the_nan_channels_it_does_not_copy(tmp_path, tiny_image, caplog):
    caplog.set_level("INFO")
    assert run_random.main(["--image", str(tiny_image), "--weights", "random:0", "--size", "32", "--layers",
                            "relu5_1", "--steps", "2", "--draw-seeds", "1", "--fidelity", "authors",
                            "--output", str(tmp_path / "out")]) == 0
    dead = [m for m in caplog.messages if "dead channel(s)" in m]
    assert dead and "makes them NaN, a bug fmi does not copy" in dead[0]
    cells = list(Path(tmp_path / "out" / "cells").rglob("*.json"))
    assert all(np.isfinite(json.loads(p.read_text())["final_loss"]) for p in cells)
