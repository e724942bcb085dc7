"""SpatialDropout1D/2D, GaussianNoise, GaussianDropout, AlphaDropout: identity at inference, the statistics of the
noise in training (tolerances from the sample size), its structure (whole channels, SELU's saturation value),
seeding, gradients (float64 central differences, the noise held fixed) on both backends, configs and errors."""
import math

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Dense
from nnkit.layers.noise import (AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D,
                                standard_normal)
from nnkit.utils import gradcheck

#: Sampling tolerance: this many standard errors.
Z = 5


def host(array):
    return backend.to_host(array)


ALL = [(lambda: SpatialDropout1D(0.4), (3, 5, 4)), (lambda: SpatialDropout2D(0.4), (2, 3, 4, 5)),
       (lambda: SpatialDropout2D(0.4, data_format="channels_first"), (2, 5, 3, 4)),
       (lambda: GaussianNoise(0.5), (4, 6)), (lambda: GaussianDropout(0.3), (4, 6)),
       (lambda: AlphaDropout(0.2), (4, 6)), (lambda: AlphaDropout(0.2, noise_shape=(None, 1, 3)), (2, 4, 3))]
IDS = ["spatial1d", "spatial2d", "spatial2d_channels_first", "gaussian_noise", "gaussian_dropout", "alpha",
       "alpha_noise_shape"]


@pytest.mark.parametrize("make, shape", ALL, ids=IDS)
def test_identity_at_inference(xp, rng, make, shape):
    layer = make()
    x = xp.asarray(rng.standard_normal(shape), dtype=numpy.float32)
    y = layer(x)
    numpy.testing.assert_array_equal(host(y), host(x))
    dy = xp.asarray(rng.standard_normal(shape), dtype=numpy.float32)
    numpy.testing.assert_array_equal(host(layer.backward(dy)), host(dy))


@pytest.mark.parametrize("layer", [SpatialDropout1D(0.0), SpatialDropout2D(0.0), GaussianNoise(0.0),
                                   GaussianDropout(0.0), AlphaDropout(0.0)], ids=lambda layer: type(layer).__name__)
def test_no_noise_at_rate_zero_even_in_training(xp, rng, layer):
    x = xp.asarray(rng.standard_normal((2, 3, 4, 5) if isinstance(layer, SpatialDropout2D) else (2, 3, 5)))
    numpy.testing.assert_array_equal(host(layer(x, training=True)), host(x))


@pytest.mark.parametrize("make, shape", ALL, ids=IDS)
def test_gradients_match_central_differences_with_the_noise_held(backend_name, rng, make, shape):
    result = gradcheck(make(), rng.standard_normal(shape), training=True)
    assert result.max_relative_error < 1e-6, result


# ---- statistics ---------------------------------------------------------------------------------------------------
def test_standard_normal_draws_have_the_first_four_moments(xp):
    n = 400_000
    z = host(standard_normal(backend.device_rng(), (n,), numpy.float64))
    assert abs(z.mean()) < Z / math.sqrt(n)
    assert abs(z.var() - 1) < Z * math.sqrt(2 / n)
    assert abs((z ** 3).mean()) < Z * math.sqrt(15 / n)
    assert abs((z ** 4).mean() - 3) < Z * math.sqrt(96 / n)
    assert z.dtype == numpy.float64
    assert standard_normal(backend.device_rng(), (3,), numpy.float32).dtype == numpy.float32


def test_gaussian_noise_adds_zero_mean_noise_of_stddev(xp):
    n, stddev = 200_000, 0.3
    x = xp.asarray(numpy.linspace(-2, 2, n))
    noise = host(GaussianNoise(stddev)(x, training=True)) - host(x)
    assert abs(noise.mean()) < Z * stddev / math.sqrt(n)
    assert abs(noise.var() - stddev ** 2) < Z * stddev ** 2 * math.sqrt(2 / n)


def test_gaussian_dropout_keeps_the_mean_and_multiplies_by_mean_one_noise(xp, rng):
    n, rate = 200_000, 0.2
    stddev = math.sqrt(rate / (1 - rate))
    factor = host(GaussianDropout(rate)(xp.ones(n), training=True))
    assert abs(factor.mean() - 1) < Z * stddev / math.sqrt(n)
    assert abs(factor.var() - stddev ** 2) < Z * stddev ** 2 * math.sqrt(2 / n)
    x = rng.standard_normal(n) + 2
    y = host(GaussianDropout(rate)(xp.asarray(x), training=True))
    assert abs(y.mean() - x.mean()) < Z * (y - x).std() / math.sqrt(n)


@pytest.mark.parametrize("layer, shape, channel_axis", [
    (SpatialDropout1D(0.3), (64, 10, 50), 2),
    (SpatialDropout2D(0.3), (32, 4, 5, 40), 3),
    (SpatialDropout2D(0.3, data_format="channels_first"), (32, 40, 4, 5), 1),
], ids=["1d", "2d", "2d_channels_first"])
def test_spatial_dropout_zeroes_whole_channels(xp, layer, shape, channel_axis):
    y = host(layer(xp.ones(shape), training=True))
    # one value per (sample, channel), the same at every position: zero, or 1 / (1 - rate)
    per_channel = numpy.moveaxis(y, channel_axis, 1).reshape(shape[0], shape[channel_axis], -1)
    assert (per_channel == per_channel[..., :1]).all()
    values = per_channel[..., 0]
    assert set(numpy.unique(values)) == {0.0, 1 / (1 - 0.3)}
    draws = values.size
    assert abs((values == 0).mean() - 0.3) < Z * math.sqrt(0.3 * 0.7 / draws)


