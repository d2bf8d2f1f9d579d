"""Image files: reading them as a viewer shows them, and writing them whole or not at all.

Reading: the header is read first (Pillow), so an image too large to decode is refused
before any memory is spent; files are decoded with OpenCV (Pillow where OpenCV has no
decoder, e.g. GIF), the first frame of a multi-frame file is used, and the EXIF
orientation is applied, so the image is the one a viewer shows. OpenCV, not Pillow, decodes
because Pillow reads a 16-bit colour PNG as 8-bit by dropping the low byte (up to a level off
the rounded value, measured); so the EXIF turn is fmi's own small table (``orient``), tested
against Pillow's ``exif_transpose`` on all eight orientations.
"""
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from fmi.errors import FmiError
from fmi.io import PathLike, atomic_path, check_input_file

Image8 = npt.NDArray[np.uint8]  # (H, W, 3) RGB

log = logging.getLogger("fmi")

MAX_PIXELS = 178_956_970  # Pillow's decompression-bomb limit; OpenCV's own (2**30) is larger
DECODE_BYTES_PER_PIXEL = 24  # 16-bit RGBA decoded, converted and resized: an upper bound
ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class Header:
    """What an image file says about itself before it is decoded; sizes as a viewer shows them."""

    height: int
    width: int
    frames: int
    orientation: int
    format: str

    @property
    def decode_bytes(self) -> int:
        return self.height * self.width * DECODE_BYTES_PER_PIXEL


def read_header(path: PathLike) -> Header:
    """The size, frame count and EXIF orientation of the image at ``path``, without decoding it."""
    path = check_input_file(path, "image")
    with open(path, "rb") as stream:
        start = stream.read(3)
    if start == b"\xff\xd8\xff" and _jpeg_is_truncated(path):
        raise FmiError(f"image {path}: JPEG is truncated (no end-of-image marker); download it again")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as opened:
                width, height = opened.size
                frames = getattr(opened, "n_frames", 1)
                try:
                    orientation = int(opened.getexif().get(ORIENTATION_TAG, 1))
                except Exception:  # a damaged EXIF block: show the pixels as stored
                    orientation = 1
                kind = opened.format or "unknown"
        except Image.DecompressionBombError:
            raise FmiError(f"image {path}: has more than {MAX_PIXELS:,} pixels, more than fmi decodes; "
                           f"shrink it first") from None
        except UnidentifiedImageError:
            raise FmiError(f"image {path}: not an image fmi can read (use JPEG or PNG)") from None
        except (OSError, SyntaxError, ValueError) as error:
            raise FmiError(f"image {path}: damaged image file ({error}); get a good copy") from None
    if width * height > MAX_PIXELS:
        raise FmiError(f"image {path}: {height}x{width} is {width * height:,} pixels, more than the "
                       f"{MAX_PIXELS:,} fmi decodes; shrink it first")
    if width < 1 or height < 1:
        raise FmiError(f"image {path}: has no pixels ({height}x{width})")
    if orientation not in range(1, 9):
        orientation = 1
    if orientation >= 5:  # turned by 90 degrees: a viewer swaps the sides
        width, height = height, width
    return Header(height, width, frames, orientation, kind)


def _jpeg_is_truncated(path: PathLike) -> bool:
    """True if no end-of-image marker follows the JPEG's last scan. Data after the marker (a phone's
    trailer, a second picture) is fine; a scan cut off before its marker is not."""
    data = Path(path).read_bytes()
    last_scan = data.rfind(b"\xff\xda")
    return data.find(b"\xff\xd9", max(last_scan, 0)) < 0


def read_rgb(path: PathLike, header: Optional[Header] = None) -> Image8:
    """Read an image file as it is displayed: (H, W, 3) uint8 RGB.

    The EXIF orientation is applied and the first frame of a multi-frame file used;
    grayscale, 16-bit and alpha are converted, each with a log line.
    """
    path = Path(path)
    header = header or read_header(path)
    data = np.fromfile(path, dtype=np.uint8)
    notes = []
    if header.frames > 1:
        notes.append(f"first of {header.frames} frames used")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is not None:
        image = _bgr_to_rgb(image)
    else:
        image = _decode_with_pillow(path)
    if header.orientation != 1:
        image = orient(image, header.orientation)
        notes.append(f"turned upright (EXIF orientation {header.orientation})")
    return _to_rgb8(image, path, notes)


def _bgr_to_rgb(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def _decode_with_pillow(path: PathLike) -> npt.NDArray[Any]:
    """First frame as an RGB(A) or 16-bit gray array, for formats OpenCV cannot decode (GIF)."""
    try:
        with Image.open(path) as opened:
            opened.seek(0)
            frame: Image.Image = opened
            if opened.mode not in ("I;16", "I;16B", "I;16L", "L", "RGB", "RGBA"):
                frame = opened.convert("RGBA" if "A" in opened.mode or "transparency" in opened.info else "RGB")
            return np.asarray(frame)
    except (OSError, SyntaxError, ValueError) as error:
        raise FmiError(f"image {path}: damaged image file ({error}); get a good copy") from None


def orient(image: npt.NDArray[Any], orientation: int) -> npt.NDArray[Any]:
    """Turn an (H, W, ...) array stored with EXIF ``orientation`` (1..8) upright."""
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, k=1),
    }
    return np.ascontiguousarray(turns[orientation](image)) if orientation in turns else image


def _to_rgb8(image: npt.NDArray[Any], path: PathLike, notes: list[str]) -> Image8:
    if image.dtype == np.uint16:
        image = (image.astype(np.float64) / 257.0).round().astype(np.uint8)
        notes.append("16-bit to 8-bit")
    elif image.dtype != np.uint8:
        raise FmiError(f"image {path}: unsupported pixel type {image.dtype}; save it as 8-bit RGB")
    if image.ndim == 3 and image.shape[2] in (2, 4) and not (image[..., -1] == 255).all():
        notes.append("transparency dropped")  # an opaque alpha channel (matplotlib's PNGs) loses nothing
    if image.ndim == 3 and image.shape[2] in (1, 2):  # gray, or gray and alpha
        image = image[..., 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        notes.append("grayscale to RGB")
    elif image.shape[2] == 4:
        image = np.ascontiguousarray(image[..., :3])
    if notes:
        log.info("image %s converted: %s", path, ", ".join(notes))
    return image


CELL_SUFFIXES = {"png": ".png", "jpeg": ".jpg"}


def encode(rgb: Image8, kind: str = "png") -> bytes:
    """(H, W, 3) uint8 RGB as PNG bytes, or as JPEG bytes with Pillow's defaults (quality 75),
    which is how the authors' scikit-image 2016 ``imsave`` wrote their cells."""
    if kind == "jpeg":
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="JPEG")
        return buffer.getvalue()
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise FmiError("could not encode an image as PNG")
    return encoded.tobytes()


def save(path: PathLike, rgb: Image8, kind: str = "png") -> None:
    """Write (H, W, 3) uint8 RGB as PNG (or JPEG), atomically."""
    data = encode(rgb, kind)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def save_png(path: PathLike, rgb: Image8) -> None:
    save(path, rgb, "png")
