"""What made a result: the CPU and its vector extensions, MXNet's build, the oneDNN kernels it
runs, the settings in force, threads and device (docs/method.md, "Where results hold").

oneDNN, inside MXNet's CPU build, picks its convolution kernels by the CPU's instruction set
(capped by ``DNNL_MAX_CPU_ISA``), so the same code on the same inputs gives results that differ
in the last bits between an AVX2 and an AVX-512 machine, the authors' code included. Every run
record and cell record carries these facts, and ``fmi.parity`` prints them beside its verdict.

oneDNN says its version and instruction set only in its verbose output, which it reads from the
environment once per process; a short child process prints it, and the answer is kept in a
cache file keyed by everything that could change it (the MXNet library, the CPU, the settings).
"""
import hashlib
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from fmi.io import write_text
from fmi.run.machine import threads

# the CPU flags that decide which kernels oneDNN (and numpy) can run
SIMD_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512dq", "avx512bw",
              "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16")
SETTING_PATTERN = re.compile(r"(DNNL|MKLDNN|ONEDNN|MXNET|OMP|KMP|OPENBLAS)_[A-Z0-9_]+|FMI_THREADS")
KERNEL_SETTINGS = re.compile(r"(DNNL|MKLDNN|ONEDNN)_[A-Z0-9_]+")  # what changes oneDNN's choice of kernels
PROBE = """
import fmi  # first: it sets back the numpy aliases MXNet 1.9.1 needs
import mxnet as mx
data, weight = mx.nd.ones((1, 3, 8, 8)), mx.nd.ones((4, 3, 3, 3))
mx.nd.Convolution(data, weight, kernel=(3, 3), num_filter=4, no_bias=True).wait_to_read()
"""
PROBE_TIMEOUT_S = 120
CACHE_VARIABLE = "FMI_CACHE_DIR"


def cpu() -> tuple[str, list[str]]:
    """(the CPU's model name, the SIMD flags it has) from /proc/cpuinfo; elsewhere the platform's name."""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    fields: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return fields.get("model name") or platform.processor() or "unknown CPU", [f for f in SIMD_FLAGS if f in flags]


def name() -> str:
    """The CPU and the cores this process may use: 'AMD EPYC, 2 cores'."""
    return f"{cpu()[0]}, {threads.usable_cores()} cores"


def settings_in_force(environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """{name: value} of the environment variables that steer MXNet, oneDNN, OpenMP and OpenBLAS."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in sorted(environ) if SETTING_PATTERN.fullmatch(name)}


def _library() -> Optional[Path]:
    """MXNet's shared library, found without importing MXNet."""
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("libmxnet.so*"))
    return found[0] if found else None


def _cache_dir() -> Path:
    given = os.environ.get(CACHE_VARIABLE)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmi"


def onednn(environ: Optional[Mapping[str, str]] = None) -> dict[str, Optional[str]]:
    """{"version": ..., "isa": ...}: the oneDNN inside this MXNet and the instruction set its kernels use
    under the settings in force (None for each where MXNet was built without oneDNN or could not say)."""
    environ = dict(os.environ if environ is None else environ)
    library = _library()
    if library is None:
        return {"version": None, "isa": None}
    stat = library.stat()
    key = json.dumps({"library": str(library.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
                      "cpu": cpu(), "settings": {k: v for k, v in environ.items() if KERNEL_SETTINGS.fullmatch(k)}},
                     sort_keys=True)
    cache = _cache_dir() / f"onednn-{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
    try:
        cached: dict[str, Optional[str]] = json.loads(cache.read_text())
        return cached
    except (OSError, ValueError):
        pass
    environ.update(DNNL_VERBOSE="1", OMP_NUM_THREADS="1")
    try:
        printed = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True,
                                 timeout=PROBE_TIMEOUT_S, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        printed = ""
    version = re.search(r"(?:dnnl|onednn|mkldnn)_verbose,info,oneDNN v([0-9.]+) \(commit ([0-9a-f]+)\)", printed)
    isa = re.search(r"(?:dnnl|onednn|mkldnn)_verbose,info,cpu,isa:(.+)", printed)
    found = {"version": f"{version.group(1)} (commit {version.group(2)[:12]})" if version else None,
             "isa": isa.group(1).strip() if isa else None}
    if version:
        try:
            write_text(cache, json.dumps(found) + "\n")
        except OSError:
            pass  # a read-only home: probe again next time
    return found


def facts(device: object = "cpu", gpu: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """What makes a result on this machine, for run and cell records (MXNet must be importable); ``gpu``, what
    ``fmi.run.machine.device.preflight`` found of the GPU in use (its name and compute capability)."""
    import mxnet  # here: parity's --help reads this module without MXNet

    model, flags = cpu()
    features = mxnet.runtime.Features()
    dnn = onednn() if features.is_enabled("MKLDNN") else {"version": None, "isa": None}
    return {"cpu": model, "cores": threads.usable_cores(), "cpu_flags": flags, "mxnet": mxnet.__version__,
            "mxnet_features": sorted(name for name, feature in features.items() if feature.enabled),
            "onednn": dnn["version"], "onednn_isa": dnn["isa"], "settings": settings_in_force(),
            "threads": threads.in_force(), "device": str(device),
            **({"gpu": {"name": gpu["name"], "compute_capability": gpu["compute_capability"]}} if gpu else {})}


def describe(found: Mapping[str, Any]) -> str:
    """One line of ``facts``: 'AMD EPYC, 2 cores; AVX-512 ...; MXNet 1.9.1 with oneDNN 2.4.4; 1 thread'."""
    kernels = (f"oneDNN {found['onednn']} kernels for {found['onednn_isa']}" if found.get("onednn")
               else "no oneDNN")
    settings = ", ".join(f"{name}={value}" for name, value in found.get("settings", {}).items()
                         if KERNEL_SETTINGS.fullmatch(name))
    return (f"{found['cpu']}, {found['cores']} cores; MXNet {found['mxnet']}, {kernels}"
            f"{f' ({settings})' if settings else ''}; {found['threads']} thread(s) on {found['device']}"
            + (f" ({found['gpu']['name']}, compute capability {found['gpu']['compute_capability']})"
               if found.get("gpu") else ""))
