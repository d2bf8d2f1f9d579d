"""Whether the GPU environment's libraries resolve: every library MXNet's libmxnet.so links, from NVIDIA's
wheels, but the driver's libcuda.so.1 (a check, not a benchmark; not part of CI's run).

    python bench/gpu_libraries.py

In an environment made from requirements-gpu.txt it loads NVIDIA's CUDA libraries as fmi does before MXNet
(``fmi.environment``), lists what ``ldd`` resolves of libmxnet.so with their folders on the library path,
and loads libmxnet.so itself, which on a machine without an NVIDIA driver stops at libcuda.so.1 alone.
Prints one line per library, then one line:
    cuda_libraries=<found>/<expected> unresolved=<names> verdict=<ok|NOT ok>
(ok: nothing unresolved but libcuda.so.1, which only the driver provides). In the CPU environment there is
nothing to check, and it says so.
"""
import ctypes
import importlib.util
import os
import subprocess
import sys

from fmi import environment

DRIVER = "libcuda.so.1"


def main() -> int:
    paths = environment.cuda_library_paths()
    spec = importlib.util.find_spec("mxnet")
    library = os.path.join(list(spec.submodule_search_locations)[0], "libmxnet.so") if spec else ""
    if not paths:
        print("no NVIDIA CUDA wheels here: this is the CPU environment (requirements.txt); nothing to check")
        print(f"cuda_libraries=0/{len(environment.CUDA_LIBRARIES)} unresolved= verdict=ok")
        return 0
    failed = environment.load_cuda_libraries()
    for path in paths:
        print(f"loaded {path}" if not any(path.endswith(item.split(':')[0]) for item in failed) else f"FAILED {path}")
    folders = sorted({os.path.dirname(path) for path in paths})
    listed = subprocess.run(["ldd", library], capture_output=True, text=True,
                            env={**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(folders)}).stdout
    unresolved = sorted({line.split()[0] for line in listed.splitlines() if "not found" in line})
    print(f"ldd {library}:")
    print(listed.rstrip())
    try:
        ctypes.CDLL(library)
        print("libmxnet.so loads")
    except OSError as error:
        print(f"libmxnet.so does not load: {error}")
    ok = not failed and set(unresolved) <= {DRIVER}
    print(f"cuda_libraries={len(paths)}/{len(environment.CUDA_LIBRARIES)} unresolved={','.join(unresolved)} "
          f"verdict={'ok' if ok else 'NOT ok'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
