"""Compare an explicit backward pass with a float64 central-difference gradient."""
from dataclasses import dataclass, field

import numpy

from .. import activations, backend, losses
from ..layers.base import Layer


@dataclass
class GradcheckResult:
    """``errors`` maps each checked array (``"input 0"``, ``"kernel"``...) to its relative error
    ``|analytic - numeric| / max(|analytic|, |numeric|)`` (norms over the checked entries)."""
    errors: dict = field(default_factory=dict)

    @property
    def max_relative_error(self):
        """The largest relative error over the checked arrays (0.0 when none)."""
        return max(self.errors.values(), default=0.0)

    def __repr__(self):
        detail = ", ".join(f"{name}: {error:.2e}" for name, error in self.errors.items())
        return f"GradcheckResult(max_relative_error={self.max_relative_error:.2e}; {detail})"


def gradcheck(target, inputs, training=False, epsilon=1e-6, max_checks=60, seed=0, options=None):
    """Check ``target``'s backward against central differences of its forward, in float64.

    Args:
        target: an unbuilt (or float64) Layer (a multi-input layer, such as a merge layer, when ``inputs``
            holds more than one array), an Activation, a Loss (``inputs = (y_true, y_pred)``; the
            gradient with respect to ``y_pred`` is checked), or a callable ``fn(*inputs) -> (output,
            backward)`` where ``backward(d_output)`` returns the gradients of the inputs.
        inputs: an array, a sequence of arrays, or (for a layer called on named inputs, such as
            MultiHeadAttention) a dict of them; non-float arrays (masks) are passed as they are and not checked.
        training: run layers in training mode (Dropout's mask is held fixed by reseeding).
        max_checks: entries sampled per array (all of them if fewer).
        options: a layer's call options (``Layer.bind_call``), e.g. ``{"use_causal_mask": True}``.

    A layer with several outputs (a list) is checked on a random combination of all of them.
    Returns a GradcheckResult; ``result.max_relative_error`` is the worst relative error.
    """
    names = list(inputs) if isinstance(inputs, dict) else None
    given = list(inputs.values()) if names else inputs if isinstance(inputs, (list, tuple)) else [inputs]
    inputs = [backend.to_device(numpy.ascontiguousarray(backend.to_host(a), dtype=numpy.float64))
              if numpy.asarray(backend.to_host(a)).dtype.kind == "f" else backend.to_device(a) for a in given]
    if isinstance(target, Layer):
        fn, parameters = _layer_function(target, inputs, training, seed, names, options or {})
    else:
        fn, parameters = _as_function(target), {}
    checked = {f"input {i}": a for i, a in enumerate(inputs) if a.dtype.kind == "f"}
    if isinstance(target, losses.Loss):
        checked = {"input 1": inputs[1]}  # the targets (input 0) have no gradient
    checked.update(parameters)

    output, backward = fn(*inputs)
    several = isinstance(output, (list, tuple))
    xp = backend.get_array_module(output[0] if several else output)
    draw = numpy.random.default_rng(seed).standard_normal
    upstream = [xp.asarray(draw(numpy.shape(o))) for o in output] if several else xp.asarray(draw(numpy.shape(output)))
    input_grads = backward(upstream)
    analytic = {f"input {i}": g for i, g in enumerate(input_grads)}
    analytic.update({name: grad for name, (_, grad) in _parameter_grads(target).items()})

    def objective():
        out, _ = fn(*inputs)
        if several:
            return float(sum((o * u).sum() for o, u in zip(out, upstream)))
        return float((out * upstream).sum())

    rng = numpy.random.default_rng(seed)
    result = GradcheckResult()
    for name, array in checked.items():
        flat = array.reshape(-1)
        picks = rng.choice(flat.size, size=min(max_checks, flat.size), replace=False)
        numeric = numpy.empty(len(picks))
        for k, index in enumerate(picks):
            original = float(flat[index])
            flat[index] = original + epsilon
            plus = objective()
            flat[index] = original - epsilon
            minus = objective()
            flat[index] = original
            numeric[k] = (plus - minus) / (2 * epsilon)
        exact = backend.to_host(analytic[name]).reshape(-1)[picks]
        scale = max(numpy.linalg.norm(exact), numpy.linalg.norm(numeric), 1e-12)
        result.errors[name] = float(numpy.linalg.norm(exact - numeric) / scale)
    return result


def _layer_function(layer, inputs, training, seed, names, options):
    """A layer as ``fn(*inputs)``; with more than one input array, a multi-input layer (built with the list
    of shapes, run on the list of arrays, its backward returning the list of input gradients), or with
    ``names`` one called on a dict."""
    multi_input = len(inputs) > 1 or names is not None

    def structured(values):
        return dict(zip(names, values)) if names is not None else list(values) if multi_input else values[0]
    if not layer.built:
        shapes = [(None,) + tuple(a.shape[1:]) for a in inputs]
        previous = backend.floatx()
        backend.set_floatx("float64")
        try:
            layer.build_for(structured(shapes), options)
        finally:
            backend.set_floatx(previous)
    for weight in layer.weights:
        if weight.dtype != numpy.float64:
            raise ValueError(f"gradcheck needs float64 weights, but layer '{layer.name}' was built in {weight.dtype}; "
                             f"pass an unbuilt layer (gradcheck builds it in float64).")

    def fn(*xs):
        if training:
            backend.seed(seed)  # the same dropout mask on every call
        output = layer.forward(structured(xs), training=training, **options)
        if names is not None:
            return output, lambda dy: list(layer.backward(dy).values())
        if multi_input:
            return output, lambda dy: list(layer.backward(dy))
        return output, lambda dy: (layer.backward(dy),)
    parameters = {name: value for name, (value, _) in _parameter_grads(layer).items()}
    return fn, parameters


def _parameter_grads(target):
    if not isinstance(target, Layer):
        return {}
    return {spec.name: (getattr(target, spec.name), target.grads[spec.name])
            for spec in target.weight_specs if spec.trainable}


def _as_function(target):
    if isinstance(target, activations.Activation):
        def fn(x):
            y = target.forward(x)
            return y, lambda dy: (target.backward(dy, x, y),)
        return fn
    if isinstance(target, losses.Loss):
        def fn(y_true, y_pred):
            loss, grad = target.forward_backward(y_true, y_pred)
            return loss, lambda d_loss: (None, grad * d_loss)
        return fn
    return target
