"""Dense, Activation, Dropout, Flatten, Input; regularizers and initializers.

Forward values against float64 formulas written here, backward passes against gradcheck, declarative
shape / weight-count checks as in Keras' layer tests, initializer statistics against their definitions.
"""
import math

import numpy
import pytest

import nnkit
from nnkit import backend, initializers, regularizers
from nnkit.layers import Activation, Dense, Dropout, Flatten, Input
from nnkit.utils import gradcheck

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "gelu", "softplus"]


def _away_from_kinks(rng, shape):
    x = rng.standard_normal(shape)
    x[numpy.abs(x) < 0.05] += 0.3
    return x


# ---- Dense --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradcheck_every_activation(activation, backend_name, rng):
    layer = Dense(5, activation=activation, bias_initializer="random_normal")
    result = gradcheck(layer, _away_from_kinks(rng, (4, 3)))
    assert set(result.errors) == {"input 0", "kernel", "bias"}
    assert result.max_relative_error < 1e-6, result


def test_dense_forward_matches_float64(xp, rng):
    backend.set_floatx("float64")
    layer = Dense(4, activation="tanh", bias_initializer="random_uniform")
    x = rng.standard_normal((6, 3))
    y = layer(x)
    kernel, bias = layer.get_weights()
    expected = numpy.tanh(numpy.einsum("ni,io->no", x, kernel) + bias)
    numpy.testing.assert_allclose(backend.to_host(y), expected, rtol=1e-12)


def test_dense_without_bias(backend_name, rng):
    layer = Dense(3, use_bias=False)
    result = gradcheck(layer, rng.standard_normal((5, 4)))
    assert set(result.errors) == {"input 0", "kernel"}
    assert result.max_relative_error < 1e-7
    assert len(layer.get_weights()) == 1 and layer.count_params() == 12


def test_dense_on_higher_rank_input(backend_name, rng):
    """(N, T, in) -> (N, T, units): the kernel applies to the last axis, as in Keras."""
    layer = Dense(2, activation="relu")
    x = _away_from_kinks(rng, (3, 4, 5))
    assert gradcheck(layer, x).max_relative_error < 1e-7
    assert layer.compute_output_shape((None, 4, 5)) == (None, 4, 2)
    kernel, bias = layer.get_weights()
    numpy.testing.assert_allclose(backend.to_host(layer(x)), numpy.maximum(x @ kernel + bias, 0), rtol=1e-12)


def test_dense_declarative_shapes_and_counts():
    layer = Dense(7)
    assert layer.build_for((None, 5)) == (None, 7)
    assert [w.shape for w in layer.get_weights()] == [(5, 7), (7,)]  # Keras' layout: kernel (in, out)
    assert layer.count_params() == 5 * 7 + 7
    assert layer.name.startswith("dense")


def test_dense_first_layer_skips_input_gradient(backend_name, rng):
    layer = Dense(3)
    layer(rng.standard_normal((2, 4)).astype(numpy.float32))
    layer.needs_input_gradient = False
    layer.forward(backend.xp().ones((2, 4), dtype=numpy.float32), training=True)
    assert layer.backward(backend.xp().ones((2, 3), dtype=numpy.float32)) is None
    numpy.testing.assert_allclose(backend.to_host(layer.grads["kernel"]), numpy.full((4, 3), 2.0))


def test_dense_backward_overwrites_gradients(backend_name, rng):
    layer = Dense(2)
    x = backend.xp().asarray(rng.standard_normal((3, 4)), dtype=numpy.float32)
    dy = backend.xp().ones((3, 2), dtype=numpy.float32)
    layer(x)
    layer.backward(dy)
    first = backend.to_host(layer.grads["kernel"]).copy()
    layer.backward(dy)
    numpy.testing.assert_array_equal(backend.to_host(layer.grads["kernel"]), first)


