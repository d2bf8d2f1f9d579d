"""fmi/run/cost.py: the cost model against brute force and a step-by-step simulation."""
import itertools

import numpy as np
import pytest

from fmi.run import cost


def test_the_expected_longest_image_of_a_batch_is_the_mean_over_every_possible_batch():
    samples = [70, 95, 95, 140, 300]
    for count in (1, 2, 3):
        every = [max(draw) for draw in itertools.product(samples, repeat=count)]
        assert cost.expected_max(samples, count) == pytest.approx(np.mean(every))


def test_a_cells_expected_seconds_equal_a_batch_simulated_step_by_step():
    """Images leave a batch as they stop; a step of b images costs fixed + per_image * b."""
    samples, batch, fixed, per_image = [3, 5, 9], 2, 0.4, 1.5
    together, alone = fixed + per_image * batch, fixed + per_image
    simulated = []
    for steps in itertools.product(samples, repeat=batch):
        seconds = sum(fixed + per_image * sum(s >= step for s in steps) for step in range(1, max(steps) + 1))
        simulated.append(seconds / batch)
    assert cost.cell_seconds(samples, batch, together, alone) == pytest.approx(np.mean(simulated))
    assert cost.cell_seconds(samples, 1, alone, alone) == pytest.approx(np.mean(samples) * alone)
