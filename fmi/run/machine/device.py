"""Loading MXNet, and choosing its context: CPU by default, a CUDA device with ``--gpu N``, checked first by
``preflight`` with the driver's own ``nvidia-smi``, before MXNet loads.

MXNet 1.9.1's CUDA wheel (mxnet-cu117) carries kernels compiled for compute capabilities 5.0, 6.0, 7.0, 8.0
and 8.6, and no PTX a driver could compile for others (bench/gpu_libraries.py reads the ``.nv_fatbin``
section of its libmxnet.so): by CUDA's binary compatibility a GPU runs the cubins of its own major version
up to its capability (8.9 runs 8.6's), so capabilities 5.0 to 8.9 are served and 9.0 (H100, H200) and later,
and those below 5.0, are not.
"""
import functools
import importlib.metadata
import platform
import re
import shutil
import subprocess
from typing import Any, Optional

from fmi import environment
from fmi.errors import FmiError

CUDA_HINT = ("make the GPU environment, 'pip install -r requirements-gpu.txt' in a new venv (docs/usage.md, "
             "\"GPU\"), or drop --gpu to run on the CPU")
WHEEL_CAPABILITIES = ((5, 0), (6, 0), (7, 0), (8, 0), (8, 6))  # the kernels of mxnet-cu117 1.9.1
NVIDIA_SMI = ("--query-gpu=name,compute_cap", "--format=csv,noheader")


def served(capability: tuple[int, int]) -> bool:
    """Whether the wheel has kernels a GPU of ``capability`` runs: one of its own major version, not above it."""
    return any(major == capability[0] and minor <= capability[1] for major, minor in WHEEL_CAPABILITIES)


@functools.lru_cache(maxsize=1)
def visible_gpus() -> list[tuple[str, tuple[int, int]]]:
    """[(name, compute capability)] of each GPU the NVIDIA driver shows, by ``nvidia-smi``; FmiError naming what
    is wrong where there is no driver."""
    found = shutil.which("nvidia-smi")
    if found is None:
        raise FmiError("--gpu: no NVIDIA driver here (nvidia-smi is not on the PATH); install the driver, or drop "
                       "--gpu to run on the CPU")
    try:
        done = subprocess.run([found, *NVIDIA_SMI], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FmiError(f"--gpu: nvidia-smi could not run ({error}); drop --gpu to run on the CPU") from None
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()
        raise FmiError(f"--gpu: nvidia-smi failed ({said[0][:160] if said else f'exit {done.returncode}'}): is the "
                       f"NVIDIA driver loaded? Drop --gpu to run on the CPU")
    gpus = []
    for line in done.stdout.strip().splitlines():
        match = re.fullmatch(r"\s*(.+?)\s*,\s*(\d+)\.(\d+)\s*", line)
        if not match:
            raise FmiError(f"--gpu: nvidia-smi said {line[:120]!r}, not a GPU's name and compute capability")
        gpus.append((match.group(1), (int(match.group(2)), int(match.group(3)))))
    return gpus


def mxnet_builds() -> list[str]:
    """The MXNet distributions installed: 'mxnet' (the CPU build), 'mxnet-cu117', ..."""
    names = {(distribution.metadata["Name"] or "").lower() for distribution in importlib.metadata.distributions()}
    return sorted(name for name in names if name == "mxnet" or re.fullmatch(r"mxnet-cu\d+", name))


def preflight(gpu: Optional[int]) -> Optional[dict[str, Any]]:
    """For ``--gpu N``, before MXNet loads: the GPU (its name and compute capability), or FmiError in one line
    where it cannot run: no driver, no GPU N, a capability the wheel has no kernels for, or MXNet's CPU build
    installed. None without ``--gpu``."""
    if gpu is None:
        return None
    gpus = visible_gpus()
    if not 0 <= gpu < len(gpus):
        shown = "; ".join(f"{index}: {name}" for index, (name, _) in enumerate(gpus)) or "none"
        raise FmiError(f"--gpu {gpu}: the driver shows {len(gpus)} GPU(s) ({shown}); choose one of them, or drop --gpu")
    name, capability = gpus[gpu]
    wording = f"{capability[0]}.{capability[1]}"
    if not served(capability):
        covered = ", ".join(f"{major}.{minor}" for major, minor in WHEEL_CAPABILITIES)
        raise FmiError(f"--gpu {gpu}: {name} has compute capability {wording}, and MXNet 1.9.1's CUDA wheel has "
                       f"kernels for {covered} only (GPUs of 5.0 to 8.9); run on the CPU (drop --gpu), or build "
                       f"MXNet 1.9.1 from source for capability {wording}")
    builds = mxnet_builds()
    if not any(build.startswith("mxnet-cu") for build in builds):
        raise FmiError(f"--gpu {gpu}: {name} (capability {wording}) can run fmi, but the MXNet here is "
                       f"{'its CPU build' if builds else 'missing'}; {CUDA_HINT}")
    return {"index": gpu, "name": name, "compute_capability": wording}


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
    except OSError as error:  # a library of libmxnet.so: the CUDA build without the NVIDIA driver's libcuda.so.1
        raise FmiError(f"MXNet could not be loaded ({error}); MXNet's CUDA build needs the NVIDIA driver even to "
                       f"run on the CPU: without one, use the CPU environment, 'pip install -r requirements.txt' "
                       f"in a new venv") from None
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
