"""The loss terms as hand-written symbols: each term's loss and its gradient (docs/method.md, "Losses").

Each function maps a layer's feature symbol F (N, C, H, W) and a target symbol to a ``TermSymbols``:
the per-image loss (N,) and the gradient with respect to F. ``normalise`` divides by the layer's
size as the authors' gradients do; ``shape`` is the layer's (C, H, W).

    term                 loss per image                    gradient wrt F, as the authors compute it
    content              w/2 ||F - T||^2 [/ HW]            ((F - T) [/ HW]) * w
    channel_sum (PMCI)   w/2 ||F 1 - t||^2 [/ (C HW)]      ((F 1 - t) 1^T [/ (C HW)]) * w; F 1 = F times ones
    gram (Gatys)         w/4 ||F F^T - G||^2 [/ (C^2 HW)]  (((F F^T - G) F) [/ (C^2 HW)]) * w; by FullyConnected

The authors compute these gradients by hand and pass them to the network's ``backward``; the
gradient symbols here are their operations in their order (a division then a multiplication,
the same MXNet operators), so the gradient that reaches the network equals theirs to the last
bit. ``objective`` feeds each gradient to the network through sum(F * BlockGrad(gradient)),
whose derivative with respect to F is that gradient exactly. The gradients are those of the
losses in the table (tests/core/test_losses.py checks them against finite differences).
"""
from collections.abc import Sequence
from dataclasses import dataclass

import mxnet as mx
import numpy as np
import numpy.typing as npt

from fmi.core.terms import LOSS_KINDS
from fmi.errors import FmiError

Shape = tuple[int, int, int]  # a layer's (C, H, W)


@dataclass(frozen=True)
class TermSymbols:
    """One term of the objective: its loss per image (N,) and its gradient with respect to F (N, C, H, W)."""

    loss: mx.sym.Symbol
    gradient: mx.sym.Symbol


def _size(shape: Shape, channel_power: int) -> float:
    channels, height, width = shape
    return float(channels ** channel_power * height * width)


def _authors_scaling(gradient: mx.sym.Symbol, weight: float, normalise: bool, shape: Shape,
                     channel_power: int) -> mx.sym.Symbol:
    """``gradient`` divided by the layer's size (if ``normalise``), then times ``weight``, in the
    authors' order; a weight of 1 multiplies nothing, as their ``*= 1`` changes nothing."""
    if normalise:
        gradient = gradient / _size(shape, channel_power)
    return gradient * float(weight) if float(weight) != 1.0 else gradient


def _loss_scale(weight: float, normalise: bool, shape: Shape, channel_power: int, half: float) -> float:
    return half * float(weight) / (_size(shape, channel_power) if normalise else 1.0)


def content_loss(feature: mx.sym.Symbol, target: mx.sym.Symbol, shape: Shape, weight: float = 1.0,
                 normalise: bool = False) -> TermSymbols:
    """w/2 ||F - T||^2, divided by HW if ``normalise``; ``target`` is (N, C, H, W)."""
    residual = feature - target
    loss = mx.sym.sum(mx.sym.square(residual), axis=(1, 2, 3)) * _loss_scale(weight, normalise, shape, 0, 0.5)
    return TermSymbols(loss, _authors_scaling(residual, weight, normalise, shape, 0))


def channel_sum_loss(feature: mx.sym.Symbol, target: mx.sym.Symbol, shape: Shape, weight: float = 1.0,
                     normalise: bool = False) -> TermSymbols:
    """w/2 ||F 1 - t||^2, divided by C HW if ``normalise``; ``target`` is (N, C).

    F 1 is a matrix product with a column of ones, as the authors' ``mx.nd.dot(F, ones)``; their
    product of the residual with a row of ones copies each channel's value to its positions."""
    channels, height, width = shape
    flat = mx.sym.reshape(feature, shape=(-1, height * width))
    ones = mx.sym.transpose(mx.sym.ones_like(mx.sym.slice(flat, begin=(0, None), end=(1, None))))  # (HW, 1)
    sums = mx.sym.dot(flat, ones)
    residual = sums - mx.sym.reshape(target, shape=(-1, 1))  # (N C, 1)
    loss = mx.sym.sum(mx.sym.reshape(mx.sym.square(residual), shape=(-1, channels)), axis=1)
    spread = mx.sym.reshape(mx.sym.broadcast_to(residual, shape=(0, height * width)), shape=(-1, channels, height,
                                                                                             width))
    return TermSymbols(loss * _loss_scale(weight, normalise, shape, 1, 0.5),
                       _authors_scaling(spread, weight, normalise, shape, 1))


