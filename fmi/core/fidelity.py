"""The two fidelity modes: every image-handling choice where the authors' code and fmi differ.

``paper`` (the default) keeps a deviation from the authors' code only where a measurement
shows it helps (docs/differences.md, with the numbers);
``authors`` does each of these steps the way the authors' code (xzqjack/FeatureMapInversion
at commit 1811b35) does, so that its cells can be compared with theirs pixel for pixel. The
network, targets, losses, optimiser, stop rule, start image, TV denoise and purposeful
rank matching are the same in both.
"""
from dataclasses import dataclass
from typing import Any, Literal

FidelityName = Literal["paper", "authors"]


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

    @property
    def size_rounding(self) -> str:
        """How a resized image's size is rounded: floored as the authors' int() does, or rounded."""
        return "floor" if self.resize == "skimage" else "round"


PAPER = Fidelity("paper", content_scale=255.0, style_scale=255.0, resize="opencv", to_uint8="round",
                 cell_format="png", draw="per_layer")
AUTHORS = Fidelity("authors", content_scale=256.0, style_scale=255.0, resize="skimage", to_uint8="truncate",
                   cell_format="jpeg", draw="legacy")
MODES = {mode.name: mode for mode in (PAPER, AUTHORS)}


def of(config: Any) -> Fidelity:
    """The Fidelity of a config."""
    return MODES[config.fidelity]


# What each field of a mode does, in words: (the authors' code, fmi's paper mode), for reports.
STEPS = {
    "content_scale": ("content x 256, style x 255", "content and style x 255"),
    "resize": ("scikit-image 2016 bilinear resize without anti-aliasing, sizes floored",
               "OpenCV area averaging to shrink, bicubic to enlarge, sizes rounded"),
    "to_uint8": ("inverted images truncated to 8 bits", "inverted images rounded to 8 bits"),
    "cell_format": ("cells saved as JPEG at quality 75", "cells saved as PNG"),
    "draw": ("one RandomState(seed) stream for every layer", "a random stream per (draw seed, layer)"),
}
ALWAYS = ("dead channels of a random re-weighting kept at 0 (the authors' code divides 0 by 0 there)",
          "filters inverted in batches, each image stopping on its own (the same images)")


def deviations(mode: Fidelity) -> list[str]:
    """The departures from the authors' code in force in ``mode``, one sentence each."""
    return [f"{ours} (the authors: {theirs})" for field, (theirs, ours) in STEPS.items()
            if getattr(mode, field) != getattr(AUTHORS, field)] + list(ALWAYS)
