"""Estimating an inversion's peak memory, so a run too large for the machine is refused up front.

The model was fitted to the peak resident memory of MXNet 1.9.1 CPU inversions (2 SGD
steps, weight gradients off) at 16 px to 1024 px, relu1_2 to relu5_2, batches 1-2: a
fixed ~300 MiB (runtime and the 80 MB of weights), plus the larger of twice the
activations up to the deepest layer and nine times the largest single activation map
(MKL-DNN's workspace for the full-resolution convolutions). It overestimates by 0-15 %.
"""
import logging
import os
from collections.abc import Sequence
from typing import Optional

from fmi.core.network import Network
from fmi.errors import FmiError

log = logging.getLogger("fmi")
FIXED_BYTES = 300 * 2**20
DEFAULT_FRACTION = 0.8


def estimate_bytes(network: Network, layers: Sequence[str], batch: int, height: int, width: int) -> int:
    """Approximate peak bytes of inverting ``batch`` images of ``height`` x ``width`` to ``layers``, from the
    maps of the rectified layers up to the deepest (for networks other than VGG-19, whose other maps it
    does not count, an estimate of the same form, not fitted to them)."""
    maps = [channels * h * w * 4 * batch
            for channels, h, w in network.maps(network.up_to(network.deepest(layers)), height, width).values()]
    return FIXED_BYTES + max(2 * sum(maps), 9 * max(maps))


def available_bytes() -> Optional[int]:
    """Memory the OS says is available now (MemAvailable), or None where it cannot tell."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check(network: Network, layers: Sequence[str], batch: int, height: int, width: int,
          limit_gib: Optional[float] = None, decode_bytes: int = 0) -> int:
    """Raise FmiError if the estimate exceeds ``limit_gib`` (default: 80 % of available memory).

    ``decode_bytes`` is what decoding the largest input image takes, which may exceed the
    inversion itself for a large photo inverted at a small size.
    """
    needed = max(estimate_bytes(network, layers, batch, height, width), FIXED_BYTES + decode_bytes)
    if limit_gib is not None:
        limit, source = limit_gib * 2**30, "--max-memory"
    else:
        available = available_bytes()
        if available is None:
            log.warning("the memory available is unknown here, so the estimate of %.1f GiB is not checked; set a "
                        "limit with --max-memory GIB to check it", needed / 2**30)
            return needed
        limit, source = DEFAULT_FRACTION * available, f"80 % of the {available / 2**30:.1f} GiB available"
    if needed > limit:
        deepest = network.deepest(layers)
        if decode_bytes + FIXED_BYTES == needed:
            raise FmiError(f"decoding the largest input image needs about {needed / 2**30:.1f} GiB, more than "
                           f"the limit of {limit / 2**30:.1f} GiB ({source}); shrink the image first, or set "
                           f"the limit with --max-memory GIB")
        raise FmiError(
            f"a batch of {batch} image(s) of {height}x{width} px up to {deepest} needs about "
            f"{needed / 2**30:.1f} GiB, more than the limit of {limit / 2**30:.1f} GiB ({source}); "
            f"use a smaller --size or --batch-size, or set the limit with --max-memory GIB")
    return needed
