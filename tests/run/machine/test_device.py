"""fmi/run/machine/device.py: --gpu N checked by the driver's nvidia-smi before MXNet loads and before anything
is written, each way it cannot run one line naming the way on; reached through a stand-in nvidia-smi on PATH."""
import os
import stat

import pytest
from conftest import one_error, tiny_run

import run_fmi
from fmi.errors import FmiError
from fmi.run.machine import device, facts

RTX_3090, H100 = "NVIDIA GeForce RTX 3090, 8.6", "NVIDIA H100 80GB HBM3, 9.0"


@pytest.fixture
def nvidia_smi(tmp_path, monkeypatch):
    """Put a stand-in nvidia-smi first on PATH that prints ``lines`` (and exits ``code``) for fmi's query only."""
    folder = tmp_path / "driver"
    folder.mkdir()

    def install(*lines, code=0):
        script = folder / "nvidia-smi"
        body = "".join(f"{line}\n" for line in lines)
        script.write_text(f'#!/bin/sh\n[ "$1 $2" = "--query-gpu=name,compute_cap --format=csv,noheader" ] '
                          f"|| exit 64\ncat <<'SAID'\n{body}SAID\nexit {code}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        device.visible_gpus.cache_clear()

    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    device.visible_gpus.cache_clear()
    yield install
    device.visible_gpus.cache_clear()


@pytest.mark.parametrize("lines, code, gpu, pattern", [
    ((), None, 0, r"--gpu: no NVIDIA driver here \(nvidia-smi is not on the PATH\)"),
    (("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",), 9, 0,
     r"--gpu: nvidia-smi failed \(NVIDIA-SMI has failed because it couldn't communicate .*\): is the NVIDIA driver"),
    ((RTX_3090,), 0, 1, r"--gpu 1: the driver shows 1 GPU\(s\) \(0: NVIDIA GeForce RTX 3090\); choose one of them"),
    ((RTX_3090, H100), 0, 1, r"--gpu 1: NVIDIA H100 80GB HBM3 has compute capability 9\.0, and MXNet 1\.9\.1's "
                             r"CUDA wheel has kernels for 5\.0, 6\.0, 7\.0, 8\.0, 8\.6 only \(GPUs of 5\.0 to 8\.9\); "
                             r"run on the CPU \(drop --gpu\), or build MXNet 1\.9\.1 from source for capability 9\.0"),
    (("Tesla K80, 3.7",), 0, 0, r"--gpu 0: Tesla K80 has compute capability 3\.7, and MXNet 1\.9\.1's CUDA wheel"),
    ((RTX_3090,), 0, 0, r"--gpu 0: NVIDIA GeForce RTX 3090 \(capability 8\.6\) can run fmi, but the MXNet here "
                        r"is its CPU build; make the GPU environment, 'pip install -r requirements-gpu\.txt'"),
])
def test_each_way_a_gpu_cannot_run_is_one_line_before_anything_is_written(tmp_path, capsys, tiny_image, nvidia_smi,
                                                                         monkeypatch, lines, code, gpu, pattern):
    if code is None:  # no driver at all: no nvidia-smi anywhere on PATH
        monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
        device.visible_gpus.cache_clear()
    else:
        nvidia_smi(*lines, code=code)
    exit_code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--gpu", str(gpu), steps=3, batch=1))
    one_error(capsys, exit_code, pattern)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("capability, runs", [((5, 0), True), ((5, 2), True), ((7, 5), True), ((8, 9), True),
                                              ((8, 0), True), ((9, 0), False), ((10, 0), False), ((3, 7), False)])
def test_a_gpu_runs_the_wheel_s_kernels_of_its_own_major_version_up_to_its_capability(capability, runs):
    assert device.served(capability) is runs


def test_a_served_gpu_with_the_cuda_build_is_named_in_the_machine_facts(nvidia_smi, monkeypatch):
    nvidia_smi(RTX_3090, "NVIDIA A100-SXM4-80GB, 8.0")
    monkeypatch.setattr(device, "mxnet_builds", lambda: ["mxnet-cu117"])
    found = device.preflight(1)
    assert found == {"index": 1, "name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}
    described = facts.facts("gpu(1)", found)
    assert described["gpu"] == {"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}
    assert facts.describe(described).endswith("on gpu(1) (NVIDIA A100-SXM4-80GB, compute capability 8.0)")
    assert device.preflight(None) is None


def test_what_nvidia_smi_says_that_is_no_gpu_is_refused(nvidia_smi):
    nvidia_smi("something else entirely")
    with pytest.raises(FmiError, match=r"nvidia-smi said 'something else entirely', not a GPU's name"):
        device.preflight(0)


def test_a_cpu_build_that_sees_no_gpu_says_how_to_make_the_gpu_environment(tmp_path, capsys, tiny_image,
                                                                         nvidia_smi, monkeypatch):
    """Past the preflight (a served GPU, a CUDA build said to be installed), MXNet itself sees no GPU here."""
    nvidia_smi(RTX_3090)
    monkeypatch.setattr(device, "mxnet_builds", lambda: ["mxnet-cu117"])
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--gpu", "0", steps=3, batch=1))
    one_error(capsys, code, r"--gpu 0: this MXNet build sees no GPU; make the GPU environment, 'pip install -r "
                            r"requirements-gpu\.txt' in a new venv")
