import json
import os
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from conftest import isa_levels

from fmi.core import codes, invert, vgg19
from fmi.errors import FmiError
from fmi.run.machine import facts as machine

SHAPE = (3, 20, 24)


@pytest.fixture(scope="module")
def content():
    return np.random.default_rng(3).uniform(-80, 80, (1,) + SHAPE).astype(np.float32)


def reconstruction(weights, content, layer):
    """A batch-1 problem whose target is the content image's own code at ``layer``."""
    problem = invert.Problem([invert.Term(layer)], vgg19.VGG19(), weights, (1,) + SHAPE)
    problem.set_targets([invert.extract(vgg19.VGG19(), weights, [layer], content)[layer]])
    return problem


def fmi_problem(weights, content, filters, layer="relu2_1"):
    code = invert.extract(vgg19.VGG19(), weights, [layer], content)[layer]
    problem = invert.Problem([invert.Term(layer)], vgg19.VGG19(), weights, (len(filters),) + SHAPE)
    problem.set_targets([np.concatenate([codes.feature_map(code, f) for f in filters])])
    return problem


def test_loss_value_matches_numpy_and_gradient_is_f_minus_t(random_weights, content):
    layer = "relu2_1"
    problem = fmi_problem(random_weights, content, [1])
    x = invert.initial_images(SHAPE, [7])
    total, terms, gradient = problem.evaluate(x)
    gradient = gradient.asnumpy()
    feature = invert.extract(vgg19.VGG19(), random_weights, [layer], x)[layer]
    target = codes.feature_map(invert.extract(vgg19.VGG19(), random_weights, [layer], content)[layer], 1)
    expected = 0.5 * np.sum((feature.astype(np.float64) - target) ** 2)
    assert total[0] == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(terms[:, 0], total[:1], rtol=1e-6)

    # independently: feed F - T as the head gradient of the bare network, as the authors did
    symbol = vgg19.build([layer])
    args = {name: random_weights.params[name] for name in symbol.list_arguments() if name != "data"}
    args["data"] = mx.nd.array(x)
    head = symbol.bind(mx.cpu(), args, args_grad={"data": mx.nd.zeros(x.shape)},
                       grad_req={name: "write" if name == "data" else "null" for name in args})
    head.forward()  # as the authors call it: inference mode
    head.backward([mx.nd.array(feature - target)])
    np.testing.assert_allclose(gradient, head.grad_dict["data"].asnumpy(), rtol=1e-4, atol=1e-2)


def test_gradient_matches_finite_differences(random_weights, content):
    """Near the content image with its own code as target, the loss is small enough for float32."""
    layer = "relu1_2"
    problem = reconstruction(random_weights, content, layer)
    rng = np.random.default_rng(0)
    x = (content + rng.uniform(-2, 2, content.shape)).astype(np.float32)
    gradient = problem.evaluate(x)[2].asnumpy().astype(np.float64)
    direction = rng.standard_normal(x.shape).astype(np.float32)
    step = 1e-2
    plus = float(problem.evaluate(x + step * direction)[0][0])
    minus = float(problem.evaluate(x - step * direction)[0][0])
    assert (plus - minus) / (2 * step) == pytest.approx(float(np.sum(gradient * direction)), rel=1e-2)


def test_sgd_is_mxnet_optimizer_to_the_last_bit(random_weights, content):
    """Our update is MXNet's own SGD with momentum, weight decay, clipping and the factor
    schedule, as the authors call it, over 60 steps (six learning rates)."""
    settings = invert.SGD(max_steps=60, stop_eps=1e-12)
    ours = invert.sgd(fmi_problem(random_weights, content, [0]), invert.initial_images(SHAPE, [0]), settings)

    problem = fmi_problem(random_weights, content, [0])
    optimizer = mx.optimizer.SGD(
        learning_rate=settings.learning_rate, momentum=settings.momentum, wd=settings.weight_decay,
        clip_gradient=settings.clip_gradient,
        lr_scheduler=mx.lr_scheduler.FactorScheduler(step=settings.lr_step, factor=settings.lr_factor))
    image = mx.nd.array(invert.initial_images(SHAPE, [0]))
    state = optimizer.create_state(0, image)
    for _ in range(60):
        gradient = problem.evaluate(image)[2]
        optimizer.update(0, image, gradient, state)
    np.testing.assert_array_equal(ours.images, image.asnumpy())
    assert ours.steps == [60] and ours.stop_reasons == ["max_steps"]


def test_learning_rate_schedule():
    settings = invert.SGD()
    assert [settings.learning_rate_at(s) for s in (1, 10, 11, 20, 21)] == pytest.approx(
        [0.1, 0.1, 0.09, 0.09, 0.081])


def test_loss_falls(random_weights, content):
    problem = fmi_problem(random_weights, content, [0, 3])
    result = invert.sgd(problem, invert.initial_images(SHAPE, [0, 0]), invert.SGD(max_steps=15))
    for history in result.losses:
        assert history[-1] < 0.99 * history[0]


