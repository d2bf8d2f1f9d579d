"""Each loss symbol's value and input gradient against numpy formulas (docs/method.md, "Losses") and
central finite differences, in float64."""
import mxnet as mx
import numpy as np
import pytest

from fmi.core import invert, losses, vgg19
from fmi.errors import FmiError

N, C, H, W = 2, 3, 4, 5
WEIGHT = 2.5


def numpy_value_and_gradient(kind, feature, target, normalise):
    flat = feature.reshape(N, C, H * W)
    if kind == "content":
        scale = WEIGHT / (H * W) if normalise else WEIGHT
        value = 0.5 * scale * ((feature - target) ** 2).sum(axis=(1, 2, 3))
        gradient = scale * (feature - target)
    elif kind == "channel_sum":
        scale = WEIGHT / (C * H * W) if normalise else WEIGHT
        residual = flat.sum(axis=2) - target  # (N, C): F 1 - t
        value = 0.5 * scale * (residual ** 2).sum(axis=1)
        gradient = scale * residual[:, :, None] * np.ones((1, 1, H * W))  # (F 1 - t) 1^T
    else:
        scale = WEIGHT / (C * C * H * W) if normalise else WEIGHT
        residual = np.einsum("ncp,ndp->ncd", flat, flat) - target  # G - G_s
        value = 0.25 * scale * (residual ** 2).sum(axis=(1, 2))
        gradient = scale * np.einsum("ncd,ndp->ncp", residual, flat)  # (G - G_s) F
    return value, gradient.reshape(N, C, H, W)


def bind(kind, target, normalise):
    feature = mx.sym.Variable("feature")
    extra = {"batch": N} if kind == "gram" else {}
    term = losses.LOSS_FUNCTIONS[kind](feature, mx.sym.Variable("target"), weight=WEIGHT,
                                       normalise=normalise, shape=(C, H, W), **extra)
    symbol = losses.objective([term], [feature])
    args = {"feature": mx.nd.zeros((N, C, H, W), dtype="float64"),
            "target": mx.nd.array(target, dtype="float64")}
    return symbol.bind(mx.cpu(), args, args_grad={"feature": mx.nd.zeros((N, C, H, W), dtype="float64")},
                       grad_req={"feature": "write", "target": "null"})


def evaluate(executor, feature):
    executor.arg_dict["feature"][:] = feature
    outputs = executor.forward(is_train=False)
    executor.backward()
    return outputs[1].asnumpy(), outputs[2].asnumpy(), executor.grad_dict["feature"].asnumpy()


def make_case(kind, seed=0):
    rng = np.random.default_rng(seed)
    feature = rng.uniform(0, 2, (N, C, H, W))
    style = rng.uniform(0, 2, (N, C, H, W))
    return feature, losses.target_of(kind, style).astype(np.float64)


@pytest.mark.parametrize("normalise", [False, True])
@pytest.mark.parametrize("kind", losses.LOSS_KINDS)
def test_value_and_gradient_match_numpy(kind, normalise):
    feature, target = make_case(kind)
    total, term, gradient = evaluate(bind(kind, target, normalise), feature)
    value, expected_gradient = numpy_value_and_gradient(kind, feature, target, normalise)
    np.testing.assert_allclose(total, value, rtol=1e-10)
    np.testing.assert_allclose(term, value, rtol=1e-10)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("normalise", [False, True])
@pytest.mark.parametrize("kind", losses.LOSS_KINDS)
def test_gradient_matches_finite_differences(kind, normalise):
    feature, target = make_case(kind, seed=1)
    executor = bind(kind, target, normalise)
    gradient = evaluate(executor, feature)[2].copy()
    rng = np.random.default_rng(2)
    step = 1e-5
    for _ in range(6):
        index = tuple(rng.integers(0, size) for size in (N, C, H, W))
        shifted = feature.copy()
        shifted[index] += step
        plus = evaluate(executor, shifted)[0].sum()
        shifted[index] -= 2 * step
        minus = evaluate(executor, shifted)[0].sum()
        assert (plus - minus) / (2 * step) == pytest.approx(gradient[index], rel=1e-6, abs=1e-9)


def test_spec_scalings_differ_by_the_layer_size():
    """Normalisation divides by HW (content), C HW (channel sums), C^2 HW (Gram)."""
    for kind, divisor in [("content", H * W), ("channel_sum", C * H * W), ("gram", C * C * H * W)]:
        feature, target = make_case(kind)
        raw = evaluate(bind(kind, target, False), feature)[0]
        scaled = evaluate(bind(kind, target, True), feature)[0]
        np.testing.assert_allclose(raw / divisor, scaled, rtol=1e-12)


def test_target_summaries():
    code = np.random.default_rng(0).random((1, 3, 2, 2))
    np.testing.assert_allclose(losses.target_of("channel_sum", code), code.sum(axis=(2, 3)), rtol=1e-6)
    flat = code[0].reshape(3, 4)
    np.testing.assert_allclose(losses.target_of("gram", code)[0], flat @ flat.T, rtol=1e-6)
    with pytest.raises(FmiError, match="unknown loss kind"):
        losses.target_of("histogram", code)


def test_combined_pmci_objective_falls(random_weights):
    """Content at relu2_2 plus channel-sum style at relu1_1 and relu2_1, both normalised."""
    rng = np.random.default_rng(0)
    shape = (3, 16, 20)
    content = rng.uniform(-80, 80, (1,) + shape).astype(np.float32)
    style = rng.uniform(-80, 80, (1,) + shape).astype(np.float32)
    terms = [invert.Term("relu2_2", "content", 10.0, True),
             invert.Term("relu1_1", "channel_sum", 1.0, True),
             invert.Term("relu2_1", "channel_sum", 1.0, True)]
    content_codes = invert.extract(vgg19.VGG19(), random_weights, ["relu2_2"], content)
    style_codes = invert.extract(vgg19.VGG19(), random_weights, ["relu1_1", "relu2_1"], style)
    problem = invert.Problem(terms, vgg19.VGG19(), random_weights, (1,) + shape)
    problem.set_targets([content_codes["relu2_2"], style_codes["relu1_1"], style_codes["relu2_1"]])
    result = invert.sgd(problem, invert.initial_images(shape, [0]),
                        invert.SGD(weight_decay=5e-3, max_steps=20))
    history = np.array(result.term_losses[0])
    assert result.losses[0][-1] < 0.9 * result.losses[0][0]
    np.testing.assert_allclose(history.sum(axis=1), result.losses[0], rtol=1e-5)
