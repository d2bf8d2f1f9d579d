"""fmi/files/networks.py and fmi/core/graph.py: networks other than VGG-19, held to oracles: a numpy forward
pass and finite differences of the ONNX networks the tests build, VGG-19 through MXNet's ONNX exporter, and a
Gluon network beside its own ONNX export."""
import mxnet as mx
import numpy as np
import pytest
from onnx_models import LAYERS, numpy_forward, write

from fmi.core import invert, vgg19
from fmi.core.terms import Term
from fmi.errors import FmiError
from fmi.files import networks, weight_files


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    return write(tmp_path_factory.mktemp("onnx") / "small.onnx")


def test_an_onnx_file_as_torch_writes_it_runs_as_numpy_does_at_another_input_size(onnx_file):
    """Initializers not listed as inputs, slashed names, BatchNorm, a residual Add and a concatenation: every
    rectified layer matches a numpy forward pass, at 20x28 px where the file declares 32x32."""
    network = networks.network(f"onnx:{onnx_file}")
    assert network.layers == tuple(LAYERS) and network.unavailable == {}
    weights = networks.weights(network, "auto")
    x = np.random.default_rng(1).normal(0, 1, (2, 3, 20, 28)).astype(np.float32)
    codes = invert.extract(network, weights, list(network.layers), x)
    expected = numpy_forward(x)
    for layer in LAYERS:
        assert codes[layer].shape == expected[layer].shape
        np.testing.assert_allclose(codes[layer], expected[layer], rtol=1e-4, atol=1e-4)
    assert [network.channels(layer) for layer in LAYERS] == [4, 4, 8]
    assert network.output_size("cat_relu.Relu_output_0", 20, 28) == (10, 14)


def test_the_input_gradient_is_the_loss_s_by_finite_differences_with_batchnorm_in_inference_mode(onnx_file):
    """The loss fmi minimises and its image gradient, against the numpy network's loss and its central
    differences: BatchNorm uses its moving statistics in the gradient too (batch statistics would differ)."""
    network = networks.network(f"onnx:{onnx_file}")
    weights = networks.weights(network, "auto")
    layer = "cat_relu.Relu_output_0"
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (2, 3, 12, 16))
    target = rng.uniform(0, 1, (2, 8, 6, 8))
    problem = invert.Problem([Term(layer)], network, weights, x.shape)
    problem.set_targets([target.astype(np.float32)])
    loss, _, gradient = problem.evaluate(x.astype(np.float32))

    def numpy_loss(images):
        return 0.5 * ((numpy_forward(images)[layer] - target) ** 2).sum(axis=(1, 2, 3))

    np.testing.assert_allclose(loss, numpy_loss(x), rtol=1e-4)
    gradient = gradient.asnumpy()
    step = 1e-3
    for index in [tuple(rng.integers(0, size) for size in x.shape) for _ in range(12)]:
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        numeric = (numpy_loss(up) - numpy_loss(down))[index[0]] / (2 * step)
        assert gradient[index] == pytest.approx(numeric, rel=2e-2, abs=2e-3), index


def test_layers_are_named_as_netron_shows_them_or_by_their_safe_name(onnx_file):
    network = networks.network(f"onnx:{onnx_file}")
    assert network.canonical("/layer1/relu_2/Relu_output_0") == "layer1.relu_2.Relu_output_0"
    assert network.canonical("layer1.relu_2.Relu_output_0") == "layer1.relu_2.Relu_output_0"
    with pytest.raises(FmiError, match=r"no rectified layer 'relu1_2'.*python -m fmi\.network layers onnx:"):
        network.canonical("relu1_2")


def test_an_operator_mxnet_lacks_matters_only_before_a_requested_layer(tmp_path):
    path = write(tmp_path / "head.onnx", head_op="GridSample")
    network = networks.network(f"onnx:{path}")
    assert network.layers == tuple(LAYERS)  # the head after the last of them is never imported
    assert list(network.unavailable) == ["output"]  # the Relu after it, by its output's name
    codes = invert.extract(network, networks.weights(network, "auto"), ["cat_relu.Relu_output_0"],
                           np.zeros((1, 3, 8, 8), np.float32))
    assert codes["cat_relu.Relu_output_0"].shape == (1, 8, 4, 4)
    with pytest.raises(FmiError, match=r"operator GridSample at node '/head/GridSample', which MXNet cannot "
                                       r"import, comes before it"):
        network.canonical("output")


