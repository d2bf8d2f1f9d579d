"""Code inversion: find images whose codes (VGG-19's, or any ``Network``'s) match given targets.

A ``Problem`` binds one MXNet executor for a batch of N images and a list of loss
``Term``s; ``sgd`` runs the authors' optimiser on it (docs/method.md, "Optimiser and stop rule"), stopping each
image on its own by the relative-change rule. Nothing here prints or saves: progress
and snapshots are callbacks.
"""
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import mxnet as mx
import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from fmi.core import losses
from fmi.core.network import Network
from fmi.core.optimizers import LBFGS, SGD
from fmi.core.terms import Term
from fmi.errors import FmiError

Array = npt.NDArray[np.float32]
Weights = Any  # fmi.files.weight_files.Weights: its params (name -> NDArray), read here only by name


@dataclass
class Result:
    """Inverted images (N, 3, H, W), and per image: its loss history, steps taken, why it stopped."""

    images: Array
    losses: list[list[float]]
    steps: list[int]
    stop_reasons: list[str]
    term_losses: list[list[list[float]]] = field(default_factory=list)


@dataclass
class StepState:
    """What a callback sees after each step.

    ``loss``, ``change`` and ``active`` have one entry per image of the run (NaN for images
    that had stopped before this step); ``images`` holds this step's images, one row per
    entry of ``running`` (their indices in the run): an NDArray under SGD, numpy under L-BFGS.
    """

    step: int
    images: Any
    loss: npt.NDArray[np.float64]
    change: npt.NDArray[np.float64]
    active: npt.NDArray[np.bool_]
    running: npt.NDArray[np.int64]


def _bind_params(weights: Weights, context: Any, names: Sequence[str]) -> dict[str, Any]:
    missing = [name for name in names if name not in weights.params]
    if missing:
        raise FmiError(f"the weights ({weights.label}) lack {len(missing)} parameter(s) of the network, e.g. "
                       f"{missing[0]!r}: are they this network's?")
    return {name: weights.params[name].as_in_context(context) for name in names}


def _auxiliary(symbol: Any, weights: Weights, context: Any) -> dict[str, Any]:
    """The symbol's auxiliary states (BatchNorm's moving statistics), from the weights."""
    return _bind_params(weights, context, symbol.list_auxiliary_states())


def extract(network: Network, weights: Weights, layers: Sequence[str], images: npt.ArrayLike,
            context: Any = None) -> dict[str, Array]:
    """Codes of ``images`` (N, 3, H, W, preprocessed) at ``layers`` of ``network``: {layer: (N, C, h, w)}."""
    context = context or mx.cpu()
    array = np.asarray(images, dtype=np.float32)
    network.check_input_size(layers, *array.shape[2:])
    symbol = network.build(layers)
    args = _bind_params(weights, context, [n for n in symbol.list_arguments() if n != "data"])
    args["data"] = mx.nd.array(array, ctx=context)
    executor = symbol.bind(context, args, grad_req="null", aux_states=_auxiliary(symbol, weights, context))
    outputs = executor.forward(is_train=False)
    return {layer: output.asnumpy() for layer, output in zip(layers, outputs)}


