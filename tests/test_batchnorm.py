"""BatchNormalization: batch and moving statistics against float64 formulas, Keras' weight order, gradients."""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import BatchNormalization, Conv2D, Dense, Flatten
from nnkit.utils import gradcheck


def built(layer, shape):
    layer.build_for((None,) + shape)
    return layer


def test_training_uses_batch_statistics_and_updates_moving_ones(rng, xp):
    x = rng.standard_normal((16, 3, 4, 5)) * 3 + 2
    layer = built(BatchNormalization(), (3, 4, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    layer.set_weights([gamma, beta, numpy.zeros(5), numpy.ones(5)])
    y = backend.to_host(layer(x.astype(numpy.float32), training=True))
    mean = x.mean(axis=(0, 1, 2))
    variance = ((x - mean) ** 2).mean(axis=(0, 1, 2))  # biased, as Keras uses
    numpy.testing.assert_allclose(y, gamma * (x - mean) / numpy.sqrt(variance + 1e-3) + beta, rtol=1e-4, atol=1e-4)
    _, _, moving_mean, moving_variance = layer.get_weights()
    numpy.testing.assert_allclose(moving_mean, 0.01 * mean, rtol=1e-5)            # 0.99 * 0 + 0.01 * mean
    numpy.testing.assert_allclose(moving_variance, 0.99 + 0.01 * variance, rtol=1e-5)


def test_inference_uses_moving_statistics(rng, xp):
    x = rng.standard_normal((6, 4))
    layer = built(BatchNormalization(epsilon=0.01), (4,))
    gamma, beta, mean, variance = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4), rng.random(4) + 0.5
    layer.set_weights([gamma, beta, mean, variance])
    expected = gamma * (x - mean) / numpy.sqrt(variance + 0.01) + beta
    numpy.testing.assert_allclose(backend.to_host(layer(x.astype(numpy.float32))), expected, rtol=1e-5, atol=1e-5)
    frozen = built(BatchNormalization(epsilon=0.01, trainable=False), (4,))
    frozen.set_weights([gamma, beta, mean, variance])  # a frozen layer runs in inference mode, as in Keras
    numpy.testing.assert_allclose(backend.to_host(frozen(x.astype(numpy.float32), training=True)), expected,
                                  rtol=1e-5, atol=1e-5)
    numpy.testing.assert_allclose(frozen.get_weights()[2], mean.astype(numpy.float32))  # not updated


def test_moving_statistics_converge_to_the_data_statistics(rng):
    layer = built(BatchNormalization(momentum=0.9), (3,))
    for _ in range(200):
        layer(rng.standard_normal((64, 3)) * [1.0, 2.0, 0.5] + [5.0, -1.0, 0.0], training=True)
    _, _, moving_mean, moving_variance = layer.get_weights()
    numpy.testing.assert_allclose(moving_mean, [5.0, -1.0, 0.0], atol=0.15)
    numpy.testing.assert_allclose(moving_variance, [1.0, 4.0, 0.25], rtol=0.15)


@pytest.mark.parametrize("shape, axis", [((7, 5), -1), ((4, 3, 5, 3), -1), ((4, 3, 5, 2), 1), ((5, 2, 3), -2)])
@pytest.mark.parametrize("training", [True, False])
def test_gradients(shape, axis, training, backend_name):
    x = numpy.random.default_rng(7).standard_normal(shape) * 2 + 1
    layer = BatchNormalization(axis=axis, beta_initializer="random_normal", gamma_initializer="random_normal",
                               moving_variance_initializer="ones")
    result = gradcheck(layer, x, training=training)
    assert result.max_relative_error < 1e-6, result
    assert set(result.errors) == {"input 0", "gamma", "beta"}


def test_gradients_without_scale_or_center(rng):
    x = rng.standard_normal((6, 4)) + 3
    assert gradcheck(BatchNormalization(scale=False, center=False), x, training=True).max_relative_error < 1e-6
    layer = built(BatchNormalization(scale=False), (4,))
    assert [spec.name for spec in layer.weight_specs] == ["beta", "moving_mean", "moving_variance"]


def test_keras_weight_order_and_only_gamma_beta_are_trained():
    model = nnkit.Sequential([nnkit.Input(shape=(6, 6, 1)), Conv2D(4, 3), BatchNormalization(), Flatten(), Dense(2)])
    weights = model.layers[1].get_weights()
    assert [spec.name for spec in model.layers[1].weight_specs] == ["gamma", "beta", "moving_mean", "moving_variance"]
    numpy.testing.assert_array_equal(weights[0], numpy.ones(4))
    numpy.testing.assert_array_equal(weights[3], numpy.ones(4))
    assert len(model.get_weights()) == 2 + 4 + 2
    assert model.count_params() == (9 * 4 + 4) + 4 * 4 + (16 * 4 * 2 + 2)
    assert len(model.trainable_weights) == 2 + 2 + 2


def test_batchnorm_trains_inside_a_cnn(rng):
    x = rng.standard_normal((64, 6, 6, 1)).astype(numpy.float32)
    y = (x[:, :3].sum(axis=(1, 2, 3)) > x[:, 3:].sum(axis=(1, 2, 3))).astype(numpy.int64)
    model = nnkit.Sequential([nnkit.Input(shape=(6, 6, 1)), Conv2D(4, 3, use_bias=False), BatchNormalization(),
                              nnkit.layers.Activation("relu"), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer=nnkit.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    moving_mean = model.layers[1].get_weights()[2]
    assert numpy.abs(moving_mean).sum() > 0  # the moving statistics were updated by fit


def test_errors_and_config():
    layer = built(BatchNormalization(name="bn"), (4, 4, 3))
    with pytest.raises(ValueError, match=r"'bn' \(BatchNormalization\) expects 3 features on axis -1, but received "
                                         r"input of shape \(2, 4, 4, 5\)"):
        layer(numpy.zeros((2, 4, 4, 5)))
    with pytest.raises(ValueError, match=r"axis=0 is not a feature axis"):
        BatchNormalization(axis=0).build_for((None, 3))
    with pytest.raises(ValueError, match=r"expects an input of rank >= 2"):
        BatchNormalization().build_for((None,))
    with pytest.raises(ValueError, match=r"momentum"):
        BatchNormalization(momentum=1.5)
    config = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, name="bn2").get_config()
    assert config["momentum"] == 0.9 and config["epsilon"] == 1e-5 and config["center"] is False
    assert BatchNormalization.from_config(config).get_config() == config
    defaults = BatchNormalization().get_config()
    assert defaults["momentum"] == 0.99 and defaults["epsilon"] == 1e-3 and defaults["axis"] == -1
