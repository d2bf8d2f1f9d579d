"""The optimisers' settings and the authors' learning-rate schedule (docs/method.md, section 7).

Typed, bounded and free of MXNet, so a config can be read and checked at once; ``fmi.core.invert``
runs them. Each setting says its own bounds: a rate is positive, a decay 0 or more, a step count
a positive integer.
"""
from typing import Annotated, Literal, get_args

import pydantic

Optimizer = Literal["sgd", "lbfgs"]
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
FACTOR_SCHEDULER_FLOOR = 1e-8  # MXNet's FactorScheduler(stop_factor_lr=1e-8): the rate never falls below it
MAX_LBFGS_HISTORY = 1000       # scipy keeps 2 x history copies of the image
NAMES = {"sgd": "the authors' SGD", "lbfgs": "L-BFGS"}  # as logs, titles and pages name them
INT_LIMIT = 2**31 - 1  # counts and seeds go to MXNet's and numpy's 32-bit code

Positive = Annotated[float, pydantic.Field(gt=0)]
NonNegative = Annotated[float, pydantic.Field(ge=0)]
Count = Annotated[int, pydantic.Field(ge=1, le=INT_LIMIT)]
SETTINGS = pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class SGD(pydantic.BaseModel):
    """The authors' optimiser and stop rule: MXNet's SGD with momentum, weight decay, element-wise
    gradient clipping and a FactorScheduler; stop when ||x_t - x_t-1|| / ||x_t|| < ``stop_eps``."""

    model_config = SETTINGS
    learning_rate: Positive = pydantic.Field(0.1, description="learning rate of the first steps")
    momentum: NonNegative = pydantic.Field(0.9, description="momentum")
    weight_decay: NonNegative = pydantic.Field(5e-4, description="weight decay (an L2 pull of the image to 0)")
    clip_gradient: Positive = pydantic.Field(10.0, description="each gradient element is clipped to this size")
    lr_factor: NonNegative = pydantic.Field(0.9, description="factor of the learning rate every lr_step steps")
    lr_step: Count = pydantic.Field(10, description="steps between two multiplications by lr_factor")
    stop_eps: NonNegative = pydantic.Field(0.005, description="stop when the image changes by less than this "
                                                               "fraction in one step; 0: run to max_steps")
    max_steps: Count = pydantic.Field(1000, description="step limit of every cell")

    def learning_rate_at(self, step: int) -> float:
        """Learning rate of update ``step`` (1-based): times ``lr_factor`` every ``lr_step`` updates,
        multiplied step by step and never below 1e-8, as MXNet's ``FactorScheduler`` does it."""
        rate = self.learning_rate
        for _ in range((step - 1) // self.lr_step):
            rate = max(rate * self.lr_factor, FACTOR_SCHEDULER_FLOOR)
        return rate


class LBFGS(pydantic.BaseModel):
    """scipy's L-BFGS-B on the same objective SGD minimises: the loss + weight_decay/2 ||x||^2.

    It stops by the authors' rule (relative change of x below ``stop_eps``), after
    ``max_steps`` iterations, or when scipy finds no further progress.
    """

    model_config = SETTINGS
    max_steps: Count = pydantic.Field(1000, description="iteration limit of every cell")
    history: Annotated[int, pydantic.Field(ge=1, le=MAX_LBFGS_HISTORY)] = pydantic.Field(
        10, description="corrections L-BFGS keeps")
    weight_decay: NonNegative = pydantic.Field(5e-4, description="weight decay, as SGD's")
    stop_eps: NonNegative = pydantic.Field(0.005, description="stop when the image changes by less than this "
                                                              "fraction in one iteration")
