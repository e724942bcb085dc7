"""Keras' neural-network ops (``nnkit/ops/nn_more.py``) and ``nnkit.random``.

Each op's forward is checked against a float64 NumPy reference written here (the formulas; loops for convolution
and pooling) and a few of Keras' docstring examples; its backward against float64 central differences on
hypothesis-drawn shapes and arguments; its symbolic path (``Input`` -> op -> ``Model``) for output shape, dtype and
predictions. The random draws are checked statistically (moments of large draws), for reproducibility, and
dropout for its keep rate, scaling and gradient.
"""
import math

import numpy
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import nnkit
from nnkit import backend, layers
from nnkit import random as nkrandom
from nnkit.ops import nn_more as nn
from nnkit.utils import gradcheck

FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
EPS = 1e-7


def host(a):
    return numpy.asarray(backend.to_host(a))


def dev(a):
    return backend.to_device(numpy.asarray(a))


def assert_gradients(op, arrays, wrt, tolerance=1e-6, **static):
    """The op's backward (for the arguments ``wrt``) against central differences of ``sum(output * upstream)``
    (``nnkit.utils.gradcheck`` on ``op.function``), float64 on the active backend; the other arrays held fixed."""
    fixed = {name: dev(value) for name, value in arrays.items() if name not in wrt}

    def function(*values):
        output, backward = op.function(**fixed, **dict(zip(wrt, values)), **static)
        return output, lambda d_output: [backward(d_output)[name] for name in wrt]
    # (gradcheck's upstream seed differs from the data's: an upstream equal to x makes normalize's gradient 0)
    result = gradcheck(function, [numpy.array(arrays[name], dtype=numpy.float64, order="C") for name in wrt],
                       seed=2**20 + 7)
    assert result.max_relative_error < tolerance, result


def symbolic_matches_eager(op, data, input_shape, expected_shape, dtype="float32", **arguments):
    """``op`` on an ``Input`` of ``input_shape`` (batch None) has ``expected_shape`` and ``dtype``, and a Model of it
    predicts what the eager op gives."""
    inputs = nnkit.Input(shape=input_shape, dtype=dtype)
    outputs = op(inputs, **arguments)
    for tensor in outputs if isinstance(outputs, list) else [outputs]:
        assert tensor.shape == expected_shape
        assert tensor.dtype == dtype
    model = nnkit.Model(inputs, outputs)
    predicted = model.predict(data.astype(dtype), verbose=0)
    eager = op(dev(data.astype(dtype)), **arguments)
    for p, e in zip(predicted if isinstance(outputs, list) else [predicted],
                    eager if isinstance(outputs, list) else [eager]):
        numpy.testing.assert_allclose(host(p), host(e), rtol=1e-6, atol=1e-6)


# ---- activations ------------------------------------------------------------------------------------------------
def _away_from(x, kinks, margin=0.05):
    """``x`` with the entries closer than ``margin`` to a kink moved off it (central differences straddle no kink)."""
    for kink in kinks:
        near = numpy.abs(x - kink) < margin
        x = numpy.where(near, kink + numpy.where(x >= kink, margin, -margin), x)
    return x


ACTIVATIONS = {
    "leaky_relu": (nn.leaky_relu, lambda x: numpy.where(x > 0, x, 0.2 * x), {}, [0.0]),
    "leaky_relu_0.5": (nn.leaky_relu, lambda x: numpy.where(x > 0, x, 0.5 * x), {"negative_slope": 0.5}, [0.0]),
    "hard_tanh": (nn.hard_tanh, lambda x: numpy.minimum(numpy.maximum(x, -1), 1), {}, [-1.0, 1.0]),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -numpy.logaddexp(0, -x), {}, []),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward(backend_name, rng, name):
    op, reference, arguments, _ = ACTIVATIONS[name]
    x = rng.normal(size=(3, 7)) * 3
    x[0, :3] = [-40.0, 40.0, 0.0]
    numpy.testing.assert_allclose(host(op(dev(x), **arguments)), reference(x), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", ACTIVATIONS)
@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_activation_backward(backend_name, name, shape, seed):
    op, _, arguments, kinks = ACTIVATIONS[name]
    x = _away_from(numpy.random.default_rng(seed).normal(size=shape) * 2, kinks)
    assert_gradients(op, {"x": x}, ["x"], **arguments)


def test_keras_docstring_examples(backend_name):
    numpy.testing.assert_allclose(host(nn.log_sigmoid(dev([-0.541391, 0.0, 0.50, 5.0]))),
                                  [-1.0000418, -0.6931472, -0.474077, -0.00671535], rtol=1e-5)
    numpy.testing.assert_allclose(host(nn.leaky_relu(dev([-1.0, 0.0, 1.0]))), [-0.2, 0.0, 1.0])
    numpy.testing.assert_allclose(host(nn.hard_tanh(dev([-2.0, -1.0, 0.0, 1.0, 2.0]))), [-1, -1, 0, 1, 1])
    numpy.testing.assert_allclose(host(nn.glu(dev([-1.0, 0.0, 1.0, 1.0]))), [-0.73105858, 0.0], rtol=1e-7)
    numpy.testing.assert_allclose(host(nn.binary_crossentropy(dev([0.0, 1, 1, 0]), dev([0.1, 0.9, 0.8, 0.2]))),
                                  [0.10536054, 0.10536054, 0.22314355, 0.22314355], rtol=1e-6)
    mean, variance = nn.moments(dev(numpy.array([0, 1, 2, 3, 100], dtype="float32")), axes=[0])
    numpy.testing.assert_allclose([float(host(mean)), float(host(variance))], [21.2, 1553.3601], rtol=1e-6)
    x = numpy.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])
    numpy.testing.assert_allclose(
        host(nn.batch_normalization(dev(x), mean=[0.4, 0.5, 0.6], variance=[0.67, 0.67, 0.67], axis=-1)),
        [[-0.36624] * 3, [0.0] * 3, [0.36624] * 3], atol=1e-5)
    numpy.testing.assert_allclose(host(nn.normalize(dev(numpy.array([[1.0, 2, 3], [4, 5, 6]])))),
                                  [[0.26726124, 0.5345225, 0.8017837], [0.45584232, 0.5698029, 0.68376344]], rtol=1e-6)


