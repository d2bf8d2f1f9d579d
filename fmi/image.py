"""Reading, resizing, preprocessing and saving images.

Preprocessing contract (SPEC section 2): an RGB uint8 image (H, W, 3) becomes a
float32 array (1, 3, H, W) with ``x = (rgb * scale - mean) / std`` per channel
in R, G, B order. ``deprocess`` undoes exactly that, clips to 0..255 and
rounds to uint8. OpenCV reads BGR; everything here after ``read_rgb`` is RGB.
"""
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage.restoration import denoise_tv_chambolle

from fmi.errors import FmiError
from fmi.io import atomic_path

log = logging.getLogger(__name__)

PAPER_IMAGES = {
    "golden_gate": "golden_gate.jpg",
    "tubingen": "tubingen.jpg",
    "frida_kahlo": "frida_kahlo.jpg",
    "seated_nude": "seated_nude.jpg",
    "starry_night": "starry_night.png",
    "the_scream": "the_scream.jpg",
}
SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True)
class Preprocessing:
    """Per-channel affine map between RGB 0..255 and the network's input space."""

    scale: float
    mean: tuple
    std: tuple
    name: str

    def _mean_std(self):
        mean = np.asarray(self.mean, dtype=np.float64).reshape(1, 3, 1, 1)
        std = np.asarray(self.std, dtype=np.float64).reshape(1, 3, 1, 1)
        return mean, std

    def preprocess(self, rgb):
        """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 network input."""
        mean, std = self._mean_std()
        chw = np.asarray(rgb, dtype=np.float64).transpose(2, 0, 1)[np.newaxis]
        return ((chw * self.scale - mean) / std).astype(np.float32)

    def deprocess(self, x):
        """(1, 3, H, W) or (3, H, W) network input -> (H, W, 3) uint8 RGB, clipped."""
        mean, std = self._mean_std()
        x = np.asarray(x, dtype=np.float64).reshape((1, 3) + np.shape(x)[-2:])
        rgb = (x * std + mean) / self.scale
        return np.clip(np.rint(rgb[0].transpose(1, 2, 0)), 0, 255).astype(np.uint8)


# The authors' (MXNet neural-style) VGG-19 and seeded random weights: RGB 0..255 minus the ImageNet mean.
CAFFE_RGB = Preprocessing(scale=1.0, mean=(123.68, 116.779, 103.939), std=(1.0, 1.0, 1.0),
                          name="rgb 0..255 minus mean (123.68, 116.779, 103.939)")
# Gluon model zoo: RGB 0..1, minus mean, divided by std.
TORCH_RGB = Preprocessing(scale=1.0 / 255.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                          name="rgb 0..1 minus mean (0.485, 0.456, 0.406) over std (0.229, 0.224, 0.225)")


def sample_dirs():
    """Folders of images bundled with matplotlib and scikit-image, present on every install."""
    import matplotlib
    import skimage.data

    return [Path(matplotlib.get_data_path()) / "sample_data", Path(skimage.data.__file__).parent]


def resolve(spec, data_dir):
    """Turn an image spec into a path.

    ``spec`` is a paper image name (``golden_gate``, looked up in ``data_dir``),
    ``sample:NAME`` (an image bundled with matplotlib or scikit-image, e.g.
    ``sample:grace_hopper``, ``sample:hubble_deep_field``), or a file path.
    """
    spec = str(spec)
    if spec in PAPER_IMAGES:
        return Path(data_dir) / PAPER_IMAGES[spec]
    if spec.startswith(SAMPLE_PREFIX):
        name = spec[len(SAMPLE_PREFIX):]
        for folder in sample_dirs():
            for suffix in (".jpg", ".png"):
                if (folder / f"{name}{suffix}").is_file():
                    return folder / f"{name}{suffix}"
        raise FmiError(f"no bundled sample image {name!r}; try sample:grace_hopper, "
                       f"sample:hubble_deep_field or sample:coffee")
    return Path(spec)