@pytest.mark.parametrize("make, message", [
    (lambda path, good: path.write_bytes(b"\x00\xffnot a model" * 50), "not an ONNX model, or cut short"),
    (lambda path, good: path.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2]),
     "not an ONNX model, or cut short"),
    (lambda path, good: write(path, channels=1), r"not a batch of 3-channel images \(N, 3, H, W\)"),
    (lambda path, good: path.write_bytes(b""), "is empty"),
])
def test_a_file_that_is_no_usable_onnx_network_is_refused_in_one_line(tmp_path, onnx_file, make, message):
    path = tmp_path / "bad.onnx"
    make(path, onnx_file)
    with pytest.raises(FmiError, match=message) as caught:
        networks.network(f"onnx:{path}").layers
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("source, message", [
    ("gluon:resnet19", r"Gluon's model zoo has no 'resnet19'; it has .*resnet18_v1"),
    ("vgg16", "a network is vgg19, gluon:NAME"), ("onnx:", "a network is vgg19"), ("gluon", "a network is vgg19"),
])
def test_a_source_fmi_cannot_read_is_refused(source, message):
    with pytest.raises(FmiError, match=message):
        networks.network(source)


def test_random_weights_are_seeded_per_parameter_whatever_the_layers_asked_for():
    network = networks.network("gluon:resnet18_v1")
    first, again, other = (networks.weights(network, spec) for spec in ("random:3", "random:3", "random:4"))
    assert first.label == "random weights (seed 3), not trained" and not first.pretrained
    conv = "resnetv10_conv0_weight"
    np.testing.assert_array_equal(first.params[conv].asnumpy(), again.params[conv].asnumpy())
    assert not np.array_equal(first.params[conv].asnumpy(), other.params[conv].asnumpy())
    assert first.params[conv].asnumpy().std() == pytest.approx(np.sqrt(2 / (3 * 7 * 7)), rel=0.05)  # He normal
    np.testing.assert_array_equal(first.params["resnetv10_batchnorm0_running_var"].asnumpy(), 1.0)


def test_vgg19_through_mxnet_s_onnx_exporter_gives_vgg19_s_codes_and_gradients_to_the_bit(tmp_path):
    """fmi's VGG-19 (the authors' average pooling) exported with its random weights and read back as onnx:."""
    weights = weight_files.random_weights(0)
    symbol = vgg19.build(["relu3_1"])
    params = {name: weights.params[name] for name in symbol.list_arguments() if name != "data"}
    path = mx.onnx.export_model(symbol, params, in_shapes=[(1, 3, 64, 64)], in_types=[np.float32],
                                onnx_file_path=str(tmp_path / "vgg19.onnx"))
    network = networks.network(f"onnx:{path}")
    assert network.layers == vgg19.RELU_LAYERS[:5]
    table = vgg19.VGG19()  # the graph's channels, sizes and FLOPs, against VGG-19's table
    assert network.maps(network.layers, 40, 56) == table.maps(network.layers, 40, 56)
    assert network.costs(network.layers, 40, 56) == table.costs(network.layers, 40, 56)
    imported = networks.weights(network, "auto")
    x = np.random.default_rng(0).uniform(-60, 60, (2, 3, 40, 56)).astype(np.float32)
    ours, theirs = invert.extract(vgg19.VGG19(), weights, ["relu3_1"], x), invert.extract(network, imported,
                                                                                         ["relu3_1"], x)
    np.testing.assert_array_equal(ours["relu3_1"], theirs["relu3_1"])
    gradients = []
    for net, params in ((vgg19.VGG19(), weights), (network, imported)):
        problem = invert.Problem([Term("relu2_1")], net, params, x.shape)
        problem.set_targets([np.zeros((2, 128, 20, 28), np.float32)])
        gradients.append(problem.evaluate(x)[2].asnumpy())
    np.testing.assert_array_equal(*gradients)


def test_a_gluon_network_and_its_onnx_export_give_the_same_codes_to_the_bit(tmp_path):
    """resnet18_v1 (BatchNorm, a padded max pooling, residual additions) through MXNet's exporter: the importer's
    operators, once fmi has put back MXNet's own (fmi.core.graph.inference_mode), compute the same numbers."""
    network = networks.network("gluon:resnet18_v1")
    weights = networks.weights(network, "random:1")
    layers = ["resnetv10_relu0_fwd", "resnetv10_stage2_activation0", "resnetv10_stage3_activation1"]
    symbol = network.build([layers[-1]])
    params = {name: weights.params[name] for name in symbol.list_arguments() + symbol.list_auxiliary_states()
              if name != "data"}
    path = mx.onnx.export_model(symbol, params, in_shapes=[(1, 3, 64, 64)], in_types=[np.float32],
                                onnx_file_path=str(tmp_path / "resnet.onnx"))
    exported = networks.network(f"onnx:{path}")
    assert exported.layers == network.layers[:network.layers.index(layers[-1]) + 1]
    x = np.random.default_rng(3).normal(0, 1, (1, 3, 48, 40)).astype(np.float32)
    ours = invert.extract(network, weights, layers, x)
    theirs = invert.extract(exported, networks.weights(exported, "auto"), layers, x)
    for layer in layers:
        np.testing.assert_array_equal(ours[layer], theirs[layer])


