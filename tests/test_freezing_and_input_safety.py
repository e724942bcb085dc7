"""Inputs a layer must not modify, masks it must refuse, and freezing (``trainable = False``) that
must take effect whenever it is set, as in Keras."""
import numpy
import pytest

from nnkit import backend, models
from nnkit.layers import GRU, LSTM, Bidirectional, Dense, Input, SimpleRNN, TimeDistributed


@pytest.fixture(autouse=True)
def _cpu():
    with backend.use("cpu"):
        yield


@pytest.mark.parametrize("kind", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("shape", [(1, 5, 3), (4, 1, 3), (4, 5, 3)])  # batch 1 / one step: transpose is a view
def test_recurrent_dropout_leaves_the_callers_input_unchanged(kind, shape):
    x = numpy.random.default_rng(0).standard_normal(shape).astype("float32")
    original = x.copy()
    kind(2, dropout=0.5)(x, training=True)
    numpy.testing.assert_array_equal(x, original)


def test_bidirectional_directions_read_the_same_input_under_dropout():
    x = numpy.random.default_rng(1).standard_normal((1, 4, 3)).astype("float32")
    original = x.copy()
    Bidirectional(LSTM(2, dropout=0.5))(x, training=True)
    numpy.testing.assert_array_equal(x, original)


def _regression_data(rng):
    return rng.standard_normal((16, 3)).astype("float32"), rng.standard_normal((16, 1)).astype("float32")


def test_freezing_a_layer_after_build_stops_its_updates():
    rng = numpy.random.default_rng(2)
    model = models.Sequential([Input((3,)), Dense(4), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _regression_data(rng)
    model.fit(x, y, epochs=1, verbose=0)
    frozen, trained = model.layers
    frozen.trainable = False
    assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 2
    before_frozen, before_trained = frozen.get_weights(), trained.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for old, new in zip(before_frozen, frozen.get_weights()):
        numpy.testing.assert_array_equal(new, old)
    assert not numpy.array_equal(trained.get_weights()[0], before_trained[0])
    frozen.trainable = True  # unfreezing works too, even for a layer built while frozen
    model.fit(x, y, epochs=1, verbose=0)
    assert not numpy.array_equal(frozen.get_weights()[0], before_frozen[0])


def test_a_layer_built_frozen_can_be_unfrozen():
    rng = numpy.random.default_rng(3)
    model = models.Sequential([Input((3,)), Dense(4, trainable=False), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _regression_data(rng)
    before = model.layers[0].get_weights()[0]
    model.fit(x, y, epochs=1, verbose=0)
    numpy.testing.assert_array_equal(model.layers[0].get_weights()[0], before)
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not numpy.array_equal(model.layers[0].get_weights()[0], before)


@pytest.mark.parametrize("make", [lambda **kw: Bidirectional(LSTM(2), **kw),
                                  lambda **kw: TimeDistributed(Dense(2), **kw)])
def test_freezing_a_wrapper_freezes_its_inner_layers(make):
    wrapper = make(trainable=False)
    wrapper.build_for((None, 4, 3))
    assert wrapper.trainable_weights == []
    assert [spec.trainable for spec in wrapper.weight_specs] == [False] * len(wrapper.weights)
    wrapper.trainable = True
    assert len(wrapper.trainable_weights) == len(wrapper.weights)


@pytest.mark.parametrize("kind", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("mask_shape", [(1, 5), (3, 4), (5, 3), (3, 5, 1)])
def test_a_mask_not_shaped_batch_by_timesteps_is_a_clear_error(kind, mask_shape):
    # A (1, T) mask used to broadcast silently (every sequence masked like the first; on the GPU the fused
    # step kernels would read N mask entries from an array of one row).
    layer = kind(2, name="rnn")
    x = numpy.ones((3, 5, 4), dtype="float32")
    layer(x)
    with pytest.raises(ValueError, match=r"'rnn'.*mask of shape \(batch, timesteps\) = \(3, 5\).*"
                                         + r"\(" + ", ".join(map(str, mask_shape)) + r"\)"):
        layer.forward_masked(x, numpy.ones(mask_shape, dtype=bool))
