"""Loading MXNet, and choosing its context: CPU by default, a CUDA device with ``--gpu N``."""
import platform
from typing import Any, Optional

from fmi import environment
from fmi.errors import FmiError

CUDA_HINT = ("install a CUDA build of MXNet (e.g. 'pip install mxnet-cu117==1.9.1' for CUDA 11.7) "
             "or drop --gpu to run on the CPU")


def environment_problem(python: Optional[tuple[int, ...]] = None, numpy_version: Optional[str] = None) -> Optional[str]:
    """What keeps MXNet 1.9.1 from this Python or numpy (by default, the running ones), or None."""
    import numpy  # only to read its version

    numpy_version = numpy.__version__ if numpy_version is None else numpy_version
    found = environment.python_problem(python)
    if found:
        return found
    if not numpy_version.startswith("1."):
        return (f"this is numpy {numpy_version} (on Python {platform.python_version()}); "
                f"{environment.SUPPORTED_ENVIRONMENT}")
    return None


def require_mxnet() -> Any:
    """Import MXNet, or raise FmiError saying what to install: this Python or numpy is one MXNet 1.9.1
    cannot work with, or MXNet is missing."""
    problem = environment_problem()
    if problem:
        raise FmiError(problem)
    try:
        import mxnet  # here, to say what is wrong when it cannot load
    except ImportError as error:
        raise FmiError(f"MXNet could not be loaded ({error}); install the pinned packages with "
                       f"'pip install -r requirements.txt'") from None
    return mxnet


def context(gpu: Optional[int] = None) -> Any:
    """``mx.cpu()`` for ``gpu=None``, else ``mx.gpu(gpu)`` after checking it exists."""
    mx = require_mxnet()
    if gpu is None:
        return mx.cpu()
    if gpu < 0:
        raise FmiError(f"--gpu {gpu}: a GPU index is 0 or more; drop --gpu to run on the CPU")
    try:
        available = mx.context.num_gpus()
    except mx.base.MXNetError:
        available = 0
    if available == 0:
        raise FmiError(f"--gpu {gpu}: this MXNet build sees no GPU; {CUDA_HINT}")
    if gpu >= available:
        raise FmiError(f"--gpu {gpu}: only {available} GPU(s) visible (indices 0..{available - 1})")
    return mx.gpu(gpu)
