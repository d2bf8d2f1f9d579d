"""How fast fmi inverts, against a bare MXNet executor (a benchmark, not a test).

    python bench/speed.py [--steps 5] [--weights auto] [--size 512] [--race-size 128]

Prints a table, then one line:
    overhead=<x> threads_speedup=<x> lbfgs_time_ratio=<x> peak_rss_mib=<n> gflops=<n>
    conv_peak_gflops=<n> peak_fraction=<x>
(all on one line)
with the targets checked beside each number:
- overhead: fmi's SGD step / a bare executor forward + backward of the same truncated graph,
  384 x 512 to relu5_2 (target <= 1.10);
- threads_speedup: step time with MXNet's default threads / with fmi's (>= 1.3);
- lbfgs_time_ratio: L-BFGS wall time to the loss where the authors' SGD stops by its
  rule / SGD's wall time, relu3_2 inversion of a 128 px image (<= 0.5);
- peak_rss_mib: peak resident memory of one 384 x 512 inversion to relu5_2 (<= 1536);
- gflops: achieved GFLOP/s of fmi's step (2 FLOPs per multiply-add, forward + input
  gradient of the convolutions); no target of its own, since it depends on the CPU: it is
  judged against this machine's peak, below;
- conv_peak_gflops: GFLOP/s of one 3x3 convolution, 256 to 256 channels at 64 x 64,
  forward, timed in the same process as fmi's step, with the same threads (the best of
  three rounds): what this machine's MXNet reaches on the network's commonest operation;
- peak_fraction: gflops / conv_peak_gflops (>= 0.8): how close a whole inversion step
  comes to that peak.
Step times are measured in child processes, each with a fresh MXNet, as the best of three
rounds. ``--size`` and ``--race-size`` change the sizes (the long edges) of the step and of the
race; the targets are for the defaults.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

DEEP_LAYER = "relu5_2"
TARGETS = {"overhead": ("<=", 1.10), "threads_speedup": (">=", 1.3), "lbfgs_time_ratio": ("<=", 0.5),
           "peak_rss_mib": ("<=", 1536), "gflops": None, "peak_fraction": (">=", 0.8)}
PEAK_CHANNELS, PEAK_SIZE = 256, 64
ROUNDS = 3  # step times are the best of this many rounds: the machine's noise only ever slows


def cpu_model():
    """The CPU's model name, as /proc/cpuinfo gives it (or the platform's guess)."""
    import platform

    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def conv_peak_timer():
    """A function timing one 3x3 convolution, 256 -> 256 channels, 64 x 64, forward, with fmi's
    threads; it returns GFLOP/s."""
    import mxnet as mx
    import numpy as np

    shape = (1, PEAK_CHANNELS, PEAK_SIZE, PEAK_SIZE)
    rng = np.random.default_rng(0)
    symbol = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), pad=(1, 1), num_filter=PEAK_CHANNELS,
                                name="conv")
    args = {"data": mx.nd.array(rng.normal(size=shape)),
            "conv_weight": mx.nd.array(rng.normal(size=(PEAK_CHANNELS, PEAK_CHANNELS, 3, 3))),
            "conv_bias": mx.nd.zeros(PEAK_CHANNELS)}
    executor = symbol.bind(mx.cpu(), args, grad_req="null")
    flops = 2 * PEAK_CHANNELS * PEAK_CHANNELS * 9 * PEAK_SIZE * PEAK_SIZE

    def forward():
        executor.forward(is_train=False)[0].wait_to_read()

    return lambda: flops / _timed(forward, 20) / 1e9


def _timed(function, steps):
    function()  # warm-up: allocations and MKL-DNN primitives
    started = time.perf_counter()
    for _ in range(steps):
        function()
    return (time.perf_counter() - started) / steps


def shape_of(size):
    """(height, width) of an image of long edge ``size`` in the paper's 3:4."""
    return round(size * 0.75), size


