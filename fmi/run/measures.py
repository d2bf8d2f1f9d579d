"""Image measures that turn the paper's visual claims into numbers.

Each takes an (H, W, 3) uint8 RGB image (or a pair) and returns a float.
"""
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]  # (H, W, 3) RGB


def colourfulness(rgb: Image) -> float:
    """Hasler and Suesstrunk (2003): sigma_rgyb + 0.3 mu_rgyb, with rg = R - G and
    yb = (R + G) / 2 - B on the 0..255 scale; 0 for any grey image."""
    red, green, blue = (rgb[..., channel].astype(np.float64) for channel in range(3))
    rg = red - green
    yb = 0.5 * (red + green) - blue
    sigma = np.hypot(rg.std(), yb.std())
    mu = np.hypot(rg.mean(), yb.mean())
    return float(sigma + 0.3 * mu)


def _gray(rgb: Image) -> npt.NDArray[np.float64]:
    return rgb.astype(np.float64).mean(axis=2) / 255.0


def gradient_magnitude(rgb: Image) -> float:
    """Mean magnitude of the luminance gradient, by forward differences on the 0..1 scale
    (central differences would miss the finest, pixel-to-pixel structure)."""
    dx, dy = _forward_differences(_gray(rgb))
    return float(np.hypot(dx, dy).mean()) if dx.size else 0.0


def _forward_differences(gray: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Horizontal and vertical forward differences on the common (H-1, W-1) grid."""
    return np.diff(gray, axis=1)[:-1, :], np.diff(gray, axis=0)[:, :-1]


def spectral_entropy(rgb: Image) -> float:
    """Shannon entropy of the luminance power spectrum (DC excluded), normalised to 0..1:
    0 for a flat image or a single frequency, 1 for white noise."""
    gray = _gray(rgb)
    power = np.abs(np.fft.fft2(gray - gray.mean())) ** 2
    power = power.ravel()[1:]
    total = power.sum()
    if total <= 0 or power.size < 2:
        return 0.0
    share = power[power > 0] / total
    return float(-(share * np.log2(share)).sum() / np.log2(power.size))


def png_bytes_per_pixel(rgb: Image) -> float:
    """Size of the image as a losslessly compressed PNG, in bytes per pixel: a proxy for
    how much structure the image holds that a generic coder cannot predict."""
    import cv2  # here: the experiments' measures load with their settings, and --help loads no OpenCV

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as PNG")
    return float(encoded.size) / (rgb.shape[0] * rgb.shape[1])


UNITS = {  # what a measure's numbers are, for the axes of plots
    "colourfulness": "M, on 0..255 RGB",
    "gradient_magnitude": "mean |grad| per pixel, luminance 0..1",
    "spectral_entropy": "normalised, 0..1",
    "png_bytes_per_pixel": "bytes per pixel",
}

IMAGE_MEASURES: dict[str, Callable[[Image], float]] = {
    "colourfulness": colourfulness,
    "gradient_magnitude": gradient_magnitude,
    "spectral_entropy": spectral_entropy,
    "png_bytes_per_pixel": png_bytes_per_pixel,
}


def all_of(rgb: Image) -> dict[str, float]:
    """Every measure of ``IMAGE_MEASURES`` of one image: {name: value}."""
    return {name: function(rgb) for name, function in IMAGE_MEASURES.items()}


def texture_descriptor(rgb: Image, colour_bins: int = 4, orientation_bins: int = 8) -> npt.NDArray[np.float64]:
    """A weight-free texture signature: a joint RGB histogram (colour_bins^3 bins) and a
    gradient-orientation histogram weighted by magnitude, each summing to 1."""
    quantised = (rgb.astype(np.int64) * colour_bins) // 256
    index = (quantised[..., 0] * colour_bins + quantised[..., 1]) * colour_bins + quantised[..., 2]
    colours = np.bincount(index.ravel(), minlength=colour_bins ** 3).astype(np.float64)
    gx, gy = _forward_differences(_gray(rgb))
    magnitude = np.hypot(gx, gy).ravel()
    angle = np.mod(np.arctan2(gy, gx).ravel(), np.pi)  # orientation, not direction
    orientations = np.bincount(np.minimum((angle / np.pi * orientation_bins).astype(int),
                                          orientation_bins - 1),
                               weights=magnitude, minlength=orientation_bins)
    parts = [colours / colours.sum()]
    parts.append(orientations / orientations.sum() if orientations.sum() > 0
                 else np.full(orientation_bins, 1.0 / orientation_bins))
    return np.concatenate(parts)


def texture_distance(first: Image, second: Image) -> float:
    """Distance of two images' texture descriptors: the mean of the two histograms'
    total-variation distances, 0 for identical images, at most 1."""
    a, b = texture_descriptor(first), texture_descriptor(second)
    colours = a.size - 8
    return float(0.5 * (0.5 * np.abs(a[:colours] - b[:colours]).sum()
                        + 0.5 * np.abs(a[colours:] - b[colours:]).sum()))


def cosine_similarity(first: npt.ArrayLike, second: npt.ArrayLike) -> float:
    """Cosine of the angle between two vectors (flattened); 1 for parallel, 0 if either is 0."""
    a, b = np.ravel(first).astype(np.float64), np.ravel(second).astype(np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norms) if norms > 0 else 0.0
