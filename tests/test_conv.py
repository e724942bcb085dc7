"""Convolution: geometry, im2col/col2im against loops, Conv2D against a float64 loop convolution and a
numerical gradient, errors."""
import numpy
import pytest

from nnkit import backend, primitives
from nnkit.layers import Conv2D
from nnkit.utils import gradcheck

# (H, W, C, KH, KW, SH, SW, DH, DW, padding): odd sizes, stride 2, even kernels with 'same', dilation.
GEOMETRIES = [
    (5, 5, 1, 3, 3, 1, 1, 1, 1, "valid"),
    (7, 6, 3, 3, 3, 2, 2, 1, 1, "valid"),
    (6, 7, 2, 2, 2, 1, 1, 1, 1, "same"),
    (7, 5, 3, 4, 2, 2, 1, 1, 1, "same"),
    (8, 9, 2, 3, 3, 1, 2, 2, 2, "valid"),
    (7, 7, 2, 3, 2, 2, 2, 2, 1, "same"),
    (4, 4, 3, 1, 1, 1, 1, 1, 1, "valid"),
    (6, 5, 16, 3, 3, 2, 1, 1, 1, "same"),   # many channels: the rows-first im2col layout
]


def brute_force_im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    N, H, W, C = x.shape
    cols = numpy.zeros((N * OH * OW, KH * KW * C))
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for kh in range(KH):
                    for kw in range(KW):
                        ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
                        if 0 <= ih < H and 0 <= iw < W:
                            for c in range(C):
                                cols[(n * OH + oh) * OW + ow, (kh * KW + kw) * C + c] = x[n, ih, iw, c]
    return cols


