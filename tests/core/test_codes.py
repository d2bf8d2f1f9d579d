import numpy as np
import pytest

from fmi.core import codes
from fmi.errors import FmiError


def test_original_is_identity():
    code = np.random.default_rng(0).random((1, 4, 3, 5)).astype(np.float32)
    np.testing.assert_array_equal(codes.original(code), code)


def test_feature_map_matches_formula():
    code = np.random.default_rng(1).random((1, 6, 3, 4))
    target = codes.feature_map(code, 2)
    expected = np.zeros((1, 6, 3, 4))
    for y in range(3):
        for x in range(4):
            expected[0, 2, y, x] = sum(code[0, c, y, x] for c in range(6))
    np.testing.assert_allclose(target, expected, rtol=1e-6)
    assert target.dtype == np.float32


@pytest.mark.parametrize("index", [-1, 6])
def test_feature_map_index_out_of_range(index):
    with pytest.raises(FmiError, match=r"filter index .* out of range: this layer has 6 filters, "
                                       r"valid indices are 0..5"):
        codes.feature_map(np.ones((1, 6, 2, 2)), index)


# --- random re-weighting ------------------------------------------------------------------

def loop_random_rescale(code, weights):
    """T_k = S v_k F_k / s_k written as plain loops, with s_k = 0 giving 0."""
    _, channels, height, width = code.shape
    total = sum(code[0, k].sum() for k in range(channels))
    normalised = [w / sum(weights) for w in weights]
    target = np.zeros(code.shape)
    for k in range(channels):
        s_k = code[0, k].sum()
        for y in range(height):
            for x in range(width):
                target[0, k, y, x] = 0.0 if s_k == 0 else total * normalised[k] * code[0, k, y, x] / s_k
    return target


def test_random_rescale_matches_formula_with_a_dead_channel():
    code = np.random.default_rng(0).random((1, 5, 3, 4))
    code[0, 3] = 0.0  # a dead map
    weights = np.array([2.0, -1.0, 0.5, 7.0, 3.0])
    target = codes.random_rescale(code, weights)
    np.testing.assert_allclose(target, loop_random_rescale(code, weights), rtol=1e-5)
    assert np.isfinite(target).all() and not target[0, 3].any()
    # channel sums are redistributed as v says (the dead channel's share is lost)
    np.testing.assert_allclose(target[0].sum(axis=(1, 2))[[0, 1, 2, 4]],
                               code.sum() * (weights / weights.sum())[[0, 1, 2, 4]], rtol=1e-5)


def test_random_rescale_rejects_bad_weights():
    code = np.ones((1, 3, 2, 2))
    with pytest.raises(FmiError, match="expected 3 weights, got 2"):
        codes.random_rescale(code, [1.0, 2.0])
    with pytest.raises(FmiError, match="sum to 0"):
        codes.random_rescale(code, [1.0, -1.0, 0.0])


def test_draws_are_seeded_and_distributed_as_documented():
    authors = codes.draw_rescale_weights(20000, np.random.default_rng(1), "authors")
    again = codes.draw_rescale_weights(20000, np.random.default_rng(1), "authors")
    np.testing.assert_array_equal(authors, again)
    assert abs(authors.mean() - 3) < 30 and abs(authors.std() - 1000) < 30
    assert (authors < 0).any()
    positive = codes.draw_rescale_weights(20000, np.random.default_rng(1), "positive")
    assert (positive > 0).all() and abs(positive.mean() - 1) < 0.05
    with pytest.raises(FmiError, match="unknown random distribution 'uniform'"):
        codes.draw_rescale_weights(3, np.random.default_rng(1), "uniform")


# --- purposeful ----------------------------------------------------------------------------

def loop_purposeful(code, style):
    """Rank channels by sum (ties by channel index), move content rank r to the style's
    rank-r position, then swap each channel's mean for the style channel's."""
    channels = code.shape[1]
    content_sums = [code[0, k].sum() for k in range(channels)]
    style_sums = [style[0, k].sum() for k in range(channels)]
    content_rank = sorted(range(channels), key=lambda k: (content_sums[k], k))
    style_rank = sorted(range(channels), key=lambda k: (style_sums[k], k))
    target = np.zeros(code.shape)
    for r in range(channels):
        moved = code[0, content_rank[r]]
        target[0, style_rank[r]] = moved - moved.mean() + style[0, style_rank[r]].mean()
    return target


def test_purposeful_matches_formula():
    rng = np.random.default_rng(2)
    code, style = rng.random((1, 6, 3, 3)), rng.random((1, 6, 3, 3)) * 4
    target = codes.purposeful(code, style)
    np.testing.assert_allclose(target, loop_purposeful(code, style), rtol=1e-5, atol=1e-6)
    # each channel now has the style channel's mean
    np.testing.assert_allclose(target.mean(axis=(2, 3)), style.mean(axis=(2, 3)), rtol=1e-5)


def test_purposeful_with_tied_sums_and_a_dead_channel():
    rng = np.random.default_rng(3)
    code = rng.integers(0, 8, (1, 5, 2, 2)) / 4.0  # quarters: sums are exact
    code[0, 1] = code[0, 3][::-1]  # same sum as channel 3, other values: a tie whose order matters
    code[0, 4] = 0.0
    style = rng.integers(0, 8, (1, 5, 2, 2)) / 4.0
    style[0, 0] = style[0, 2][:, ::-1]  # a tie in the style too
    assert code[0, 1].sum() == code[0, 3].sum() and not np.array_equal(code[0, 1], code[0, 3])
    target = codes.purposeful(code, style)
    np.testing.assert_allclose(target, loop_purposeful(code, style), rtol=1e-5, atol=1e-6)
    assert np.isfinite(target).all()


def test_purposeful_needs_matching_channels():
    with pytest.raises(FmiError, match="content has 3 channels, style has 4"):
        codes.purposeful(np.ones((1, 3, 2, 2)), np.ones((1, 4, 2, 2)))
