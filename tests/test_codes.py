import numpy as np
import pytest

from fmi import codes
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
