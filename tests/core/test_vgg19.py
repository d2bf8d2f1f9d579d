import mxnet as mx
import numpy as np
import pytest

from fmi.core import vgg19
from fmi.errors import FmiError


def infer_output_shapes(symbol, data_shape):
    _, output_shapes, _ = symbol.infer_shape(data=data_shape)
    return output_shapes


@pytest.mark.parametrize("layers, expected", [
    (["relu1_1"], [(2, 64, 40, 56)]),
    (["relu3_2", "relu1_2"], [(2, 256, 10, 14), (2, 64, 40, 56)]),
    (["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"],
     [(2, 64, 40, 56), (2, 128, 20, 28), (2, 256, 10, 14), (2, 512, 5, 7), (2, 512, 2, 3)]),
])
def test_outputs_are_the_requested_relus_in_order(layers, expected):
    symbol = vgg19.build(layers)
    assert symbol.list_outputs() == [f"{layer}_output" for layer in layers]
    assert infer_output_shapes(symbol, (2, 3, 40, 56)) == expected
    for layer, shape in zip(layers, expected):
        assert vgg19.output_size(layer, 40, 56) == shape[2:]


def test_graph_stops_at_the_deepest_layer():
    arguments = vgg19.build(["relu1_1", "relu2_1"]).list_arguments()
    assert arguments == ["data", "conv1_1_weight", "conv1_1_bias", "conv1_2_weight", "conv1_2_bias",
                         "conv2_1_weight", "conv2_1_bias"]


def test_all_parameters_and_filter_count():
    arguments = set(vgg19.build(["relu5_4"]).list_arguments())
    assert arguments == {"data"} | set(vgg19.parameter_shapes())
    assert len(vgg19.RELU_LAYERS) == 16
    assert sum(map(vgg19.channels, vgg19.RELU_LAYERS)) == 5504  # VGG-19's filters over its 16 relu layers


def test_unknown_layer_names_the_valid_ones():
    with pytest.raises(FmiError, match=r"unknown layer 'relu6_1'; valid layers are relu1_1, relu1_2, .*relu5_4"):
        vgg19.build(["relu6_1"])
    with pytest.raises(FmiError, match="no layers requested"):
        vgg19.build([])


def _pool_types(symbol):
    import json

    nodes = json.loads(symbol.tojson())["nodes"]
    return [node["attrs"]["pool_type"] for node in nodes if node["op"] == "Pooling"]


def test_pooling_type_is_honoured():
    assert _pool_types(vgg19.build(["relu3_1"])) == ["avg", "avg"]
    assert _pool_types(vgg19.build(["relu3_1"], pooling="max")) == ["max", "max"]
    with pytest.raises(FmiError, match="unknown pooling"):
        vgg19.build(["relu3_1"], pooling="median")


# --- an independent numpy forward pass --------------------------------------------------------

def numpy_conv3x3(x, weight, bias):
    """3x3, stride 1, pad 1 convolution of x (C, H, W) in float64, by summing the 9 shifts."""
    channels, height, width = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((weight.shape[0], height, width))
    for dy in range(3):
        for dx in range(3):
            window = padded[:, dy:dy + height, dx:dx + width]
            out += np.einsum("oc,chw->ohw", weight[:, :, dy, dx], window)
    return out + bias[:, None, None]


def numpy_pool(x, kind):
    channels, height, width = x.shape
    blocks = x[:, :height // 2 * 2, :width // 2 * 2].reshape(channels, height // 2, 2, width // 2, 2)
    return blocks.mean(axis=(2, 4)) if kind == "avg" else blocks.max(axis=(2, 4))


def numpy_vgg(image, params, layers, pooling):
    outputs = {}
    x = image[0].astype(np.float64)
    for block, depth in enumerate(vgg19.BLOCK_DEPTHS, start=1):
        for i in range(1, depth + 1):
            weight = params[f"conv{block}_{i}_weight"].asnumpy().astype(np.float64)
            bias = params[f"conv{block}_{i}_bias"].asnumpy().astype(np.float64)
            x = np.maximum(numpy_conv3x3(x, weight, bias), 0)
            outputs[f"relu{block}_{i}"] = x
            if all(layer in outputs for layer in layers):
                return [outputs[layer] for layer in layers]
        x = numpy_pool(x, pooling)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_forward_matches_numpy(random_weights, pooling):
    layers = ["relu1_2", "relu2_1", "relu3_1"]
    rng = np.random.default_rng(5)
    image = rng.uniform(-100, 100, size=(1, 3, 13, 18)).astype(np.float32)
    # random biases too, so a mix-up of weight and bias would show
    params = dict(random_weights.params)
    for name, shape in vgg19.parameter_shapes().items():
        if name.endswith("_bias"):
            params[name] = mx.nd.array(rng.normal(0, 0.5, size=shape))
    symbol = vgg19.build(layers, pooling)
    args = {name: params[name] for name in symbol.list_arguments() if name != "data"}
    args["data"] = mx.nd.array(image)
    outputs = symbol.bind(mx.cpu(), args, grad_req="null").forward()
    for output, expected in zip(outputs, numpy_vgg(image, params, layers, pooling)):
        np.testing.assert_allclose(output.asnumpy()[0], expected, rtol=1e-4, atol=1e-3)
