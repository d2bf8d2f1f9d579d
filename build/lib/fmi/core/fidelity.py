"""The two fidelity modes: every image-handling choice where the authors' code and fmi differ.

``paper`` (the default) keeps a deviation from the authors' code only where a measurement
shows it helps (README, "Differences from the authors' code", with the numbers);
``authors`` does each of these steps the way the authors' code (xzqjack/FeatureMapInversion
at commit 1811b35) does, so that its cells can be compared with theirs pixel for pixel. The
network, targets, losses, optimiser, stop rule, start image, TV denoise and purposeful
rank matching are the same in both.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Fidelity:
    """How images are sized, scaled, converted and saved, and how random channel weights are drawn."""

    name: str
    content_scale: float    # multiplies the content image on 0..1 before the mean is taken away
    style_scale: float      # the same for style images
    resize: str             # "opencv": area/cubic, sizes rounded; "skimage": bilinear, no anti-aliasing,
                            #   zero outside the image, sizes floored
    to_uint8: str           # "round" or "truncate" when the inverted image becomes 8-bit
    cell_format: str        # "png" or "jpeg" (Pillow's default quality, 75)
    draw: str               # random re-weighting: "per_layer" (a stream per draw seed and layer) or
                            #   "legacy" (RandomState(draw seed), the same stream for every layer)


PAPER = Fidelity("paper", content_scale=255.0, style_scale=255.0, resize="opencv", to_uint8="round",
                 cell_format="png", draw="per_layer")
AUTHORS = Fidelity("authors", content_scale=256.0, style_scale=255.0, resize="skimage", to_uint8="truncate",
                   cell_format="jpeg", draw="legacy")
MODES = {mode.name: mode for mode in (PAPER, AUTHORS)}


def of(config):
    """The Fidelity of a config."""
    return MODES[config.fidelity]