def child_steps(steps, weights_spec, size):
    """In this process: (fmi SGD step, bare forward+backward step) seconds, and peak RSS."""
    import mxnet as mx
    import numpy as np

    from fmi.core import codes, invert, vgg19
    from fmi.files import weight_files

    height, width = shape_of(size)
    weights = weight_files.load(weights_spec)
    rng = np.random.default_rng(0)
    content = weights.preprocessing.preprocess(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    code = invert.extract(vgg19.VGG19(), weights, [DEEP_LAYER], content)[DEEP_LAYER]
    problem = invert.Problem([invert.Term(DEEP_LAYER)], vgg19.VGG19(), weights, (1, 3, height, width))
    problem.set_targets([codes.feature_map(code, 0)])
    initial = invert.initial_images((3, height, width), [0])
    settings = invert.SGD(max_steps=steps, stop_eps=0)
    invert.sgd(problem, initial, invert.SGD(max_steps=1))

    def fmi():
        started = time.perf_counter()
        invert.sgd(problem, initial, settings)
        return (time.perf_counter() - started) / steps

    fmi_rounds = [fmi()]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the other executors

    symbol = vgg19.build([DEEP_LAYER])
    args = {name: weights.params[name] for name in symbol.list_arguments() if name != "data"}
    args["data"] = mx.nd.array(initial)
    gradient = mx.nd.zeros(initial.shape)
    executor = symbol.bind(mx.cpu(), args, args_grad={"data": gradient},
                           grad_req={name: "write" if name == "data" else "null" for name in args})
    head = mx.nd.ones(executor.outputs[0].shape) if executor.outputs else None

    def bare():
        outputs = executor.forward()  # inference mode, as the authors and fmi run it
        executor.backward([head if head is not None else mx.nd.ones(outputs[0].shape)])
        gradient.wait_to_read()

    conv_peak = conv_peak_timer()
    bare_rounds, peak_rounds = [], []
    for round_ in range(ROUNDS):  # interleaved, so a machine that speeds up or slows down favours none
        bare_rounds.append(_timed(bare, steps))
        peak_rounds.append(conv_peak())
        if round_:
            fmi_rounds.append(fmi())
    return {"fmi_step": min(fmi_rounds), "bare_step": min(bare_rounds), "peak_rss_mib": peak,
            "conv_peak_gflops": max(peak_rounds), "threads": os.environ.get("OMP_NUM_THREADS")}


def child_default_threads(steps, weights_spec, size):
    """The same step with MXNet's own thread default: fmi sets numpy's aliases MXNet needs, then its
    thread settings are taken back before MXNet loads and reads them."""
    import fmi  # noqa: F401  (numpy's removed aliases, set back)

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.pop(variable, None)
    import mxnet  # noqa: F401  (loads with MXNet's default thread count)

    return child_steps(steps, weights_spec, size)


def lbfgs_against_sgd(weights_spec, size):
    """Wall time of SGD (authors' rule) and of L-BFGS to SGD's final loss, relu3_2 at ``size`` px."""
    from fmi.core import invert, preprocessing, vgg19
    from fmi.files import image_files, weight_files
    from fmi.run.interface import inputs

    weights = weight_files.load(weights_spec)
    source = image_files.read_rgb(inputs.resolve("sample:grace_hopper", "."))
    rgb = preprocessing.unit_to_uint8(preprocessing.resize(source, *preprocessing.content_size(*source.shape[:2],
                                                                                               size)))
    content = weights.preprocessing.preprocess(rgb)
    code = invert.extract(vgg19.VGG19(), weights, ["relu3_2"], content)["relu3_2"]
    problem = invert.Problem([invert.Term("relu3_2")], vgg19.VGG19(), weights, content.shape)
    problem.set_targets([code])
    initial = invert.initial_images(content.shape[1:], [0])
    invert.sgd(problem, initial, invert.SGD(max_steps=2))  # warm-up
    started = time.perf_counter()
    by_sgd = invert.sgd(problem, initial, invert.SGD())
    sgd_time = time.perf_counter() - started
    started = time.perf_counter()
    by_lbfgs = invert.lbfgs(problem, initial, invert.LBFGS(stop_eps=0), target_loss=by_sgd.losses[0][-1])
    lbfgs_time = time.perf_counter() - started
    return {"sgd_steps": by_sgd.steps[0], "sgd_s": sgd_time, "sgd_loss": by_sgd.losses[0][-1],
            "lbfgs_iterations": by_lbfgs.steps[0], "lbfgs_s": lbfgs_time,
            "lbfgs_loss": by_lbfgs.losses[0][-1], "lbfgs_stop": by_lbfgs.stop_reasons[0],
            "size": f"{rgb.shape[0]}x{rgb.shape[1]}"}


def in_child(mode, steps, weights_spec, size):
    command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--steps", str(steps),
               "--weights", weights_spec, "--size", str(size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--weights", default="auto", help="weights spec (timings do not depend on them)")
    parser.add_argument("--size", type=int, default=512, help="long edge of the timed step's image (3:4), px")
    parser.add_argument("--race-size", type=int, default=128, help="long edge of the SGD / L-BFGS race's image, px")
    parser.add_argument("--child", choices=("fmi", "default", "lbfgs"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run = {"fmi": child_steps, "default": child_default_threads,
               "lbfgs": lambda steps, spec, size: lbfgs_against_sgd(spec, size)}[args.child]
        if args.child != "default":
            import fmi  # noqa: F401  (sets fmi's threads before MXNet loads)
        print(json.dumps(run(args.steps, args.weights, args.size)))
        return 0

    from fmi.core import vgg19

    height, width = shape_of(args.size)
    ours = in_child("fmi", args.steps, args.weights, args.size)
    peak = ours  # timed in the same process, right after fmi's steps
    default = in_child("default", args.steps, args.weights, args.size)
    race = in_child("lbfgs", args.steps, args.weights, args.race_size)
    flops = 2 * vgg19.flops(DEEP_LAYER, height, width)
    results = {
        "overhead": ours["fmi_step"] / ours["bare_step"],
        "threads_speedup": default["fmi_step"] / ours["fmi_step"],
        "lbfgs_time_ratio": race["lbfgs_s"] / race["sgd_s"],
        "peak_rss_mib": ours["peak_rss_mib"],
        "gflops": flops / ours["fmi_step"] / 1e9,
    }
    results["peak_fraction"] = results["gflops"] / peak["conv_peak_gflops"]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; "
          f"fmi threads {ours['threads']}, MXNet default threads (OMP_NUM_THREADS unset)")
    print(f"{'measure':52} {'value':>10}")
    rows = [
        (f"fmi SGD step, {height}x{width} to {DEEP_LAYER} (s)", ours["fmi_step"]),
        ("bare executor forward+backward, same graph (s)", ours["bare_step"]),
        ("fmi SGD step with MXNet's default threads (s)", default["fmi_step"]),
        ("forward + input-gradient FLOPs (G)", flops / 1e9),
        (f"SGD to its stop rule, relu3_2 {race['size']}: steps", race["sgd_steps"]),
        ("  wall time (s)", race["sgd_s"]),
        ("L-BFGS to the same loss: iterations", race["lbfgs_iterations"]),
        ("  wall time (s)", race["lbfgs_s"]),
        (f"peak RSS of the {height}x{width} relu5_2 inversion (MiB)", ours["peak_rss_mib"]),
        (f"one 3x3 conv {PEAK_CHANNELS}->{PEAK_CHANNELS} at {PEAK_SIZE}x{PEAK_SIZE}, forward (GFLOP/s)",
         peak["conv_peak_gflops"]),
    ]
    for label, value in rows:
        print(f"{label:52} {value:10.3f}" if isinstance(value, float) else f"{label:52} {value:10d}")
    for name, value in results.items():
        if TARGETS[name] is None:
            print(f"{name:52} {value:10.3f}")
            continue
        relation, target = TARGETS[name]
        met = value <= target if relation == "<=" else value >= target
        print(f"{name:52} {value:10.3f}  target {relation} {target}: {'met' if met else 'NOT met'}")
    print(f"overhead={results['overhead']:.3f} threads_speedup={results['threads_speedup']:.2f} "
          f"lbfgs_time_ratio={results['lbfgs_time_ratio']:.2f} peak_rss_mib={results['peak_rss_mib']:.0f} "
          f"gflops={results['gflops']:.0f} conv_peak_gflops={peak['conv_peak_gflops']:.0f} "
          f"peak_fraction={results['peak_fraction']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
