"""One side of one ``fmi.parity`` case, in a process of its own (oneDNN and OpenMP read their settings
once per process): the authors' script with the Python 3 adaptations, or fmi's experiment.

    python -m fmi.tools.parity_child RUN.json

RUN.json holds ``side`` ("authors" or "fmi"), ``perturb`` (0, or +1/-1: move every value of the start
image by one float32 step up or down, to measure what rounding alone does) and what that side needs.
"""
import builtins
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

# What the authors' code (Python 2, scikit-image 0.12, 2016) needs to run on Python 3 with today's
# packages: (what their code does, how it is given to it). Nothing of their method changes.
ADAPTATIONS = (
    ("xrange(...)", "Python 2's xrange is Python 3's range"),
    ("denoise_tv_chambolle(out, weight=..., multichannel=True)",
     "scikit-image renamed the argument: the same call with channel_axis=-1 (n_iter_max became max_num_iter)"),
    ("transform.resize(img, shape)",
     "scikit-image 0.12's resize: an affine warp that maps pixel centres, bilinear, zeros outside the image, "
     "clipped to 0..1 (today's resize anti-aliases and clips to the input's range)"),
    ("io.imsave(name, out)",
     "scikit-image 0.12's imsave of a float image: img_as_ubyte, then Pillow's JPEG writer at its defaults"),
)


def adapt_authors_code() -> None:
    """Make the 2016 calls of the authors' code work as they did then (``ADAPTATIONS``)."""
    import skimage.io  # here: adapted before the authors' code imports it
    import skimage.restoration  # each side loads only what it runs
    import skimage.transform  # each side loads only what it runs
    import skimage.util  # each side loads only what it runs
    from PIL import Image  # each side loads only what it runs

    setattr(builtins, "xrange", range)  # their Python 2 name
    denoise = skimage.restoration.denoise_tv_chambolle

    def denoise_tv_chambolle(image: Array, weight: float = 0.1, eps: float = 2e-4, n_iter_max: int = 200,
                             multichannel: bool = False) -> Array:
        return denoise(image, weight=weight, eps=eps, max_num_iter=n_iter_max,
                       channel_axis=-1 if multichannel else None)

    def resize(image: Array, output_shape: Sequence[int], order: int = 1, mode: str = "constant",
               cval: float = 0) -> Array:
        rows, columns = output_shape[0], output_shape[1]
        source = np.array([[1, 1], [1, rows], [columns, rows]]) - 1
        target = np.zeros(source.shape, dtype=np.double)
        target[:, 0] = float(image.shape[1]) / columns * (source[:, 0] + 0.5) - 0.5
        target[:, 1] = float(image.shape[0]) / rows * (source[:, 1] + 0.5) - 0.5
        transform = skimage.transform.AffineTransform()
        transform.estimate(source, target)
        warped = skimage.transform.warp(image, transform, output_shape=(rows, columns) + tuple(image.shape[2:]),
                                        order=order, mode=mode, cval=cval, clip=False)
        clipped = np.clip(warped, -1 if warped.min() < 0 else 0, 1)
        clipped[warped == cval] = cval
        return clipped

    def imsave(name: str, image: Array) -> None:
        Image.fromarray(skimage.util.img_as_ubyte(image)).save(name)

    setattr(skimage.restoration, "denoise_tv_chambolle", denoise_tv_chambolle)
    setattr(skimage.transform, "resize", resize)
    setattr(skimage.io, "imsave", imsave)


def nudged(array: npt.ArrayLike, direction: int) -> Array:
    """``array`` (float32) with every value moved by one float32 step towards +inf (1) or -inf (-1)."""
    array = np.asarray(array, dtype=np.float32)
    return np.nextafter(array, np.float32(np.inf if direction > 0 else -np.inf)).astype(np.float32)


def run_authors(spec: dict[str, Any]) -> None:
    """Run their script in ``spec["workdir"]`` (their relative paths: model/, output/, the images)."""
    adapt_authors_code()
    import mxnet as mx  # each side loads only what it runs

    if spec["perturb"]:
        draw = mx.random.uniform

        def uniform(*args: Any, **kwargs: Any) -> Any:  # their start image: mx.rnd.uniform(-0.1, 0.1, img.shape)
            drawn = draw(*args, **kwargs)
            return mx.nd.array(nudged(drawn.asnumpy(), spec["perturb"]), ctx=drawn.context)

        mx.random.uniform = mx.rnd.uniform = uniform
    mx.random.seed(spec["seed"])       # their code draws unseeded; the same seed as fmi's start image
    np.random.seed(spec["draw_seed"])  # and as fmi's RandomState(draw seed) in authors mode
    script = os.path.join(spec["authors"], spec["script"])
    with open(script, encoding="utf-8") as stream:
        source = stream.read()
    for old, new in spec["replace"]:  # settings their script hard-codes (the filter it inverts)
        source = source.replace(old, new, 1)
    os.chdir(spec["workdir"])
    sys.path.insert(0, spec["authors"])
    sys.argv = [script, *spec["argv"]]
    exec(compile(source, script, "exec"), {"__name__": "__main__", "__file__": script})  # noqa: S102


def run_fmi(spec: dict[str, Any]) -> None:
    """Run fmi's experiment on ``spec["config"]``, as its script would."""
    from fmi import experiments  # each side loads only what it runs
    from fmi.core import invert  # each side loads only what it runs
    from fmi.run import driver  # each side loads only what it runs
    from fmi.run.interface import cli  # each side loads only what it runs
    from fmi.run.interface import config as config_module  # each side loads only what it runs
    from fmi.run.session import Options  # each side loads only what it runs

    if spec["perturb"]:
        initial = invert.initial_images
        setattr(invert, "initial_images",
                lambda shape, seeds: nudged(initial(shape, seeds), spec["perturb"]))
    cli.setup_logging()
    experiment = experiments.BY_NAME[spec["figure"]]
    config = config_module.load(experiment.config_model, spec["config"])
    driver.run(experiment, config, ["--config", spec["config"]], time.perf_counter(), Options())


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as stream:
        spec = json.load(stream)
    (run_authors if spec["side"] == "authors" else run_fmi)(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