def _glu_reference(x, axis):
    a, b = numpy.split(x, 2, axis=axis)
    return a / (1 + numpy.exp(-b))


@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_glu(backend_name, shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape = list(shape)
    shape[axis] *= 2
    x = numpy.random.default_rng(data.draw(st.integers(0, 99))).normal(size=shape)
    numpy.testing.assert_allclose(host(nn.glu(dev(x), axis=axis)), _glu_reference(x, axis), rtol=1e-12)
    assert_gradients(nn.glu, {"x": x}, ["x"], axis=axis)


def test_glu_refuses_an_odd_axis():
    with pytest.raises(ValueError, match="divisible by 2"):
        nn.glu(numpy.ones((2, 3)))
    with pytest.raises(ValueError, match="divisible by 2"):
        nn.glu(nnkit.Input((3,)))


# ---- cross-entropies ---------------------------------------------------------------------------------------------
def _sigmoid(z):
    return 1 / (1 + numpy.exp(-z))


def _log_softmax(z, axis):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=axis, keepdims=True))


def test_binary_crossentropy_forward(backend_name, rng):
    t = rng.uniform(size=(4, 3, 2))
    p = rng.uniform(size=(4, 3, 2))
    p[0, 0] = [0.0, 1.0]  # clipped to [1e-7, 1 - 1e-7]
    q = numpy.clip(p, EPS, 1 - EPS)
    expected = -(t * numpy.log(q) + (1 - t) * numpy.log(1 - q))
    numpy.testing.assert_allclose(host(nn.binary_crossentropy(dev(t), dev(p))), expected, rtol=1e-12)
    z = rng.normal(size=(4, 3, 2)) * 4
    s = _sigmoid(z)
    expected = -(t * numpy.log(s) + (1 - t) * numpy.log(1 - s))
    numpy.testing.assert_allclose(host(nn.binary_crossentropy(dev(t), dev(z), from_logits=True)), expected,
                                  rtol=1e-10)
    # Large logits stay finite (the stable form).
    assert numpy.isfinite(host(nn.binary_crossentropy(dev([1.0, 0.0]), dev([-800.0, 800.0]), from_logits=True))).all()


@pytest.mark.parametrize("from_logits", [False, True])
@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_binary_crossentropy_backward(backend_name, from_logits, shape, seed):
    rng = numpy.random.default_rng(seed)
    output = rng.normal(size=shape) * 2 if from_logits else rng.uniform(0.05, 0.95, size=shape)
    assert_gradients(nn.binary_crossentropy, {"target": rng.uniform(size=shape), "output": output}, ["output"],
                     from_logits=from_logits)


def test_binary_crossentropy_gradient_stops_outside_the_clip(backend_name):
    output, backward = nn.binary_crossentropy.function(dev([1.0, 0.0, 1.0]), dev([0.0, 1.0, 0.5]))
    grads = backward(dev(numpy.ones(3)))
    assert grads["target"] is None
    numpy.testing.assert_allclose(host(grads["output"]), [0.0, 0.0, -2.0])


def _categorical_reference(t, p, from_logits, axis):
    if from_logits:
        return -(t * _log_softmax(p, axis)).sum(axis=axis)
    q = numpy.clip(p / p.sum(axis=axis, keepdims=True), EPS, 1 - EPS)
    return -(t * numpy.log(q)).sum(axis=axis)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_categorical_crossentropy_forward(backend_name, rng, from_logits, axis):
    t = rng.dirichlet(numpy.ones(4), size=(3, 5)).transpose(0, 2, 1)  # rows need not sum to 1 along every axis
    p = rng.normal(size=t.shape) * 3 if from_logits else rng.uniform(0.01, 1, size=t.shape)
    numpy.testing.assert_allclose(host(nn.categorical_crossentropy(dev(t), dev(p), from_logits=from_logits,
                                                                   axis=axis)),
                                  _categorical_reference(t, p, from_logits, axis), rtol=1e-12)