def test_alpha_dropout_keeps_mean_and_variance_of_standardized_inputs(xp, rng):
    n, rate = 400_000, 0.1
    y = host(AlphaDropout(rate)(xp.asarray(rng.standard_normal(n)), training=True))
    assert abs(y.mean()) < Z * y.std() / math.sqrt(n)
    assert abs(y.var() - 1) < Z * (y ** 2).std() / math.sqrt(n)


def test_alpha_dropout_sets_dropped_inputs_to_the_saturation_value(xp, rng):
    rate = 0.25
    alpha_p = -AlphaDropout.ALPHA * AlphaDropout.SCALE
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    x = rng.standard_normal((50, 40))
    y = host(AlphaDropout(rate)(xp.asarray(x), training=True))
    dropped = numpy.isclose(y, a * alpha_p + b, rtol=0, atol=1e-12)
    numpy.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-12)
    assert abs(dropped.mean() - rate) < Z * math.sqrt(rate * (1 - rate) / x.size)


def test_alpha_dropout_noise_shape_shares_the_mask(xp, rng):
    x = rng.standard_normal((6, 8, 5))
    layer = AlphaDropout(0.5, noise_shape=(None, 1, None))
    y = host(layer(xp.asarray(x), training=True))
    alpha_p = -AlphaDropout.ALPHA * AlphaDropout.SCALE
    a = (0.5 * (1 + 0.5 * alpha_p ** 2)) ** -0.5
    kept = ~numpy.isclose(y, a * alpha_p - a * alpha_p * 0.5, rtol=0, atol=1e-12)
    assert (kept == kept[:, :1, :]).all()


# ---- seeding ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda seed: GaussianNoise(0.5, seed=seed),
                                  lambda seed: GaussianDropout(0.5, seed=seed),
                                  lambda seed: AlphaDropout(0.5, seed=seed),
                                  lambda seed: SpatialDropout1D(0.5, seed=seed)],
                         ids=["gaussian_noise", "gaussian_dropout", "alpha", "spatial1d"])
def test_seeded_layers_repeat_and_unseeded_ones_follow_set_random_seed(xp, rng, make):
    x = xp.asarray(rng.standard_normal((4, 3, 6)))
    first, second = make(3), make(3)
    draws = [host(first(x, training=True)) for _ in range(2)]
    numpy.testing.assert_array_equal(host(second(x, training=True)), draws[0])
    assert not numpy.array_equal(draws[0], draws[1])  # the generator moves on between calls
    runs = []
    for _ in range(2):
        nnkit.utils.set_random_seed(9)
        runs.append(host(make(None)(x, training=True)))
    numpy.testing.assert_array_equal(*runs)


# ---- in a model ---------------------------------------------------------------------------------------------------
def test_noise_layers_train_in_a_model_and_leave_predict_deterministic(backend_name, rng):
    model = nnkit.Sequential([nnkit.Input(shape=(3, 4)), GaussianNoise(0.1), Dense(6, activation="selu"),
                              AlphaDropout(0.1), GaussianDropout(0.1), SpatialDropout1D(0.2), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, t = rng.standard_normal((32, 3, 4)), rng.standard_normal((32, 3, 1))
    history = model.fit(x, t, epochs=2, batch_size=8, verbose=0)
    assert all(numpy.isfinite(history.history["loss"]))
    numpy.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- configs and errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [SpatialDropout1D(0.2, seed=4), SpatialDropout2D(0.3, data_format="channels_first"),
                                   GaussianNoise(0.25, seed=1), GaussianDropout(0.5),
                                   AlphaDropout(0.1, noise_shape=(None, 1, 5), seed=2)],
                         ids=lambda layer: type(layer).__name__)
def test_config_round_trips(layer):
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == {**config, "name": again.name}
    assert "noise_shape" not in config or isinstance(layer, AlphaDropout)


@pytest.mark.parametrize("make, error, message", [
    (lambda: SpatialDropout1D(1.0), ValueError, r"SpatialDropout1D: expected a number in \[0, 1\) for `rate`. Received: rate=1.0"),
    (lambda: SpatialDropout2D(-0.1), ValueError, r"SpatialDropout2D: expected a number in \[0, 1\) for `rate`"),
    (lambda: SpatialDropout2D(0.1, data_format="NHWC"), ValueError, r"expected `data_format` to be 'channels_last'"),
    (lambda: SpatialDropout1D(0.1, noise_shape=(None, 1, None)), TypeError, r"noise_shape"),
    (lambda: GaussianNoise(1.5), ValueError, r"GaussianNoise: expected a number in \[0, 1\] for `stddev`. Received: stddev=1.5"),
    (lambda: GaussianNoise("0.1"), ValueError, r"stddev='0.1'"),
    (lambda: GaussianDropout(1), ValueError, r"GaussianDropout: expected a number in \[0, 1\) for `rate`"),
    (lambda: GaussianDropout(True), ValueError, r"rate=True"),
    (lambda: AlphaDropout(1.0), ValueError, r"AlphaDropout: expected a number in \[0, 1\) for `rate`"),
])
def test_bad_arguments_name_the_layer(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("layer, shape", [(SpatialDropout1D(0.5, name="sd"), (None, 4)),
                                          (SpatialDropout2D(0.5, name="sd"), (None, 4, 4))],
                         ids=["1d", "2d"])
def test_spatial_dropout_refuses_other_ranks(xp, layer, shape):
    with pytest.raises(ValueError, match=rf"'sd' \({type(layer).__name__}\) expects an input of rank {len(shape) + 1}"):
        layer.build_for(shape)
    with pytest.raises(ValueError, match="expects an input of rank"):
        layer.forward(xp.ones((2,) + tuple(shape[1:])), training=True)
