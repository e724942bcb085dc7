"""set_random_seed (bit-for-bit CPU reproducibility), to_categorical, gradcheck."""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Dense, Dropout, Input
from nnkit.utils import gradcheck, set_random_seed, to_categorical


def _train_once(seed):
    set_random_seed(seed)
    rng = numpy.random.default_rng(0)
    x, y = rng.standard_normal((64, 5)).astype(numpy.float32), rng.integers(0, 3, 64)
    model = nnkit.Sequential([Input(shape=(5,)), Dense(16, activation="relu"), Dropout(0.3),
                              Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)  # shuffles and drops out
    return model.get_weights(), history.history


def test_same_seed_same_cpu_results_bit_for_bit():
    with backend.use("cpu"):
        weights_a, history_a = _train_once(11)
        weights_b, history_b = _train_once(11)
        weights_c, _ = _train_once(12)
    for a, b in zip(weights_a, weights_b):
        numpy.testing.assert_array_equal(a, b)
    assert history_a == history_b
    assert not numpy.array_equal(weights_a[0], weights_c[0])


def test_to_categorical():
    expected = numpy.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=numpy.float32)
    result = to_categorical([0, 2, 3])
    assert result.dtype == numpy.float32
    numpy.testing.assert_array_equal(result, expected)
    numpy.testing.assert_array_equal(to_categorical(numpy.array([[0], [2]]), num_classes=5),
                                     numpy.eye(5, dtype=numpy.float32)[[0, 2]])
    assert to_categorical(numpy.array([[0, 1], [1, 1]]), 2).shape == (2, 2, 2)
    numpy.testing.assert_array_equal(to_categorical([1.0, 0.0], 2), [[0, 1], [1, 0]])


def test_to_categorical_errors():
    with pytest.raises(ValueError, match="label 4 is out of range for num_classes=3"):
        to_categorical([0, 4], num_classes=3)
    with pytest.raises(ValueError, match="labels >= 0; received -1"):
        to_categorical([0, -1])
    with pytest.raises(ValueError, match="integer class labels"):
        to_categorical([0.5, 1])


def test_gradcheck_passes_a_correct_function(xp, rng):
    def square(x):
        return x * x, lambda dy: (2 * x * dy,)
    assert gradcheck(square, rng.standard_normal((3, 4))).max_relative_error < 1e-8


def test_gradcheck_catches_a_wrong_backward(xp, rng):
    def wrong_square(x):
        return x * x, lambda dy: (x * dy,)  # should be 2 * x * dy
    result = gradcheck(wrong_square, rng.standard_normal((3, 4)))
    assert result.max_relative_error > 0.3
    assert "input 0" in repr(result)


def test_gradcheck_catches_a_wrong_layer_weight_gradient(backend_name, rng):
    class HalfKernelGradient(Dense):
        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["kernel"] *= 0.5
            return dx
    result = gradcheck(HalfKernelGradient(3), rng.standard_normal((4, 2)))
    assert result.errors["kernel"] > 0.3
    assert result.errors["input 0"] < 1e-8 and result.errors["bias"] < 1e-8


def test_gradcheck_checks_two_inputs(xp, rng):
    def product(a, b):
        return a * b, lambda dy: (dy * b, dy * a)
    result = gradcheck(product, [rng.standard_normal(5), rng.standard_normal(5)])
    assert set(result.errors) == {"input 0", "input 1"} and result.max_relative_error < 1e-8


def test_gradcheck_refuses_float32_layers(rng):
    layer = Dense(2)
    layer(numpy.ones((1, 3), dtype=numpy.float32))
    with pytest.raises(ValueError, match="needs float64 weights"):
        gradcheck(layer, rng.standard_normal((1, 3)))


def test_pad_sequences_matches_keras_pre_and_post_by_hand():
    sequences = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    assert nnkit.utils.pad_sequences(sequences).tolist() == [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4], [5, 6, 7, 8, 9]]
    assert nnkit.utils.pad_sequences(sequences, maxlen=3).tolist() == [[1, 2, 3], [0, 0, 4], [7, 8, 9]]
    assert nnkit.utils.pad_sequences(sequences, maxlen=3, padding="post", truncating="post",
                                     value=-1).tolist() == [[1, 2, 3], [4, -1, -1], [5, 6, 7]]
    assert nnkit.utils.pad_sequences(sequences, maxlen=2).dtype == numpy.int32


def test_pad_sequences_rejects_unknown_modes_and_nested_rows():
    with pytest.raises(ValueError, match="padding 'pre' or 'post'. Received: padding='middle'"):
        nnkit.utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match=r"sequence 1 has shape \(1, 2\)"):
        nnkit.utils.pad_sequences([[1], [[1, 2]]])
