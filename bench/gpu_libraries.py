"""Whether the GPU environment's libraries resolve: every library MXNet's libmxnet.so links, from NVIDIA's
wheels, but the driver's libcuda.so.1 (a check, not a benchmark; not part of CI's run).

    python bench/gpu_libraries.py

In an environment made from requirements-gpu.txt it loads NVIDIA's CUDA libraries as fmi does before MXNet
(``fmi.environment``), lists what ``ldd`` resolves of libmxnet.so with their folders on the library path,
and loads libmxnet.so itself, which on a machine without an NVIDIA driver stops at libcuda.so.1 alone. It
also reads which GPU code libmxnet.so carries, from the fat binaries of its ``.nv_fatbin`` section (each
entry a cubin for one compute capability, or PTX a driver could compile for others).
Prints one line per library, the kernels, then one line:
    cuda_libraries=<found>/<expected> unresolved=<names> verdict=<ok|NOT ok>
(ok: nothing unresolved but libcuda.so.1, which only the driver provides). In the CPU environment there is
nothing to check, and it says so.
"""
import collections
import ctypes
import importlib.util
import os
import struct
import subprocess
import sys

from fmi import environment

DRIVER = "libcuda.so.1"
FATBIN_MAGIC = 0xBA55ED50


def gpu_code(library: str) -> dict[str, int]:
    """{'sm_86': fat binaries holding a cubin for 8.6, ..., 'ptx': entries of PTX} of ``library``'s
    ``.nv_fatbin`` section: each fat binary is a header (magic, version, header size, size) and entries (kind
    1 PTX or 2 cubin, header size, size, ..., the compute capability as major * 10 + minor at byte 28)."""
    sections = subprocess.run(["readelf", "-S", "-W", library], capture_output=True, text=True).stdout
    line = next((line for line in sections.splitlines() if " .nv_fatbin " in line), None)
    if line is None:
        return {}
    fields = line.split("]", 1)[1].split()
    offset, size = int(fields[3], 16), int(fields[4], 16)
    with open(library, "rb") as stream:
        stream.seek(offset)
        data = stream.read(size)
    found: collections.Counter[str] = collections.Counter()
    position = data.find(struct.pack("<I", FATBIN_MAGIC))
    while 0 <= position and position + 16 <= len(data):
        _, _, header, length = struct.unpack_from("<IHHQ", data, position)
        entry, end = position + header, position + header + length
        while entry + 32 <= end:
            kind, _, entry_header, entry_size = struct.unpack_from("<HHIQ", data, entry)
            arch = struct.unpack_from("<I", data, entry + 28)[0]
            found["ptx" if kind == 1 else f"sm_{arch}"] += 1
            if entry_header == 0:
                break
            entry += entry_header + entry_size
        position = data.find(struct.pack("<I", FATBIN_MAGIC), end)
    return dict(sorted(found.items()))


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
    print(f"GPU code in libmxnet.so (fat binaries per entry kind): {gpu_code(library)}")
    ok = not failed and set(unresolved) <= {DRIVER}
    print(f"cuda_libraries={len(paths)}/{len(environment.CUDA_LIBRARIES)} unresolved={','.join(unresolved)} "
          f"verdict={'ok' if ok else 'NOT ok'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
