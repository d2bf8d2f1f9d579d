"""fmi/run/machine/device.py: a GPU asked of an MXNet that has none is one line naming the way on."""
from conftest import one_error, tiny_run

import run_fmi


def test_gpu_without_cuda_build(tmp_path, capsys, tiny_image):
    code = run_fmi.main(tiny_run(tmp_path / "out", tiny_image, "--gpu", "0", steps=3, batch=1))
    one_error(capsys, code, r"--gpu 0: this MXNet build sees no GPU; install a CUDA build of MXNet "
               r"\(e.g. 'pip install mxnet-cu117==1.9.1' .*\) or drop --gpu to run on the CPU")
