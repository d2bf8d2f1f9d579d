"""Whether this Python can run fmi, said in one line before anything fails, and the NVIDIA libraries of the
GPU environment made loadable before MXNet loads.

Written for every Python from 3.8 up (``fmi/__init__.py`` runs it first), so that a Python fmi cannot serve,
or one without fmi's requirements, hears why in words instead of a SyntaxError or a ModuleNotFoundError.

The GPU environment (requirements-gpu.txt) installs the CUDA 11 libraries MXNet's libmxnet.so links from
NVIDIA's wheels, under ``site-packages/nvidia/*/lib``, where the dynamic loader does not look. When
``mxnet`` is first imported, fmi loads them by path, in the order they need each other, so that
libmxnet.so finds them loaded; only the driver's libcuda.so.1 comes from the system. In the CPU
environment there are none and nothing happens.
"""
from __future__ import annotations

import ctypes
import importlib.abc
import importlib.util
import os
import sys
from typing import Any

SUPPORTED_PYTHON = ((3, 10), (3, 13))  # from, up to but not including
UV_ROUTE = "uv venv --python 3.12 .venv && . .venv/bin/activate && uv pip install -r requirements.txt"
SUPPORTED_ENVIRONMENT = ("fmi runs on CPython 3.10 to 3.12 with numpy 1.x (MXNet 1.9.1 needs numpy < 2); make such "
                         f"an environment with uv, which fetches a supported Python: '{UV_ROUTE}'")
# the modules fmi's requirements provide, by the name a user installs
REQUIRED = {"numpy": "numpy", "mxnet": "mxnet", "cv2": "opencv-python-headless", "yaml": "pyyaml",
            "pydantic": "pydantic", "scipy": "scipy", "skimage": "scikit-image", "matplotlib": "matplotlib",
            "PIL": "pillow", "jinja2": "jinja2", "pooch": "pooch", "onnx": "onnx"}
# (package under site-packages/nvidia, library): what libmxnet.so of mxnet-cu117 1.9.1 links but the driver's
# libcuda.so.1, and what those need, in an order in which each finds what it needs already loaded
CUDA_LIBRARIES = (
    ("cuda_runtime", "libcudart.so.11.0"), ("cuda_nvrtc", "libnvrtc.so.11.2"), ("cublas", "libcublasLt.so.11"),
    ("cublas", "libcublas.so.11"), ("cufft", "libcufft.so.10"), ("curand", "libcurand.so.10"),
    ("cusparse", "libcusparse.so.11"), ("cusolver", "libcusolver.so.11"), ("cudnn", "libcudnn_ops_infer.so.8"),
    ("cudnn", "libcudnn_ops_train.so.8"), ("cudnn", "libcudnn_cnn_infer.so.8"), ("cudnn", "libcudnn_cnn_train.so.8"),
    ("cudnn", "libcudnn_adv_infer.so.8"), ("cudnn", "libcudnn_adv_train.so.8"), ("cudnn", "libcudnn.so.8"),
    ("nccl", "libnccl.so.2"), ("nvtx", "libnvToolsExt.so.1"))


def python_problem(python: tuple[int, ...] | None = None) -> str | None:
    """Why this Python (by default the running one) cannot run fmi, or None."""
    python = tuple(sys.version_info[:2]) if python is None else python
    if not SUPPORTED_PYTHON[0] <= tuple(python[:2]) < SUPPORTED_PYTHON[1]:
        return f"this is Python {'.'.join(map(str, python))}; {SUPPORTED_ENVIRONMENT}"
    return None


def problem() -> str | None:
    """Why fmi cannot run here: an unsupported Python, or fmi's requirements missing; None when it can."""
    found = python_problem()
    if found:
        return found
    missing = [package for module, package in REQUIRED.items() if importlib.util.find_spec(module) is None]
    if missing:
        return (f"this Python ({sys.executable}) lacks {', '.join(missing)}: install fmi's requirements with "
                f"'pip install -r requirements.txt' (requirements-gpu.txt for an NVIDIA GPU)")
    return None


def refuse(text: str) -> None:
    """Stop: one line and exit 2 for a command (a figure script, reproduce.py, python -m fmi.*), an ImportError
    saying ``text`` for a program that imports fmi."""
    command = os.path.basename(sys.argv[0]) if sys.argv else ""  # "-m" while python -m fmi.X loads fmi
    if command == "-m" or (command.startswith("run_") and command.endswith(".py")) or command == "reproduce.py":
        sys.stderr.write(f"error: {text}\n")
        raise SystemExit(2)
    raise ImportError(text)


def nvidia_folders() -> list[str]:
    """The folders of NVIDIA's CUDA wheels (``site-packages/nvidia``); none in the CPU environment."""
    spec = importlib.util.find_spec("nvidia")
    return list(spec.submodule_search_locations or []) if spec is not None else []


def cuda_library_paths() -> list[str]:
    """The path of each library of ``CUDA_LIBRARIES`` that NVIDIA's wheels installed, in loading order."""
    found = []
    for package, library in CUDA_LIBRARIES:
        for folder in nvidia_folders():
            path = os.path.join(folder, package, "lib", library)
            if os.path.exists(path):
                found.append(path)
                break
    return found


def load_cuda_libraries() -> list[str]:
    """Load the libraries of ``cuda_library_paths`` into the process, for every library after them to find;
    return those that could not be loaded, each with the loader's reason."""
    failed = []
    for path in cuda_library_paths():
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as error:
            failed.append(f"{os.path.basename(path)}: {error}")
    return failed


class CudaLibraryLoader(importlib.abc.MetaPathFinder):
    """On the first import of ``mxnet``, load NVIDIA's CUDA libraries (if installed), then step aside."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "mxnet":
            sys.meta_path.remove(self)
            load_cuda_libraries()
        return None


def install_cuda_library_loader() -> None:
    """Arrange for ``load_cuda_libraries`` to run just before MXNet first loads (at once if it has)."""
    if "mxnet" in sys.modules:
        return
    if not any(isinstance(finder, CudaLibraryLoader) for finder in sys.meta_path):
        sys.meta_path.insert(0, CudaLibraryLoader())