class Problem:
    """The loss and its image gradient for a batch of images, in one executor."""

    def __init__(self, terms: Sequence[Term], network: Network, weights: Weights, batch_shape: Sequence[int],
                 context: Any = None) -> None:
        self.terms = list(terms)
        if not self.terms:
            raise FmiError("an inversion needs at least one loss term")
        for term in self.terms:
            if term.kind not in losses.LOSS_FUNCTIONS:
                raise FmiError(f"unknown loss kind {term.kind!r}; use one of {', '.join(losses.LOSS_KINDS)}")
        self.network, self.weights, self.context = network, weights, context or mx.cpu()
        layers = list(dict.fromkeys(term.layer for term in self.terms))
        network.check_input_size(layers, *batch_shape[2:])
        self.target_names = [f"target{index}" for index in range(len(self.terms))]
        self._bind(tuple(batch_shape))

    def _bind(self, batch_shape: tuple[int, ...]) -> None:
        """Build the objective for a batch of ``batch_shape`` (N, 3, H, W) and bind its executor."""
        self.batch_shape = batch_shape
        batch, height, width = batch_shape[0], batch_shape[2], batch_shape[3]
        layers = list(dict.fromkeys(term.layer for term in self.terms))
        features = dict(zip(layers, self.network.build(layers)))
        built: list[losses.TermSymbols] = []
        self.target_shapes: dict[str, tuple[int, ...]] = {}
        for name, term in zip(self.target_names, self.terms):
            shape = (self.network.channels(term.layer),) + self.network.output_size(term.layer, height, width)
            extra = {"batch": batch} if term.kind == "gram" else {}
            built.append(losses.LOSS_FUNCTIONS[term.kind](features[term.layer], mx.sym.Variable(name), shape,
                                                          weight=term.weight, normalise=term.normalise, **extra))
            self.target_shapes[name] = {"content": (batch,) + shape, "channel_sum": (batch, shape[0]),
                                        "gram": (batch, shape[0], shape[0])}[term.kind]
        self.symbol = losses.objective(built, [features[term.layer] for term in self.terms])
        args = _bind_params(self.weights, self.context, [
            name for name in self.symbol.list_arguments() if name != "data" and name not in self.target_shapes])
        args["data"] = mx.nd.zeros(batch_shape, ctx=self.context)
        for name, target_shape in self.target_shapes.items():
            args[name] = mx.nd.zeros(target_shape, ctx=self.context)
        self.gradient = mx.nd.zeros(batch_shape, ctx=self.context)
        grad_req = {name: "null" for name in args}
        grad_req["data"] = "write"
        self.executor = self.symbol.bind(self.context, args, args_grad={"data": self.gradient}, grad_req=grad_req,
                                         aux_states=_auxiliary(self.symbol, self.weights, self.context))

    def keep(self, rows: npt.ArrayLike) -> None:
        """Shrink the batch to ``rows`` (indices into the current batch), keeping their targets.

        The objective is built again for the smaller batch (the Gram term splits it image by image).
        """
        kept = np.asarray(rows)
        targets = {name: self.executor.arg_dict[name].asnumpy()[kept] for name in self.target_names}
        self._bind((kept.size,) + self.batch_shape[1:])
        for name, value in targets.items():
            self.executor.arg_dict[name][:] = value

    def set_targets(self, codes: Sequence[npt.ArrayLike]) -> None:
        """Set the targets from one target code (N, C, h, w) per term, in term order."""
        if len(codes) != len(self.terms):
            raise FmiError(f"expected {len(self.terms)} target codes, got {len(codes)}")
        for name, term, code in zip(self.target_names, self.terms, codes):
            target = losses.target_of(term.kind, code)
            if target.shape != self.target_shapes[name]:
                raise FmiError(f"target for {term.layer} ({term.kind}) has shape {target.shape}, "
                                 f"expected {self.target_shapes[name]}")
            self.executor.arg_dict[name][:] = target

    def evaluate(self, images: Any) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], Any]:
        """Loss per image (N,), each term's loss (terms, N), and the gradient NDArray (N, 3, H, W).

        The gradient array is reused by the next call. The forward pass runs in inference mode,
        as the authors' ``executor.forward()`` does: VGG-19 has no layer that trains differently,
        but on CPUs with AVX-512 oneDNN picks other convolution kernels for a training-mode
        forward, whose codes differ in the last bits (docs/method.md, "Where results hold").
        A network with max pooling runs it in training mode: after an inference-mode pass, MXNet
        1.9.1's max-pooling gradient is wrong (tests/core/test_invert.py measures it). A network's
        BatchNorm and Dropout compute their inference function in both modes (``fmi.core.graph``).
        """
        self.executor.arg_dict["data"][:] = images
        outputs = self.executor.forward(is_train=self.network.max_pooling)
        self.executor.backward()
        total = outputs[1].asnumpy()
        terms = np.stack([output.asnumpy() for output in outputs[2:]])
        return total, terms, self.gradient


