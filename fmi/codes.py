"""Target codes for inversion: modifications of a layer's code F, shaped (1, C, H, W).

Each function is pure numpy and returns a new float32 array of F's shape (docs/method.md,
"Code modifications").
"""
import numpy as np

from fmi.errors import FmiError

RANDOM_DISTRIBUTIONS = ("authors", "positive")


def _check_code(code):
    code = np.asarray(code, dtype=np.float64)
    if code.ndim != 4 or code.shape[0] != 1:
        raise ValueError(f"expected a code shaped (1, C, H, W), got {code.shape}")
    return code


def original(code):
    """The identity: invert the code as it is."""
    return np.array(code, dtype=np.float32)


def feature_map(code, index):
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
    target[0, index] = code[0].sum(axis=0)
    return target.astype(np.float32)


def draw_rescale_weights(channels, generator, distribution="authors"):
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


def random_rescale(code, weights):
    """Redistribute the code's total among channels by ``weights`` (length C).

    With v = weights / sum(weights), S the total of F and s_k the sum of channel k:
    T_k = S * v_k * F_k / s_k. A channel with s_k = 0 stays 0.
    """
    code = _check_code(code)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    channels = code.shape[1]
    if weights.shape != (channels,):
        raise ValueError(f"expected {channels} weights, got {weights.shape[0]}")
    if weights.sum() == 0:
        raise ValueError("the weights sum to 0 and cannot be normalised")
    share = weights / weights.sum()
    channel_sums = code[0].sum(axis=(1, 2))
    live = channel_sums != 0
    factors = np.zeros(channels)
    factors[live] = code.sum() * share[live] / channel_sums[live]
    return (code * factors[np.newaxis, :, np.newaxis, np.newaxis]).astype(np.float32)


def purposeful(code, style_code, tie_order="stable"):
    """Rank-match the content code's channels to the style code's, then take the style's means.

    Channels of both codes are ranked by their sums; the content channel of rank r moves to
    the position of the style channel of rank r, and each channel's mean is then replaced by
    the mean of the style channel at that position. ``tie_order`` is the argsort kind that
    orders equal sums (common: dead channels all sum to 0): "stable" keeps channel order,
    "quicksort" is numpy's default, which the authors' code used.
    """
    code = _check_code(code)
    style_code = _check_code(style_code)
    if code.shape[1] != style_code.shape[1]:
        raise ValueError(f"content has {code.shape[1]} channels, style has {style_code.shape[1]}")
    content_order = np.argsort(code[0].sum(axis=(1, 2)), kind=tie_order)
    style_order = np.argsort(style_code[0].sum(axis=(1, 2)), kind=tie_order)
    moved = np.empty_like(code)
    moved[0, style_order] = code[0, content_order]
    moved_means = moved.mean(axis=(2, 3), keepdims=True)
    style_means = style_code.mean(axis=(2, 3), keepdims=True)
    return (moved - moved_means + style_means).astype(np.float32)