def test_layer_names_become_safe_names_for_files_and_keys_without_colliding():
    from fmi.core.network import safe_name
    from fmi.files.networks import _unique
    from fmi.run.folder.keys import parse_key

    for name in ("/layer1/relu_2/Relu_output_0", "../../etc", "a b:c", "/", "名前", "x" * 300):
        safe = safe_name(name)
        assert parse_key(f"content/{safe}/filter_0").group == safe  # a cell key and a path inside the run folder
    assert safe_name("/layer1/relu_2/Relu_output_0") == "layer1.relu_2.Relu_output_0"
    taken = {"a.b": "/a/b"}
    assert _unique(safe_name("a.b"), taken) == "a.b-2"


def test_gluon_weights_from_a_file_gluon_saved_from_its_cache_and_offline(tmp_path, monkeypatch):
    from mxnet.gluon.model_zoo import model_store, vision

    with mx.name.NameManager():
        block = vision.get_model("squeezenet1.1")
    block.initialize(mx.init.Normal(0.05))
    block(mx.nd.zeros((1, 3, 224, 224)))  # its last pooling needs the 224 px it was made for
    block.save_parameters(str(tmp_path / "squeeze.params"))
    network = networks.network("gluon:squeezenet1.1")
    loaded = networks.weights(network, str(tmp_path / "squeeze.params"))
    assert loaded.pretrained and "squeeze.params" in loaded.label
    x = np.random.default_rng(0).normal(0, 1, (1, 3, 64, 64)).astype(np.float32)
    layer = network.layers[3]
    ours = invert.extract(network, loaded, [layer], x)[layer]
    internals = block(mx.sym.var("data")).get_internals()  # the block's own graph, named as it was built
    assert ours.shape[1] == network.channels(layer)
    np.testing.assert_allclose(ours, _forward(block, internals, layer, x), rtol=1e-5, atol=1e-5)

    monkeypatch.setattr(networks.Path, "home", lambda: tmp_path / "home")
    assert not networks.weights(network, "auto").pretrained  # nothing in ~/.mxnet/models: random, said in the log
    cached = tmp_path / "home" / ".mxnet" / "models" / f"squeezenet1.1-{model_store.short_hash('squeezenet1.1')}.params"
    cached.parent.mkdir(parents=True)
    cached.write_bytes((tmp_path / "squeeze.params").read_bytes())
    assert networks.weights(network, "auto").pretrained

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(model_store, "get_model_file", offline)
    with pytest.raises(FmiError, match=r"could not get Gluon's pretrained squeezenet1.1 \(Name or service not known\)"):
        networks.weights(network, "gluon")
    with pytest.raises(FmiError, match=r"squeeze.params: not the parameters of Gluon's resnet18_v1 \(Parameter"):
        networks.weights(networks.network("gluon:resnet18_v1"), str(tmp_path / "squeeze.params"))


def _forward(block, internals, layer, x):
    """``layer`` of the Gluon block for ``x``, through the block's own parameters and MXNet's executor."""
    symbol = internals[f"{layer}_output"]
    params = {parameter.name: parameter.data() for parameter in block.collect_params().values()}
    arguments = {name: params[name] for name in symbol.list_arguments() if name != "data"}
    arguments["data"] = mx.nd.array(x)
    auxiliary = {name: params[name] for name in symbol.list_auxiliary_states()}
    return symbol.bind(mx.cpu(), arguments, aux_states=auxiliary).forward()[0].asnumpy()


def test_a_classifier_s_rectified_vectors_are_no_layers_fmi_offers(tmp_path):
    """A ReLU after a dense layer rectifies a vector, no map of filters: ONNX's shape inference (and MXNet's, for
    Gluon's VGG-16 with its dense layers) leave it out."""
    network = networks.network(f"onnx:{write(tmp_path / 'dense.onnx', head_op='Dense')}")
    assert network.layers == tuple(LAYERS)
    assert not any("dense" in layer for layer in networks.network("gluon:vgg16").layers)
    assert len(networks.network("gluon:vgg16").layers) == 13


def test_relu6_a_clip_from_zero_is_a_rectified_layer(tmp_path):
    network = networks.network(f"onnx:{write(tmp_path / 'relu6.onnx', head_op='Clip')}")
    assert network.layers == (*LAYERS, "relu6.Clip_output_0")
    x = np.random.default_rng(4).normal(0, 3, (1, 3, 16, 16)).astype(np.float32)
    code = invert.extract(network, networks.weights(network, "auto"), ["relu6.Clip_output_0"], x)
    expected = np.clip(numpy_forward(x)["cat_relu.Relu_output_0"], 0, 6)
    assert expected.max() == 6  # the clip bites
    np.testing.assert_allclose(code["relu6.Clip_output_0"], expected, rtol=1e-4, atol=1e-4)
