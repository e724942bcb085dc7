"""Embedding: lookup, scatter-add backward (against a loop), masks, errors, config."""
import numpy
import pytest

from nnkit import backend
from nnkit.layers import LSTM, Dense, Embedding, Input
from nnkit.models import Sequential
from nnkit.utils import gradcheck


@pytest.fixture(autouse=True)
def _cpu():
    with backend.use("cpu"):
        yield


def built(layer, shape):
    backend.set_floatx("float64")
    layer.build_for((None,) + shape)
    return layer


def test_lookup_and_scatter_add_backward(rng):
    indices = rng.integers(0, 6, size=(8, 5))
    layer = built(Embedding(6, 3), (5,))
    table = layer.get_weights()[0]
    y = layer(indices)
    numpy.testing.assert_array_equal(y, table[indices])
    dy = rng.standard_normal((8, 5, 3))
    layer.backward(dy)
    expected = numpy.zeros((6, 3))
    for n in range(8):
        for t in range(5):
            expected[indices[n, t]] += dy[n, t]   # repeated indices accumulate
    numpy.testing.assert_allclose(layer.grads["embeddings"], expected, rtol=1e-12)


def test_gradcheck_of_the_table(rng):
    indices = rng.integers(0, 4, size=(3, 6)).astype(float)   # floats, as fit hands them over
    layer = built(Embedding(4, 2), (6,))

    def fn(table):
        layer.embeddings[...] = table

        def backward(dy):
            layer.backward(dy)
            return (layer.grads["embeddings"].copy(),)
        return layer(indices), backward
    result = gradcheck(fn, [layer.get_weights()[0]])
    assert result.max_relative_error < 1e-8, result


def test_gradcheck_embedding_into_lstm(rng):
    """The embedding's gradient through a masked LSTM (gradient with respect to the table)."""
    indices = numpy.array([[3, 1, 2, 0, 0], [1, 1, 3, 2, 1]])
    embedding, lstm = built(Embedding(4, 3, mask_zero=True), (5,)), built(LSTM(2), (5, 3))

    def fn(table):
        embedding.embeddings[...] = table
        vectors, mask = embedding.forward_masked(indices, None)
        out, _ = lstm.forward_masked(vectors, mask)

        def backward(dy):
            embedding.backward(lstm.backward(dy))
            return (embedding.grads["embeddings"].copy(),)
        return out, backward
    result = gradcheck(fn, [embedding.get_weights()[0]])
    assert result.max_relative_error < 1e-7, result


def test_mask_zero_makes_the_mask(rng):
    layer = built(Embedding(5, 2, mask_zero=True), (4,))
    _, mask = layer.forward_masked(numpy.array([[1, 2, 0, 0], [0, 3, 4, 1]]), None)
    numpy.testing.assert_array_equal(mask, [[True, True, False, False], [False, True, True, True]])
    _, mask = built(Embedding(5, 2), (4,)).forward_masked(numpy.array([[1, 0, 0, 0]]), None)
    assert mask is None


def test_padding_does_not_change_an_lstm_model_output(rng):
    """With mask_zero, padding at the end leaves an Embedding -> LSTM -> Dense model's output unchanged."""
    model = Sequential([Input((7,)), Embedding(10, 4, mask_zero=True), LSTM(5), Dense(1)])
    tokens = numpy.array([[4, 2, 9, 5]])
    padded = numpy.array([[4, 2, 9, 5, 0, 0, 0]])
    short = Sequential([Input((4,)), Embedding(10, 4), LSTM(5), Dense(1)])
    short.set_weights(model.get_weights())
    numpy.testing.assert_allclose(model.predict(padded, verbose=0), short.predict(tokens, verbose=0), rtol=1e-5)


def test_bad_indices():
    layer = Embedding(5, 2)
    with pytest.raises(ValueError, match=r"indices in \[0, 5\).*7"):
        layer(numpy.array([[1, 7]]))
    with pytest.raises(ValueError, match=r"indices in \[0, 5\).*-1"):
        layer(numpy.array([[-1, 2]]))
    with pytest.raises(ValueError, match="integer"):
        layer(numpy.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="input_dim=0"):
        Embedding(0, 2)


def test_config_and_input_length():
    layer = Embedding(100, 8, mask_zero=True, input_length=12)
    assert layer.input_shape_hint == (None, 12)
    config = layer.get_config()
    assert config["input_dim"] == 100 and config["output_dim"] == 8 and config["mask_zero"]
    assert Embedding.from_config(config).get_config() == config
    assert layer.compute_output_shape((None, 12)) == (None, 12, 8)
