"""The three figures on networks other than VGG-19: an ONNX file as torch writes it and a Gluon architecture,
through the scripts; what the record says of the network; what is refused before anything is written; and
VGG-19 exported to ONNX giving VGG-19's cells to the byte."""
import hashlib

import numpy as np
import pytest
from conftest import figure_args, one_error, read_record
from onnx_models import write

import run_fmi
import run_pmci
import run_random


@pytest.fixture
def onnx_file(tmp_path):
    return write(tmp_path / "small.onnx")


def test_feature_map_inversion_of_an_onnx_network_records_the_network_and_each_filter_s_response(
        tmp_path, figure_images, onnx_file):
    code = run_fmi.main([*figure_args(tmp_path, figure_images["content"]), "--network", f"onnx:{onnx_file}",
                         "--layers", "/layer1/relu_2/Relu_output_0,cat_relu.Relu_output_0", "--filters", "0,1",
                         "--weights", "auto"])
    assert code == 0
    record = read_record(tmp_path)
    sha256 = hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert record["network"]["sha256"] == sha256 and record["network"]["file"] == "small.onnx"
    assert record["network"]["input"].startswith("rgb 0..1 minus mean (0.485, 0.456, 0.406)")
    assert record["settings"]["network"]["sha256"] == sha256
    assert record["weights"]["pretrained"] and "small.onnx" in record["weights"]["label"]
    cells = record["cells"]
    assert sorted(cells) == [f"content/{layer}/filter_{index}" for layer in
                             ("cat_relu.Relu_output_0", "layer1.relu_2.Relu_output_0") for index in (0, 1)]
    for key, cell in cells.items():
        assert set(cell["details"]["response"]) == {"content", "final"}
        assert (tmp_path / "out" / "cells" / f"{key}.png").is_file()


def test_a_resume_with_another_network_is_refused_naming_it(tmp_path, figure_images, capsys):
    first, second = write(tmp_path / "a.onnx", seed=0), write(tmp_path / "b.onnx", seed=1)
    args = [*figure_args(tmp_path, figure_images["content"]), "--layers", "relu.Relu_output_0", "--filters", "0"]
    assert run_fmi.main([*args, "--network", f"onnx:{first}"]) == 0
    capsys.readouterr()
    code = run_fmi.main([*args, "--network", f"onnx:{second}", "--resume"])
    one_error(capsys, code, r"holds a run made with other settings \(network\.source: .*a\.onnx.* there, "
                            r".*b\.onnx.* here.*network\.sha256")


def test_modified_code_inversion_and_pmci_run_on_a_gluon_network(tmp_path, figure_images):
    base = [*figure_args(tmp_path, figure_images["content"]), "--network", "gluon:resnet18_v1", "--weights",
            "random:2"]
    assert run_random.main([*base, "--layers", "resnetv10_relu0_fwd,resnetv10_stage1_activation0"]) == 0
    record = read_record(tmp_path)
    network = record["network"]
    assert (network["source"], network["zoo"], network["input"]) == ("gluon:resnet18_v1", "resnet18_v1",
                                                                     record["weights"]["preprocessing"])
    assert len(network["layers"]) == 17 and network["layers"][0] == "resnetv10_relu0_fwd"
    assert network["channels"] == {"resnetv10_relu0_fwd": 64, "resnetv10_stage1_activation0": 64}
    draws = [cell["details"]["draw"] for cell in record["cells"].values()]
    assert {draw["channels"] for draw in draws} == {64}
    assert len({draw["sha1_float32"] for draw in draws}) == 4  # every (draw, layer) its own vector
    assert run_pmci.main([*base, "--style", str(figure_images["style_a"]), "--output", str(tmp_path / "out5"),
                          "--content-layers", "resnetv10_stage1_activation0",
                          "--style-layers", "resnetv10_relu0_fwd,resnetv10_stage1_activation0"]) == 0


@pytest.mark.parametrize("extra, pattern", [
    (["--network", "gluon:resnet18_v1"], r"key 'layers': gluon:resnet18_v1 has no rectified layer 'relu1_2'.*"
                                         r"python -m fmi\.network layers gluon:resnet18_v1"),
    (["--network", "onnx:{missing}", "--layers", "x"], r"ONNX file .*missing\.onnx: no such file"),
    (["--network", "onnx:{onnx}", "--layers", "relu.Relu_output_0", "--fidelity", "authors"],
     r"fidelity 'authors' is the authors' code on their VGG-19"),
    (["--network", "gluon:resnet181", "--layers", "x"], r"Gluon's model zoo has no 'resnet181'"),
    (["--network", "caffe:vgg", "--layers", "x"], r"a network is vgg19, gluon:NAME"),
    (["--network", "onnx:{onnx}", "--layers", "relu.Relu_output_0", "--weights", "gluon"],
     r"an ONNX network's weights are its file's \('auto'\) or random\[:SEED\]"),
])
def test_what_no_network_run_can_use_is_refused_in_one_line_before_anything_is_written(
        tmp_path, figure_images, onnx_file, capsys, extra, pattern):
    extra = [item.format(missing=tmp_path / "missing.onnx", onnx=onnx_file) for item in extra]
    code = run_fmi.main([*figure_args(tmp_path, figure_images["content"]), *extra])
    one_error(capsys, code, pattern)
    assert not (tmp_path / "out").exists()