def gram(flat: mx.sym.Symbol, channels: int) -> mx.sym.Symbol:
    """The Gram matrix F F^T of one image's code viewed as (C, HW), by FullyConnected as the authors
    compute it (the code is both the data and the weight)."""
    return mx.sym.FullyConnected(data=flat, weight=flat, num_hidden=channels, no_bias=True)


def gram_loss(feature: mx.sym.Symbol, target: mx.sym.Symbol, shape: Shape, weight: float = 1.0,
              normalise: bool = False, batch: int = 1) -> TermSymbols:
    """w/4 ||F F^T - G||^2, divided by C^2 HW if ``normalise``; ``target`` is (N, C, C).

    FullyConnected works on one image at a time, so a batch of ``batch`` images is split. The
    gradient (F F^T - G) F is FullyConnected with the residual as data and F^T as weight: the
    arithmetic of the authors' FullyConnected backward pass, bit for bit."""
    channels, height, width = shape
    features = mx.sym.split(feature, num_outputs=batch, axis=0, squeeze_axis=True) if batch > 1 else [feature]
    targets = mx.sym.split(target, num_outputs=batch, axis=0, squeeze_axis=True) if batch > 1 else [target]
    losses, gradients = [], []
    for image_feature, image_target in zip(features, targets):
        flat = mx.sym.reshape(image_feature, shape=(channels, height * width))
        residual = gram(flat, channels) - mx.sym.reshape(image_target, shape=(channels, channels))
        product = mx.sym.FullyConnected(data=residual, weight=mx.sym.transpose(flat), num_hidden=height * width,
                                        no_bias=True)
        losses.append(mx.sym.reshape(mx.sym.sum(mx.sym.square(residual)), shape=(1,)))
        gradients.append(mx.sym.reshape(product, shape=(1, channels, height, width)))
    loss = mx.sym.concat(*losses, dim=0) if batch > 1 else losses[0]
    gradient = mx.sym.concat(*gradients, dim=0) if batch > 1 else gradients[0]
    return TermSymbols(loss * _loss_scale(weight, normalise, shape, 2, 0.25),
                       _authors_scaling(gradient, weight, normalise, shape, 2))


LOSS_FUNCTIONS = {"content": content_loss, "channel_sum": channel_sum_loss, "gram": gram_loss}


def target_of(kind: str, code: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """What a term compares against, from a target code (N, C, H, W), each image's computed with the
    authors' MXNet operators in float32: the code itself, its channel sums (N, C) (their
    ``mx.nd.sum`` over axes 0, 2, 3), or its Gram matrices (N, C, C) (their FullyConnected)."""
    code = np.asarray(code, dtype=np.float32)
    if kind == "content":
        return code
    if kind not in LOSS_FUNCTIONS:
        raise FmiError(f"unknown loss kind {kind!r}; use one of {', '.join(LOSS_KINDS)}")
    summaries = []
    for image in code:
        image = mx.nd.array(image[np.newaxis])
        if kind == "channel_sum":
            summaries.append(mx.nd.sum(image, axis=(0, 2, 3)).asnumpy())
        else:
            flat = image.reshape((code.shape[1], -1))
            summaries.append(mx.nd.FullyConnected(flat, flat, num_hidden=code.shape[1], no_bias=True).asnumpy())
    return np.stack(summaries)


def objective(terms: Sequence[TermSymbols], features: Sequence[mx.sym.Symbol]) -> mx.sym.Symbol:
    """The network's objective from ``terms`` (``TermSymbols``) at ``features`` (their layers' symbols).

    Outputs: [the objective differentiated (N,), the total loss (N,), term_0 (N,), term_1 (N,), ...].
    The first is sum(F * BlockGrad(gradient)) over the terms, so the backward pass hands each term's
    gradient to its layer unchanged; its value is not a loss and is never read.
    """
    driven, total = None, None
    for term, feature in zip(terms, features):
        part = mx.sym.sum(feature * mx.sym.BlockGrad(term.gradient), axis=(1, 2, 3))
        driven = part if driven is None else driven + part
        total = term.loss if total is None else total + term.loss
    outputs = [mx.sym.MakeLoss(driven, name="objective"), mx.sym.BlockGrad(total, name="loss")]
    outputs += [mx.sym.BlockGrad(term.loss, name=f"term{i}") for i, term in enumerate(terms)]
    return mx.sym.Group(outputs)
