"""Child process of test_invert's kernel-path test: fmi's loss and gradient beside a plain MXNet executor
driven the authors' way, image by image, as their scripts drive it: every argument bound with grad_req
"write", ``forward()``, head gradients computed by hand with their operators (vis_invert.py: F - T;
vis_style.py and utils.py: the content residual over HW times alpha, their channel-sum gradient by
``mx.nd.dot`` with ones, their Gram gradient by a FullyConnected executor's backward pass), then
``backward(head gradients)``. oneDNN reads DNNL_MAX_CPU_ISA once per process, hence a process per
kernel path. The loss of each term is taken from their executor's codes by the table of
fmi/core/losses.py in MXNet's float32 operators: equal bits there mean equal codes. Prints one JSON
object: per problem, whether the loss and the gradient are equal bit for bit, and the largest
gradient difference. With ``--training-mode`` fmi's evaluation uses a training-mode forward (what
fmi did before), to show that the check can fail."""
import fmi  # noqa: F401  (first: it sets back the numpy aliases MXNet 1.9.1 needs)

# isort: split
import json
import sys

import mxnet as mx
import numpy as np

from fmi.core import invert, vgg19
from fmi.files import weight_files

HEIGHT, WIDTH = 40, 56
# (name, [(layer, kind, weight, normalised)]): FMI and the random re-weightings; PMCI; Gatys
PROBLEMS = {
    "content relu1_2": [("relu1_2", "content", 1.0, False)],
    "content relu3_2": [("relu3_2", "content", 1.0, False)],
    "content relu5_1": [("relu5_1", "content", 1.0, False)],
    "pmci": [("relu2_2", "content", 10.0, True), ("relu1_1", "channel_sum", 1.0, True),
             ("relu2_1", "channel_sum", 1.0, True), ("relu3_1", "channel_sum", 1.0, True)],
    "gatys": [("relu2_2", "content", 10.0, False), ("relu1_1", "gram", 1.0, True), ("relu2_1", "gram", 1.0, True),
              ("relu3_1", "gram", 1.0, True)],
}


def their_gram_gradient(code, target):
    """utils.py's StyleGramExecutor and get_style_grad('original'): FullyConnected(F, F), backward."""
    channels, size = code.shape[1], int(np.prod(code.shape[2:]))
    data = mx.sym.Variable("conv")
    flat = mx.sym.Reshape(data=data, shape=(channels, size))
    weight = mx.sym.Reshape(data=mx.sym.Variable("weight"), shape=(channels, size))
    product = mx.sym.FullyConnected(data=flat, weight=weight, no_bias=True, num_hidden=channels)
    conv, gradient = mx.nd.zeros(code.shape), mx.nd.zeros(code.shape)
    executor = product.bind(ctx=mx.cpu(), args={"conv": conv, "weight": conv}, args_grad={"conv": gradient},
                            grad_req={"conv": "write", "weight": "null"})
    code.copyto(conv)
    executor.forward()
    executor.backward([executor.outputs[0] - target])
    result = gradient[:]
    result /= channels ** 2 * float(size)
    return result


def their_gram_target(code):
    channels, size = code.shape[1], int(np.prod(code.shape[2:]))
    flat = code.reshape((channels, size))
    return mx.nd.FullyConnected(data=flat, weight=flat, no_bias=True, num_hidden=channels)


def their_head(kind, code, target, weight, normalised):
    """The head gradient their scripts hand to ``backward`` for one term of one image."""
    size = int(np.prod(code.shape[2:]))
    if kind == "content":
        head = (code - target) / size if normalised else code - target
    elif kind == "channel_sum":
        ones = mx.nd.ones((size, 1))
        flat = code.reshape((code.shape[1], size))
        head = mx.nd.dot(mx.nd.dot(flat, ones) - target, mx.nd.transpose(ones)).reshape(code.shape)
        head /= code.shape[1] * float(size)
    else:
        head = their_gram_gradient(code, target)
    if weight != 1.0:
        head *= weight
    return head


