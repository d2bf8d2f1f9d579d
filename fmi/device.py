"""Choosing the MXNet context: CPU by default, a CUDA device with ``--gpu N``."""
import mxnet as mx

from fmi.errors import FmiError

CUDA_HINT = ("install a CUDA build of MXNet (e.g. 'pip install mxnet-cu117==1.9.1' for CUDA 11.7) "
             "or drop --gpu to run on the CPU")


def context(gpu=None):
    """``mx.cpu()`` for ``gpu=None``, else ``mx.gpu(gpu)`` after checking it exists."""
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