def test_dense_argument_errors():
    with pytest.raises(ValueError, match="Received: units=0"):
        Dense(0)
    with pytest.raises(ValueError, match="Received: units=2.5"):
        Dense(2.5)
    with pytest.raises(TypeError, match="unexpected keyword argument.*unitz"):
        Dense(3, unitz=4)
    layer = Dense(3)
    layer.build_for((None, 4))
    with pytest.raises(ValueError, match=r"'dense\w*' \(Dense\) expects inputs with last dimension 4.*\(2, 5\)"):
        layer(numpy.ones((2, 5)))


def test_dense_get_config_round_trip():
    layer = Dense(3, activation="relu", use_bias=False, kernel_regularizer="l2", input_dim=4)
    config = layer.get_config()
    assert config["units"] == 3 and config["activation"] == "relu" and config["use_bias"] is False
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["batch_input_shape"] == [None, 4]
    clone = Dense.from_config(config)
    assert clone.units == 3 and clone.input_shape_hint == (None, 4)


# ---- Activation, Flatten, Dropout ---------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer_gradcheck(activation, backend_name, rng):
    assert gradcheck(Activation(activation), _away_from_kinks(rng, (3, 5))).max_relative_error < 1e-7


def test_flatten_forward_backward(xp, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = Flatten()
    numpy.testing.assert_array_equal(backend.to_host(layer(x)), x.reshape(2, 60))
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 60)
    assert layer.compute_output_shape((None, None, 4)) == (None, None)
    assert gradcheck(Flatten(), x).max_relative_error < 1e-9


def test_dropout_is_identity_at_inference(xp, rng):
    x = xp.asarray(rng.standard_normal((4, 6)))
    layer = Dropout(0.5)
    assert layer(x, training=False) is x
    assert layer.backward(x) is x


def test_dropout_gradcheck_in_training(backend_name, rng):
    assert gradcheck(Dropout(0.3), rng.standard_normal((6, 8)), training=True).max_relative_error < 1e-9