@pytest.mark.parametrize("from_logits", [False, True])
@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_categorical_crossentropy_backward(backend_name, from_logits, shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = numpy.random.default_rng(data.draw(st.integers(0, 2**16)))
    output = rng.normal(size=shape) * 2 if from_logits else rng.uniform(0.1, 1, size=shape)
    assume(from_logits or shape[axis] > 1)  # a single class is always 1 - 1e-7 after the clip: no gradient
    target = rng.uniform(size=shape)
    assert_gradients(nn.categorical_crossentropy, {"target": target, "output": output}, ["output"],
                     from_logits=from_logits, axis=axis)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("axis", [-1, 1])
def test_sparse_categorical_crossentropy_forward(backend_name, rng, from_logits, axis):
    p = rng.normal(size=(3, 4, 5)) * 3 if from_logits else rng.uniform(0.01, 1, size=(3, 4, 5))
    classes = p.shape[axis]
    labels = rng.integers(0, classes, size=numpy.delete(p.shape, axis % 3))
    one_hot = numpy.moveaxis(numpy.eye(classes)[labels], -1, axis)
    expected = _categorical_reference(one_hot, p, from_logits, axis)
    got = nn.sparse_categorical_crossentropy(dev(labels), dev(p), from_logits=from_logits, axis=axis)
    numpy.testing.assert_allclose(host(got), expected, rtol=1e-12)
    if axis == -1:  # labels with a trailing 1, and float labels, as Keras accepts them
        got = nn.sparse_categorical_crossentropy(dev(labels[..., None].astype(float)), dev(p), from_logits=from_logits)
        numpy.testing.assert_allclose(host(got), expected, rtol=1e-12)


@pytest.mark.parametrize("from_logits", [False, True])
@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4), seed=st.integers(0, 2**16))
def test_sparse_categorical_crossentropy_backward(backend_name, from_logits, shape, seed):
    rng = numpy.random.default_rng(seed)
    output = rng.normal(size=shape) * 2 if from_logits else rng.uniform(0.1, 1, size=shape)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    assert_gradients(nn.sparse_categorical_crossentropy, {"target": labels, "output": output}, ["output"],
                     from_logits=from_logits)


def test_cross_entropies_check_shapes():
    with pytest.raises(ValueError, match="same shape"):
        nn.binary_crossentropy(numpy.ones((2, 3)), numpy.ones((2, 4)) / 2)
    with pytest.raises(ValueError, match="same shape"):
        nn.categorical_crossentropy(nnkit.Input((3,)), nnkit.Input((4,)))
    with pytest.raises(ValueError, match="up until the last dimension"):
        nn.sparse_categorical_crossentropy(numpy.zeros((2, 3), dtype=int), numpy.ones((2, 4)))


# ---- convolution ------------------------------------------------------------------------------------------------
def _same_padding(size, kernel, stride, dilation, padding):
    """TensorFlow's rule: ``(output size, padding before)``."""
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return (size - span) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + span - size, 0) // 2


def _windows(spatial, kernel, strides, dilations, padding):
    """For every output position: the list of (kernel tap, input position or None when in the padding)."""
    geometry = [_same_padding(*args, padding) for args in zip(spatial, kernel, strides, dilations)]
    for out in numpy.ndindex(*[g[0] for g in geometry]):
        taps = []
        for tap in numpy.ndindex(*kernel):
            position = tuple(o * s - p + t * d for o, s, (_, p), t, d in zip(out, strides, geometry, tap, dilations))
            inside = all(0 <= i < n for i, n in zip(position, spatial))
            taps.append((tap, position if inside else None))
        yield out, taps


def conv_reference(x, kernel, strides, padding, dilations, depthwise=False):
    """Loops: channels-last cross-correlation, grouped when C is a multiple of the kernel's in-channels, or
    depthwise (output channel c*M + m)."""
    N, *spatial, C = x.shape
    *size, Cin, F = kernel.shape
    out_shape = [_same_padding(*a, padding)[0] for a in zip(spatial, size, strides, dilations)]
    if depthwise:
        y = numpy.zeros([N] + out_shape + [C * F])
    else:
        y = numpy.zeros([N] + out_shape + [F])
        groups = C // Cin
        per_group = F // groups
    for out, taps in _windows(spatial, size, strides, dilations, padding):
        for tap, position in taps:
            if position is None:
                continue
            pixel = x[(slice(None),) + position]  # (N, C)
            weights = kernel[tap]  # (Cin, F)
            if depthwise:
                y[(slice(None),) + out] += (pixel[:, :, None] * weights[None]).reshape(N, C * F)
                continue
            for g in range(groups):
                y[(slice(None),) + out + (slice(g * per_group, (g + 1) * per_group),)] += (
                    pixel[:, g * Cin:(g + 1) * Cin] @ weights[:, g * per_group:(g + 1) * per_group])
    return y


