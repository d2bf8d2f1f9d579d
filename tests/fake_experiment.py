"""A small experiment of the tests' own, so the run layer (driver, keys, shards, labels, pages) is tested
through the protocol a figure implements, not through one of the paper's figures.

Two groups (relu1_1, relu2_1) of three items each per content image; an item's target is the content
image's code at its group scaled by its own factor, so every cell is its own. It counts what the driver
asks of it, so a test can say how often each content image was prepared and which batches were inverted.
"""
import time

import numpy as np
import pydantic

from fmi.core import codes
from fmi.run import driver
from fmi.run import session as sessions
from fmi.run.experiment import Batch, Context, Experiment, Grid, Images, Picture, Problem, chunks, grid
from fmi.run.folder.keys import cell_key
from fmi.run.folder.record import Strict
from fmi.run.interface import config as config_module
from fmi.run.interface.config import Common

ITEMS = ("small", "medium", "large")
FACTORS = {"small": 0.5, "medium": 1.0, "large": 2.0}


class Config(Common):
    layers: list[str] = pydantic.Field(["relu1_1", "relu2_1"], description="the groups")
    output: str = "runs/fake"

    def check(self, where: str) -> None:
        super().check(where)
        self.check_layers(where)


class Details(Strict):
    factor: float


class Fake(Experiment[Config, dict[str, Images]]):
    name, script, title, paper = "fake", "run_fake.py", "Fake experiment", "Fig. 0"
    config_model, details_model = Config, Details

    def __init__(self) -> None:
        self.prepared: list[str] = []              # the content images prepare was asked for, in order
        self.batches: list[tuple[str, ...]] = []   # the keys of each batch problem was asked for

    def plan(self, config: Config, contents: list[str], styles: list[str]) -> list[Batch]:
        return [Batch(name, layer, tuple(chunk), layer) for name in contents for layer in config.layers
                for chunk in chunks(list(ITEMS), config.batch_size)]

    def grids(self, config: Config, contents: list[str], styles: list[str]) -> list[Grid]:
        return [grid(f"fake_{name}.png", f"Fake of {name}", config.layers, list(ITEMS),
                     [[cell_key(name, layer, item) for item in ITEMS] for layer in config.layers]) for name in contents]

    def label(self, config: Config, name: str) -> str:
        return name.upper() if name in ITEMS else name

    def prepare(self, config: Config, session: Context, content: Picture) -> dict[str, Images]:
        self.prepared.append(content.name)
        return session.extract(config.layers, content.array)

    def problem(self, config: Config, prepared: dict[str, Images], batch: Batch) -> Problem:
        self.batches.append(tuple(batch.keys))
        target = [codes.original(prepared[batch.group]) * FACTORS[item] for item in batch.items]
        return Problem(self.terms(config, batch.group), [np.concatenate(target)],
                       [{"factor": FACTORS[item]} for item in batch.items], f"{batch.content} {batch.group}")


def configure(images, output, **settings):
    """The fake's config: ``images`` (paths) at 32 px, random weights, 2 steps, batches of 2, into ``output``."""
    given = {"content": [str(image) for image in images], "weights": "random:0", "max_long_edge": 32,
             "sgd.max_steps": 2, "batch_size": 2, "output": str(output), **settings}
    return config_module.load(Config, None, [(key, value, "test") for key, value in given.items()])


def run(experiment, config, **options):
    """Run the fake through the one driver, as its script would; returns the figures written."""
    return driver.run(experiment, config, [], time.perf_counter(), sessions.Options(**options))
