"""Loading MXNet, and choosing its context: CPU by default, a CUDA device with ``--gpu N``."""
from fmi.errors import FmiError

CUDA_HINT = ("install a CUDA build of MXNet (e.g. 'pip install mxnet-cu117==1.9.1' for CUDA 11.7) "
             "or drop --gpu to run on the CPU")


def require_mxnet():
    """Import MXNet, or raise FmiError saying what to install: it is missing, or it meets a
    numpy it cannot work with (1.24 and later removed names MXNet 1.9 uses)."""
    try:
        import mxnet  # here, to say what is wrong when it cannot load
    except ImportError as error:
        raise FmiError(f"MXNet could not be loaded ({error}); install the pinned packages with "
                       f"'pip install -r requirements.txt'") from None
    except AttributeError as error:
        import numpy  # only to name the version MXNet cannot work with

        raise FmiError(f"MXNet 1.9 cannot work with numpy {numpy.__version__} ({error}); it needs numpy < 1.24: "
                       f"'pip install -r requirements.txt'") from None
    return mxnet


def context(gpu=None):
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
