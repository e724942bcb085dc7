"""Conv2DTranspose, DepthwiseConv2D, SeparableConv2D: Keras' output lengths (a hand-derived table), forward
against float64 loops and a small case by hand, the adjoint identity with Conv2D, numerical gradients on both
backends (chunked batches too), shapes and errors (declarative tables), Keras goldens (outputs, and the
weights after one SGD step; tests/data/make_keras_conv_transpose.py), configs, and a convolutional autoencoder
that learns the digits."""
import os

import numpy
import pytest

import nnkit
from nnkit import backend, primitives
from nnkit.layers import Conv2D
from nnkit.layers.conv_transpose import Conv2DTranspose, transposed_length
from nnkit.layers.depthwise import DepthwiseConv2D, SeparableConv2D
from nnkit.utils import gradcheck

from layer_checks import assert_keras_sgd_step, keras_cases

DATA = os.path.join(os.path.dirname(__file__), "data")
CLASSES = {"Conv2DTranspose": Conv2DTranspose, "DepthwiseConv2D": DepthwiseConv2D,
           "SeparableConv2D": SeparableConv2D}


def host(array):
    return backend.to_host(array)


def built(layer, input_shape, weights=None):
    """``layer`` built in float64 for ``input_shape`` (batch axis included), with ``weights`` if given."""
    previous = backend.floatx()
    backend.set_floatx("float64")
    try:
        layer.build_for((None,) + tuple(input_shape[1:]))
    finally:
        backend.set_floatx(previous)
    if weights is not None:
        layer.set_weights(weights)
    return layer


# ---- Keras' output length and the padding of the adjoint convolution: (out, pad) by hand ---------------------------
# 'valid': out = (size - 1)*stride + max(span, stride) + output_padding (span = dilation*(kernel - 1) + 1), pad 0.
# 'same': out = size*stride, or (size - 1)*stride + span % 2 + output_padding; pad is the top padding TensorFlow's
# 'same' convolution from out back to size uses: total = max((size - 1)*stride + span - out, 0), top = total // 2.

@pytest.mark.parametrize("size, kernel, stride, dilation, padding, output_padding, expected", [
    (4, 3, 1, 1, "valid", None, (6, 0)),
    (3, 3, 2, 1, "valid", None, (7, 0)),
    (3, 2, 3, 1, "valid", None, (9, 0)),     # stride > kernel: a zero column after each input's taps
    (3, 3, 2, 1, "valid", 1, (8, 0)),
    (3, 3, 1, 2, "valid", None, (7, 0)),     # span 5
    (4, 3, 2, 1, "same", None, (8, 0)),      # total 1
    (4, 4, 2, 1, "same", None, (8, 1)),      # total 2
    (4, 5, 2, 1, "same", None, (8, 1)),      # total 3
    (3, 3, 2, 1, "same", 0, (5, 1)),         # 4 + 1 + 0; total 2
    (3, 4, 2, 1, "same", 1, (5, 1)),         # 4 + 0 + 1; total 3
    (3, 3, 2, 1, "same", 1, (6, 0)),         # 4 + 1 + 1; total 1
    (5, 3, 1, 2, "same", None, (5, 2)),      # span 5, total 4
    (2, 3, 3, 1, "same", None, (6, 0)),      # total 0
    (2, 1, 3, 1, "same", None, (6, 0)),
])
def test_transposed_length_is_keras(size, kernel, stride, dilation, padding, output_padding, expected):
    assert transposed_length(size, kernel, stride, dilation, padding, output_padding) == expected


# ---- forward ---------------------------------------------------------------------------------------------------------

def conv_transpose_by_loops(x, kernel, bias, strides, dilation, out, pad):
    """The definition: input pixel (i, j) adds ``x[i, j] * kernel[kh, kw]`` at ``(i*SH + kh*DH - PH, ...)``."""
    N, H, W, C = x.shape
    KH, KW, F, _ = kernel.shape
    y = numpy.zeros((N,) + out + (F,))
    for n, i, j in numpy.ndindex(N, H, W):
        for kh, kw in numpy.ndindex(KH, KW):
            oh, ow = i * strides[0] + kh * dilation[0] - pad[0], j * strides[1] + kw * dilation[1] - pad[1]
            if 0 <= oh < out[0] and 0 <= ow < out[1]:
                y[n, oh, ow] += kernel[kh, kw] @ x[n, i, j]
    return y + bias