def test_batch_equals_single_runs(random_weights, content):
    filters = [0, 2, 5]
    settings = invert.SGD(max_steps=12)
    batch = invert.sgd(fmi_problem(random_weights, content, filters),
                       invert.initial_images(SHAPE, [4] * 3), settings)
    for index, f in enumerate(filters):
        single = invert.sgd(fmi_problem(random_weights, content, [f]),
                            invert.initial_images(SHAPE, [4]), settings)
        np.testing.assert_allclose(batch.images[index], single.images[0], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(batch.losses[index], single.losses[0], rtol=1e-4)


def test_stop_rule_stops_each_image_on_its_own(random_weights, content):
    problem = fmi_problem(random_weights, content, [0, 1])
    seen = []
    result = invert.sgd(problem, invert.initial_images(SHAPE, [0, 0]), invert.SGD(stop_eps=0.05),
                        callbacks=[seen.append])
    assert result.stop_reasons == ["converged", "converged"]
    assert seen[-1].step == max(result.steps) and not seen[-1].active.any()
    for state in seen:
        assert state.change.shape == (2,)


def test_non_finite_loss_stops_that_image(random_weights, content):
    problem = fmi_problem(random_weights, content, [0, 1])
    target = problem.executor.arg_dict["target0"]
    values = target.asnumpy()
    values[1, 0, 0, 0] = np.inf
    target[:] = values
    result = invert.sgd(problem, invert.initial_images(SHAPE, [0, 0]), invert.SGD(max_steps=5))
    assert result.stop_reasons == ["max_steps", "non-finite loss at step 1"]
    assert result.steps == [5, 0]


def test_initial_images_are_seeded_uniform():
    images = invert.initial_images((3, 8, 8), [1, 1, 2])
    assert images.shape == (3, 3, 8, 8) and images.dtype == np.float32
    assert np.abs(images).max() <= 0.1
    np.testing.assert_array_equal(images[0], images[1])
    assert not np.array_equal(images[0], images[2])


def test_image_too_small_for_layer(random_weights):
    with pytest.raises(FmiError, match=r"image 12x40 is too small for relu5_2: it needs at least 16 px"):
        invert.Problem([invert.Term("relu5_2")], vgg19.VGG19(), random_weights, (1, 3, 12, 40))


# --- L-BFGS ------------------------------------------------------------------------------------

def test_lbfgs_reaches_a_lower_loss_than_sgd_in_as_many_steps(random_weights, content):
    layer = "relu2_1"
    problem = reconstruction(random_weights, content, layer)
    start = invert.initial_images(SHAPE, [0])
    by_sgd = invert.sgd(problem, start, invert.SGD(max_steps=30, stop_eps=0))
    by_lbfgs = invert.lbfgs(problem, start, invert.LBFGS(max_steps=30, stop_eps=0))
    assert by_lbfgs.losses[0][-1] < 0.5 * by_sgd.losses[0][-1]
    # the recorded loss is the network loss at the returned image
    final = problem.evaluate(by_lbfgs.images)[0][0]
    assert final == pytest.approx(by_lbfgs.losses[0][-1], rel=1e-4)
    assert by_lbfgs.images.shape == (1,) + SHAPE and by_lbfgs.images.dtype == np.float32


def test_lbfgs_stops_at_target_loss_and_reports_each_iteration(random_weights, content):
    layer = "relu1_2"
    problem = reconstruction(random_weights, content, layer)
    start = invert.initial_images(SHAPE, [0])
    initial_loss = problem.evaluate(start)[0][0]
    seen = []
    result = invert.lbfgs(problem, start, invert.LBFGS(stop_eps=0), callbacks=[seen.append],
                          target_loss=0.01 * initial_loss)
    assert result.stop_reasons == ["target loss reached"]
    assert result.losses[0][-1] <= 0.01 * initial_loss < result.losses[0][-2]
    assert [state.step for state in seen] == list(range(1, result.steps[0] + 1))
    assert not seen[-1].active.any() and seen[0].active.all()


def test_lbfgs_minimises_loss_plus_weight_decay(random_weights, content):
    """With a huge weight decay the optimum is pulled toward x = 0."""
    layer = "relu1_1"
    problem = reconstruction(random_weights, content, layer)
    start = invert.initial_images(SHAPE, [0])
    free = invert.lbfgs(problem, start, invert.LBFGS(max_steps=20, weight_decay=0.0, stop_eps=0))
    decayed = invert.lbfgs(problem, start, invert.LBFGS(max_steps=20, weight_decay=1e3, stop_eps=0))
    assert np.linalg.norm(decayed.images) < 0.2 * np.linalg.norm(free.images)


def test_lbfgs_needs_batch_one(random_weights):
    problem = invert.Problem([invert.Term("relu1_1")], vgg19.VGG19(), random_weights, (2,) + SHAPE)
    with pytest.raises(FmiError, match="one image at a time"):
        invert.lbfgs(problem, invert.initial_images(SHAPE, [0, 0]))


def test_stopped_images_leave_the_batch(random_weights, content):
    """Images that stop early leave the executor; the rest match their single runs."""
    filters = [0, 1, 4]
    settings = invert.SGD(stop_eps=0.02, max_steps=200)
    problem = fmi_problem(random_weights, content, filters)
    sizes = []
    evaluate = problem.evaluate
    problem.evaluate = lambda images: sizes.append(images.shape[0]) or evaluate(images)
    batch = invert.sgd(problem, invert.initial_images(SHAPE, [2] * 3), settings)
    assert len(set(batch.steps)) > 1, "the test needs images that stop at different steps"
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < 3
    assert sum(sizes) == sum(batch.steps)  # each image costs exactly its own steps
    for index, f in enumerate(filters):
        single = invert.sgd(fmi_problem(random_weights, content, [f]), invert.initial_images(SHAPE, [2]), settings)
        assert single.steps[0] == batch.steps[index]
        np.testing.assert_allclose(batch.images[index], single.images[0], rtol=1e-3, atol=1e-3)


def kernel_path_check(isa, problems=(), training_mode=False):
    """tests/core/kernel_paths.py run under DNNL_MAX_CPU_ISA=isa (None: oneDNN's own choice), one thread."""
    environment = {name: value for name, value in os.environ.items() if name != "DNNL_MAX_CPU_ISA"}
    environment.update(OMP_NUM_THREADS="1", FMI_THREADS="1", **({"DNNL_MAX_CPU_ISA": isa} if isa else {}))
    command = [sys.executable, str(Path(__file__).parent / "kernel_paths.py"), *problems]
    done = subprocess.run(command + (["--training-mode"] if training_mode else []), env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loss_and_gradient_are_the_authors_way_bit_for_bit_on_every_kernel_path():
    """fmi drives MXNet as the authors' scripts do (an inference-mode forward, then the backward pass
    with their gradients), so on every instruction set oneDNN can use on this CPU, fmi's loss and image
    gradient for a batch equal bit for bit those of their plain executor run image by image: content
    terms at three depths (Fig. 3, Fig. 4), PMCI and Gatys (Fig. 5)."""
    paths = isa_levels() + [None]
    for isa in paths:
        found = kernel_path_check(isa)
        kernels_agree = found.pop("fully_connected_kernels_agree")
        for problem, result in found.items():
            assert result["loss"], (isa or "oneDNN's choice", problem, result)
            if problem == "gatys" and not kernels_agree:
                # where FullyConnected's forward and backward-data kernels round differently (measured here:
                # oneDNN's AVX2 path), fmi's Gram gradient is theirs up to float32 rounding
                assert result["largest_difference"] <= 1e-5 * result["largest_gradient"], (isa, result)
            else:
                assert result["gradient"], (isa or "oneDNN's choice", problem, result)


@pytest.mark.skipif(not {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(machine.cpu()[1]),
                    reason="only a CPU with AVX-512 shows training-mode kernels that differ (this one has none)")
def test_the_kernel_path_check_fails_for_a_training_mode_forward():
    """The check above can fail: with the training-mode forward fmi used before, oneDNN's AVX-512 kernels
    give another gradient (measured here: up to 6e-4 at relu1_2), while its AVX2 kernels agree."""
    problem = "content relu1_2"
    assert not kernel_path_check(None, [problem], training_mode=True)[problem]["gradient"]
    assert kernel_path_check("AVX2", [problem], training_mode=True)[problem]["gradient"]


def test_a_nonfinite_image_stops_its_cell_with_the_last_finite_image(random_weights):
    shape = (3, 16, 16)
    start = invert.initial_images(shape, [0])
    code = invert.extract(vgg19.VGG19(), random_weights, ["relu1_1"], start * 50)["relu1_1"]
    problem = invert.Problem([invert.Term("relu1_1")], vgg19.VGG19(), random_weights, (1,) + shape)
    problem.set_targets([code])
    result = invert.sgd(problem, start, invert.SGD(learning_rate=1e38, max_steps=5))
    assert result.stop_reasons == ["non-finite image at step 1"]
    np.testing.assert_array_equal(result.images, start)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_the_image_gradient_is_the_loss_s_directional_derivative_with_either_pooling(random_weights, pooling):
    """Along random directions, g . v matches the loss's central difference. With max pooling this needs the
    training-mode forward pass: after an inference-mode pass MXNet 1.9.1's max-pooling gradient was off by
    more than the gradient itself (measured: g . v of -45.6 against a difference of 267.5)."""
    network = vgg19.VGG19(pooling)
    rng = np.random.default_rng(5)
    x = rng.normal(0, 30, (1, 3, 8, 8))
    code = invert.extract(network, random_weights, ["relu2_1"], x.astype(np.float32))["relu2_1"]
    problem = invert.Problem([invert.Term("relu2_1")], network, random_weights, x.shape)
    problem.set_targets([rng.uniform(0, 1, code.shape).astype(np.float32)])
    gradient = problem.evaluate(x.astype(np.float32))[2].asnumpy().astype(np.float64)
    for _ in range(3):
        direction = rng.normal(0, 1, x.shape)
        up, down = (problem.evaluate((x + sign * 5e-3 * direction).astype(np.float32))[0][0] for sign in (1, -1))
        assert float(up - down) / 1e-2 == pytest.approx(float((gradient * direction).sum()), rel=0.05)
