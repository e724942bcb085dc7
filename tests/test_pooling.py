"""Pooling: max and average pooling against loops, exactly one gradient per window on ties, gradients."""
import numpy
import pytest

from nnkit import backend, primitives
from nnkit.layers import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from nnkit.utils import gradcheck

# (H, W, KH, KW, SH, SW, padding): odd sizes (a cropped last row), stride != size, 'same' with padding.
GEOMETRIES = [
    (6, 6, 2, 2, 2, 2, "valid"),
    (7, 5, 2, 2, 2, 2, "valid"),
    (7, 5, 2, 2, 2, 2, "same"),
    (7, 8, 3, 3, 2, 2, "valid"),
    (6, 7, 3, 2, 1, 2, "same"),
    (5, 5, 2, 3, 3, 1, "same"),
]


def pool_args(H, W, KH, KW, SH, SW, padding):
    OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, SH, SW, 1, 1, padding)
    return (KH, KW, SH, SW, PH, PW, OH, OW)


def windows(x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """Yields ``(oh, ow, [(ih, iw) inside the image, in row-major window order])``."""
    _, H, W, _ = x_shape
    for oh in range(OH):
        for ow in range(OW):
            taps = [(oh * SH - PH + kh, ow * SW - PW + kw) for kh in range(KH) for kw in range(KW)]
            yield oh, ow, [(ih, iw) for ih, iw in taps if 0 <= ih < H and 0 <= iw < W]


def brute_force_max_pool(x, dy, args):
    """The window maxima, and the gradient sent to the first maximum of each window (row-major)."""
    N, _, _, C = x.shape
    y = numpy.zeros((N, args[-2], args[-1], C))
    dx = numpy.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for oh, ow, taps in windows(x.shape, *args):
                values = [x[n, ih, iw, c] for ih, iw in taps]
                first = int(numpy.argmax(values))  # numpy.argmax returns the first maximum
                y[n, oh, ow, c] = values[first]
                dx[n, taps[first][0], taps[first][1], c] += dy[n, oh, ow, c]
    return y, dx


def brute_force_avg_pool(x, dy, args):
    N, _, _, C = x.shape
    y = numpy.zeros((N, args[-2], args[-1], C))
    dx = numpy.zeros(x.shape)
    for oh, ow, taps in windows(x.shape, *args):
        for ih, iw in taps:
            y[:, oh, ow, :] += x[:, ih, iw, :] / len(taps)
            dx[:, ih, iw, :] += dy[:, oh, ow, :] / len(taps)
    return y, dx


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_max_pool_matches_loops(geometry, rng):
    args = pool_args(*geometry)
    x = rng.standard_normal((2,) + geometry[:2] + (3,))
    dy = rng.standard_normal((2, args[-2], args[-1], 3))
    y, saved = primitives.max_pool2d(x, *args)
    expected_y, expected_dx = brute_force_max_pool(x, dy, args)
    numpy.testing.assert_array_equal(y, expected_y)
    numpy.testing.assert_allclose(primitives.max_pool2d_backward(dy, saved, x.shape, *args), expected_dx, atol=1e-12)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_average_pool_matches_loops_and_leaves_padding_out_of_the_mean(geometry, rng):
    args = pool_args(*geometry)
    x = rng.standard_normal((2,) + geometry[:2] + (3,))
    dy = rng.standard_normal((2, args[-2], args[-1], 3))
    expected_y, expected_dx = brute_force_avg_pool(x, dy, args)
    numpy.testing.assert_allclose(primitives.avg_pool2d(x, *args), expected_y, atol=1e-12)
    numpy.testing.assert_allclose(primitives.avg_pool2d_backward(dy, x.shape, *args), expected_dx, atol=1e-12)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_saturated_pixels_get_exactly_one_gradient_per_window(geometry, rng):
    """MNIST has runs of 255s: with ties, the first maximum (row-major) takes the whole window gradient."""
    args = pool_args(*geometry)
    x = numpy.where(rng.random((2,) + geometry[:2] + (2,)) < 0.6, 1.0, rng.random((2,) + geometry[:2] + (2,)))
    x = x.astype(numpy.float32)
    dy = numpy.ones((2, args[-2], args[-1], 2), numpy.float32)
    y, saved = primitives.max_pool2d(x, *args)
    dx = primitives.max_pool2d_backward(dy, saved, x.shape, *args)
    _, expected_dx = brute_force_max_pool(x.astype(numpy.float64), dy, args)
    numpy.testing.assert_array_equal(dx, expected_dx)
    assert dx.sum() == dy.size  # one unit of gradient per window, never split or duplicated


def test_all_equal_window_sends_gradient_to_its_top_left():
    x = numpy.full((1, 4, 4, 1), 255.0, numpy.float32)
    layer = MaxPooling2D(2)
    layer(x)
    dx = layer.backward(numpy.arange(1, 5, dtype=numpy.float32).reshape(1, 2, 2, 1))
    numpy.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_pooling_layer_gradients(geometry, rng, backend_name):
    H, W, KH, KW, SH, SW, padding = geometry
    x = rng.permutation(2 * H * W * 3).reshape(2, H, W, 3) * 0.01 + rng.random((2, H, W, 3)) * 1e-3  # no ties
    for layer in (MaxPooling2D((KH, KW), (SH, SW), padding), AveragePooling2D((KH, KW), (SH, SW), padding)):
        result = gradcheck(layer, x, max_checks=40)
        assert result.max_relative_error < 1e-7, (layer, result)


def test_global_average_pooling(rng, xp):
    x = rng.standard_normal((3, 5, 4, 6))
    layer = GlobalAveragePooling2D()
    numpy.testing.assert_allclose(backend.to_host(layer(x)), x.mean(axis=(1, 2)), rtol=1e-12)
    assert GlobalAveragePooling2D(keepdims=True)(x).shape == (3, 1, 1, 6)
    assert gradcheck(GlobalAveragePooling2D(), x).max_relative_error < 1e-8
    assert gradcheck(GlobalAveragePooling2D(keepdims=True), x).max_relative_error < 1e-8


def test_output_shapes_and_config():
    assert MaxPooling2D(2).build_for((None, 26, 26, 32)) == (None, 13, 13, 32)
    assert MaxPooling2D(2, padding="same").build_for((None, 7, 7, 3)) == (None, 4, 4, 3)
    assert AveragePooling2D(3, strides=1).build_for((None, 5, 6, 2)) == (None, 3, 4, 2)
    assert GlobalAveragePooling2D().build_for((None, 7, 7, 64)) == (None, 64)
    config = MaxPooling2D((3, 2), strides=1, padding="same", name="pool").get_config()
    assert config["pool_size"] == [3, 2] and config["strides"] == [1, 1] and config["padding"] == "same"
    assert MaxPooling2D.from_config(config).get_config() == config
    assert GlobalAveragePooling2D.from_config(GlobalAveragePooling2D(keepdims=True).get_config()).keepdims


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"'pool_rank' \(MaxPooling2D\) expects 4-D input .* \(None, 10\)"):
        MaxPooling2D(name="pool_rank").build_for((None, 10))
    with pytest.raises(ValueError, match=r"pool size \(3, 3\) is larger than the input's 2x2 pixels"):
        AveragePooling2D(3).build_for((None, 2, 2, 1))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling2D\) expects 4-D input"):
        GlobalAveragePooling2D()(numpy.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"padding 'valid' or 'same'"):
        MaxPooling2D(padding="causal")