def loss_of(kind, code, target, weight, normalised):
    """A term's loss from one image's code, by the formulas of fmi/core/losses.py's table."""
    channels, size = code.shape[1], int(np.prod(code.shape[2:]))
    if kind == "content":
        value, half, divisor = mx.nd.sum(mx.nd.square(code - target)), 0.5, size
    elif kind == "channel_sum":
        sums = mx.nd.dot(code.reshape((channels, size)), mx.nd.ones((size, 1)))
        value, half, divisor = mx.nd.sum(mx.nd.square(sums - target)), 0.5, channels * size
    else:
        value, half, divisor = mx.nd.sum(mx.nd.square(their_gram_target(code) - target)), 0.25, channels ** 2 * size
    return value * (half * weight / (divisor if normalised else 1.0))


def authors_way(weights, terms, image, target_codes):
    layers = [layer for layer, *_ in terms]
    symbol = vgg19.build(layers)
    args = {name: weights.params[name].copy() for name in symbol.list_arguments() if name != "data"}
    args["data"] = mx.nd.array(image)
    gradients = {name: mx.nd.zeros(array.shape) for name, array in args.items()}
    executor = symbol.bind(mx.cpu(), args, args_grad=gradients, grad_req="write")
    executor.forward()
    heads, loss = [], None
    for (layer, kind, weight, normalised), code, target_code in zip(terms, executor.outputs, target_codes):
        target_code = mx.nd.array(target_code)
        target = {"content": target_code, "gram": their_gram_target(target_code),
                  "channel_sum": mx.nd.expand_dims(mx.nd.sum(target_code, axis=(0, 2, 3)), axis=1)}[kind]
        heads.append(their_head(kind, code, target, weight, normalised))
        term = loss_of(kind, code, target, weight, normalised)
        loss = term if loss is None else loss + term
    executor.backward(heads)
    return loss.asnumpy(), gradients["data"].asnumpy()


def training_mode_evaluate(problem, images):
    """``invert.Problem.evaluate`` with ``forward(is_train=True)``."""
    problem.executor.arg_dict["data"][:] = images
    outputs = problem.executor.forward(is_train=True)
    problem.executor.backward()
    return outputs[1].asnumpy(), np.stack([output.asnumpy() for output in outputs[2:]]), problem.gradient


def fully_connected_kernels_agree():
    """Whether FullyConnected's forward kernel on (R, F^T) gives the bits of its backward-data kernel on
    (R, F) on this kernel path: fmi's Gram gradient is the first, the authors' the second."""
    rng = np.random.default_rng(1)
    code = mx.nd.array(rng.uniform(0, 5, (1, 64, 20, 28)).astype(np.float32))
    target = mx.nd.array(rng.uniform(0, 5, (64, 64)).astype(np.float32))
    residual = their_gram_target(code) - target
    ours = mx.nd.FullyConnected(residual, mx.nd.transpose(code.reshape((64, 560))), num_hidden=560, no_bias=True)
    return bool(np.array_equal(their_gram_gradient(code, target).asnumpy(), (ours / (64 ** 2 * 560.0)).asnumpy()))


def main(names):
    if "--training-mode" in names:
        invert.Problem.evaluate = training_mode_evaluate
        names = [name for name in names if name != "--training-mode"]
    weights = weight_files.load("random:0")
    rng = np.random.default_rng(0)
    found = {}
    for name in names or PROBLEMS:
        terms = PROBLEMS[name]
        layers = [layer for layer, *_ in terms]
        images = rng.uniform(-60, 60, (2, 3, HEIGHT, WIDTH)).astype(np.float32)
        targets = invert.extract(vgg19.VGG19(), weights, layers,
                                 rng.uniform(-60, 60, (2, 3, HEIGHT, WIDTH)).astype(np.float32))
        problem = invert.Problem([invert.Term(*term) for term in terms], vgg19.VGG19(), weights, images.shape)
        problem.set_targets([targets[layer] for layer in layers])
        loss, _, gradient = problem.evaluate(images)
        gradient = gradient.asnumpy()
        theirs = [authors_way(weights, terms, images[i:i + 1], [targets[layer][i:i + 1] for layer in layers])
                  for i in range(2)]
        their_loss = np.concatenate([value for value, _ in theirs])
        their_gradient = np.concatenate([value for _, value in theirs])
        found[name] = {"loss": bool(np.array_equal(loss, their_loss)),
                       "gradient": bool(np.array_equal(gradient, their_gradient)),
                       "largest_difference": float(np.abs(gradient - their_gradient).max()),
                       "largest_gradient": float(np.abs(their_gradient).max())}
    found["fully_connected_kernels_agree"] = fully_connected_kernels_agree()
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1:])