def locate(spec, data_dir, fallbacks=None):
    """(name, path) of an image spec; a paper image missing from ``data_dir`` is replaced by
    ``fallbacks[spec]`` when given, else it is an error that says how to fetch it."""
    path = resolve(spec, data_dir)
    if not path.exists() and spec in PAPER_IMAGES:
        substitute = (fallbacks or {}).get(spec)
        if substitute:
            log.info("%s not found in %s (run 'python -m fmi.data download' for the paper's "
                     "images); using %s instead", spec, data_dir, substitute)
            return locate(substitute, data_dir)
        raise FmiError(f"image {path}: no such file; run 'python -m fmi.data download' "
                       f"to fetch the paper's images into {data_dir}")
    return image_name(spec), path


def image_name(spec):
    """A short name for an image spec, used in file names and figure labels."""
    spec = str(spec)
    if spec.startswith(SAMPLE_PREFIX):
        return spec[len(SAMPLE_PREFIX):]
    return Path(spec).stem if spec not in PAPER_IMAGES else spec


def read_rgb(path):
    """Read an image file as (H, W, 3) uint8 RGB; grayscale, 16-bit and alpha are converted."""
    path = Path(path)
    if not path.exists():
        raise FmiError(f"image {path}: no such file")
    if path.is_dir():
        raise FmiError(f"image {path}: is a directory, expected an image file")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise FmiError(f"image {path}: file is empty")
    if _is_truncated_jpeg(data):
        raise FmiError(f"image {path}: JPEG is truncated (no end-of-image marker); download it again")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FmiError(f"image {path}: not an image OpenCV can read (use JPEG or PNG)")
    return _to_rgb8(image, path)


def _is_truncated_jpeg(data):
    is_jpeg = data.size >= 3 and data[0] == 0xFF and data[1] == 0xD8 and data[2] == 0xFF
    return bool(is_jpeg and b"\xff\xd9" not in data[-1024:].tobytes())


def _to_rgb8(image, path):
    converted = []
    if image.dtype == np.uint16:
        image = (image.astype(np.float64) / 257.0).round().astype(np.uint8)
        converted.append("16-bit to 8-bit")
    elif image.dtype != np.uint8:
        raise FmiError(f"image {path}: unsupported pixel type {image.dtype}; save it as 8-bit RGB")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        converted.append("grayscale to RGB")
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
        converted.append("alpha channel dropped")
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if converted:
        log.info("image %s converted: %s", path, ", ".join(converted))
    return image


def resize_long_edge(rgb, long_edge):
    """Resize so the longer side is ``long_edge`` pixels, keeping the aspect ratio."""
    height, width = rgb.shape[:2]
    factor = long_edge / max(height, width)
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    return resize_to(rgb, *size)


def resize_to(rgb, height, width):
    """Resize to exactly ``height`` x ``width`` (aspect not kept, as for style images)."""
    shrinking = height * width < rgb.shape[0] * rgb.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(rgb, (width, height), interpolation=interpolation)


def denoise_tv(rgb, weight=0.2, channels="joint"):
    """Chambolle total-variation denoise of a uint8 RGB image on its 0..1 scale.

    ``channels="joint"`` (SPEC section 3) treats the (H, W, 3) array as one volume so the
    channels are denoised together; ``"separate"`` denoises each channel alone, as the
    authors' ``multichannel=True`` call did. A weight of 0 returns the image unchanged.
    """
    if weight <= 0:
        return rgb
    unit = rgb.astype(np.float64) / 255.0
    channel_axis = None if channels == "joint" else -1
    denoised = denoise_tv_chambolle(unit, weight=weight, channel_axis=channel_axis)
    return np.clip(np.rint(denoised * 255.0), 0, 255).astype(np.uint8)


def save_png(path, rgb):
    """Write (H, W, 3) uint8 RGB as PNG, atomically."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise FmiError(f"could not encode {path} as PNG")
    with atomic_path(path) as temporary:
        temporary.write_bytes(encoded.tobytes())
