"""Small ONNX files as ``torch.onnx.export`` writes them (IR 8, opset 13, initializers not listed as graph
inputs, node and tensor names with slashes and dots, a fixed declared input size), and a numpy forward pass
of the same network, the oracle the tests hold fmi's import to."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

DECLARED = (32, 32)


def parameters(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv1.weight": rng.normal(0, 0.4, (4, 3, 3, 3)), "conv1.bias": rng.normal(0, 0.1, 4),
        "bn1.weight": rng.uniform(0.5, 1.5, 4), "bn1.bias": rng.normal(0, 0.1, 4),
        "bn1.running_mean": rng.normal(0, 0.2, 4), "bn1.running_var": rng.uniform(0.5, 1.5, 4),
        "layer1.conv.weight": rng.normal(0, 0.3, (4, 4, 3, 3)), "layer1.conv.bias": rng.normal(0, 0.1, 4),
        "head.weight": rng.normal(0, 0.3, (6, 8, 1, 1)), "head.bias": rng.normal(0, 0.1, 6),
    }


def write(path, seed=0, head_op="Conv", channels=3, declared=DECLARED):
    """conv1 -> bn1 -> /relu/Relu -> maxpool -> layer1.conv (+ residual Add) -> /layer1/relu_2/Relu ->
    concat with the pooled map -> /cat_relu/Relu -> head (a 1x1 conv, a dense layer and its ReLU, or
    ``head_op``, an operator MXNet lacks, and a ReLU) -> output."""
    values = parameters(seed)
    if channels != 3:
        values["conv1.weight"] = values["conv1.weight"][:, :1].repeat(channels, axis=1)
    initializers = [numpy_helper.from_array(np.asarray(value, np.float32), name) for name, value in values.items()]
    node = helper.make_node
    nodes = [
        node("Conv", ["input", "conv1.weight", "conv1.bias"], ["/conv1/Conv_output_0"], name="/conv1/Conv",
             kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        node("BatchNormalization", ["/conv1/Conv_output_0", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                    "bn1.running_var"], ["/bn1/BatchNormalization_output_0"],
             name="/bn1/BatchNormalization", epsilon=1e-5, momentum=0.9),
        node("Relu", ["/bn1/BatchNormalization_output_0"], ["/relu/Relu_output_0"], name="/relu/Relu"),
        node("MaxPool", ["/relu/Relu_output_0"], ["/maxpool/MaxPool_output_0"], name="/maxpool/MaxPool",
             kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
        node("Conv", ["/maxpool/MaxPool_output_0", "layer1.conv.weight", "layer1.conv.bias"],
             ["/layer1/conv/Conv_output_0"], name="/layer1/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("Add", ["/layer1/conv/Conv_output_0", "/maxpool/MaxPool_output_0"], ["/layer1/Add_output_0"],
             name="/layer1/Add"),
        node("Relu", ["/layer1/Add_output_0"], ["/layer1/relu_2/Relu_output_0"], name="/layer1/relu_2/Relu"),
        node("Concat", ["/layer1/relu_2/Relu_output_0", "/maxpool/MaxPool_output_0"], ["/Concat_output_0"],
             name="/Concat", axis=1),
        node("Relu", ["/Concat_output_0"], ["/cat_relu/Relu_output_0"], name="/cat_relu/Relu"),
    ]
    if head_op == "Conv":
        nodes.append(node("Conv", ["/cat_relu/Relu_output_0", "head.weight", "head.bias"], ["output"],
                          name="/head/Conv", kernel_shape=[1, 1]))
    elif head_op == "Clip":  # ReLU6 as torch exports it: a Clip from 0 to 6, its bounds as initializers
        initializers += [numpy_helper.from_array(np.array(0.0, np.float32), "clip.min"),
                         numpy_helper.from_array(np.array(6.0, np.float32), "clip.max")]
        nodes.append(node("Clip", ["/cat_relu/Relu_output_0", "clip.min", "clip.max"], ["/relu6/Clip_output_0"],
                          name="/relu6/Clip"))
    elif head_op == "Dense":  # a classifier: flatten, a dense layer, a ReLU of its vector
        size = 8 * (declared[0] // 2) * (declared[1] // 2)
        initializers.append(numpy_helper.from_array(np.full((6, size), 1e-3, np.float32), "fc.weight"))
        nodes += [node("Flatten", ["/cat_relu/Relu_output_0"], ["/Flatten_output_0"], name="/Flatten", axis=1),
                  node("Gemm", ["/Flatten_output_0", "fc.weight"], ["/fc/Gemm_output_0"], name="/fc/Gemm", transB=1),
                  node("Relu", ["/fc/Gemm_output_0"], ["output"], name="/fc_relu/Relu")]
    else:  # an operator MXNet's importer lacks, before or after a rectified layer
        nodes.append(node(head_op, ["/cat_relu/Relu_output_0"], ["/head/out"], name=f"/head/{head_op}"))
        nodes.append(node("Relu", ["/head/out"], ["output"], name="/head/Relu"))
    graph = helper.make_graph(nodes, "main_graph",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, channels, *declared])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, producer_name="pytorch", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    save(model, str(path))
    return path


LAYERS = {"relu.Relu_output_0": "/relu/Relu_output_0", "layer1.relu_2.Relu_output_0": "/layer1/relu_2/Relu_output_0",
          "cat_relu.Relu_output_0": "/cat_relu/Relu_output_0"}


def _conv(x, weight, bias, pad):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    out = np.zeros((n, out_channels, h - kh + 1, w - kw + 1))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,oc->nohw", x[:, :, i:i + out.shape[2], j:j + out.shape[3]], weight[:, :, i, j])
    return out + bias.reshape(1, -1, 1, 1)


def numpy_forward(x, seed=0):
    """The network's rectified layers for input ``x`` (N, 3, H, W), in float64: {safe layer name: map}."""
    p = {name: np.asarray(value, np.float64) for name, value in parameters(seed).items()}
    x = np.asarray(x, np.float64)
    conv1 = _conv(x, p["conv1.weight"], p["conv1.bias"], 1)
    scale = p["bn1.weight"] / np.sqrt(p["bn1.running_var"] + 1e-5)
    bn = (conv1 - p["bn1.running_mean"].reshape(1, -1, 1, 1)) * scale.reshape(1, -1, 1, 1) \
        + p["bn1.bias"].reshape(1, -1, 1, 1)
    relu = np.maximum(bn, 0)
    n, c, h, w = relu.shape
    pooled = relu[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    block = np.maximum(_conv(pooled, p["layer1.conv.weight"], p["layer1.conv.bias"], 1) + pooled, 0)
    concat = np.maximum(np.concatenate([block, pooled], axis=1), 0)
    return {"relu.Relu_output_0": relu, "layer1.relu_2.Relu_output_0": block, "cat_relu.Relu_output_0": concat}