@st.composite
def conv_cases(draw, depthwise=False):
    rank = draw(st.sampled_from([1, 2]))
    spatial = draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank))
    kernel = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    strides = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilations = draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    for n, k, d in zip(spatial, kernel, dilations):
        assume(padding == "same" or n >= d * (k - 1) + 1)
    groups = 1 if depthwise else draw(st.sampled_from([1, 2]))
    in_channels = draw(st.integers(1, 3))
    filters = draw(st.integers(1, 3)) * (1 if depthwise else groups)
    batch = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=[batch] + spatial + [in_channels * groups])
    k = rng.normal(size=kernel + [in_channels, filters])
    return x, k, tuple(strides), padding, tuple(dilations)


@FEW
@given(case=conv_cases())
def test_conv_forward_and_backward(backend_name, case):
    x, kernel, strides, padding, dilations = case
    got = nn.conv(dev(x), dev(kernel), strides=strides, padding=padding, dilation_rate=dilations)
    numpy.testing.assert_allclose(host(got), conv_reference(x, kernel, strides, padding, dilations), rtol=1e-10,
                                  atol=1e-12)
    assert_gradients(nn.conv, {"inputs": x, "kernel": kernel}, ["inputs", "kernel"], strides=strides,
                     padding=padding, dilation_rate=dilations)


@FEW
@given(case=conv_cases(depthwise=True))
def test_depthwise_conv_forward_and_backward(backend_name, case):
    x, kernel, strides, padding, dilations = case
    got = nn.depthwise_conv(dev(x), dev(kernel), strides=strides, padding=padding, dilation_rate=dilations)
    numpy.testing.assert_allclose(host(got), conv_reference(x, kernel, strides, padding, dilations, True),
                                  rtol=1e-10, atol=1e-12)
    assert_gradients(nn.depthwise_conv, {"inputs": x, "kernel": kernel}, ["inputs", "kernel"], strides=strides,
                     padding=padding, dilation_rate=dilations)


@pytest.mark.parametrize("op", [nn.conv, nn.depthwise_conv])
@pytest.mark.parametrize("rank", [1, 2])
def test_conv_channels_first(backend_name, rng, op, rank):
    x = rng.normal(size=(2,) + (5,) * rank + (3,))
    kernel = rng.normal(size=(3,) * rank + (3, 2))
    expected = host(op(dev(x), dev(kernel), strides=2, padding="same"))
    moved = numpy.moveaxis(x, -1, 1)
    got = op(dev(moved), dev(kernel), strides=2, padding="same", data_format="channels_first")
    numpy.testing.assert_allclose(numpy.moveaxis(host(got), 1, -1), expected, rtol=1e-12)
    assert_gradients(op, {"inputs": moved, "kernel": kernel}, ["inputs", "kernel"], strides=2, padding="same",
                     data_format="channels_first")


def test_conv_in_chunks_matches_one_pass(backend_name, rng, monkeypatch):
    from nnkit.primitives import conv as conv_ops
    x, kernel = rng.normal(size=(5, 6, 6, 4)), rng.normal(size=(3, 3, 2, 4))
    output, backward = nn.conv.function(dev(x), dev(kernel), padding="same")
    upstream = dev(rng.normal(size=output.shape))
    whole = {name: host(grad) for name, grad in backward(upstream).items()}
    monkeypatch.setattr(conv_ops, "WORKSPACE_BYTES", 1)  # one sample per chunk
    chunked, backward = nn.conv.function(dev(x), dev(kernel), padding="same")
    numpy.testing.assert_allclose(host(chunked), host(output), rtol=1e-12)
    for name, grad in backward(upstream).items():
        numpy.testing.assert_allclose(host(grad), whole[name], rtol=1e-12)


def test_conv_refuses_what_it_does_not_support():
    with pytest.raises(NotImplementedError, match="1-D and 2-D"):
        nn.conv(numpy.ones((1, 3, 3, 3, 1)), numpy.ones((1, 1, 1, 1, 1)))
    with pytest.raises(ValueError, match="evenly divisible"):
        nn.conv(numpy.ones((1, 5, 3)), numpy.ones((2, 2, 4)))
    with pytest.raises(ValueError, match="larger than"):
        nn.conv(numpy.ones((1, 2, 3)), numpy.ones((3, 3, 4)))
    with pytest.raises(ValueError, match="padding"):
        nn.conv(numpy.ones((1, 5, 3)), numpy.ones((3, 3, 4)), padding="causal")
    with pytest.raises(ValueError, match="larger than"):
        nn.max_pool(nnkit.Input((2, 2, 1)), 3)


# ---- pooling ----------------------------------------------------------------------------------------------------
def pool_reference(x, pool, strides, padding, kind):
    """Loops: max or mean over each window's taps inside the input (padding never counts)."""
    N, *spatial, C = x.shape
    out_shape = [_same_padding(n, k, s, 1, padding)[0] for n, k, s in zip(spatial, pool, strides)]
    y = numpy.empty([N] + out_shape + [C])
    for out, taps in _windows(spatial, pool, strides, [1] * len(pool), padding):
        values = numpy.stack([x[(slice(None),) + p] for _, p in taps if p is not None])
        y[(slice(None),) + out] = values.max(axis=0) if kind == "max" else values.mean(axis=0)
    return y


