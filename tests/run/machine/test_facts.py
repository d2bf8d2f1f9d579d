"""fmi/run/machine/facts.py: every record says what made it, down to the kernels oneDNN ran."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, isa_levels

from fmi.run.machine import facts as machine


def test_the_cpu_and_its_kernel_paths_come_from_proc_cpuinfo():
    model, flags = machine.cpu()
    assert model in Path("/proc/cpuinfo").read_text()
    assert isa_levels(["sse4_1", "avx", "avx2"]) == ["SSE41", "AVX", "AVX2"]
    assert isa_levels(["sse4_1", "avx", "avx2", "avx512f", "avx512dq", "avx512bw"]) == ["SSE41", "AVX", "AVX2"]
    assert isa_levels(flags)[:1] == (["SSE41"] if "sse4_1" in flags else [])


def test_settings_in_force_are_the_ones_that_steer_the_libraries():
    found = machine.settings_in_force({"DNNL_MAX_CPU_ISA": "AVX2", "MXNET_ENGINE_TYPE": "NaiveEngine",
                                       "OMP_NUM_THREADS": "1", "HOME": "/root", "PATH": "/bin"})
    assert found == {"DNNL_MAX_CPU_ISA": "AVX2", "MXNET_ENGINE_TYPE": "NaiveEngine", "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("isa", [None, "AVX2"])
def test_a_run_records_the_machine_in_its_record_and_every_cell(tmp_path, tiny_image, isa):
    environment = {name: value for name, value in os.environ.items() if name != "DNNL_MAX_CPU_ISA"}
    environment.update(FMI_CACHE_DIR=str(tmp_path / "cache"), **({"DNNL_MAX_CPU_ISA": isa} if isa else {}))
    output = tmp_path / "run"
    done = subprocess.run([sys.executable, "run_fmi.py", "--image", str(tiny_image), "--weights", "random:0",
                           "--size", "24", "--layers", "relu1_1", "--filters", "0,1", "--steps", "2",
                           "--threads", "1", "--output", str(output)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((output / "record.json").read_text())
    facts = record["machine"]
    assert facts["cpu"] == machine.cpu()[0] and facts["cpu_flags"] == machine.cpu()[1]
    assert facts["threads"] == 1 and facts["settings"]["OMP_NUM_THREADS"] == "1" and facts["device"] == "cpu(0)"
    assert facts["mxnet"] == "1.9.1" and "MKLDNN" in facts["mxnet_features"]
    assert facts["onednn"].split()[0].count(".") == 2  # '2.4.4 (commit 5818c40f07bd)'
    if isa:
        assert facts["settings"]["DNNL_MAX_CPU_ISA"] == isa and "AVX2" in facts["onednn_isa"]
    else:
        assert "DNNL_MAX_CPU_ISA" not in facts["settings"]
    cells = list((output / "cells").rglob("*.json"))
    assert len(cells) == 2 and all(json.loads(cell.read_text())["machine"] == facts for cell in cells)
    assert f"machine: {machine.describe(facts)}" in done.stderr
    assert list((tmp_path / "cache").glob("onednn-*.json"))  # the probe's answer is kept for the next run