def brute_force_col2im(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    N, H, W, C = x_shape
    dx = numpy.zeros(x_shape)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for kh in range(KH):
                    for kw in range(KW):
                        ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
                        if 0 <= ih < H and 0 <= iw < W:
                            for c in range(C):
                                dx[n, ih, iw, c] += cols[(n * OH + oh) * OW + ow, (kh * KW + kw) * C + c]
    return dx


def conv_args(H, W, KH, KW, SH, SW, DH, DW, padding):
    OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, SH, SW, DH, DW, padding)
    return (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def reference_conv(x, kernel, bias, strides, padding, dilation):
    """Float64 convolution by the definition, TensorFlow's padding (extra row/column at the bottom/right)."""
    KH, KW, C, F = kernel.shape
    args = conv_args(x.shape[1], x.shape[2], KH, KW, *strides, *dilation, padding)
    cols = brute_force_im2col(x.astype(numpy.float64), *args)
    out = cols @ kernel.reshape(-1, F).astype(numpy.float64) + bias
    return out.reshape(x.shape[0], args[-2], args[-1], F)


@pytest.mark.parametrize("size, kernel, stride, dilation, padding, expected", [
    (28, 3, 1, 1, "valid", (26, 0)),
    (5, 4, 1, 1, "same", (5, 1)),      # total padding 3: 1 on top, 2 at the bottom
    (7, 3, 2, 1, "same", (4, 1)),      # total padding 2
    (6, 2, 2, 1, "same", (3, 0)),      # no padding needed
    (7, 3, 1, 2, "valid", (3, 0)),     # dilated span 5
    (8, 3, 1, 3, "same", (8, 3)),      # dilated span 7, total padding 6
    (2, 3, 1, 1, "valid", (0, 0)),     # the kernel does not fit
])
def test_output_geometry_matches_tensorflow(size, kernel, stride, dilation, padding, expected):
    OH, OW, PH, PW = primitives.conv_output_geometry(size, size, kernel, kernel, stride, stride, dilation, dilation, padding)
    assert (OH, PH) == expected and (OW, PW) == expected


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_im2col_and_col2im_match_loops(geometry, rng):
    H, W, C, KH, KW, SH, SW, DH, DW, padding = geometry
    x = rng.standard_normal((2, H, W, C))
    args = conv_args(H, W, KH, KW, SH, SW, DH, DW, padding)
    cols = primitives.im2col(x, *args)
    numpy.testing.assert_array_equal(cols, brute_force_im2col(x, *args))
    c = rng.standard_normal(cols.shape)
    numpy.testing.assert_allclose(primitives.col2im(c, x.shape, *args), brute_force_col2im(c, x.shape, *args), atol=1e-12)
    # Also from a row-major cols (as the dx GEMM produces it) and float32.
    c32 = numpy.ascontiguousarray(c, dtype=numpy.float32)
    numpy.testing.assert_allclose(primitives.col2im(c32, x.shape, *args), brute_force_col2im(c, x.shape, *args),
                                  rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_col2im_is_the_adjoint_of_im2col(geometry, rng):
    H, W, C, KH, KW, SH, SW, DH, DW, padding = geometry
    x = rng.standard_normal((3, H, W, C))
    args = conv_args(H, W, KH, KW, SH, SW, DH, DW, padding)
    c = rng.standard_normal(primitives.im2col(x, *args).shape)
    lhs = numpy.vdot(primitives.im2col(x, *args), c)
    rhs = numpy.vdot(x, primitives.col2im(c, x.shape, *args))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_tiny_convolution_by_hand():
    x = numpy.arange(1, 10, dtype=numpy.float64).reshape(1, 3, 3, 1)   # [[1 2 3] [4 5 6] [7 8 9]]
    kernel = numpy.array([[1, 2], [3, 4]], dtype=numpy.float64).reshape(2, 2, 1, 1)
    layer = Conv2D(1, (2, 2), dtype="float64")
    layer.build_for((None, 3, 3, 1))
    layer.set_weights([kernel, numpy.array([0.5])])
    # out[0, 0] = 1*1 + 2*2 + 3*4 + 4*5 = 37, and so on.
    numpy.testing.assert_array_equal(layer(x)[0, :, :, 0], [[37.5, 47.5], [67.5, 77.5]])
    same = Conv2D(1, (2, 2), padding="same", use_bias=False)
    same.build_for((None, 3, 3, 1))
    same.set_weights([kernel])
    # 'same' pads one row at the bottom and one column at the right (TensorFlow's convention).
    numpy.testing.assert_array_equal(same(x)[0, :, :, 0], [[37, 47, 21], [67, 77, 33], [23, 26, 9]])
    strided = Conv2D(1, (2, 2), strides=2, padding="same", use_bias=False)
    strided.build_for((None, 3, 3, 1))
    strided.set_weights([kernel])
    numpy.testing.assert_array_equal(strided(x)[0, :, :, 0], [[37, 21], [23, 9]])


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_conv2d_forward_matches_float64_reference(geometry, rng, xp):
    H, W, C, KH, KW, SH, SW, DH, DW, padding = geometry
    layer = Conv2D(4, (KH, KW), strides=(SH, SW), padding=padding, dilation_rate=(DH, DW), activation="relu",
                   bias_initializer="random_normal")
    x = rng.standard_normal((3, H, W, C)).astype(numpy.float32)
    y = backend.to_host(layer(x))
    kernel, bias = layer.get_weights()
    expected = numpy.maximum(reference_conv(x, kernel, bias, (SH, SW), padding, (DH, DW)), 0)
    assert layer.kernel.shape == (KH, KW, C, 4)  # Keras' layout
    assert y.shape == expected.shape
    assert layer.compute_output_shape((None, H, W, C)) == (None,) + expected.shape[1:]
    numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_conv2d_gradients(geometry, activation, rng, backend_name):
    H, W, C, KH, KW, SH, SW, DH, DW, padding = geometry
    layer = Conv2D(3, (KH, KW), strides=(SH, SW), padding=padding, dilation_rate=(DH, DW), activation=activation,
                   bias_initializer="random_normal")
    result = gradcheck(layer, rng.standard_normal((2, H, W, C)), max_checks=40)
    assert result.max_relative_error < 1e-6, result


def test_conv2d_relu_gradients_in_training_mode(rng):
    layer = Conv2D(5, 3, strides=2, padding="same", activation="relu", use_bias=False)
    result = gradcheck(layer, rng.standard_normal((3, 9, 8, 2)), training=True)
    assert result.max_relative_error < 1e-6, result
    assert "bias" not in result.errors


def test_chunked_batch_matches_reference_and_gradients(rng):
    """A workspace budget smaller than one batch: the batch is convolved (and differentiated) in chunks."""
    layer = Conv2D(3, 3, padding="same", activation="tanh", bias_initializer="random_normal")
    x = rng.standard_normal((5, 6, 5, 2))
    layer.build_for((None, 6, 5, 2))
    per_sample = 3 * 3 * 2 * 6 * 5 * 4  # float32 bytes of one sample's patch matrix
    layer.workspace_bytes = 2 * per_sample
    assert len(primitives.batch_chunks(5, per_sample, layer.workspace_bytes)) == 3
    kernel, bias = layer.get_weights()
    expected = numpy.tanh(reference_conv(x, kernel, bias, (1, 1), "same", (1, 1)))
    numpy.testing.assert_allclose(layer(x.astype(numpy.float32)), expected, rtol=1e-4, atol=1e-5)

    chunked = Conv2D(3, 3, padding="same", activation="tanh", bias_initializer="random_normal")
    chunked.workspace_bytes = 2 * 3 * 3 * 2 * 6 * 5 * 8  # two float64 samples per chunk
    for training in (False, True):
        result = gradcheck(chunked, x, training=training)
        assert result.max_relative_error < 1e-6, result


def test_batch_chunks_cover_the_batch_within_budget():
    assert primitives.batch_chunks(10, 100, 350) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert primitives.batch_chunks(4, 1000, 10) == [(0, 1), (1, 2), (2, 3), (3, 4)]  # at least one sample
    assert primitives.batch_chunks(4, 10, 10**6) == [(0, 4)]


def test_an_output_the_caller_keeps_is_not_overwritten(rng):
    """Recycled buffers are only reused when nothing else holds them."""
    layer = Conv2D(2, 3, activation="relu")
    first_input, second_input = rng.standard_normal((2, 4, 6, 6, 1)).astype(numpy.float32)
    first = layer(first_input, training=True)
    kept = first.copy()
    layer.backward(numpy.ones_like(first))
    second = layer(second_input, training=True)
    numpy.testing.assert_array_equal(first, kept)
    assert not numpy.array_equal(first, second)


def test_first_layer_returns_no_input_gradient(rng):
    layer = Conv2D(2, 3)
    x = rng.standard_normal((2, 5, 5, 1)).astype(numpy.float32)
    y = layer(x, training=True)
    layer.needs_input_gradient = False
    assert layer.backward(numpy.ones_like(y)) is None
    assert numpy.abs(layer.grads["kernel"]).sum() > 0


def test_config_round_trip():
    layer = Conv2D(8, (3, 2), strides=2, padding="same", dilation_rate=1, activation="relu", use_bias=False,
                   kernel_regularizer="l2", name="conv")
    config = layer.get_config()
    assert config["kernel_size"] == [3, 2] and config["strides"] == [2, 2] and config["padding"] == "same"
    assert Conv2D.from_config(config).get_config() == config


def test_wrong_rank_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'conv_rank' \(Conv2D\) expects 4-D input .* \(None, 28, 28\)"):
        Conv2D(4, 3, name="conv_rank").build_for((None, 28, 28))
    layer = Conv2D(4, 3, name="conv_rank2")
    layer.build_for((None, 8, 8, 1))
    with pytest.raises(ValueError, match=r"expects 4-D input .* \(2, 8, 8\)"):
        layer.forward(numpy.zeros((2, 8, 8), numpy.float32))


def test_channel_mismatch_names_layer_and_both_shapes():
    layer = Conv2D(4, 3, name="conv_channels")
    layer.build_for((None, 8, 8, 3))
    with pytest.raises(ValueError, match=r"'conv_channels' \(Conv2D\) expects inputs with 3 channels \(kernel shape "
                                         r"\(3, 3, 3, 4\)\), but received input of shape \(2, 8, 8, 1\)"):
        layer(numpy.zeros((2, 8, 8, 1), numpy.float32))


def test_kernel_larger_than_valid_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'conv_big' \(Conv2D\): the kernel \(5, 5\) .* larger than the input's "
                                         r"4x4 pixels with padding='valid'"):
        Conv2D(2, 5, name="conv_big").build_for((None, 4, 4, 1))
    dilated = Conv2D(2, 3, dilation_rate=3, name="conv_dilated")  # span 7
    dilated.build_for((None, None, None, 1))
    with pytest.raises(ValueError, match=r"kernel \(7, 7\) \(with dilation\) is larger"):
        dilated(numpy.zeros((1, 6, 6, 1), numpy.float32))
    assert Conv2D(2, 5, padding="same").build_for((None, 4, 4, 1)) == (None, 4, 4, 2)


@pytest.mark.parametrize("kwargs, message", [
    ({"filters": 0, "kernel_size": 3}, r"positive integer for `filters`. Received: filters=0"),
    ({"filters": 2, "kernel_size": (3, 3, 3)}, r"integer or a pair of integers for `kernel_size`"),
    ({"filters": 2, "kernel_size": 3, "strides": 0}, r"positive integer for `strides`"),
    ({"filters": 2, "kernel_size": 3, "padding": "full"}, r"padding 'valid' or 'same'. Received: padding='full'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2D(**kwargs)
