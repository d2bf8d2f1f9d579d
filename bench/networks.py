"""How fast a network imported from ONNX steps, against the same network built natively (a benchmark).

    python bench/networks.py [--size 256] [--layer relu4_2] [--steps 5] [--rounds 3]

VGG-19 with seeded random weights is exported with MXNet's ONNX exporter and read back as ``onnx:``,
then one SGD step of a Feature Map Inversion at ``--layer`` is timed both ways (the best of
``--rounds`` rounds of ``--steps`` steps, in this process, alternating), and likewise Gluon's
resnet18_v1 beside its own export. Prints a table, then one line:
    vgg19_onnx_ratio=<x> resnet18_onnx_ratio=<x>
with the target checked: each ratio (imported step / native step) <= 1.05.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.05


def step_seconds(network, weights, layer, size, steps, rounds):
    """Best of ``rounds`` of the mean time of ``steps`` SGD steps of one image of ``size`` x ``size``."""
    from fmi.core import invert, optimizers
    from fmi.core.terms import Term

    problem = invert.Problem([Term(layer)], network, weights, (1, 3, size, size))
    start = invert.initial_images((3, size, size), [0])
    invert.sgd(problem, start, optimizers.SGD(max_steps=1, stop_eps=0.0))  # plans the convolutions
    best = []
    for _ in range(rounds):
        began = time.perf_counter()
        invert.sgd(problem, start, optimizers.SGD(max_steps=steps, stop_eps=0.0))
        best.append((time.perf_counter() - began) / steps)
    return min(best)


def export(network, weights, layer, path):
    import mxnet as mx
    import numpy as np

    symbol = network.build([layer])
    names = [name for name in symbol.list_arguments() + symbol.list_auxiliary_states() if name != "data"]
    return mx.onnx.export_model(symbol, {name: weights.params[name] for name in names}, in_shapes=[(1, 3, 64, 64)],
                                in_types=[np.float32], onnx_file_path=str(path))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="the input's side in px (default: %(default)s)")
    parser.add_argument("--layer", default="relu4_2", help="VGG-19's layer (default: %(default)s)")
    parser.add_argument("--resnet-layer", default="resnetv10_stage3_activation1",
                        help="resnet18_v1's layer (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=5, help="steps per round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the best kept (default: %(default)s)")
    args = parser.parse_args(argv)

    from fmi.core import vgg19  # fmi first: it readies numpy for MXNet
    from fmi.files import networks, weight_files
    from fmi.run.machine import device, facts

    folder = Path(tempfile.mkdtemp(prefix="fmi-bench-"))
    native_vgg, vgg_weights = vgg19.VGG19(), weight_files.random_weights(0)
    resnet = networks.network("gluon:resnet18_v1")
    resnet_weights = networks.weights(resnet, "random:0")
    pairs = {}
    for name, network, weights, layer in (("vgg19", native_vgg, vgg_weights, args.layer),
                                          ("resnet18", resnet, resnet_weights, args.resnet_layer)):
        imported = networks.network(f"onnx:{export(network, weights, layer, folder / f'{name}.onnx')}")
        imported_weights = networks.weights(imported, "auto")
        times = {"native": [], "onnx": []}
        for _ in range(2):  # alternate, so a slow spell of the machine falls on both
            times["native"].append(step_seconds(network, weights, layer, args.size, args.steps, args.rounds))
            times["onnx"].append(step_seconds(imported, imported_weights, imported.canonical(layer), args.size,
                                              args.steps, args.rounds))
        pairs[name] = (min(times["native"]), min(times["onnx"]))
    print(f"machine: {facts.describe(facts.facts(device.context(None)))}")
    print(f"{'network':10} {'layer':32} {'native s/step':>14} {'onnx s/step':>12} {'ratio':>6}")
    for (name, (native, imported)), layer in zip(pairs.items(), (args.layer, args.resnet_layer)):
        print(f"{name:10} {layer:32} {native:14.4f} {imported:12.4f} {imported / native:6.3f}")
    ratios = {name: imported / native for name, (native, imported) in pairs.items()}
    print(" ".join(f"{name}_onnx_ratio={ratio:.3f}" for name, ratio in ratios.items())
          + f" (target <= {TARGET}: {'met' if all(r <= TARGET for r in ratios.values()) else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
