"""Bidirectional and TimeDistributed: gradients, merge modes, masks, weight order, the flat buffer, configs."""
import math

import numpy
import pytest

from nnkit import backend, optimizers
from nnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, SimpleRNN, TimeDistributed
from nnkit.models import Sequential
from nnkit.utils import gradcheck

MASK = numpy.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)


@pytest.fixture(autouse=True)
def _cpu():
    with backend.use("cpu"):
        yield


def inputs(shape=(3, 5, 4)):
    return numpy.random.default_rng(0).standard_normal(shape)


def with_fixed_mask(layer, mask):
    layer.forward = lambda x, training=False: type(layer).forward_masked(layer, x, mask, training)[0]
    return layer


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_bidirectional(merge_mode, return_sequences, masked):
    layer = Bidirectional(LSTM(3, return_sequences=return_sequences), merge_mode=merge_mode)
    if masked:
        with_fixed_mask(layer, MASK)
    result = gradcheck(layer, inputs())
    assert result.max_relative_error < 1e-6, result
    assert set(result.errors) >= {"forward/kernel", "forward/recurrent_kernel", "backward/bias"}


def test_gradcheck_bidirectional_return_state_and_list_output():
    layer = with_fixed_mask(Bidirectional(GRU(3, return_sequences=True, return_state=True), merge_mode=None), MASK)
    run_forward, run_backward = layer.forward, layer.backward

    def forward(x, training=False):
        outputs = run_forward(x, training)
        layer.test_shapes = [o.shape for o in outputs]
        assert len(outputs) == 4   # [forward output, backward output, forward h, backward h]
        return numpy.concatenate([o.ravel() for o in outputs])

    def backward(dy):
        sizes = numpy.cumsum([math.prod(s) for s in layer.test_shapes])[:-1]
        return run_backward([part.reshape(s) for part, s in zip(numpy.split(dy, sizes), layer.test_shapes)])
    layer.forward, layer.backward = forward, backward
    result = gradcheck(layer, inputs())
    assert result.max_relative_error < 1e-6, result


def test_bidirectional_is_two_layers_reading_opposite_ways(rng):
    backend.set_floatx("float64")
    x = rng.standard_normal((3, 5, 4))
    layer = Bidirectional(SimpleRNN(2, return_sequences=True))
    layer.build_for((None, 5, 4))
    y, mask_out = layer.forward_masked(x, MASK)
    forwards, backwards = SimpleRNN(2, return_sequences=True), SimpleRNN(2, return_sequences=True)
    for single in (forwards, backwards):
        single.build_for((None, 5, 4))
    weights = layer.get_weights()
    forwards.set_weights(weights[:3])
    backwards.set_weights(weights[3:])
    assert [w.shape for w in weights] == [(4, 2), (2, 2), (2,)] * 2   # forward's weights, then backward's
    for n in range(3):
        kept = x[n:n + 1, MASK[n]]
        steps = len(kept[0])
        expected_f = forwards(kept)[0]
        expected_b = backwards(kept[:, ::-1])[0][::-1]       # back in forward time order
        numpy.testing.assert_allclose(y[n, :steps], numpy.hstack([expected_f, expected_b]), rtol=1e-12)
        numpy.testing.assert_array_equal(y[n, steps:], 0)    # padded steps read zero (Keras' behaviour)
    numpy.testing.assert_array_equal(mask_out, MASK)


def test_bidirectional_in_a_model_trains_through_the_flat_buffer():
    x = numpy.random.default_rng(1).integers(1, 20, size=(64, 6))
    y = (x[:, 0] > 10).astype("float32")
    model = Sequential([Input((6,)), Embedding(20, 4, mask_zero=True), Bidirectional(LSTM(3)),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    after = model.get_weights()
    assert len(after) == 1 + 6 + 2
    assert all(not numpy.allclose(a, b) for a, b in zip(after, before))
    bidirectional = model.layers[1]
    assert bidirectional.forward_layer.kernel.base is model.store.values or \
        numpy.shares_memory(bidirectional.forward_layer.kernel, model.store.values)
    assert model.layers[1].output_shape == (None, 6)
    assert model.count_params() == 20 * 4 + 2 * (4 * 12 + 3 * 12 + 12) + 7


def test_bidirectional_config_round_trip():
    layer = Bidirectional(GRU(4, return_sequences=True, reset_after=False), merge_mode="sum")
    config = layer.get_config()
    clone = Bidirectional.from_config(config)
    assert clone.get_config()["merge_mode"] == "sum"
    assert clone.backward_layer.go_backwards and not clone.forward_layer.go_backwards
    assert clone.forward_layer.get_config()["reset_after"] is False
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer"):
        Bidirectional(Dense(2))


def test_gradcheck_time_distributed():
    layer = TimeDistributed(Dense(3, activation="tanh"))
    result = gradcheck(layer, inputs((2, 4, 5)))
    assert result.max_relative_error < 1e-7, result
    assert set(result.errors) == {"input 0", "layer/kernel", "layer/bias"}


def test_time_distributed_applies_the_layer_per_step(rng):
    x = rng.standard_normal((2, 4, 5))
    layer = TimeDistributed(Dense(3))
    y = layer(x)
    kernel, bias = layer.get_weights()
    for t in range(4):
        numpy.testing.assert_allclose(y[:, t], x[:, t] @ kernel + bias, rtol=1e-5)
    assert layer.compute_output_shape((None, 4, 5)) == (None, 4, 3)
    assert TimeDistributed.from_config(layer.get_config()).layer.units == 3
    with pytest.raises(ValueError, match="rank >= 3"):
        TimeDistributed(Dense(3)).build_for((None, 5))


def test_sequence_tagging_model_with_time_distributed():
    """An LSTM tagger: the label of each step is the token of the previous step (needs one step of memory)."""
    rng = numpy.random.default_rng(0)
    x = rng.integers(1, 5, size=(256, 8))
    y = numpy.concatenate([numpy.zeros((256, 1), int), x[:, :-1]], axis=1)
    model = Sequential([Input((8,)), Embedding(5, 8), LSTM(16, return_sequences=True),
                        TimeDistributed(Dense(5, activation="softmax"))])
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    predicted = model.predict(x, verbose=0).argmax(-1)
    assert (predicted == y).mean() > 0.95