def initial_images(shape: Sequence[int], seeds: Sequence[int]) -> Array:
    """One image of ``shape`` (3, H, W) per seed, uniform in [-0.1, 0.1]: (N, 3, H, W).

    Each is drawn on the CPU by MXNet's generator after ``mx.random.seed(seed)``, as the
    authors' ``mx.rnd.uniform(-0.1, 0.1, img.shape)`` draws it (their code leaves the seed
    unset; seeding theirs gives this start exactly).
    """
    def draw(seed: int) -> Array:
        mx.random.seed(seed)
        return mx.nd.random.uniform(-0.1, 0.1, shape=(1,) + tuple(shape), ctx=mx.cpu()).asnumpy()[0]

    return np.stack([draw(seed).astype(np.float32) for seed in seeds])


def sgd(problem: Problem, initial: Array, optimizer: SGD = SGD(),
        callbacks: Sequence[Callable[[StepState], None]] = ()) -> Result:
    """Run the authors' SGD from ``initial`` (N, 3, H, W) until every image has stopped.

    An image stops when ||x_t - x_{t-1}|| / ||x_t|| < ``stop_eps``, after ``max_steps``, or
    when its loss stops being finite (it keeps the image that gave that loss). Each update is
    MXNet's own ``sgd_mom_update`` (v = m v - lr (clip(g) + wd x); x = x + v), the kernel the
    authors' ``mx.optimizer.SGD`` runs, and the change is measured as their loop measures it,
    image by image, so every image follows their run to the last bit. Stopped images leave
    the batch (``Problem.keep``), so a batch costs the sum of its images' steps, not its
    slowest image's steps times the batch size.
    """
    context = problem.context
    count = initial.shape[0]
    final = np.array(initial, dtype=np.float32)
    running = np.arange(count)  # the run's index of each row of the current batch
    images = mx.nd.array(initial, ctx=context)
    velocity = mx.nd.zeros(images.shape, ctx=context)
    histories: list[list[float]] = [[] for _ in range(count)]
    term_histories: list[list[list[float]]] = [[] for _ in range(count)]
    steps = [0] * count
    reasons = ["max_steps"] * count

    for step in range(1, optimizer.max_steps + 1):
        total, terms, gradient = problem.evaluate(images)
        finite = np.isfinite(total)
        for row in np.flatnonzero(finite):
            histories[running[row]].append(float(total[row]))
            term_histories[running[row]].append(terms[:, row].tolist())
            steps[running[row]] = step
        for row in np.flatnonzero(~finite):
            reasons[running[row]] = f"non-finite loss at step {step}"
        before = images.copy()  # the image before this step stays at hand
        mx.nd.sgd_mom_update(images, gradient, velocity, out=images, lr=optimizer.learning_rate_at(step),
                             wd=optimizer.weight_decay, momentum=optimizer.momentum,
                             clip_gradient=optimizer.clip_gradient, rescale_grad=1.0)
        image_norms = _norms(images)
        change = _norms(before - images) / np.maximum(image_norms, np.float32(1e-30))
        for row in np.flatnonzero(finite & ~np.isfinite(image_norms)):
            reasons[running[row]] = f"non-finite image at step {step}"
        failed = ~finite | ~np.isfinite(image_norms)  # these keep the image before this step
        converged = ~failed & (change < optimizer.stop_eps)
        for row in np.flatnonzero(converged):
            reasons[running[row]] = "converged"
        stopping = converged | failed
        if step == optimizer.max_steps:
            stopping[:] = True
        _notify(callbacks, step, images, total, change, stopping, running, count)
        if stopping.any():
            values = images.asnumpy()
            values[failed] = before.asnumpy()[failed]
            final[running[stopping]] = values[stopping]
            keep = np.flatnonzero(~stopping)
            if keep.size == 0:
                break
            problem.keep(keep)
            rows = mx.nd.array(keep, ctx=context)
            images, velocity = mx.nd.take(images, rows), mx.nd.take(velocity, rows)
            running = running[keep]
    return Result(final, histories, steps, reasons, term_histories)


