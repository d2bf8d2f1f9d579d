"""Target codes for inversion: modifications of a layer's code F, shaped (1, C, H, W).

Each function is pure numpy and returns a new float32 array of F's shape (docs/method.md,
"Code modifications"). Sums are taken in float32 over F viewed as (C, HW), as the authors'
code takes them, so a target is the authors' to the last bit.
"""
from typing import Literal, Union, get_args

import numpy as np
import numpy.typing as npt

from fmi.errors import FmiError

Code = npt.NDArray[np.float32]  # a layer's code (N, C, H, W)

Distribution = Literal["authors", "positive"]
RANDOM_DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)


def _check_code(code: npt.ArrayLike) -> Code:
    code = np.asarray(code, dtype=np.float32)
    if code.ndim != 4 or code.shape[0] != 1:
        raise FmiError(f"expected a code shaped (1, C, H, W), got {code.shape}")
    return code


def _flat(code: Code) -> Code:
    """A (1, C, H, W) code as the contiguous (C, HW) matrix F."""
    return np.ascontiguousarray(code[0].reshape(code.shape[1], -1))


def original(code: npt.ArrayLike) -> Code:
    """The identity: invert the code as it is."""
    return np.array(code, dtype=np.float32)


def feature_map(code: npt.ArrayLike, index: int) -> Code:
    """Feature Map Inversion target for filter ``index``.

    Channel ``index`` holds the sum over all channels at each position; every other
    channel is zero.
    """
    code = _check_code(code)
    channels = code.shape[1]
    if not 0 <= index < channels:
        raise FmiError(f"filter index {index} out of range: this layer has {channels} "
                       f"filters, valid indices are 0..{channels - 1}")
    target = np.zeros_like(code)
    target[0, index] = _flat(code).sum(axis=0).reshape(code.shape[2:])
    return target


def draw_rescale_weights(channels: int, generator: Union[np.random.RandomState, np.random.Generator],
                         distribution: str = "authors") -> npt.NDArray[np.float64]:
    """Draw the channel weight vector v for ``random_rescale``.

    ``authors``: Normal(mean 3, std 1000), as the authors' code does (entries may be
    negative). ``positive``: Exponential(1), so the normalised v is uniform on the simplex.
    """
    if distribution == "authors":
        return generator.normal(3.0, 1000.0, size=channels)
    if distribution == "positive":
        return generator.exponential(1.0, size=channels)
    raise FmiError(f"unknown random distribution {distribution!r}; use one of "
                   f"{', '.join(RANDOM_DISTRIBUTIONS)}")


def random_rescale(code: npt.ArrayLike, weights: npt.ArrayLike) -> Code:
    """Redistribute the code's total among channels by ``weights`` (length C).

    With v = weights / sum(weights), S the total of F and s_k the sum of channel k:
    T_k = S * v_k * F_k / s_k. A channel with s_k = 0 stays 0.
    """
    code = _check_code(code)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    channels = code.shape[1]
    if weights.shape != (channels,):
        raise FmiError(f"expected {channels} weights, got {weights.shape[0]}")
    if weights.sum() == 0:
        raise FmiError("the weights sum to 0 and cannot be normalised")
    share = weights / weights.sum()
    flat = _flat(code)
    channel_sums = flat.sum(axis=1)  # float32, as the authors sum
    live = channel_sums != 0
    ratios = np.zeros_like(flat)
    ratios[live] = flat[live] / channel_sums[live, np.newaxis]  # F_k / s_k; the authors' code gives 0/0 = NaN
    target = (np.float64(flat.sum()) * share)[:, np.newaxis] * ratios
    return target.reshape(code.shape).astype(np.float32)


def purposeful(code: npt.ArrayLike, style_code: npt.ArrayLike) -> Code:
    """Rank-match the content code's channels to the style code's, then take the style's means.

    Channels of both codes are ranked by their sums; the content channel of rank r moves to
    the position of the style channel of rank r, and each channel's mean is then replaced by
    the mean of the style channel at that position. As in the authors' code, sums and means
    are taken in float32 and ranked by numpy's default ``argsort``, which decides the order of
    equal sums (dead channels all sum to 0).
    """
    code, style_code = _check_code(code), _check_code(style_code)
    if code.shape[1] != style_code.shape[1]:
        raise FmiError(f"content has {code.shape[1]} channels, style has {style_code.shape[1]}")
    channels = code.shape[1]
    content = code[0].reshape(channels, -1).astype(np.float32)   # (C, HW)
    style = style_code[0].reshape(channels, -1).astype(np.float32)
    moved = np.empty_like(content)
    moved[np.argsort(style.sum(axis=1))] = content[np.argsort(content.sum(axis=1))]
    result = moved - moved.mean(axis=1, keepdims=True) + style.mean(axis=1, keepdims=True)
    return result.reshape(code.shape).astype(np.float32)
