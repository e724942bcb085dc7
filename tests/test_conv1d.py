"""Conv1D (and Conv2D with groups): forward against float64 loops and Keras' outputs, gradients (float64 central
differences, both backends), shapes and errors (a declarative table), configs, one SGD step of a Keras model, and
a keras-io style time-series classifier that learns."""
import json
import math
import os
import re

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import BatchNormalization, Conv2D, Dense, Embedding
from nnkit.layers.conv1d import Conv1D
from nnkit.layers.pooling1d import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling2D, MaxPooling1D
from nnkit.layers.spatial import Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D
from nnkit.utils import gradcheck

from layer_checks import check_output_shape_or_error

DATA = os.path.join(os.path.dirname(__file__), "data")


def host(array):
    return backend.to_host(array)


def reference_conv1d(x, kernel, bias, stride=1, padding="valid", dilation=1, groups=1):
    """Float64 1-D convolution by its definition: out[n, t, f] = sum_k sum_c x[n, t*S - left + k*D, c] kernel[k, c, f]
    over the input channels c of the group of filter f; TensorFlow's 'same' (extra step at the end), 'causal'
    (all the padding at the start)."""
    N, T, _ = x.shape
    K, Cg, F = kernel.shape
    span = dilation * (K - 1) + 1
    if padding == "valid":
        OT, left = (T - span) // stride + 1, 0
    elif padding == "same":
        OT = -(-T // stride)
        left = max((OT - 1) * stride + span - T, 0) // 2
    else:
        OT, left = (T - 1) // stride + 1, span - 1
    out = numpy.zeros((N, OT, F))
    for n in range(N):
        for t in range(OT):
            for f in range(F):
                group = f // (F // groups)
                for k in range(K):
                    i = t * stride - left + k * dilation
                    if 0 <= i < T:
                        out[n, t, f] += x[n, i, group * Cg:(group + 1) * Cg] @ kernel[k, :, f]
    return out + (0 if bias is None else bias)


# (T, C, filters, kernel_size, strides, padding, dilation_rate, groups)
GEOMETRIES = [
    (9, 3, 4, 3, 1, "valid", 1, 1),
    (9, 3, 4, 4, 2, "same", 1, 1),
    (8, 2, 3, 3, 1, "same", 2, 1),
    (9, 3, 4, 3, 1, "causal", 2, 1),
    (10, 2, 2, 2, 3, "causal", 1, 1),
    (10, 4, 6, 3, 2, "valid", 1, 2),
    (7, 4, 4, 3, 1, "causal", 1, 4),
    (7, 6, 3, 1, 1, "same", 1, 3),
    (5, 20, 4, 3, 1, "same", 1, 2),   # many channels: the rows-first im2col layout
]


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_forward_matches_float64_loops(geometry, rng, xp):
    T, C, F, K, S, padding, D, groups = geometry
    layer = Conv1D(F, K, strides=S, padding=padding, dilation_rate=D, groups=groups, activation="relu",
                   bias_initializer="random_normal")
    x = rng.standard_normal((3, T, C)).astype(numpy.float32)
    y = host(layer(xp.asarray(x)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (K, C // groups, F)  # Keras' layout
    expected = numpy.maximum(reference_conv1d(x.astype(numpy.float64), kernel, bias, S, padding, D, groups), 0)
    assert y.shape == expected.shape and layer.compute_output_shape((None, T, C)) == (None,) + expected.shape[1:]
    numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_tiny_causal_convolution_by_hand():
    x = numpy.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    layer = Conv1D(1, 2, padding="causal", dtype="float64")
    layer.build_for((None, 4, 1))
    layer.set_weights([numpy.array([10.0, 1.0]).reshape(2, 1, 1), numpy.array([0.5])])
    # out[t] = 10 * x[t - 1] + x[t] + 0.5, with x[-1] = 0: the output never sees the future.
    assert host(layer(x))[0, :, 0].tolist() == [1.5, 12.5, 23.5, 34.5]
    dilated = Conv1D(1, 2, padding="causal", dilation_rate=2, use_bias=False, dtype="float64")
    dilated.build_for((None, 4, 1))
    dilated.set_weights([numpy.array([10.0, 1.0]).reshape(2, 1, 1)])
    assert host(dilated(x))[0, :, 0].tolist() == [1.0, 2.0, 13.0, 24.0]   # 10 * x[t - 2] + x[t]


def test_groups_convolve_each_channel_group_with_its_own_filters():
    x = numpy.array([[[1.0, 100.0], [2.0, 200.0]]])   # (1, 2, 2): channel 0 small, channel 1 large
    layer = Conv1D(2, 1, groups=2, use_bias=False, dtype="float64")
    layer.build_for((None, 2, 2))
    assert layer.kernel.shape == (1, 1, 2)
    layer.set_weights([numpy.array([3.0, -1.0]).reshape(1, 1, 2)])
    # filter 0 sees channel 0 only (x3), filter 1 channel 1 only (x-1)
    assert host(layer(x))[0].tolist() == [[3.0, -100.0], [6.0, -200.0]]


def reference_grouped_conv2d(x, kernel, bias, groups):
    """Float64 'valid' 2-D convolution with groups, stride 1, by loops."""
    N, H, W, _ = x.shape
    KH, KW, Cg, F = kernel.shape
    out = numpy.zeros((N, H - KH + 1, W - KW + 1, F))
    for f in range(F):
        group = f // (F // groups)
        for i in range(H - KH + 1):
            for j in range(W - KW + 1):
                patch = x[:, i:i + KH, j:j + KW, group * Cg:(group + 1) * Cg]
                out[:, i, j, f] = (patch * kernel[:, :, :, f]).sum(axis=(1, 2, 3))
    return out + bias


def test_conv2d_groups_match_loops(rng, xp):
    layer = Conv2D(6, (3, 2), groups=3, bias_initializer="random_normal")
    x = rng.standard_normal((2, 5, 4, 6)).astype(numpy.float32)
    y = host(layer(xp.asarray(x)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 2, 6)
    numpy.testing.assert_allclose(y, reference_grouped_conv2d(x.astype(numpy.float64), kernel, bias, 3),
                                  rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_gradients(geometry, rng, backend_name):
    T, C, F, K, S, padding, D, groups = geometry
    layer = Conv1D(F, K, strides=S, padding=padding, dilation_rate=D, groups=groups, activation="tanh",
                   bias_initializer="random_normal")
    result = gradcheck(layer, rng.standard_normal((2, T, C)), max_checks=40)
    assert set(result.errors) == {"input 0", "kernel", "bias"}
    assert result.max_relative_error < 1e-6, result


@pytest.mark.parametrize("training", [False, True])
def test_conv2d_groups_gradients(training, rng, backend_name):
    layer = Conv2D(4, 3, strides=2, padding="same", groups=2, activation="relu", use_bias=False)
    result = gradcheck(layer, rng.standard_normal((2, 7, 6, 4)), training=training)
    assert result.max_relative_error < 1e-6, result


def test_chunked_batch_gradients(rng):
    """A workspace budget smaller than one batch: the Conv2D chunks apply to Conv1D (and to groups)."""
    layer = Conv1D(4, 3, padding="causal", groups=2, activation="tanh", bias_initializer="random_normal")
    layer.workspace_bytes = 2 * 3 * 4 * 9 * 8   # two float64 samples per chunk
    x = rng.standard_normal((5, 9, 4))
    result = gradcheck(layer, x, training=True)
    assert result.max_relative_error < 1e-6, result
    kernel, bias = layer.get_weights()
    numpy.testing.assert_allclose(host(layer(x)), numpy.tanh(reference_conv1d(x, kernel, bias, 1, "causal", 1, 2)),
                                  rtol=1e-12)


def test_first_layer_returns_no_input_gradient_and_a_frozen_layer_no_weight_gradient(rng):
    layer = Conv1D(2, 3, groups=2)
    y = layer(rng.standard_normal((2, 6, 4)).astype(numpy.float32), training=True)
    layer.needs_input_gradient = False
    assert layer.backward(numpy.ones_like(y)) is None and numpy.abs(layer.grads["kernel"]).sum() > 0
    layer.trainable, layer.needs_input_gradient = False, True
    assert layer.backward(numpy.ones_like(y)).shape == (2, 6, 4)


# ---- shapes and errors: input shape in, output shape or error out ----------------------------------------------

SHAPE_CASES = [
    (lambda: Conv1D(32, 3, activation="relu"), (None, 10, 128), (None, 8, 32)),
    (lambda: Conv1D(4, 3, padding="same"), (None, 10, 2), (None, 10, 4)),
    (lambda: Conv1D(4, 3, strides=2, padding="same"), (None, 9, 2), (None, 5, 4)),
    (lambda: Conv1D(4, 3, strides=2), (None, 9, 2), (None, 4, 4)),
    (lambda: Conv1D(4, 5, padding="causal"), (None, 3, 2), (None, 3, 4)),
    (lambda: Conv1D(4, 2, strides=3, padding="causal"), (None, 10, 2), (None, 4, 4)),
    (lambda: Conv1D(4, 3, dilation_rate=3), (None, 10, 2), (None, 4, 4)),
    (lambda: Conv1D(4, (3,), strides=(1,), dilation_rate=[2]), (None, 10, 2), (None, 6, 4)),
    (lambda: Conv1D(4, 3), (None, None, 2), (None, None, 4)),
    (lambda: Conv1D(6, 3, groups=3), (None, 8, 9), (None, 6, 6)),
    (lambda: Conv2D(6, 3, groups=2), (None, 8, 8, 4), (None, 6, 6, 6)),
    (lambda: Conv1D(4, 5), (None, 4, 2), "the kernel (5 steps with dilation) is longer than the input's 4 steps "
                                         "with padding='valid'"),
    (lambda: Conv1D(4, 3, dilation_rate=3), (None, 6, 2), "the kernel (7 steps with dilation) is longer"),
    (lambda: Conv1D(4, 3), (None, 10), "expects 3-D input (batch, steps, channels), but received input of "
                                       "shape (None, 10)"),
    (lambda: Conv1D(4, 3), (None, 8, 8, 1), "expects 3-D input (batch, steps, channels)"),
    (lambda: Conv1D(4, 3), (None, 8, None), "needs the channel axis of its input to be known"),
    (lambda: Conv1D(4, 3, groups=2), (None, 8, 3), "the number of input channels must be divisible by the number "
                                                   "of groups. Received groups=2, but the input has 3 channels"),
    (lambda: Conv2D(4, 3, groups=4), (None, 8, 8, 6), "Received groups=4, but the input has 6 channels"),
]


@pytest.mark.parametrize("make, input_shape, expected", SHAPE_CASES, ids=[f"case{i}" for i in range(len(SHAPE_CASES))])
def test_output_shapes_and_errors(make, input_shape, expected):
    check_output_shape_or_error(make, input_shape, expected)


def test_forward_checks_its_input():
    layer = Conv1D(4, 3, groups=2, name="conv1d_in")
    layer.build_for((None, 8, 4))
    with pytest.raises(ValueError, match=re.escape("'conv1d_in' (Conv1D) expects inputs with 4 channels (kernel shape "
                                                   "(3, 2, 4) and 2 groups), but received input of shape (2, 8, 3)")):
        layer(numpy.zeros((2, 8, 3), numpy.float32))
    with pytest.raises(ValueError, match=re.escape("expects 3-D input (batch, steps, channels), but received input of "
                                                   "shape (2, 1, 8, 4)")):
        layer(numpy.zeros((2, 1, 8, 4), numpy.float32))
    with pytest.raises(ValueError, match="longer than the input's 2 steps"):
        layer(numpy.zeros((2, 2, 4), numpy.float32))


@pytest.mark.parametrize("make, message", [
    (lambda: Conv1D(0, 3), "Conv1D: expected a positive integer for `filters`. Received: filters=0"),
    (lambda: Conv1D(2, 0), "Conv1D: expected a positive integer for `kernel_size`. Received: kernel_size=0"),
    (lambda: Conv1D(2, (3, 3)), "Conv1D: expected an integer or a tuple of 1 integer for `kernel_size`. "
                                "Received: kernel_size=(3, 3)"),
    (lambda: Conv1D(2, 3, strides=0), "expected a positive integer for `strides`"),
    (lambda: Conv1D(2, 3, dilation_rate=-1), "expected a positive integer for `dilation_rate`"),
    (lambda: Conv1D(2, 3, padding="full"), "Conv1D: expected padding 'valid', 'same' or 'causal'. "
                                           "Received: padding='full'"),
    (lambda: Conv1D(2, 3, groups=0), "Conv1D: expected a positive integer for `groups`. Received: groups=0"),
    (lambda: Conv1D(3, 3, groups=2), "Conv1D: the number of filters must be divisible by the number of groups. "
                                     "Received: groups=2, filters=3"),
    (lambda: Conv2D(2, 3, padding="causal"), "Conv2D: expected padding 'valid' or 'same'. Received: padding='causal'"),
    (lambda: Conv2D(4, 3, groups=3), "Conv2D: the number of filters must be divisible by the number of groups."),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_padding_is_case_insensitive_and_kernel_a_tuple_of_one():
    layer = Conv1D(2, (3,), padding="CAUSAL")
    assert layer.padding == "causal" and layer.kernel_size == (3,) and layer.strides == (1,)


def test_config_round_trip():
    layer = Conv1D(8, 3, strides=2, padding="causal", groups=2, activation="relu", use_bias=False,
                   kernel_regularizer="l2", name="temporal")
    config = layer.get_config()
    assert {key: config[key] for key in ("filters", "kernel_size", "strides", "padding", "dilation_rate", "groups")} \
        == {"filters": 8, "kernel_size": [3], "strides": [2], "padding": "causal", "dilation_rate": [1], "groups": 2}
    clone = Conv1D.from_config(config)
    assert type(clone) is Conv1D and clone.get_config() == config
    assert Conv2D.from_config(Conv2D(4, 3, groups=2).get_config()).groups == 2


def test_the_mask_stops_at_conv1d(rng):
    layer = Conv1D(2, 3)
    layer.build_for((None, 6, 1))
    y, mask = layer.forward_masked(rng.standard_normal((2, 6, 1)).astype(numpy.float32), numpy.ones((2, 6), bool))
    assert y.shape == (2, 4, 2) and mask is None


# ---- Keras' outputs and one Keras SGD step -----------------------------------------------------------------------

LAYERS = numpy.load(os.path.join(DATA, "keras_conv1d_layers.npz"))
CASES = json.loads(str(LAYERS["cases"]))
CONV_CASES = [i for i, (name, _) in enumerate(CASES) if name in ("Conv1D", "Conv2D")]


@pytest.mark.parametrize("case", CONV_CASES, ids=[f"{CASES[i][0]}-{CASES[i][1]}" for i in CONV_CASES])
def test_keras_outputs(case, backend_name):
    name, kwargs = CASES[case]
    layer = {"Conv1D": Conv1D, "Conv2D": Conv2D}[name](**kwargs)
    x = LAYERS[f"{case}_x"]
    layer.build_for((None,) + x.shape[1:])
    layer.set_weights([LAYERS[f"{case}_w{j}"] for j in range(len(layer.weights))])
    numpy.testing.assert_allclose(host(layer(x)), LAYERS[f"{case}_y"], rtol=1e-5, atol=1e-5)


def temporal_model():
    """The ``temporal`` model of tests/data/make_keras_conv1d.py."""
    return nnkit.Sequential([
        nnkit.Input(shape=(12, 4)),
        ZeroPadding1D((2, 1)),
        Conv1D(4, 3, groups=2, activation="tanh"),
        UpSampling1D(2),
        Cropping1D((1, 2)),
        MaxPooling1D(2),
        AveragePooling1D(2, strides=1, padding="same"),
        Conv1D(6, 3, padding="causal", dilation_rate=2, activation="tanh"),
        Conv1D(5, 2, strides=2, padding="same"),
        GlobalAveragePooling1D(),
        Dense(3, activation="softmax"),
    ])


def images_model():
    """The ``images`` model of tests/data/make_keras_conv1d.py."""
    return nnkit.Sequential([
        nnkit.Input(shape=(5, 5, 2)),
        Conv2D(4, 3, padding="same", groups=2, activation="tanh"),
        UpSampling2D((2, 2), interpolation="bilinear"),
        Cropping2D(((1, 0), (0, 1))),
        ZeroPadding2D(((0, 1), (2, 0))),
        Conv2D(3, 2),
        GlobalMaxPooling2D(),
        Dense(2, activation="softmax"),
    ])



@pytest.mark.parametrize("name, make_model", [("temporal", temporal_model), ("images", images_model)])
def test_keras_model_one_sgd_step(name, make_model, backend_name):
    """The two models of tests/data/make_keras_conv1d.py: Keras' predictions, loss and weights after one SGD step."""
    io = numpy.load(os.path.join(DATA, "keras_conv1d_models.npz"))
    model = make_model()
    count = len(model.get_weights())
    model.set_weights([io[f"{name}_start_{i}"] for i in range(count)])
    numpy.testing.assert_allclose(model.predict(io[f"{name}_x"], verbose=0), io[f"{name}_y"], rtol=1e-5, atol=1e-6)
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(io[f"{name}_x"], io[f"{name}_labels"])
    assert float(numpy.ravel(loss)[0]) == pytest.approx(float(io[f"{name}_loss"]), rel=1e-5)
    for i, weight in enumerate(model.get_weights()):
        numpy.testing.assert_allclose(weight, io[f"{name}_after_{i}"], rtol=1e-4, atol=1e-6, err_msg=f"weight {i}")


# ---- a keras-io style time-series classifier ---------------------------------------------------------------------

def two_class_sequences(count, T, rng):
    """Noisy sine waves: class 0 slow (1-2 periods over the sequence), class 1 fast (5-7 periods)."""
    labels = rng.integers(0, 2, size=count)
    periods = numpy.where(labels == 1, rng.uniform(5, 7, count), rng.uniform(1, 2, count))
    t = numpy.arange(T) / T
    waves = numpy.sin(2 * math.pi * periods[:, None] * t + rng.uniform(0, 2 * math.pi, (count, 1)))
    return (waves + 0.3 * rng.standard_normal((count, T)))[..., None].astype(numpy.float32), labels


def test_time_series_classifier_learns_two_classes():
    rng = numpy.random.default_rng(0)
    T = 64
    x_train, y_train = two_class_sequences(512, T, rng)
    x_test, y_test = two_class_sequences(256, T, rng)
    nnkit.utils.set_random_seed(0)
    inputs = nnkit.Input((T, 1))
    h = Conv1D(8, 3, padding="same", activation="relu")(inputs)
    h = BatchNormalization()(h)
    h = Conv1D(8, 3, padding="same", activation="relu")(h)
    h = GlobalAveragePooling1D()(h)
    model = nnkit.Model(inputs, Dense(2, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=20, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.9, (loss, accuracy)


def test_global_average_pooling_uses_the_embedding_mask():
    """Embedding(mask_zero=True) -> GlobalAveragePooling1D: the mean over the real tokens only, as in Keras."""
    model = nnkit.Sequential([nnkit.Input((4,), dtype="int32"), Embedding(5, 2, mask_zero=True),
                              GlobalAveragePooling1D()])
    table = model.layers[0].get_weights()[0]
    tokens = numpy.array([[1, 2, 0, 0], [3, 0, 4, 4]])
    expected = [(table[1] + table[2]) / 2, (table[3] + 2 * table[4]) / 3]
    numpy.testing.assert_allclose(model.predict(tokens, verbose=0), expected, rtol=1e-6)
