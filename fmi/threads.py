"""CPU thread count for MXNet's OpenMP kernels.

MXNet 1.9 uses only half the cores unless OMP_NUM_THREADS says otherwise, and it
reads the variable once, at import. fmi therefore sets it before MXNet loads.
"""
import os


def configure_default_threads():
    """Use every core unless the user set OMP_NUM_THREADS; return the count in force."""
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    if not os.environ.get("OMP_NUM_THREADS"):
        os.environ["OMP_NUM_THREADS"] = str(os.cpu_count() or 1)
    return int(os.environ["OMP_NUM_THREADS"])