@st.composite
def pool_cases(draw):
    rank = draw(st.sampled_from([1, 2]))
    spatial = draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank))
    pool = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    strides = draw(st.one_of(st.none(), st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    padding = draw(st.sampled_from(["valid", "same"]))
    for n, k in zip(spatial, pool):
        assume(padding == "same" or n >= k)
    x = numpy.random.default_rng(draw(st.integers(0, 2**16))).normal(
        size=[draw(st.integers(1, 2))] + spatial + [draw(st.integers(1, 3))])
    return x, tuple(pool), None if strides is None else tuple(strides), padding


@pytest.mark.parametrize("kind", ["max", "average"])
@FEW
@given(case=pool_cases())
def test_pool_forward_and_backward(backend_name, kind, case):
    x, pool, strides, padding = case
    op = nn.max_pool if kind == "max" else nn.average_pool
    got = op(dev(x), pool, strides=strides, padding=padding)
    expected = pool_reference(x, pool, pool if strides is None else strides, padding, kind)
    numpy.testing.assert_allclose(host(got), expected, rtol=1e-12)
    assert_gradients(op, {"inputs": x}, ["inputs"], pool_size=pool, strides=strides, padding=padding)


@pytest.mark.parametrize("op", [nn.max_pool, nn.average_pool])
def test_pool_channels_first(backend_name, rng, op):
    x = rng.normal(size=(2, 7, 6, 3))
    expected = host(op(dev(x), 3, strides=2, padding="same"))
    got = op(dev(numpy.moveaxis(x, -1, 1)), 3, strides=2, padding="same", data_format="channels_first")
    numpy.testing.assert_allclose(numpy.moveaxis(host(got), 1, -1), expected, rtol=1e-12)


# ---- normalization ----------------------------------------------------------------------------------------------
@st.composite
def batch_norm_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    rng = numpy.random.default_rng(draw(st.integers(0, 2**16)))
    size = shape[axis]
    arrays = {"x": rng.normal(size=shape), "mean": rng.normal(size=size), "variance": rng.uniform(0.2, 2, size=size)}
    for name in draw(st.sets(st.sampled_from(["offset", "scale"]))):
        arrays[name] = rng.normal(size=size)
    return arrays, axis, draw(st.sampled_from([1e-3, 0.1]))


@FEW
@given(case=batch_norm_cases())
def test_batch_normalization(backend_name, case):
    arrays, axis, epsilon = case
    shape = [1] * arrays["x"].ndim
    shape[axis] = -1
    v = {name: value.reshape(shape) for name, value in arrays.items() if name != "x"}
    expected = (arrays["x"] - v["mean"]) / numpy.sqrt(v["variance"] + epsilon) * v.get("scale", 1) + v.get("offset", 0)
    got = nn.batch_normalization(**{name: dev(value) for name, value in arrays.items()}, axis=axis, epsilon=epsilon)
    numpy.testing.assert_allclose(host(got), expected, rtol=1e-10, atol=1e-12)
    assert_gradients(nn.batch_normalization, arrays, list(arrays), axis=axis, epsilon=epsilon)


def test_batch_normalization_checks_the_vectors():
    with pytest.raises(ValueError, match="vector of length"):
        nn.batch_normalization(numpy.ones((2, 3)), numpy.zeros(2), numpy.ones(3), axis=-1)
    with pytest.raises(ValueError, match="vector of length"):
        nn.batch_normalization(nnkit.Input((3,)), numpy.zeros(3), numpy.ones(3), axis=-1, scale=numpy.ones(4))


@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_moments(backend_name, shape, data):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    keepdims = data.draw(st.booleans())
    x = numpy.random.default_rng(data.draw(st.integers(0, 2**16))).normal(size=shape) + 3
    mean, variance = nn.moments(dev(x), axes, keepdims=keepdims)
    numpy.testing.assert_allclose(host(mean), x.mean(axis=tuple(axes), keepdims=keepdims), rtol=1e-12)
    numpy.testing.assert_allclose(host(variance), x.var(axis=tuple(axes), keepdims=keepdims), rtol=1e-10,
                                  atol=1e-14)
    assert_gradients(nn.moments, {"x": x}, ["x"], axes=axes, keepdims=keepdims)


def test_moments_of_float16_are_computed_in_float32(backend_name):
    x = numpy.full(4096, 1000.0, dtype=numpy.float16)
    x[::2] = 1002.0
    mean, variance = nn.moments(dev(x), [0])
    assert mean.dtype == variance.dtype == numpy.float16
    assert float(host(mean)) == 1001.0 and float(host(variance)) == 1.0


def _normalize_reference(x, axis, order, epsilon=EPS):
    if axis is None or not isinstance(axis, int):
        norm = numpy.sqrt((x ** 2).sum(axis=axis, keepdims=True))
    else:
        norm = numpy.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / numpy.maximum(norm, epsilon)


@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_normalize(backend_name, shape, data):
    order = data.draw(st.sampled_from([1, 2, 3]))
    choices = [st.integers(-len(shape), len(shape) - 1)]
    if order == 2:
        choices += [st.none(), st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple)]
    axis = data.draw(st.one_of(*choices))
    x = numpy.random.default_rng(data.draw(st.integers(0, 2**16))).normal(size=shape)
    numpy.testing.assert_allclose(host(nn.normalize(dev(x), axis=axis, order=order)),
                                  _normalize_reference(x, axis, order), rtol=1e-12)
    axes = range(len(shape)) if axis is None else [axis] if isinstance(axis, int) else axis
    if math.prod(shape[a] for a in axes) > 1:  # over one entry normalize is sign(x): no gradient to compare
        assert_gradients(nn.normalize, {"x": x}, ["x"], axis=axis, order=order)


def test_normalize_below_epsilon_divides_by_epsilon(backend_name):
    x = numpy.array([[0.1, -0.2], [3.0, 4.0]])
    numpy.testing.assert_allclose(host(nn.normalize(dev(x), epsilon=0.5)), [[0.2, -0.4], [0.6, 0.8]])
    assert_gradients(nn.normalize, {"x": x}, ["x"], epsilon=0.5)
    with pytest.raises(ValueError, match="order"):
        nn.normalize(x, order=0)


# ---- the symbolic path ------------------------------------------------------------------------------------------
SYMBOLIC = [
    ("leaky_relu", nn.leaky_relu, (5, 3), {}, (None, 5, 3)),
    ("hard_tanh", nn.hard_tanh, (5,), {}, (None, 5)),
    ("log_sigmoid", nn.log_sigmoid, (5,), {}, (None, 5)),
    ("glu", nn.glu, (4, 6), {"axis": -1}, (None, 4, 3)),
    ("conv2d", nn.conv, (None, 6, 4), {"kernel": numpy.ones((3, 2, 4, 5)) / 7, "strides": 2, "padding": "same"},
     (None, None, 3, 5)),
    ("conv1d", nn.conv, (7, 4), {"kernel": numpy.ones((3, 2, 6)) / 7, "dilation_rate": 2}, (None, 3, 6)),
    ("depthwise_conv", nn.depthwise_conv, (6, 6, 2), {"kernel": numpy.ones((3, 3, 2, 2)) / 9}, (None, 4, 4, 4)),
    ("max_pool", nn.max_pool, (7, 6, 3), {"pool_size": 2, "padding": "same"}, (None, 4, 3, 3)),
    ("average_pool", nn.average_pool, (7, 3), {"pool_size": 3, "strides": 2}, (None, 3, 3)),
    ("batch_normalization", nn.batch_normalization, (4, 3),
     {"mean": numpy.arange(3.0), "variance": numpy.ones(3) * 2, "axis": -1, "offset": numpy.ones(3)}, (None, 4, 3)),
    ("moments", nn.moments, (4, 3), {"axes": [0, 1]}, (3,)),
    ("normalize", nn.normalize, (4, 3), {"axis": 1}, (None, 4, 3)),
]


@pytest.mark.parametrize("case", SYMBOLIC, ids=[case[0] for case in SYMBOLIC])
def test_symbolic_path(backend_name, rng, case):
    _, op, input_shape, arguments, expected = case
    data = rng.normal(size=(2,) + tuple(5 if size is None else size for size in input_shape))
    symbolic_matches_eager(op, data, input_shape, expected, **arguments)


def test_symbolic_cross_entropies(backend_name, rng):
    target, output = nnkit.Input((4, 3)), nnkit.Input((4, 3))
    labels = nnkit.Input((4,), dtype="int32")
    losses = [nn.binary_crossentropy(target, output), nn.categorical_crossentropy(target, output, axis=1),
              nn.sparse_categorical_crossentropy(labels, output, from_logits=True)]
    assert [t.shape for t in losses] == [(None, 4, 3), (None, 3), (None, 4)]
    assert all(t.dtype == "float32" for t in losses)
    model = nnkit.Model([target, output, labels], losses)
    t, p, y = rng.uniform(size=(2, 4, 3)), rng.uniform(0.1, 1, size=(2, 4, 3)), rng.integers(0, 3, size=(2, 4))
    predicted = model.predict([t.astype("float32"), p.astype("float32"), y.astype("int32")], verbose=0)
    numpy.testing.assert_allclose(host(predicted[0]), -(t * numpy.log(p) + (1 - t) * numpy.log(1 - p)), rtol=1e-5)
    numpy.testing.assert_allclose(host(predicted[1]), _categorical_reference(t, p, False, 1), rtol=1e-5)
    numpy.testing.assert_allclose(host(predicted[2]), -numpy.take_along_axis(_log_softmax(p, -1), y[..., None], -1)[
        ..., 0], rtol=1e-5)


class ConvNorm(layers.Layer):
    """A custom layer written with the ops: conv by a trained kernel, batch statistics by moments, then
    batch_normalization with a trained scale and offset, then max pooling."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], 4), initializer="glorot_uniform")
        self.gamma = self.add_weight(shape=(4,), initializer="ones")
        self.beta = self.add_weight(shape=(4,), initializer="zeros")

    def call(self, x):
        y = nn.conv(x, self.kernel, padding="same")
        mean, variance = nn.moments(y, axes=[0, 1, 2])
        y = nn.batch_normalization(y, mean, variance, axis=-1, offset=self.beta, scale=self.gamma)
        return nn.max_pool(nn.leaky_relu(y), 2)


def test_gradients_reach_weights_through_the_ops_in_a_custom_layer(backend_name, rng):
    result = gradcheck(ConvNorm(), rng.normal(size=(2, 5, 4, 2)))
    assert result.max_relative_error < 1e-6, result


def test_a_model_of_ops_trains(backend_name, rng):
    inputs = nnkit.Input((6, 6, 1))
    hidden = ConvNorm()(inputs)
    outputs = layers.Dense(2, activation="softmax")(layers.Flatten()(hidden))
    model = nnkit.Model(inputs, outputs)
    model.compile(optimizer=nnkit.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(32, 6, 6, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int32")
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]


# ---- nnkit.random -----------------------------------------------------------------------------------------------
N = 200_000


def test_normal_moments(backend_name):
    values = host(nkrandom.normal((N,), mean=2.0, stddev=3.0, seed=1))
    assert values.dtype == numpy.float32
    assert abs(values.mean() - 2.0) < 5 * 3 / math.sqrt(N)
    assert abs(values.std() - 3.0) < 0.02
    assert abs(((values - 2) / 3) ** 4).mean() - 3 < 0.1  # the kurtosis of a normal
    assert abs(((values - 2) / 3 > 1).mean() - 0.158655) < 0.005


def test_uniform_moments(backend_name):
    values = host(nkrandom.uniform((N,), minval=-1.0, maxval=3.0, seed=2))
    assert values.min() >= -1 and values.max() < 3
    assert abs(values.mean() - 1.0) < 5 * math.sqrt(16 / 12 / N)
    assert abs(values.var() - 16 / 12) < 0.02
    counts = numpy.histogram(values, bins=8, range=(-1, 3))[0]
    assert numpy.all(numpy.abs(counts / N - 1 / 8) < 0.005)


def test_truncated_normal_moments(backend_name):
    values = host(nkrandom.truncated_normal((N,), mean=1.0, stddev=2.0, dtype="float64", seed=3))
    assert values.dtype == numpy.float64
    assert values.min() >= -3 and values.max() <= 5
    assert abs(values.mean() - 1.0) < 0.02
    assert abs(values.std() - 2 * 0.87962566) < 0.01  # the standard deviation of a normal truncated at 2 sigma


def test_randint(backend_name):
    values = host(nkrandom.randint((N,), minval=-3, maxval=4, seed=4))
    assert values.dtype == numpy.int32
    counts = numpy.bincount(values + 3, minlength=7)
    assert counts.sum() == N and len(counts) == 7
    assert numpy.all(numpy.abs(counts / N - 1 / 7) < 0.005)
    assert host(nkrandom.randint((3, 2), 0, 10, dtype="int64", seed=4)).dtype == numpy.int64


def test_categorical_frequencies(backend_name):
    probabilities = numpy.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    logits = numpy.log(numpy.maximum(probabilities, 1e-30))
    samples = host(nkrandom.categorical(dev(logits), 20_000, seed=5))
    assert samples.shape == (2, 20_000) and samples.dtype == numpy.int32
    for row, p in zip(samples, probabilities):
        numpy.testing.assert_allclose(numpy.bincount(row, minlength=3) / 20_000, p, atol=0.015)


def test_dtypes_follow_floatx_and_are_checked(backend_name):
    assert nkrandom.uniform((2,)).dtype == numpy.float32
    backend.set_floatx("float64")
    assert nkrandom.normal((2,)).dtype == numpy.float64
    assert nkrandom.uniform((2,), dtype="float16").dtype == numpy.float16
    with pytest.raises(ValueError, match="floating point"):
        nkrandom.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="integer"):
        nkrandom.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match="SeedGenerator"):
        nkrandom.normal((2,), seed="one")


DRAWS = {
    "normal": lambda seed: nkrandom.normal((3, 4), seed=seed),
    "uniform": lambda seed: nkrandom.uniform((3, 4), seed=seed),
    "truncated_normal": lambda seed: nkrandom.truncated_normal((3, 4), seed=seed),
    "randint": lambda seed: nkrandom.randint((3, 4), 0, 1000, seed=seed),
    "shuffle": lambda seed: nkrandom.shuffle(numpy.arange(50), seed=seed),
    "dropout": lambda seed: nkrandom.dropout(numpy.ones((3, 4)), 0.5, seed=seed),
    "categorical": lambda seed: nkrandom.categorical(numpy.zeros((2, 50)), 4, seed=seed),
}


@pytest.mark.parametrize("name", DRAWS)
def test_seeds(backend_name, name):
    draw = DRAWS[name]
    # An int seed is stateless: the same values at every call; different seeds, different values.
    numpy.testing.assert_array_equal(host(draw(7)), host(draw(7)))
    assert not numpy.array_equal(host(draw(7)), host(draw(8)))
    # A SeedGenerator gives new values at each call, the same sequence from the same initial seed.
    first, second = nkrandom.SeedGenerator(11), nkrandom.SeedGenerator(11)
    a, b = host(draw(first)), host(draw(first))
    assert not numpy.array_equal(a, b)
    numpy.testing.assert_array_equal(host(draw(second)), a)
    numpy.testing.assert_array_equal(host(draw(second)), b)
    # None: the global generator, reproducible by set_random_seed.
    nnkit.utils.set_random_seed(3)
    c, d = host(draw(None)), host(draw(None))
    assert not numpy.array_equal(c, d)
    nnkit.utils.set_random_seed(3)
    numpy.testing.assert_array_equal(host(draw(None)), c)


def test_seed_generator_state_and_config():
    generator = nkrandom.SeedGenerator(42, name="gen")
    numpy.testing.assert_array_equal(generator.next(), [42, 0])
    numpy.testing.assert_array_equal(generator.next(), [42, 1])
    numpy.testing.assert_array_equal(generator.state, [42, 2])
    assert generator.get_config() == {"seed": 42, "name": "gen"}
    assert nkrandom.SeedGenerator.from_config(generator.get_config()).state.tolist() == [42, 0]
    nnkit.utils.set_random_seed(5)
    unseeded = nkrandom.SeedGenerator().state.tolist()
    nnkit.utils.set_random_seed(5)
    assert nkrandom.SeedGenerator().state.tolist() == unseeded
    with pytest.raises(ValueError, match="integer"):
        nkrandom.SeedGenerator(1.5)


def test_shuffle_is_a_permutation_of_slices(backend_name, rng):
    x = numpy.arange(60.0).reshape(6, 10)
    rows = host(nkrandom.shuffle(dev(x), seed=1))
    assert sorted(map(tuple, rows)) == sorted(map(tuple, x)) and not numpy.array_equal(rows, x)
    columns = host(nkrandom.shuffle(dev(x), axis=1, seed=1))
    assert sorted(map(tuple, columns.T)) == sorted(map(tuple, x.T)) and not numpy.array_equal(columns, x)
    assert_gradients(nkrandom.shuffle, {"x": x}, ["x"], axis=1, seed=1)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keep_rate_and_scaling(backend_name, rate):
    x = numpy.full((400, 500), 2.0, dtype="float32")
    y = host(nkrandom.dropout(dev(x), rate, seed=9))
    kept = y != 0
    assert abs(kept.mean() - (1 - rate)) < 0.005
    numpy.testing.assert_allclose(y[kept], 2.0 / (1 - rate), rtol=1e-6)
    assert y.dtype == numpy.float32


def test_dropout_noise_shape_rate_bounds_and_gradient(backend_name, rng):
    y = host(nkrandom.dropout(dev(numpy.ones((50, 4, 30))), 0.5, noise_shape=(None, 1, 30), seed=2))
    assert numpy.all(y == y[:, :1, :])  # one mask for every position of axis 1
    x = rng.normal(size=(3, 4))
    numpy.testing.assert_array_equal(host(nkrandom.dropout(dev(x), 0.0)), x)
    numpy.testing.assert_array_equal(host(nkrandom.dropout(dev(x), 1.0)), 0.0)
    with pytest.raises(ValueError, match="noise_shape"):
        nkrandom.dropout(x, 0.5, noise_shape=(3, 2))
    with pytest.raises(ValueError, match="rate"):
        nkrandom.dropout(x, 1.5)
    # An int seed draws the same mask at every call, so central differences see a fixed mask.
    assert_gradients(nkrandom.dropout, {"inputs": x}, ["inputs"], rate=0.4, seed=3)
    output, backward = nkrandom.dropout.function(dev(x), 0.4, seed=3)
    numpy.testing.assert_allclose(host(backward(dev(numpy.ones_like(x)))["inputs"]), (host(output) != 0) / 0.6)


def test_dropout_and_shuffle_in_a_model(backend_name, rng):
    inputs = nnkit.Input((8,))
    fixed = nnkit.Model(inputs, nkrandom.dropout(inputs, 0.5, seed=4))
    varying = nnkit.Model(inputs, nkrandom.dropout(inputs, 0.5, seed=nkrandom.SeedGenerator(4)))
    x = numpy.ones((16, 8), dtype="float32")
    numpy.testing.assert_array_equal(fixed.predict(x, verbose=0), fixed.predict(x, verbose=0))
    assert not numpy.array_equal(varying.predict(x, verbose=0), varying.predict(x, verbose=0))
    shuffled = nnkit.Input((5, 2))
    assert nkrandom.shuffle(shuffled, axis=1, seed=1).shape == (None, 5, 2)
    samples = nkrandom.categorical(nnkit.Input((6,)), 3, dtype="int64")
    assert samples.shape == (None, 3) and samples.dtype == "int64"
