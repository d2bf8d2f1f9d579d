"""Time one Fig. 3 cell per layer at the paper's size (not a test).

Runs a few SGD steps of a Feature Map Inversion per layer on a 384 x 512 input and prints
the time per step, and what a cell of ``--cell-steps`` steps would take.

    python bench/cell_time.py [--steps 5] [--batch 1] [--image golden_gate]
"""
import argparse
import os
import time

import numpy as np

from fmi.core import codes, invert, vgg19
from fmi.files import weight_files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1, help="filters inverted together")
    parser.add_argument("--cell-steps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--weights", default="auto")
    parser.add_argument("--layers", default="relu1_2,relu2_2,relu3_2,relu4_2,relu5_2")
    args = parser.parse_args(argv)

    weights = weight_files.load(args.weights)
    rng = np.random.default_rng(0)
    height, width = round(args.size * 0.75), args.size
    content = weights.preprocessing.preprocess(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    print(f"{height}x{width}, batch {args.batch}, {weights.label}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"{'layer':8} {'s/step':>8} {'s/step/image':>13} {f'{args.cell_steps}-step cell (s)':>20}")
    for layer in args.layers.split(","):
        code = invert.extract(vgg19.VGG19(), weights, [layer], content)[layer]
        problem = invert.Problem([invert.Term(layer)], vgg19.VGG19(), weights, (args.batch, 3, height, width))
        problem.set_targets([np.concatenate([codes.feature_map(code, i) for i in range(args.batch)])])
        initial = invert.initial_images((3, height, width), [0] * args.batch)
        invert.sgd(problem, initial, invert.SGD(max_steps=1))  # warm-up: allocation, MKL-DNN plans
        started = time.perf_counter()
        invert.sgd(problem, initial, invert.SGD(max_steps=args.steps, stop_eps=0))
        per_step = (time.perf_counter() - started) / args.steps
        print(f"{layer:8} {per_step:8.3f} {per_step / args.batch:13.3f} "
              f"{per_step / args.batch * args.cell_steps:20.0f}")


if __name__ == "__main__":
    main()
