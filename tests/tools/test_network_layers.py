"""python -m fmi.network layers: a network's rectified layers, with their channels, sizes and costs, against
what the ONNX file the tests build has (numpy's shapes), and its refusals in one line."""
import re

from conftest import one_error
from onnx_models import LAYERS, numpy_forward, write

from fmi import network as door


def test_the_layers_of_an_onnx_file_with_their_channels_sizes_and_netron_names(tmp_path, capsys):
    path = write(tmp_path / "small.onnx")
    assert door.main(["layers", f"onnx:{path}", "--size", "20"]) == 0
    out = capsys.readouterr().out
    shapes = {layer: code.shape[1:] for layer, code in numpy_forward(__import__("numpy").zeros((1, 3, 20, 20))).items()}
    for layer, graph_name in LAYERS.items():
        channels, height, width = shapes[layer]
        assert re.search(rf"^{re.escape(layer)} +{channels} +{height}x{width} +[\d.e-]+ +\({re.escape(graph_name)}\)$",
                         out, re.MULTILINE), out
    assert out.startswith(f"onnx:{path}: 3 rectified layers; input 20x20 px, rgb 0..1 minus mean")


def test_layers_after_an_operator_mxnet_lacks_are_listed_apart(tmp_path, capsys):
    path = write(tmp_path / "head.onnx", head_op="GridSample")
    assert door.main(["layers", f"onnx:{path}"]) == 0
    out = capsys.readouterr().out
    assert "input 32x32 px" in out  # the size the file declares
    assert re.search(r"^output: not available: operator GridSample at node '/head/GridSample'", out, re.MULTILINE)


def test_vgg19_s_layers_are_the_paper_s(capsys):
    assert door.main(["layers", "vgg19", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^relu5_4 +512 +4x4 +", out, re.MULTILINE) and out.count("\nrelu") == 16


def test_what_it_cannot_list_is_one_line(tmp_path, capsys):
    one_error(capsys, door.main(["layers", "onnx:" + str(tmp_path / "none.onnx")]), r"no such file")
    one_error(capsys, door.main(["layers", "resnet"]), r"a network is vgg19, gluon:NAME")
    one_error(capsys, door.main(["layers", "vgg19", "--size", "0"]), r"--size 0: give a side from 1 to 16384 px")