def _notify(callbacks: Sequence[Callable[[StepState], None]], step: int, images: Any, loss: npt.NDArray[Any],
            change: npt.NDArray[Any], stopping: npt.NDArray[np.bool_], running: npt.NDArray[np.int64],
            count: int) -> None:
    """Call each callback with this step's state, spread over the run's images."""
    if not callbacks:
        return
    full_loss, full_change = np.full(count, np.nan), np.full(count, np.nan)
    full_loss[running], full_change[running] = loss, change
    active = np.zeros(count, dtype=bool)
    active[running[~stopping]] = True
    state = StepState(step, images, full_loss, full_change, active, running.copy())
    for callback in callbacks:
        callback(state)


def _norms(array: Any) -> npt.NDArray[np.float32]:
    """Euclidean norm of each image of a (N, ...) NDArray, as numpy float32 (N,), each taken over
    the whole (1, ...) image as the authors' ``mx.nd.norm(img)`` takes it."""
    return np.array([mx.nd.norm(array[row:row + 1]).asscalar() for row in range(array.shape[0])],
                    dtype=np.float32)


def lbfgs(problem: Problem, initial: Array, settings: LBFGS = LBFGS(),
          callbacks: Sequence[Callable[[StepState], None]] = (), target_loss: Optional[float] = None) -> Result:
    """Run L-BFGS-B from ``initial`` (1, 3, H, W); returns a ``Result`` like ``sgd``.

    The loss history holds the network loss (without the weight-decay term) after each
    iteration. ``target_loss`` stops as soon as the loss reaches it (used to time L-BFGS
    against SGD).
    """

    if initial.shape[0] != 1 or problem.batch_shape[0] != 1:
        raise FmiError("L-BFGS inverts one image at a time: use a problem of batch 1")
    shape = initial.shape
    decay = settings.weight_decay
    last: dict[str, Any] = {}

    def objective(flat: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        total, terms, gradient = problem.evaluate(flat.reshape(shape).astype(np.float32))
        last.update(loss=float(total[0]), terms=terms[:, 0].tolist())
        value = last["loss"] + 0.5 * decay * float(flat @ flat)
        return value, gradient.asnumpy().astype(np.float64).ravel() + decay * flat

    history: list[float] = []
    term_history: list[list[float]] = []
    reason = ["max_steps"]
    previous = initial.astype(np.float64).ravel()
    last_good = previous.copy()

    def after_iteration(xk: npt.NDArray[np.float64]) -> None:  # scipy names the iterate xk
        history.append(last["loss"])
        term_history.append(last["terms"])
        change = float(np.linalg.norm(xk - previous)) / max(float(np.linalg.norm(xk)), 1e-30)
        previous[:] = xk
        if np.isfinite(xk).all() and np.isfinite(last["loss"]):
            last_good[:] = xk
        if not np.isfinite(xk).all():
            reason[0] = f"non-finite image at step {len(history)}"
        elif not np.isfinite(last["loss"]):
            reason[0] = f"non-finite loss at step {len(history)}"
        elif target_loss is not None and last["loss"] <= target_loss:
            reason[0] = "target loss reached"
        elif change < settings.stop_eps:
            reason[0] = "converged"
        stopping = reason[0] != "max_steps"
        state = StepState(len(history), xk.reshape(shape), np.array([last["loss"]]),
                          np.array([change]), np.array([not stopping]), np.array([0]))
        for callback in callbacks:
            callback(state)
        if stopping:
            raise StopIteration  # scipy ends the run and returns this iterate

    outcome = minimize(objective, previous.copy(), jac=True, method="L-BFGS-B", callback=after_iteration,
                       options={"maxiter": settings.max_steps, "maxcor": settings.history, "ftol": 0.0, "gtol": 0.0})
    if reason[0] == "max_steps" and len(history) < settings.max_steps:
        reason[0] = "no further progress"
    final = outcome.x if np.isfinite(outcome.x).all() and not reason[0].startswith("non-finite") else last_good
    return Result(final.reshape(shape).astype(np.float32), [history], [len(history)], reason, [term_history])
