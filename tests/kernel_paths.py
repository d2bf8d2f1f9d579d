"""Child process of test_invert's kernel-path test: fmi's loss and gradient beside a plain MXNet executor
driven the authors' way (their vis_invert.py: every argument bound with grad_req "write", ``forward()``,
then ``backward([F - T])``), one image at a time as they invert. oneDNN reads DNNL_MAX_CPU_ISA once per
process, hence a process per kernel path. Prints one JSON object: per layer, whether loss and gradient
are equal bit for bit, and the largest gradient difference. With ``--training-mode`` fmi's evaluation is
replaced by one with a training-mode forward (what fmi did before), to show that the check can fail."""
import json
import sys

import mxnet as mx
import numpy as np

from fmi.core import invert, vgg19
from fmi.core import weights as weights_module


def authors_way(weights, layer, image, target):
    symbol = vgg19.build([layer])
    args = {name: weights.params[name].copy() for name in symbol.list_arguments() if name != "data"}
    args["data"] = mx.nd.array(image)
    gradients = {name: mx.nd.zeros(array.shape) for name, array in args.items()}
    executor = symbol.bind(mx.cpu(), args, args_grad=gradients, grad_req="write")
    executor.forward()
    code, target = executor.outputs[0], mx.nd.array(target)
    loss = (mx.nd.sum(mx.nd.square(code - target), axis=(1, 2, 3)) * 0.5).asnumpy()
    executor.backward([code - target])
    return loss, gradients["data"].asnumpy()


def training_mode_evaluate(problem, images):
    """``invert.Problem.evaluate`` with ``forward(is_train=True)``."""
    problem.executor.arg_dict["data"][:] = images
    outputs = problem.executor.forward(is_train=True)
    problem.executor.backward()
    return outputs[0].asnumpy(), np.stack([output.asnumpy() for output in outputs[1:]]), problem.gradient


def main(layers):
    if "--training-mode" in layers:
        invert.Problem.evaluate = training_mode_evaluate
        layers = [layer for layer in layers if layer != "--training-mode"]
    weights = weights_module.load("random:0")
    rng = np.random.default_rng(0)
    found = {}
    for layer in layers:
        images = rng.uniform(-60, 60, (2, 3, 40, 56)).astype(np.float32)
        targets = rng.uniform(0, 3, (2, vgg19.channels(layer)) + vgg19.output_size(layer, 40, 56)).astype(np.float32)
        problem = invert.Problem([invert.Term(layer)], weights, images.shape)
        problem.set_targets([targets])
        loss, _, gradient = problem.evaluate(images)
        theirs = [authors_way(weights, layer, images[i:i + 1], targets[i:i + 1]) for i in range(2)]
        their_loss = np.concatenate([loss for loss, _ in theirs])
        their_gradient = np.concatenate([gradient for _, gradient in theirs])
        found[layer] = {"loss": bool(np.array_equal(loss, their_loss)),
                        "gradient": bool(np.array_equal(gradient.asnumpy(), their_gradient)),
                        "largest_difference": float(np.abs(gradient.asnumpy() - their_gradient).max())}
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1:])
