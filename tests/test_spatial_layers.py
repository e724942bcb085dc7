"""The 1-D poolings, the global max poolings, UpSampling1D/2D, ZeroPadding1D/2D and Cropping1D/2D: forward against
float64 loops and NumPy formulas, gradients (float64 central differences, both backends), shapes and errors (a
declarative table), masks, configs, Keras' outputs and one Keras SGD step through them."""
import json
import math
import os
import re

import numpy
import pytest

from nnkit import backend
from nnkit.layers.pooling1d import (AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                    MaxPooling1D)
from nnkit.layers.spatial import Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D
from nnkit.utils import gradcheck

from layer_checks import check_output_shape_or_error

DATA = os.path.join(os.path.dirname(__file__), "data")


def host(array):
    return backend.to_host(array)


# ---- windowed 1-D pooling against loops ----------------------------------------------------------------------------

def windows(T, K, S, padding):
    """``[[steps inside the input] per output step]``, TensorFlow's padding (the extra step at the end)."""
    if padding == "valid":
        OT, left = (T - K) // S + 1, 0
    else:
        OT = -(-T // S)
        left = max((OT - 1) * S + K - T, 0) // 2
    return [[i for i in range(t * S - left, t * S - left + K) if 0 <= i < T] for t in range(OT)]


def loop_pool1d(x, dy, K, S, padding, mode):
    """The pooled values, and the gradient: to the first maximum of each window, or spread over its steps."""
    steps = windows(x.shape[1], K, S, padding)
    y, dx = numpy.zeros((x.shape[0], len(steps), x.shape[2])), numpy.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[2]):
            for t, window in enumerate(steps):
                values = x[n, window, c]
                if mode == "max":
                    y[n, t, c] = values.max()
                    dx[n, window[int(numpy.argmax(values))], c] += dy[n, t, c]
                else:
                    y[n, t, c] = values.mean()
                    dx[n, window, c] += dy[n, t, c] / len(window)
    return y, dx


POOL_GEOMETRIES = [(8, 2, 2, "valid"), (9, 2, 2, "valid"), (9, 2, 2, "same"), (9, 3, 2, "same"), (7, 3, 1, "valid"),
                   (7, 2, 3, "same"), (5, 4, 1, "same")]


@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
@pytest.mark.parametrize("mode", ["max", "average"])
def test_pooling1d_matches_loops(geometry, mode, rng, xp):
    T, K, S, padding = geometry
    x = rng.standard_normal((2, T, 3))
    x[0, :3, 0] = 1.5   # a tie: the gradient goes to the first maximum only
    layer = (MaxPooling1D if mode == "max" else AveragePooling1D)(K, strides=S, padding=padding)
    y = layer(xp.asarray(x))
    dy = rng.standard_normal(y.shape)
    expected_y, expected_dx = loop_pool1d(x, dy, K, S, padding, mode)
    assert layer.compute_output_shape((None, T, 3)) == (None,) + expected_y.shape[1:]
    numpy.testing.assert_allclose(host(y), expected_y, rtol=1e-12)
    numpy.testing.assert_allclose(host(layer.backward(xp.asarray(dy))), expected_dx, rtol=1e-12, atol=1e-15)


def test_strides_default_to_the_pool_size():
    assert MaxPooling1D(3).strides == (3,) and AveragePooling1D(pool_size=(2,), strides=1).strides == (1,)


# ---- global pooling --------------------------------------------------------------------------------------------

def test_global_poolings_by_formula(rng, xp):
    x1, x2 = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 4, 5, 2))
    numpy.testing.assert_array_equal(host(GlobalMaxPooling1D()(xp.asarray(x1))), x1.max(axis=1))
    numpy.testing.assert_array_equal(host(GlobalMaxPooling1D(keepdims=True)(xp.asarray(x1))), x1.max(1, keepdims=True))
    numpy.testing.assert_array_equal(host(GlobalMaxPooling2D()(xp.asarray(x2))), x2.max(axis=(1, 2)))
    assert GlobalMaxPooling2D(keepdims=True)(xp.asarray(x2)).shape == (3, 1, 1, 2)
    numpy.testing.assert_allclose(host(GlobalAveragePooling1D()(xp.asarray(x1))), x1.mean(axis=1), rtol=1e-12)