def test_tiny_transposed_convolution_by_hand():
    x = numpy.array([1.0, 2.0]).reshape(1, 1, 2, 1)
    kernel = numpy.array([1.0, 10.0, 100.0]).reshape(1, 3, 1, 1)
    valid = built(Conv2DTranspose(1, (1, 3), strides=(1, 2), use_bias=False), x.shape, [kernel])
    # 1*[1, 10, 100] at column 0 plus 2*[1, 10, 100] at column 2
    assert host(valid(x))[0, 0, :, 0].tolist() == [1, 10, 102, 20, 200]
    same = built(Conv2DTranspose(1, (1, 3), strides=(1, 2), padding="same", use_bias=False), x.shape, [kernel])
    assert host(same(x))[0, 0, :, 0].tolist() == [1, 10, 102, 20]


# (H, W, C, F, kernel, strides, padding, output_padding, dilation, (OH, PH), (OW, PW)), by hand as above
TRANSPOSE_CASES = [
    (4, 5, 2, 3, (3, 3), (1, 1), "valid", None, (1, 1), (6, 0), (7, 0)),
    (3, 3, 2, 2, (3, 2), (2, 3), "valid", None, (1, 1), (7, 0), (9, 0)),
    (3, 4, 1, 2, (3, 3), (2, 2), "valid", (1, 0), (1, 1), (8, 0), (9, 0)),
    (4, 3, 2, 2, (4, 5), (2, 2), "same", None, (1, 1), (8, 1), (6, 1)),
    (3, 3, 2, 3, (3, 4), (2, 2), "same", (0, 1), (1, 1), (5, 1), (5, 1)),
    (5, 4, 2, 2, (3, 2), (1, 1), "same", None, (2, 3), (5, 2), (4, 1)),
    (2, 3, 3, 2, (3, 1), (3, 3), "same", None, (1, 1), (6, 0), (9, 0)),
    (3, 4, 2, 2, (2, 3), (1, 1), "valid", None, (2, 1), (5, 0), (6, 0)),
    (3, 3, 17, 2, (2, 2), (2, 2), "same", None, (1, 1), (6, 0), (6, 0)),   # many channels
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose_matches_loops(case, rng, xp):
    H, W, C, F, kernel_size, strides, padding, output_padding, dilation, (OH, PH), (OW, PW) = case
    layer = Conv2DTranspose(F, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
                            dilation_rate=dilation, activation="relu", bias_initializer="random_normal")
    x = rng.standard_normal((2, H, W, C)).astype(numpy.float32)
    y = host(layer(xp.asarray(x)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == kernel_size + (F, C)  # Keras' layout
    expected = numpy.maximum(conv_transpose_by_loops(x, kernel, bias, strides, dilation, (OH, OW), (PH, PW)), 0)
    assert y.shape == expected.shape and layer.compute_output_shape((None, H, W, C)) == (None, OH, OW, F)
    numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def depthwise_by_loops(x, kernel, strides, padding, dilation):
    """Float64 per-channel convolution, output channel ``c*M + m``; TensorFlow's padding."""
    N, H, W, C = x.shape
    KH, KW, _, M = kernel.shape
    OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, *strides, *dilation, padding)
    y = numpy.zeros((N, OH, OW, C, M))
    for oh, ow, kh, kw in numpy.ndindex(OH, OW, KH, KW):
        ih, iw = oh * strides[0] + kh * dilation[0] - PH, ow * strides[1] + kw * dilation[1] - PW
        if 0 <= ih < H and 0 <= iw < W:
            y[:, oh, ow] += x[:, ih, iw, :, None] * kernel[kh, kw]
    return y.reshape(N, OH, OW, C * M)


# (H, W, C, kernel, strides, padding, dilation, depth_multiplier)
DEPTHWISE_CASES = [
    (5, 5, 1, (3, 3), (1, 1), "valid", (1, 1), 1),
    (7, 6, 3, (3, 3), (2, 2), "same", (1, 1), 2),
    (6, 7, 2, (2, 3), (1, 2), "same", (1, 1), 3),
    (8, 9, 2, (3, 2), (1, 1), "valid", (2, 2), 1),
    (5, 6, 2, (4, 2), (2, 1), "same", (1, 1), 2),
    (4, 5, 17, (3, 3), (1, 2), "same", (1, 1), 2),   # many channels: the rows-first im2col layout
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES)
def test_depthwise_matches_loops(case, rng, xp):
    H, W, C, kernel_size, strides, padding, dilation, M = case
    layer = DepthwiseConv2D(kernel_size, strides=strides, padding=padding, depth_multiplier=M,
                            dilation_rate=dilation, activation="tanh", bias_initializer="random_normal")
    x = rng.standard_normal((2, H, W, C)).astype(numpy.float32)
    y = host(layer(xp.asarray(x)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == kernel_size + (C, M) and bias.shape == (C * M,)
    expected = numpy.tanh(depthwise_by_loops(x, kernel, strides, padding, dilation) + bias)
    assert y.shape == expected.shape and layer.compute_output_shape((None, H, W, C)) == (None,) + y.shape[1:]
    numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", DEPTHWISE_CASES)
def test_separable_matches_loops(case, rng, xp):
    H, W, C, kernel_size, strides, padding, dilation, M = case
    layer = SeparableConv2D(4, kernel_size, strides=strides, padding=padding, depth_multiplier=M,
                            dilation_rate=dilation, bias_initializer="random_normal")
    x = rng.standard_normal((2, H, W, C)).astype(numpy.float32)
    y = host(layer(xp.asarray(x)))
    depthwise, pointwise, bias = layer.get_weights()
    assert pointwise.shape == (1, 1, C * M, 4) and bias.shape == (4,)
    expected = depthwise_by_loops(x, depthwise, strides, padding, dilation) @ pointwise[0, 0] + bias
    numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


# ---- the adjoint identity <conv(x), y> == <x, conv_transpose(y)> with the same kernel --------------------------------
# (conv input H, W, kernel, strides, padding, dilation, output_padding making the transposed output H x W)

ADJOINT_CASES = [
    (8, 7, 3, 2, "same", 1, (1, 0)),
    (8, 8, 4, 2, "same", 1, None),
    (7, 7, 5, 2, "same", 1, 0),
    (9, 10, 3, 2, "valid", 1, (0, 1)),
    (7, 7, (2, 3), (3, 2), "valid", 1, (2, 0)),
    (6, 5, 3, 1, "same", 2, None),
    (7, 6, (3, 2), 1, "valid", (2, 3), None),
]


@pytest.mark.parametrize("H, W, kernel_size, strides, padding, dilation, output_padding", ADJOINT_CASES)
def test_conv_transpose_is_the_adjoint_of_conv2d(H, W, kernel_size, strides, padding, dilation, output_padding, rng,
                                                 backend_name):
    conv = Conv2D(3, kernel_size, strides=strides, padding=padding, dilation_rate=dilation, use_bias=False)
    x = rng.standard_normal((2, H, W, 2))
    built(conv, x.shape)
    y = rng.standard_normal((2,) + conv.compute_output_shape(x.shape)[1:3] + (3,))
    transpose = Conv2DTranspose(2, kernel_size, strides=strides, padding=padding, dilation_rate=dilation,
                                output_padding=output_padding, use_bias=False)
    built(transpose, y.shape, conv.get_weights())  # the same (KH, KW, 2, 3) array
    xp = backend.xp()
    conv_x, transpose_y = host(conv(xp.asarray(x))), host(transpose(xp.asarray(y)))
    assert transpose_y.shape == x.shape
    assert numpy.vdot(conv_x, y) == pytest.approx(numpy.vdot(x, transpose_y), rel=1e-12)


# ---- gradients -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose_gradients(case, rng, backend_name):
    H, W, C, F, kernel_size, strides, padding, output_padding, dilation, _, _ = case
    layer = Conv2DTranspose(F, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
                            dilation_rate=dilation, activation="tanh", bias_initializer="random_normal")
    result = gradcheck(layer, rng.standard_normal((2, H, W, C)), max_checks=40)
    assert result.max_relative_error < 1e-6, result


@pytest.mark.parametrize("case", DEPTHWISE_CASES)
@pytest.mark.parametrize("kind", ["DepthwiseConv2D", "SeparableConv2D"])
def test_depthwise_and_separable_gradients(case, kind, rng, backend_name):
    H, W, C, kernel_size, strides, padding, dilation, M = case
    extra = {"filters": 3} if kind == "SeparableConv2D" else {}
    layer = CLASSES[kind](kernel_size=kernel_size, strides=strides, padding=padding, depth_multiplier=M,
                          dilation_rate=dilation, activation="tanh", bias_initializer="random_normal", **extra)
    result = gradcheck(layer, rng.standard_normal((2, H, W, C)), training=True, max_checks=40)
    assert result.max_relative_error < 1e-6, result


@pytest.mark.parametrize("layer", [
    lambda: Conv2DTranspose(2, 3, strides=2, padding="same", activation="sigmoid", bias_initializer="random_normal"),
    lambda: DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu", use_bias=False),
    lambda: SeparableConv2D(3, (2, 3), strides=2, activation="tanh"),
])
@pytest.mark.parametrize("training", [False, True])
def test_chunked_batches_have_the_same_gradients(layer, training, rng, backend_name):
    """A workspace budget of one byte: every sample is its own chunk, forward and backward."""
    layer = layer()
    layer.workspace_bytes = 1
    result = gradcheck(layer, rng.standard_normal((3, 5, 4, 2)), training=training, max_checks=40)
    assert result.max_relative_error < 1e-6, result


@pytest.mark.parametrize("layer", [lambda: Conv2DTranspose(2, 3, strides=2), lambda: DepthwiseConv2D(3),
                                   lambda: SeparableConv2D(2, 3)])
def test_first_layer_returns_no_input_gradient(layer, rng):
    layer = layer()
    y = layer(rng.standard_normal((2, 5, 5, 3)).astype(numpy.float32), training=True)
    layer.needs_input_gradient = False
    assert layer.backward(numpy.ones_like(y)) is None
    assert all(numpy.abs(grad).sum() > 0 for grad in layer.grads.values())


# ---- shapes, weights and errors --------------------------------------------------------------------------------------

SHAPE_CASES = [
    (Conv2DTranspose(4, 3), (None, 5, 6, 2), (None, 7, 8, 4), [(3, 3, 4, 2), (4,)]),
    (Conv2DTranspose(4, 3, strides=2, padding="same", use_bias=False), (None, 5, 6, 2), (None, 10, 12, 4),
     [(3, 3, 4, 2)]),
    (Conv2DTranspose(4, (2, 5), strides=(3, 2), output_padding=(2, 1)), (None, 2, 3, 1), (None, 7, 10, 4),
     [(2, 5, 4, 1), (4,)]),
    (Conv2DTranspose(1, 3, strides=2, padding="same"), (None, None, None, 3), (None, None, None, 1),
     [(3, 3, 1, 3), (1,)]),
    (DepthwiseConv2D(3, depth_multiplier=2), (None, 5, 6, 3), (None, 3, 4, 6), [(3, 3, 3, 2), (6,)]),
    (DepthwiseConv2D((2, 3), strides=2, padding="same"), (None, 5, 6, 4), (None, 3, 3, 4), [(2, 3, 4, 1), (4,)]),
    (DepthwiseConv2D(3, dilation_rate=2), (None, None, 9, 2), (None, None, None, 2), [(3, 3, 2, 1), (2,)]),  # as Conv2D
    (Conv2DTranspose(2, 3, strides=2), (None, None, 4, 1), (None, None, 9, 2), [(3, 3, 2, 1), (2,)]),
    (SeparableConv2D(8, 3, depth_multiplier=3, padding="same"), (None, 5, 6, 2), (None, 5, 6, 8),
     [(3, 3, 2, 3), (1, 1, 6, 8), (8,)]),
    (SeparableConv2D(8, 3, strides=2, use_bias=False), (None, 7, 6, 2), (None, 3, 2, 8), [(3, 3, 2, 1), (1, 1, 2, 8)]),
]


@pytest.mark.parametrize("layer, input_shape, output_shape, weight_shapes", SHAPE_CASES)
def test_shapes_and_weights(layer, input_shape, output_shape, weight_shapes):
    assert layer.build_for(input_shape) == output_shape
    assert [tuple(w.shape) for w in layer.get_weights()] == weight_shapes


def test_weight_names_are_keras_3s():
    assert [s.name for s in built(Conv2DTranspose(2, 3), (None, 4, 4, 1)).weight_specs] == ["kernel", "bias"]
    assert [s.name for s in built(DepthwiseConv2D(3), (None, 4, 4, 1)).weight_specs] == ["kernel", "bias"]
    assert [s.name for s in built(SeparableConv2D(2, 3), (None, 4, 4, 1)).weight_specs] == [
        "depthwise_kernel", "pointwise_kernel", "bias"]


ARGUMENT_ERRORS = [
    (Conv2DTranspose, dict(filters=0, kernel_size=3), r"Conv2DTranspose: expected a positive integer for `filters`. "
                                                      r"Received: filters=0"),
    (Conv2DTranspose, dict(filters=2, kernel_size=(3, 3, 3)), r"integer or a pair of integers for `kernel_size`"),
    (Conv2DTranspose, dict(filters=2, kernel_size=3, padding="full"), r"padding 'valid' or 'same'"),
    (Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2, output_padding=2),
     r"expected `output_padding` smaller than `strides` in each dimension. Received: output_padding=\(2, 2\), "
     r"strides=\(2, 2\)"),
    (Conv2DTranspose, dict(filters=2, kernel_size=3, output_padding=(0, -1)),
     r"non-negative integer or a pair of them for `output_padding`. Received: output_padding=\(0, -1\)"),
    (Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2, dilation_rate=2),
     r"`strides` > 1 is not supported together with `dilation_rate` > 1"),
    (DepthwiseConv2D, dict(kernel_size=3, depth_multiplier=0), r"DepthwiseConv2D: expected a positive integer for "
                                                               r"`depth_multiplier`. Received: depth_multiplier=0"),
    (DepthwiseConv2D, dict(kernel_size=0), r"DepthwiseConv2D: expected a positive integer for `kernel_size`"),
    (DepthwiseConv2D, dict(kernel_size=3, strides=(1, 0)), r"DepthwiseConv2D: .* `strides`"),
    (SeparableConv2D, dict(filters=-1, kernel_size=3), r"SeparableConv2D: expected a positive integer for `filters`"),
    (SeparableConv2D, dict(filters=2, kernel_size=3, padding="causal"), r"SeparableConv2D: expected padding"),
    (SeparableConv2D, dict(filters=2, kernel_size=3, kernel_initializer="zeros"), r"unexpected keyword|multiple"),
]


@pytest.mark.parametrize("cls, kwargs, message", ARGUMENT_ERRORS)
def test_bad_arguments(cls, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        cls(**kwargs)


INPUT_ERRORS = [
    (lambda: Conv2DTranspose(2, 3, name="ct"), (None, 8, 8), r"'ct' \(Conv2DTranspose\) expects 4-D input"),
    (lambda: Conv2DTranspose(2, 3, name="ct"), (None, 8, 8, None), r"'ct' \(Conv2DTranspose\) needs the channel axis"),
    (lambda: DepthwiseConv2D(3, name="dw"), (None, 8, 8), r"'dw' \(DepthwiseConv2D\) expects 4-D input"),
    (lambda: DepthwiseConv2D(5, name="dw"), (None, 4, 6, 1),
     r"'dw' \(DepthwiseConv2D\): the kernel \(5, 5\) \(with dilation\) is larger than the input's 4x6 pixels"),
    (lambda: SeparableConv2D(2, 3, dilation_rate=2, name="sep"), (None, 4, 4, 1),
     r"'sep' \(SeparableConv2D\): the kernel \(5, 5\)"),
    (lambda: SeparableConv2D(2, 3, name="sep"), (None, 5, 5, None), r"'sep' \(SeparableConv2D\) needs the channel"),
]


@pytest.mark.parametrize("layer, input_shape, message", INPUT_ERRORS)
def test_bad_input_shapes(layer, input_shape, message):
    with pytest.raises(ValueError, match=message):
        layer().build_for(input_shape)


@pytest.mark.parametrize("layer, message", [
    (Conv2DTranspose(2, 3, name="ct_c"), r"'ct_c' \(Conv2DTranspose\) expects inputs with 3 channels \(kernel shape "
                                         r"\(3, 3, 2, 3\)\), but received input of shape \(1, 5, 5, 2\)"),
    (DepthwiseConv2D(3, name="dw_c"), r"'dw_c' \(DepthwiseConv2D\) expects inputs with 3 channels \(depthwise kernel "
                                      r"shape \(3, 3, 3, 1\)\), but received input of shape \(1, 5, 5, 2\)"),
    (SeparableConv2D(2, 3, name="sep_c"), r"'sep_c' \(SeparableConv2D\) expects inputs with 3 channels"),
])
def test_channel_mismatch_names_layer_and_shapes(layer, message):
    layer.build_for((None, 5, 5, 3))
    with pytest.raises(ValueError, match=message):
        layer(numpy.zeros((1, 5, 5, 2), numpy.float32))


# ---- Keras goldens ---------------------------------------------------------------------------------------------------

GOLDENS, GOLDEN_CONFIGS = keras_cases("keras_conv_transpose.npz")


@pytest.mark.parametrize("case", sorted(GOLDEN_CONFIGS))
@pytest.mark.parametrize("chunked", [False, True])
def test_keras_outputs(case, chunked, backend_name):
    kind, kwargs = GOLDEN_CONFIGS[case]
    layer = CLASSES[kind](**kwargs)
    x = GOLDENS[f"{case}__x"]
    layer.build_for((None,) + x.shape[1:])
    layer.set_weights([GOLDENS[f"{case}__w{i}"] for i in range(len(layer.weights))])
    if chunked:
        layer.workspace_bytes = 1
    numpy.testing.assert_allclose(host(layer(x)), GOLDENS[f"{case}__y"], rtol=1e-5, atol=1e-6)


STEPS, STEP_CONFIGS = keras_cases("keras_conv_transpose_sgd.npz")


@pytest.mark.parametrize("case", sorted(STEP_CONFIGS))
def test_keras_one_sgd_step(case, backend_name):
    kind, kwargs = STEP_CONFIGS[case]
    assert_keras_sgd_step(STEPS, case, [CLASSES[kind](**kwargs)])


# ---- configs and models ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [
    Conv2DTranspose(8, (3, 2), strides=2, padding="same", output_padding=(1, 0), activation="relu", use_bias=False,
                    kernel_regularizer="l2", name="ct"),
    Conv2DTranspose(4, 3, dilation_rate=2, kernel_initializer="he_normal"),
    DepthwiseConv2D((3, 2), strides=2, padding="same", depth_multiplier=3, activation="tanh",
                    depthwise_initializer="he_uniform", depthwise_regularizer="l2", bias_regularizer="l1"),
    SeparableConv2D(6, 3, depth_multiplier=2, dilation_rate=2, pointwise_initializer="zeros",
                    pointwise_regularizer="l2", depthwise_regularizer="l1", use_bias=False),
])
def test_config_round_trip(layer):
    config = layer.get_config()
    twin = type(layer).from_config(config)
    assert twin.get_config() == config
    assert "kernel_initializer" not in config or type(layer) is Conv2DTranspose


def test_keras_config_names():
    config = Conv2DTranspose(2, 3, strides=2, output_padding=1).get_config()
    assert config["output_padding"] == [1, 1] and config["strides"] == [2, 2]
    config = SeparableConv2D(2, 3).get_config()
    assert {"depthwise_initializer", "pointwise_initializer", "depthwise_regularizer", "pointwise_regularizer",
            "depth_multiplier", "filters"} <= set(config)


def test_layers_in_a_functional_model_that_saves_and_loads(rng, tmp_path):
    inputs = nnkit.Input(shape=(6, 6, 2))
    h = DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inputs)
    h = SeparableConv2D(4, 3, strides=2, padding="same")(h)
    outputs = Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1)(h)
    model = nnkit.Model(inputs, outputs)
    assert [layer.output_shape for layer in model.layers[1:]] == [(None, 6, 6, 4), (None, 3, 3, 4), (None, 6, 6, 2)]
    model.compile(optimizer="adam", loss="mse")
    x = rng.standard_normal((4, 6, 6, 2)).astype(numpy.float32)
    model.fit(x, x, epochs=1, verbose=0)
    model.save(tmp_path / "m.nnkit")
    restored = nnkit.models.load_model(tmp_path / "m.nnkit")
    assert [type(layer).__name__ for layer in restored.layers[1:]] == ["DepthwiseConv2D", "SeparableConv2D",
                                                                       "Conv2DTranspose"]
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_convolutional_autoencoder_learns_the_digits():
    """Conv2D with stride 2 encodes an 8x8 digit as 4x4x8; Conv2DTranspose with stride 2 decodes it."""
    (x_train, _), (x_test, _) = nnkit.datasets.digits.load_data()
    x_train, x_test = x_train[..., None] / 16.0, x_test[..., None] / 16.0
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([
        nnkit.Input(shape=(8, 8, 1)),
        Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid"),
    ])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.01), loss="mse")
    before = model.evaluate(x_test, x_test, verbose=0)
    history = model.fit(x_train, x_train, batch_size=32, epochs=5, verbose=0)
    after = model.evaluate(x_test, x_test, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < 0.1 * before, (before, after)
