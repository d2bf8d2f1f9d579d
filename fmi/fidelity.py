"""The two fidelity modes: every image-handling choice where the authors' code and the paper differ.

``paper`` (the default) follows the paper's text and sound image handling; ``authors``
does each of these steps the way the authors' code (xzqjack/FeatureMapInversion at commit
1811b35) does, so that its cells can be compared with theirs pixel for pixel. The network,
targets, losses, optimiser and stop rule are the same in both. The README's "Differences
from the authors' code" gives each row with the file and line it comes from.
"""
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Fidelity:
    """How images are sized, scaled, converted, denoised and saved; how ties and draws are made."""

    name: str
    content_scale: float    # multiplies the content image on 0..1 before the mean is taken away
    style_scale: float      # the same for style images
    resize: str             # "opencv": area/cubic, sizes rounded; "skimage": bilinear, no anti-aliasing,
                            #   zero outside the image, sizes floored
    to_uint8: str           # "round" or "truncate" when the inverted image becomes 8-bit
    denoise_channels: str   # total-variation denoise "joint" (one 3-D problem) or "separate" per channel
    cell_format: str        # "png" or "jpeg" (Pillow's default quality, 75)
    tie_order: str          # argsort kind for purposeful rank matching: "stable" or "quicksort"
    start: str              # start image: "numpy" (seeded default_rng) or "mxnet" (mx.random.seed + uniform)
    draw: str               # random re-weighting draw: "generator" (default_rng) or "legacy" (RandomState)


PAPER = Fidelity("paper", content_scale=255.0, style_scale=255.0, resize="opencv", to_uint8="round",
                 denoise_channels="joint", cell_format="png", tie_order="stable", start="numpy",
                 draw="generator")
AUTHORS = Fidelity("authors", content_scale=256.0, style_scale=255.0, resize="skimage", to_uint8="truncate",
                   denoise_channels="separate", cell_format="jpeg", tie_order="quicksort", start="mxnet",
                   draw="legacy")
MODES = {mode.name: mode for mode in (PAPER, AUTHORS)}


def of(config):
    """The Fidelity of a config, with its ``denoise_channels`` if the config sets one."""
    mode = MODES[config.fidelity]
    if config.denoise_channels and config.denoise_channels != mode.denoise_channels:
        return replace(mode, denoise_channels=config.denoise_channels)
    return mode
