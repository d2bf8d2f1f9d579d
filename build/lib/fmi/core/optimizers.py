"""The optimisers' settings and the authors' learning-rate schedule (docs/method.md, section 7).

Plain dataclasses, free of MXNet, so a config can be read and checked at once; ``fmi.core.invert``
runs them.
"""
import dataclasses

OPTIMIZERS = ("sgd", "lbfgs")
FACTOR_SCHEDULER_FLOOR = 1e-8  # MXNet's FactorScheduler(stop_factor_lr=1e-8): the rate never falls below it
MAX_LBFGS_HISTORY = 1000       # scipy keeps 2 x history copies of the image
NAMES = {"sgd": "the authors' SGD", "lbfgs": "L-BFGS"}  # as logs, titles and pages name them


@dataclasses.dataclass(frozen=True)
class SGD:
    """The authors' optimiser and stop rule: MXNet's SGD with momentum, weight decay, element-wise
    gradient clipping and a FactorScheduler; stop when ||x_t - x_t-1|| / ||x_t|| < ``stop_eps``."""

    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip_gradient: float = 10.0
    lr_factor: float = 0.9
    lr_step: int = 10
    stop_eps: float = 0.005
    max_steps: int = 1000

    def learning_rate_at(self, step):
        """Learning rate of update ``step`` (1-based): times ``lr_factor`` every ``lr_step`` updates,
        multiplied step by step and never below 1e-8, as MXNet's ``FactorScheduler`` does it."""
        rate = self.learning_rate
        for _ in range((step - 1) // self.lr_step):
            rate = max(rate * self.lr_factor, FACTOR_SCHEDULER_FLOOR)
        return rate


@dataclasses.dataclass(frozen=True)
class LBFGS:
    """scipy's L-BFGS-B on the same objective SGD minimises: the loss + weight_decay/2 ||x||^2.

    It stops by the authors' rule (relative change of x below ``stop_eps``), after
    ``max_steps`` iterations, or when scipy finds no further progress.
    """

    max_steps: int = 1000
    history: int = 10
    weight_decay: float = 5e-4
    stop_eps: float = 0.005
