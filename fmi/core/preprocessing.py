"""How a picture becomes the network's input and back (docs/method.md, sections 2 and 3).

The preprocessing contract: an RGB image (H, W, 3) on the 0..255 scale becomes a float32 array
(1, 3, H, W) with ``x = (rgb * scale - mean) / std`` per channel in R, G, B order (reversed for a
network that reads B, G, R); ``deprocess``
undoes exactly that, clips to 0..255 and makes 8-bit values by rounding (or, in the authors'
fidelity mode, truncation). Sizing and resizing follow the fidelity mode; the TV denoise is the
authors' post-processing of every inverted image.
"""
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from skimage.restoration import denoise_tv_chambolle
from skimage.transform import resize as skimage_resize

Image = npt.NDArray[np.uint8]  # (H, W, 3) RGB


@dataclass(frozen=True)
class Preprocessing:
    """Per-channel affine map between RGB 0..255 and the network's input space."""

    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: str
    order: str = "rgb"  # the network's channel order: "rgb", or "bgr" (its input reversed; mean and std stay RGB's)

    def _mean_std(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        mean = np.asarray(self.mean, dtype=np.float64).reshape(1, 3, 1, 1)
        std = np.asarray(self.std, dtype=np.float64).reshape(1, 3, 1, 1)
        return mean, std

    def preprocess(self, rgb: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(H, W, 3) RGB on the 0..255 scale (uint8 or float) -> (1, 3, H, W) float32 network input."""
        mean, std = self._mean_std()
        chw = np.asarray(rgb, dtype=np.float64).transpose(2, 0, 1)[np.newaxis]
        x = ((chw * self.scale - mean) / std).astype(np.float32)
        return np.ascontiguousarray(x[:, ::-1]) if self.order == "bgr" else x

    def deprocess(self, x: npt.ArrayLike, to_uint8: str = "round") -> Image:
        """(1, 3, H, W) or (3, H, W) network input -> (H, W, 3) uint8 RGB, clipped to 0..255.

        ``to_uint8`` is "round" (nearest value) or "truncate" (drop the fraction, as the
        authors' ``astype('uint8')`` does).
        """
        mean, std = self._mean_std()
        if self.order == "bgr":
            x = np.asarray(x)[..., ::-1, :, :]
        if to_uint8 == "truncate":  # the authors add the mean to the float32 image, then truncate
            x = np.asarray(x, dtype=np.float32).reshape((1, 3) + np.shape(x)[-2:])
            rgb = (x * std.astype(np.float32) + mean.astype(np.float32)) / np.float32(self.scale)
            return np.clip(rgb[0].transpose(1, 2, 0), 0, 255).astype(np.uint8)
        x = np.asarray(x, dtype=np.float64).reshape((1, 3) + np.shape(x)[-2:])
        rgb = np.clip(((x * std + mean) / self.scale)[0].transpose(1, 2, 0), 0, 255)
        return np.rint(rgb).astype(np.uint8)


# The authors' (MXNet neural-style) VGG-19 and seeded random weights: RGB 0..255 minus the ImageNet mean.
CAFFE_RGB = Preprocessing(scale=1.0, mean=(123.68, 116.779, 103.939), std=(1.0, 1.0, 1.0),
                          name="rgb 0..255 minus mean (123.68, 116.779, 103.939)")
# Gluon model zoo: RGB 0..1, minus mean, divided by std.
TORCH_RGB = Preprocessing(scale=1.0 / 255.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                          name="rgb 0..1 minus mean (0.485, 0.456, 0.406) over std (0.229, 0.224, 0.225)")


def content_size(height: int, width: int, long_edge: int, rounding: str = "round") -> tuple[int, int]:
    """The size of a content image resized so its longer side is ``long_edge`` pixels.

    ``rounding`` is "round" (nearest) or "floor" (the authors' ``int()``).
    """
    factor = long_edge / max(height, width)
    to_int = round if rounding == "round" else int
    return max(1, to_int(height * factor)), max(1, to_int(width * factor))


def resize(rgb: Image, height: int, width: int, method: str = "opencv") -> npt.NDArray[np.float64]:
    """Resize uint8 RGB to exactly ``height`` x ``width``; return it on the 0..1 scale (float64).

    "opencv": area averaging when shrinking, bicubic when enlarging, on 8-bit values.
    "skimage": scikit-image's bilinear resize without anti-aliasing, with zeros outside the
    image and the result clipped to 0..1: the behaviour of the 2016 release the authors used
    (releases since clip to the input's own range, which changes enlarged edges).
    """
    if method == "skimage":

        resized = skimage_resize(rgb, (height, width), order=1, mode="constant", cval=0.0, clip=False,
                                 preserve_range=False, anti_aliasing=False)
        return np.clip(resized, 0.0, 1.0)
    shrinking = height * width < rgb.shape[0] * rgb.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(rgb, (width, height), interpolation=interpolation).astype(np.float64) / 255.0


def unit_to_uint8(unit: npt.ArrayLike) -> Image:
    """An image on 0..1 as 8-bit values, rounded (what a viewer of the resized image sees)."""
    return np.clip(np.rint(np.asarray(unit) * 255.0), 0, 255).astype(np.uint8)


def denoise_tv(rgb: Image, weight: float = 0.2) -> Image:
    """Chambolle total-variation denoise of uint8 RGB, each channel alone, as the authors did.

    The authors' ``denoise_tv_chambolle(out, weight=0.2, multichannel=True)`` denoises the
    three channels separately on the image as 0..1 floats; their ``imsave`` then makes 8-bit
    values by ``img_as_ubyte``, which multiplies by 255 and rounds in the input's dtype,
    float64 here (scikit-image 0.12.3, util/dtype.py lines 215-224). Denoising the (H, W, 3)
    array as one 3-D volume instead would smooth across the colour axis and wash colours out
    (docs/method.md, "Images"). A weight of 0 returns the image unchanged.
    """

    if weight <= 0:
        return rgb
    denoised = denoise_tv_chambolle(rgb.astype(np.float64) / 255.0, weight=weight, channel_axis=-1)
    return np.clip(np.rint(denoised * 255.0), 0, 255).astype(np.uint8)