def test_dropout_statistics(xp):
    """Inverted dropout: about `rate` of the entries zeroed, the rest scaled by 1 / (1 - rate)."""
    rate, n = 0.2, 200_000
    layer = Dropout(rate)
    y = backend.to_host(layer(xp.ones((n // 100, 100), dtype=numpy.float32), training=True))
    kept = y != 0
    dropped_fraction = 1 - kept.mean()
    assert abs(dropped_fraction - rate) < 4 * math.sqrt(rate * (1 - rate) / n)
    numpy.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)
    # backward uses the same mask
    dy = backend.to_host(layer.backward(xp.ones((n // 100, 100), dtype=numpy.float32)))
    numpy.testing.assert_array_equal(dy, y)


def test_dropout_rate_zero_and_bad_rate(xp):
    x = xp.ones((2, 3))
    assert Dropout(0.0)(x, training=True) is x
    with pytest.raises(ValueError, match=r"rate.*Received: rate=1"):
        Dropout(1)
    with pytest.raises(ValueError, match="Received: rate=-0.1"):
        Dropout(-0.1)


def test_input_declares_shape():
    assert Input(shape=(784,)).shape == (None, 784)
    assert Input(shape=8).shape == (None, 8)
    assert Input((28, 28, 1)).shape == (None, 28, 28, 1)
    with pytest.raises(ValueError, match="shape"):
        Input()
    with pytest.raises(ValueError, match=r"Received: shape=\(0,\)"):
        Input(shape=(0,))


def test_layer_set_weights_checks_every_shape_first():
    layer = Dense(2)
    layer.build_for((None, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"weight 'bias' has shape \(2,\).*\(3,\)"):
        layer.set_weights([numpy.ones((3, 2)), numpy.ones(3)])
    for old, new in zip(before, layer.get_weights()):
        numpy.testing.assert_array_equal(old, new)  # nothing was written
    with pytest.raises(ValueError, match="expects 2 weight arrays.*received 1"):
        layer.set_weights([numpy.ones((3, 2))])


def test_non_trainable_layer_has_no_gradients(backend_name, rng):
    layer = Dense(2, trainable=False)
    layer(rng.standard_normal((3, 4)))
    assert layer.grads == {} and layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert layer.backward(backend.xp().ones((3, 2))).shape == (3, 4)


# ---- regularizers ---------------------------------------------------------------------------------------
REGULARIZERS = [
    (regularizers.L1(0.3), lambda w: 0.3 * numpy.abs(w).sum(), lambda w: 0.3 * numpy.sign(w)),
    (regularizers.L2(0.2), lambda w: 0.2 * (w ** 2).sum(), lambda w: 0.4 * w),
    (regularizers.L1L2(l1=0.1, l2=0.05), lambda w: 0.1 * numpy.abs(w).sum() + 0.05 * (w ** 2).sum(),
     lambda w: 0.1 * numpy.sign(w) + 0.1 * w),
]


@pytest.mark.parametrize("regularizer, penalty, gradient", REGULARIZERS, ids=["l1", "l2", "l1l2"])
def test_regularizer_penalty_and_gradient(regularizer, penalty, gradient, xp, rng):
    w = rng.standard_normal((4, 3))
    assert float(regularizer(xp.asarray(w))) == pytest.approx(penalty(w), rel=1e-12)
    grad = xp.zeros_like(xp.asarray(w)) + 1.0
    regularizer.add_gradient(xp.asarray(w), grad)
    numpy.testing.assert_allclose(backend.to_host(grad), 1.0 + gradient(w), rtol=1e-12)


def test_regularizer_names_and_defaults():
    assert regularizers.get("l1").l1 == 0.01
    assert regularizers.get("l2").l2 == 0.01
    assert (regularizers.get("l1_l2").l1, regularizers.get("l1_l2").l2) == (0.0, 0.0)
    assert regularizers.get(None) is None
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'.*l1, l1_l2, l1l2, l2"):
        regularizers.get("l3")


def test_regularized_dense_in_a_model(backend_name, rng):
    """The penalty joins the reported loss and its gradient joins the kernel's gradient."""
    backend.set_floatx("float64")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    model = nnkit.Sequential([Input(shape=(3,)), Dense(2, kernel_regularizer=regularizers.L2(0.1))])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=1.0), loss="mse")
    kernel, bias = model.get_weights()
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    residual = x @ kernel + bias - y
    assert history.history["loss"][0] == pytest.approx(numpy.mean(residual ** 2) + 0.1 * (kernel ** 2).sum())
    d_kernel = x.T @ (2 * residual / residual.size) + 0.2 * kernel
    numpy.testing.assert_allclose(model.get_weights()[0], kernel - d_kernel, rtol=1e-10)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(
        numpy.mean((x @ (kernel - d_kernel) + model.get_weights()[1] - y) ** 2)
        + 0.1 * ((kernel - d_kernel) ** 2).sum())


# ---- initializers ---------------------------------------------------------------------------------------
FAN_IN, FAN_OUT = 300, 200
SHAPE = (FAN_IN, FAN_OUT)


def _draw(name):
    return initializers.get(name)(SHAPE, "float64")


@pytest.mark.parametrize("name, limit", [
    ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("he_uniform", math.sqrt(6 / FAN_IN)),
    ("random_uniform", 0.05),
])
def test_uniform_initializers(name, limit):
    w = _draw(name)
    assert numpy.abs(w).max() <= limit
    assert numpy.abs(w).max() > 0.99 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)
    assert abs(w.mean()) < 4 * limit / math.sqrt(3 * w.size)


@pytest.mark.parametrize("name, stddev", [
    ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("he_normal", math.sqrt(2 / FAN_IN)),
    ("lecun_normal", math.sqrt(1 / FAN_IN)),
])
def test_truncated_normal_initializers(name, stddev):
    """Keras draws a normal truncated at 2 sigma with sigma = stddev / 0.8796 so the result has `stddev`."""
    w = _draw(name)
    sigma = stddev / 0.87962566103423978
    assert numpy.abs(w).max() <= 2 * sigma
    assert numpy.abs(w).max() > 1.95 * sigma
    assert w.std() == pytest.approx(stddev, rel=0.02)
    assert abs(w.mean()) < 4 * stddev / math.sqrt(w.size)


def test_random_normal_constant_zeros_ones():
    w = _draw("random_normal")
    assert w.std() == pytest.approx(0.05, rel=0.02) and abs(w.mean()) < 0.001
    numpy.testing.assert_array_equal(_draw("zeros"), numpy.zeros(SHAPE))
    numpy.testing.assert_array_equal(_draw("ones"), numpy.ones(SHAPE))
    custom = initializers.RandomUniform(minval=2.0, maxval=3.0)(SHAPE)
    assert custom.min() >= 2.0 and custom.max() <= 3.0 and custom.dtype == numpy.float32


def test_conv_kernel_fans_include_receptive_field():
    # (KH, KW, C_in, C_out) = (3, 3, 4, 8): fan_in = 36, fan_out = 72
    w = initializers.get("glorot_uniform")((3, 3, 4, 8), "float64")
    assert numpy.abs(w).max() <= math.sqrt(6 / (36 + 72))


def test_initializers_are_seeded():
    nnkit.utils.set_random_seed(7)
    first = _draw("glorot_uniform")
    nnkit.utils.set_random_seed(7)
    numpy.testing.assert_array_equal(first, _draw("glorot_uniform"))


def test_initializer_names():
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    with pytest.raises(ValueError) as error:
        initializers.get("xavier")
    for name in ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "ones",
                 "random_normal", "random_uniform", "zeros"):
        assert name in str(error.value)



def test_calling_a_layer_casts_float_inputs_to_its_weights_dtype(xp, rng):
    layer = Dense(2)  # float32 weights
    x = rng.standard_normal((3, 4))  # float64, as NumPy makes it
    y = layer(x)
    assert y.dtype == numpy.float32
    kernel, bias = layer.get_weights()
    numpy.testing.assert_allclose(backend.to_host(y), x @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_dropout_noise_shape_shares_the_mask_along_size_one_axes(backend_name):
    layer = nnkit.layers.Dropout(0.5, noise_shape=(None, 1, 6))
    x = backend.xp().ones((4, 5, 6), dtype="float32")
    y = backend.to_host(layer.forward(x, training=True))
    # Every time step of a sample keeps the same features; kept values are scaled by 1 / (1 - rate).
    assert numpy.array_equal(y, numpy.broadcast_to(y[:, :1, :], y.shape))
    assert set(numpy.unique(y)) <= {0.0, 2.0}


def test_dropout_with_a_seed_repeats_its_masks_regardless_of_the_global_generator(backend_name):
    x = backend.xp().ones((8, 32), dtype="float32")
    first = backend.to_host(nnkit.layers.Dropout(0.3, seed=7).forward(x, training=True))
    nnkit.utils.set_random_seed(99)
    second = backend.to_host(nnkit.layers.Dropout(0.3, seed=7).forward(x, training=True))
    assert numpy.array_equal(first, second)


def test_dropout_rejects_a_noise_shape_that_does_not_broadcast():
    layer = nnkit.layers.Dropout(0.5, noise_shape=(None, 3))
    with pytest.raises(ValueError, match=r"noise_shape \(None, 3\).*\(2, 4\)"):
        layer.forward(numpy.ones((2, 4), dtype="float32"), training=True)


def test_layer_set_weights_checks_every_array_before_writing_any():
    layer = Dense(2)
    layer.build_for((None, 3))
    before = layer.get_weights()
    with pytest.raises(TypeError, match="weight 'bias' must hold real numbers; received dtype <U1"):
        layer.set_weights([numpy.ones((3, 2)), numpy.array(["a", "b"])])
    for old, now in zip(before, layer.get_weights()):
        numpy.testing.assert_array_equal(old, now)