def test_global_max_sends_a_tied_gradient_to_the_first_maximum(xp):
    layer = GlobalMaxPooling2D()
    x = numpy.array([[[[1.0], [3.0]], [[3.0], [0.0]]]])   # (1, 2, 2, 1): the maximum 3 at (0, 1) and (1, 0)
    assert host(layer(xp.asarray(x))).tolist() == [[3.0]]
    assert host(layer.backward(xp.asarray([[5.0]]))).ravel().tolist() == [0.0, 5.0, 0.0, 0.0]


def test_global_average_over_the_unmasked_steps(rng, xp):
    x = rng.standard_normal((3, 4, 2))
    mask = numpy.array([[1, 0, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    x[0, 1] = numpy.nan   # a masked step is left out, whatever it holds (Keras: where(mask, x, 0))
    layer = GlobalAveragePooling1D()
    y, out_mask = layer.forward_masked(xp.asarray(x), xp.asarray(mask))
    assert out_mask is None
    expected = [(x[0, 0] + x[0, 2]) / 2, x[1].mean(axis=0), [0.0, 0.0]]   # all masked: zeros (Keras: 0 / 0)
    numpy.testing.assert_allclose(host(y), expected, rtol=1e-12)
    dx = host(layer.backward(xp.asarray(numpy.ones((3, 2)))))
    numpy.testing.assert_allclose(dx[:, :, 0], [[0.5, 0, 0.5, 0], [0.25] * 4, [0] * 4])
    with pytest.raises(ValueError, match=re.escape("expects a mask of shape (3, 4) for inputs of shape (3, 4, 2), "
                                                   "but received a mask of shape (3, 5)")):
        layer.forward_masked(xp.asarray(x), xp.ones((3, 5), dtype=bool))


# ---- upsampling, padding and cropping against NumPy formulas ---------------------------------------------------

def bilinear_by_loops(x, SH, SW):
    """Half-pixel centres: output (i, j) reads input ((i + 0.5) / SH - 0.5, (j + 0.5) / SW - 0.5), each clamped to
    [0, size - 1], as the weighted sum of the (up to) four pixels around it."""
    N, H, W, C = x.shape
    y = numpy.zeros((N, H * SH, W * SW, C))
    for i in range(H * SH):
        for j in range(W * SW):
            r = min(max((i + 0.5) / SH - 0.5, 0), H - 1)
            c = min(max((j + 0.5) / SW - 0.5, 0), W - 1)
            r0, c0 = math.floor(r), math.floor(c)
            r1, c1 = min(r0 + 1, H - 1), min(c0 + 1, W - 1)
            a, b = r - r0, c - c0
            y[:, i, j] = ((1 - a) * (1 - b) * x[:, r0, c0] + (1 - a) * b * x[:, r0, c1]
                          + a * (1 - b) * x[:, r1, c0] + a * b * x[:, r1, c1])
    return y


def test_bilinear_upsampling_by_hand(xp):
    x = numpy.array([0.0, 1.0]).reshape(1, 1, 2, 1)
    # output columns read input columns -0.25 (clamped to 0), 0.25, 0.75 and 1.25 (clamped to 1)
    y = UpSampling2D((1, 2), interpolation="bilinear")(xp.asarray(x))
    assert host(y).ravel().tolist() == [0.0, 0.25, 0.75, 1.0]


@pytest.mark.parametrize("size", [(2, 3), (3, 1), (4, 4)])
def test_upsampling_matches_formulas(size, rng, xp):
    x = rng.standard_normal((2, 3, 4, 2))
    SH, SW = size
    rows, cols = numpy.arange(3 * SH) // SH, numpy.arange(4 * SW) // SW
    nearest = UpSampling2D(size)(xp.asarray(x))
    numpy.testing.assert_array_equal(host(nearest), x[:, rows][:, :, cols])
    bilinear = UpSampling2D(size, interpolation="BILINEAR")(xp.asarray(x))
    numpy.testing.assert_allclose(host(bilinear), bilinear_by_loops(x, SH, SW), rtol=1e-12, atol=1e-14)
    x1 = rng.standard_normal((2, 3, 2))
    numpy.testing.assert_array_equal(host(UpSampling1D(SH)(xp.asarray(x1))), x1[:, numpy.arange(3 * SH) // SH])


def test_padding_and_cropping_match_numpy(rng, xp):
    x1, x2 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 5, 6, 3))
    numpy.testing.assert_array_equal(host(ZeroPadding1D((1, 2))(xp.asarray(x1))),
                                     numpy.pad(x1, ((0, 0), (1, 2), (0, 0))))
    numpy.testing.assert_array_equal(host(ZeroPadding1D()(xp.asarray(x1))), numpy.pad(x1, ((0, 0), (1, 1), (0, 0))))
    numpy.testing.assert_array_equal(host(ZeroPadding2D(((1, 2), (0, 3)))(xp.asarray(x2))),
                                     numpy.pad(x2, ((0, 0), (1, 2), (0, 3), (0, 0))))
    numpy.testing.assert_array_equal(host(ZeroPadding2D((2, 1))(xp.asarray(x2))),
                                     numpy.pad(x2, ((0, 0), (2, 2), (1, 1), (0, 0))))
    numpy.testing.assert_array_equal(host(Cropping1D((1, 2))(xp.asarray(x1))), x1[:, 1:4])
    numpy.testing.assert_array_equal(host(Cropping1D((2, 0))(xp.asarray(x1))), x1[:, 2:])
    numpy.testing.assert_array_equal(host(Cropping2D(((1, 0), (2, 3)))(xp.asarray(x2))), x2[:, 1:, 2:3])
    numpy.testing.assert_array_equal(host(Cropping2D(1)(xp.asarray(x2))), x2[:, 1:4, 1:5])
    numpy.testing.assert_array_equal(host(Cropping2D()(xp.asarray(x2))), x2)


# ---- gradients -----------------------------------------------------------------------------------------------------

GRADCHECK_CASES = [
    ("MaxPooling1D same", lambda: MaxPooling1D(3, strides=2, padding="same"), (2, 9, 3)),
    ("AveragePooling1D same", lambda: AveragePooling1D(3, strides=2, padding="same"), (2, 8, 3)),
    ("AveragePooling1D overlapping", lambda: AveragePooling1D(3, strides=1), (2, 6, 2)),
    ("GlobalMaxPooling1D", GlobalMaxPooling1D, (3, 5, 4)),
    ("GlobalMaxPooling1D keepdims", lambda: GlobalMaxPooling1D(keepdims=True), (3, 5, 4)),
    ("GlobalMaxPooling2D", GlobalMaxPooling2D, (2, 3, 4, 3)),
    ("GlobalAveragePooling1D keepdims", lambda: GlobalAveragePooling1D(keepdims=True), (3, 5, 4)),
    ("UpSampling1D", lambda: UpSampling1D(3), (2, 4, 3)),
    ("UpSampling2D nearest", lambda: UpSampling2D((2, 3)), (2, 3, 4, 2)),
    ("UpSampling2D bilinear", lambda: UpSampling2D((3, 2), interpolation="bilinear"), (2, 3, 4, 2)),
    ("ZeroPadding1D", lambda: ZeroPadding1D((0, 2)), (2, 4, 3)),
    ("ZeroPadding2D", lambda: ZeroPadding2D(((1, 2), (0, 3))), (2, 3, 4, 2)),
    ("Cropping1D", lambda: Cropping1D((1, 2)), (2, 5, 3)),
    ("Cropping2D", lambda: Cropping2D(((1, 0), (1, 2))), (2, 3, 4, 2)),
]


@pytest.mark.parametrize("name, make, shape", GRADCHECK_CASES, ids=[case[0] for case in GRADCHECK_CASES])
def test_gradcheck(name, make, shape, rng, backend_name):
    result = gradcheck(make(), rng.standard_normal(shape))
    assert set(result.errors) == {"input 0"}
    assert result.max_relative_error < 1e-6, result


def test_masked_global_average_gradcheck(rng, backend_name):
    mask = backend.xp().asarray(numpy.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool))
    layer = GlobalAveragePooling1D()

    def masked(x):
        y, _ = layer.forward_masked(x, mask)
        return y, lambda dy: (layer.backward(dy),)
    result = gradcheck(masked, rng.standard_normal((3, 5, 2)))
    assert result.max_relative_error < 1e-6, result


# ---- shapes and errors: input shape in, output shape or error out ------------------------------------------------

SHAPE_CASES = [
    (MaxPooling1D, (None, 10, 3), (None, 5, 3)),
    (lambda: MaxPooling1D(3, strides=2, padding="same"), (None, 9, 3), (None, 5, 3)),
    (lambda: AveragePooling1D(3, strides=1), (None, 9, 3), (None, 7, 3)),
    (AveragePooling1D, (None, None, 3), (None, None, 3)),
    (GlobalMaxPooling1D, (None, 7, 3), (None, 3)),
    (lambda: GlobalAveragePooling1D(keepdims=True), (None, None, 3), (None, 1, 3)),
    (lambda: GlobalMaxPooling2D(keepdims=True), (None, 4, 5, 3), (None, 1, 1, 3)),
    (GlobalMaxPooling2D, (None, None, None, 3), (None, 3)),
    (UpSampling1D, (None, 5, 3), (None, 10, 3)),
    (lambda: UpSampling1D(3), (None, None, 3), (None, None, 3)),
    (UpSampling2D, (None, 4, 5, 3), (None, 8, 10, 3)),
    (lambda: UpSampling2D((1, 3), interpolation="bilinear"), (None, 4, None, 3), (None, 4, None, 3)),
    (ZeroPadding1D, (None, 5, 3), (None, 7, 3)),
    (lambda: ZeroPadding1D((0, 3)), (None, None, 3), (None, None, 3)),
    (ZeroPadding2D, (None, 4, 5, 3), (None, 6, 7, 3)),
    (lambda: ZeroPadding2D(((1, 2), 3)), (None, 4, 5, 3), (None, 7, 11, 3)),
    (Cropping1D, (None, 5, 3), (None, 3, 3)),
    (lambda: Cropping2D(((1, 0), (2, 2))), (None, 4, 5, 3), (None, 3, 1, 3)),
    (lambda: Cropping2D(1), (None, None, 5, 3), (None, None, 3, 3)),
    (MaxPooling1D, (None, 1, 3), "the pool size 2 is larger than the input's 1 steps with padding='valid'"),
    (MaxPooling1D, (None, 5, 3, 1), "expects 3-D input (batch, steps, channels), but received input of shape "
                                    "(None, 5, 3, 1)"),
    (GlobalAveragePooling1D, (None, 5), "expects 3-D input (batch, steps, channels)"),
    (GlobalMaxPooling2D, (None, 5, 3), "expects 4-D input (batch, height, width, channels)"),
    (UpSampling1D, (None, 4, 4, 3), "expects 3-D input"),
    (UpSampling2D, (None, 4, 3), "expects 4-D input"),
    (ZeroPadding2D, (None, 4, 3), "expects 4-D input"),
    (lambda: Cropping1D((2, 3)), (None, 5, 3), "the values in `cropping` should be smaller than the corresponding "
                                               "spatial dimension of the input. Received: input_shape=(None, 5, 3), "
                                               "cropping=(2, 3)"),
    (lambda: Cropping2D(((0, 0), (3, 3))), (None, 8, 6, 1), "Received: input_shape=(None, 8, 6, 1), "
                                                            "cropping=((0, 0), (3, 3))"),
]


@pytest.mark.parametrize("make, input_shape, expected", SHAPE_CASES, ids=[f"case{i}" for i in range(len(SHAPE_CASES))])
def test_output_shapes_and_errors(make, input_shape, expected):
    ran = check_output_shape_or_error(make, input_shape, expected)
    if ran is not None:
        layer, x, y = ran
        assert layer.backward(numpy.ones(y.shape, numpy.float32)).shape == x.shape


def test_forward_checks_the_arrays():
    layer = Cropping1D((2, 2))
    layer.build_for((None, None, 3))
    with pytest.raises(ValueError, match=re.escape("Received: input_shape=(2, 4, 3), cropping=(2, 2)")):
        layer(numpy.ones((2, 4, 3), numpy.float32))
    with pytest.raises(ValueError, match="expects 4-D input"):
        UpSampling2D()(numpy.ones((2, 4, 3), numpy.float32))


@pytest.mark.parametrize("make, message", [
    (lambda: MaxPooling1D(0), "MaxPooling1D: expected a positive integer for `pool_size`. Received: pool_size=0"),
    (lambda: AveragePooling1D((2, 2)), "AveragePooling1D: expected an integer or a tuple of 1 integer for `pool_size`"),
    (lambda: MaxPooling1D(2, padding="causal"), "MaxPooling1D: expected padding 'valid' or 'same'. "
                                                "Received: padding='causal'"),
    (lambda: UpSampling1D(0), "UpSampling1D: expected a positive integer for `size`. Received: size=0"),
    (lambda: UpSampling2D((2, 2, 2)), "UpSampling2D: expected an integer or a pair of integers for `size`"),
    (lambda: UpSampling2D(interpolation="bicubic"), "UpSampling2D: expected interpolation 'nearest' or 'bilinear'. "
                                                    "Received: interpolation='bicubic'"),
    (lambda: ZeroPadding1D(-1), "ZeroPadding1D: expected a non-negative integer or a pair of them for `padding`. "
                                "Received: padding=-1"),
    (lambda: ZeroPadding1D((1, 2, 3)), "ZeroPadding1D: expected a non-negative integer or a pair of them"),
    (lambda: ZeroPadding2D((1, 2, 3)), "ZeroPadding2D: expected an integer, a pair, or a pair of pairs for "
                                       "`padding`. Received: padding=(1, 2, 3)"),
    (lambda: ZeroPadding2D(((1, 2), (1, -1))), "ZeroPadding2D: expected a non-negative integer or a pair of them"),
    (lambda: Cropping1D(1.5), "Cropping1D: expected a non-negative integer or a pair of them for `cropping`"),
    (lambda: Cropping2D(((1, 2), (3, 4), (5, 6))), "Cropping2D: expected an integer, a pair, or a pair of pairs"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


# ---- masks and configs ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, UpSampling1D, ZeroPadding1D,
                                  Cropping1D], ids=lambda make: make.__name__)
def test_the_mask_stops_here_as_in_keras(make):
    y, mask = make().forward_masked(numpy.ones((2, 6, 3), numpy.float32), numpy.ones((2, 6), bool))
    assert mask is None


CONFIG_LAYERS = [
    MaxPooling1D(3, strides=1, padding="same"), AveragePooling1D(2), GlobalMaxPooling1D(keepdims=True),
    GlobalAveragePooling1D(), GlobalMaxPooling2D(keepdims=True), UpSampling1D(3),
    UpSampling2D((2, 3), interpolation="bilinear"), ZeroPadding1D((1, 2)), ZeroPadding2D(((1, 2), (3, 4))),
    Cropping1D(2), Cropping2D(((0, 1), (2, 3)), name="crop"),
]


@pytest.mark.parametrize("layer", CONFIG_LAYERS, ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))   # JSON-compatible
    clone = type(layer).from_config(config)
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    assert not layer.weights


def test_config_holds_keras_values():
    assert ZeroPadding2D(((1, 2), (3, 4))).get_config()["padding"] == [[1, 2], [3, 4]]
    assert ZeroPadding2D(2).padding == ((2, 2), (2, 2)) and Cropping1D(2).cropping == (2, 2)
    assert UpSampling2D(3).get_config()["size"] == [3, 3]
    assert MaxPooling1D(3).get_config()["strides"] == [3]


# ---- Keras' outputs and one Keras SGD step -----------------------------------------------------------------------

LAYERS = numpy.load(os.path.join(DATA, "keras_conv1d_layers.npz"))
CASES = json.loads(str(LAYERS["cases"]))
CLASSES = {cls.__name__: cls for cls in [MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D,
                                         GlobalMaxPooling2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D,
                                         Cropping1D, Cropping2D]}
SPATIAL_CASES = [i for i, (name, _) in enumerate(CASES) if name in CLASSES]


@pytest.mark.parametrize("case", SPATIAL_CASES, ids=[f"{CASES[i][0]}-{CASES[i][1]}" for i in SPATIAL_CASES])
def test_keras_outputs(case, backend_name):
    name, kwargs = CASES[case]
    layer = CLASSES[name](**kwargs)
    x = backend.to_device(LAYERS[f"{case}_x"])
    mask = backend.to_device(LAYERS[f"{case}_mask"]) if f"{case}_mask" in LAYERS else None
    layer.build_for((None,) + x.shape[1:])
    y, _ = layer.forward_masked(x, mask)
    numpy.testing.assert_allclose(host(y), LAYERS[f"{case}_y"], rtol=1e-6, atol=1e-6)
