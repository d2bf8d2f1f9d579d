"""fmi: Feature Map Inversion and modified code inversion over VGG-19 in MXNet.

A reproduction of Xia et al., "Every Filter Extracts A Specific Texture In Convolutional
Neural Networks" (2016). Its packages, each importing only from the ones before it:

- ``fmi.core``: the paper: the network (``vgg19``), ``preprocessing``, target ``codes``,
  ``losses``, ``invert`` and ``optimizers``, the ``fidelity`` modes;
- ``fmi.files``: image files, weights files, the authors' ``published`` files and their downloads;
- ``fmi.run``: running an experiment: the run folder as data (``folder``), the machine
  (``machine``), the user interface (``interface``), and the session that inverts a plan;
- ``fmi.experiments``: the three figures, ``fig3``, ``fig4``, ``fig5``, and their one list;
- ``fmi.tools``: what reads run folders (atlas, compare, analyze), the whole paper, parity.

Below them all, ``fmi.errors`` and ``fmi.io``. ``python -m fmi.weights``, ``fmi.data``,
``fmi.atlas``, ``fmi.compare``, ``fmi.analyze``, ``fmi.network`` and ``fmi.parity`` are thin front doors.
``from fmi import codes, image, inputs, invert, preprocessing, weights`` loads those modules
on first use, so importing fmi never loads MXNet.

Importing fmi first says in one line why it cannot run here, if it cannot (``fmi.environment``: another
Python than 3.10-3.12, or its requirements missing), and arranges for the NVIDIA libraries of the GPU
environment to load before MXNet does. Then it readies MXNet, before anything can load it, in two ways.
MXNet reads OMP_NUM_THREADS once, when it is first imported, and without it uses only half the cores
(3.43 s against 1.78 s a VGG-19 step at 384 x 512 on a 2-core AMD EPYC, bench/speed.py), so fmi sets it
to every core this process may run on, or to FMI_THREADS, whatever the environment says. And MXNet 1.9.1 still uses the
aliases of Python's types that numpy 1.24 removed (``np.bool``, ``np.int``, ...), so fmi sets those
back where they are missing, and changes nothing else of numpy.
"""
import importlib
import os
import warnings
from typing import Any, Optional

from fmi import environment

# first of all: why fmi cannot run here, in one line, on any Python from 3.8 up
_UNSERVED = environment.problem()
if _UNSERVED:
    environment.refuse(_UNSERVED)
environment.install_cuda_library_loader()

THREADS_VARIABLE = "FMI_THREADS"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a Slurm allocation), else all."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def wanted_threads() -> Optional[int]:
    """The thread count FMI_THREADS asks for, or None when it is unset or not a count from 1 to 1024."""
    text = os.environ.get(THREADS_VARIABLE, "").strip().removeprefix("+")
    count = int(text) if text.isascii() and text.isdigit() else None
    return count if count is not None and 0 < count <= 1024 else None


def configure_default_threads() -> int:
    """Set OMP_NUM_THREADS for MXNet: FMI_THREADS if given, else every usable core."""
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    # OpenBLAS threads compete with MXNet's for the same cores: one is faster (measured:
    # L-BFGS evaluations 3x, whole L-BFGS runs 1.8x faster on 2 cores).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    count = wanted_threads() or usable_cores()
    os.environ["OMP_NUM_THREADS"] = str(count)
    return count


# the aliases numpy 1.20 deprecated and 1.24 removed, which MXNet 1.9.1 uses: the builtins they stood for
REMOVED_ALIASES = {"bool": bool, "int": int, "float": float, "complex": complex, "object": object, "str": str}


def restore_numpy_aliases() -> list[str]:
    """Set back each alias of ``REMOVED_ALIASES`` that this numpy lacks (numpy 1.23 still has them,
    with a deprecation warning); return the names set."""
    import numpy  # here: after the thread settings, which OpenBLAS reads when numpy loads

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        missing = [name for name in REMOVED_ALIASES if not hasattr(numpy, name)]
    for name in missing:
        setattr(numpy, name, REMOVED_ALIASES[name])
    return missing


configure_default_threads()
restore_numpy_aliases()

LIBRARY = {"codes": "fmi.core.codes", "image": "fmi.files.image_files", "preprocessing": "fmi.core.preprocessing",
           "invert": "fmi.core.invert", "losses": "fmi.core.losses", "vgg19": "fmi.core.vgg19",
           "inputs": "fmi.run.interface.inputs", "networks": "fmi.files.networks"}


def package_version() -> str:
    """fmi's version as installed (pyproject.toml is the one place it is written), or 'unknown' when
    run from an uninstalled copy; ``fmi.__version__``, read without loading anything heavy."""
    import importlib.metadata  # here: only when asked for

    try:
        return importlib.metadata.version("fmi")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def __getattr__(name: str) -> Any:
    """``from fmi import codes`` (and the other modules of ``LIBRARY``), loaded when first asked for."""
    if name in LIBRARY:
        return importlib.import_module(LIBRARY[name])
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module 'fmi' has no attribute {name!r}")