def test_vgg19_exported_to_onnx_gives_vgg19_s_cells_to_the_byte(tmp_path, figure_images):
    """fmi's VGG-19 with seeded random weights, through MXNet's exporter, read with the authors' input
    convention (0..255 minus the ImageNet mean): the same cell images as --network vgg19."""
    import mxnet as mx

    from fmi.core import vgg19
    from fmi.files import weight_files

    weights = weight_files.random_weights(0)
    symbol = vgg19.build(["relu2_1"])
    path = mx.onnx.export_model(symbol, {name: weights.params[name] for name in symbol.list_arguments()
                                         if name != "data"}, in_shapes=[(1, 3, 64, 64)], in_types=[np.float32],
                                onnx_file_path=str(tmp_path / "vgg19.onnx"))
    config = tmp_path / "onnx.yaml"
    config.write_text(f"network:\n  source: onnx:{path}\n  input: {{channels: rgb, range: 255, "
                      f"mean: [123.68, 116.779, 103.939], std: [1, 1, 1]}}\n")
    args = [*figure_args(tmp_path, figure_images["content"]), "--layers", "relu1_2,relu2_1", "--filters", "0,1"]
    assert run_fmi.main([*args, "--network", "vgg19"]) == 0
    assert run_fmi.main(["--config", str(config), *args, "--output", str(tmp_path / "onnx_out"), "--weights",
                         "auto"]) == 0
    ours = sorted((tmp_path / "out" / "cells").rglob("*.png"))
    assert len(ours) == 4
    for cell in ours:
        theirs = tmp_path / "onnx_out" / cell.relative_to(tmp_path / "out")
        assert cell.read_bytes() == theirs.read_bytes(), cell.name


def test_a_gluon_network_and_its_onnx_export_give_the_same_cells(tmp_path, figure_images):
    import mxnet as mx

    from fmi.files import networks

    network = networks.network("gluon:resnet18_v1")
    weights = networks.weights(network, "random:1")
    layers = ["resnetv10_stage1_activation0", "resnetv10_stage2_activation0"]
    symbol = network.build([layers[-1]])
    path = mx.onnx.export_model(symbol, {name: weights.params[name] for name in symbol.list_arguments()
                                         + symbol.list_auxiliary_states() if name != "data"},
                                in_shapes=[(1, 3, 64, 64)], in_types=[np.float32],
                                onnx_file_path=str(tmp_path / "resnet.onnx"))
    args = [*figure_args(tmp_path, figure_images["content"]), "--layers", ",".join(layers), "--filters", "0,1",
            "--size", "48"]
    assert run_fmi.main([*args, "--network", "gluon:resnet18_v1", "--weights", "random:1"]) == 0
    assert run_fmi.main([*args, "--network", f"onnx:{path}", "--weights", "auto", "--output",
                         str(tmp_path / "onnx_out")]) == 0
    ours = sorted((tmp_path / "out" / "cells").rglob("*.png"))
    assert len(ours) == 4
    for cell in ours:
        assert cell.read_bytes() == (tmp_path / "onnx_out" / cell.relative_to(tmp_path / "out")).read_bytes()


def test_analyze_measures_an_onnx_run_through_its_file_and_refuses_a_changed_file(tmp_path, figure_images, capsys):
    """Fig. 5's style similarity takes codes through the run's network: the ONNX file the record names, once its
    SHA-256 is the record's."""
    from fmi import analyze

    path = write(tmp_path / "net.onnx")
    assert run_pmci.main([*figure_args(tmp_path, figure_images["content"]), "--network", f"onnx:{path}",
                          "--weights", "auto", "--style", str(figure_images["style_a"]),
                          "--content-layers", "layer1.relu_2.Relu_output_0",
                          "--style-layers", "relu.Relu_output_0,cat_relu.Relu_output_0"]) == 0
    capsys.readouterr()
    one_error(capsys, analyze.main([str(tmp_path / "out")]), r"the run was made with the ONNX file .*net\.onnx; "
                                                             r"give that file with --network FILE")
    assert analyze.main([str(tmp_path / "out"), "--network", str(path)]) == 0
    found = __import__("json").loads((tmp_path / "out" / "analysis.json").read_text())
    assert found["style"]["layers"] == ["relu.Relu_output_0", "cat_relu.Relu_output_0"]
    assert 0 < found["style"]["own_style"]["pmci content style_a"]["gram"]["own_style"] <= 1
    write(path, seed=5)  # another network under the same name
    capsys.readouterr()
    one_error(capsys, analyze.main([str(tmp_path / "out"), "--network", str(path)]),
              r"net\.onnx is not the ONNX file the run used")


def test_the_tools_read_an_onnx_run_without_its_file(tmp_path, figure_images, capsys):
    """A run folder from another machine: the atlas and the image measures need only the record's description
    of the network (its layers, the channels of those the run used); a sweep's plan is rebuilt from it."""
    from fmi import analyze, atlas

    path = write(tmp_path / "gone.onnx")
    assert run_fmi.main([*figure_args(tmp_path, figure_images["content"]), "--network", f"onnx:{path}",
                         "--layers", "relu.Relu_output_0", "--all-filters"]) == 0
    record = read_record(tmp_path)
    assert record["network"]["channels"] == {"relu.Relu_output_0": 4} and len(record["cells"]) == 4
    path.unlink()
    assert atlas.main([str(tmp_path / "out")]) == 0
    assert analyze.main([str(tmp_path / "out")]) == 0
    assert "relu.Relu_output_0" in (tmp_path / "out" / "analysis.md").read_text()
