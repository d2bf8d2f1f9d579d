"""Loss symbols whose input gradients are exactly the authors' (docs/method.md, "Losses").

Each function maps a layer's feature symbol F (N, C, H, W) and a target symbol to a
per-image loss (N,). ``normalise`` divides by the layer's size as the authors'
gradients do; it needs the layer's ``shape`` (C, H, W).

| term | loss per image | gradient wrt F |
|---|---|---|
| content | w/2 ||F - T||^2 [/ HW] | w (F - T) [/ HW] |
| channel_sum (PMCI) | w/2 ||F 1 - t||^2 [/ (C HW)] | w (F 1 - t) 1^T [/ (C HW)] |
| gram (Gatys) | w/4 ||F F^T - G||^2 [/ (C^2 HW)] | w (F F^T - G) F [/ (C^2 HW)] |
"""
import mxnet as mx
import numpy as np

LOSS_KINDS = ("content", "channel_sum", "gram")


def _scale(weight, normalise, shape, channel_power):
    if not normalise:
        return float(weight)
    if shape is None:
        raise ValueError("normalise=True needs the layer's shape (C, H, W)")
    channels, height, width = shape
    return float(weight) / (channels ** channel_power * height * width)


def content_loss(feature, target, weight=1.0, normalise=False, shape=None):
    """w/2 ||F - T||^2, divided by HW if ``normalise``; ``target`` is (N, C, H, W)."""
    squared = mx.sym.sum(mx.sym.square(feature - target), axis=(1, 2, 3))
    return squared * (0.5 * _scale(weight, normalise, shape, 0))


def channel_sums(feature):
    """Per-channel sums F 1 over all positions: (N, C, H, W) -> (N, C)."""
    return mx.sym.sum(feature, axis=(2, 3))


def channel_sum_loss(feature, target, weight=1.0, normalise=False, shape=None):
    """w/2 ||F 1 - t||^2, divided by C HW if ``normalise``; ``target`` is (N, C)."""
    squared = mx.sym.sum(mx.sym.square(channel_sums(feature) - target), axis=1)
    return squared * (0.5 * _scale(weight, normalise, shape, 1))


def gram(feature):
    """Gram matrices F F^T with F viewed as (C, HW): (N, C, H, W) -> (N, C, C)."""
    flat = mx.sym.reshape(feature, shape=(0, 0, -1))
    return mx.sym.batch_dot(flat, flat, transpose_b=True)


def gram_loss(feature, target, weight=1.0, normalise=False, shape=None):
    """w/4 ||F F^T - G||^2, divided by C^2 HW if ``normalise``; ``target`` is (N, C, C)."""
    squared = mx.sym.sum(mx.sym.square(gram(feature) - target), axis=(1, 2))
    return squared * (0.25 * _scale(weight, normalise, shape, 2))


LOSS_FUNCTIONS = {"content": content_loss, "channel_sum": channel_sum_loss, "gram": gram_loss}


def target_of(kind, code):
    """What a term compares against, computed from a target code (N, C, H, W) in numpy:
    the code itself, its channel sums (N, C), or its Gram matrices (N, C, C)."""
    code = np.asarray(code, dtype=np.float64)
    if kind == "content":
        summary = code
    elif kind == "channel_sum":
        summary = code.sum(axis=(2, 3))
    elif kind == "gram":
        flat = code.reshape(code.shape[0], code.shape[1], -1)
        summary = np.einsum("ncp,ndp->ncd", flat, flat)
    else:
        raise ValueError(f"unknown loss kind {kind!r}; use one of {', '.join(LOSS_KINDS)}")
    return summary.astype(np.float32)


def objective(per_image_losses):
    """Group the total loss (as ``MakeLoss``, gradient 1 per image) with each term's value.

    Outputs: [total (N,), term_0 (N,), term_1 (N,), ...]; only the total is differentiated.
    """
    total = per_image_losses[0]
    for term in per_image_losses[1:]:
        total = total + term
    outputs = [mx.sym.MakeLoss(total, name="loss")]
    outputs += [mx.sym.BlockGrad(term, name=f"term{i}") for i, term in enumerate(per_image_losses)]
    return mx.sym.Group(outputs)
