"""fit's sample_weight and class_weight: Keras' weighted "sum over batch size", checked by hand in float64."""
import numpy
import pytest

import nnkit
from nnkit import layers


def linear_model(kernel, bias, loss="mse", activation=None):
    model = nnkit.Sequential([nnkit.Input(shape=(kernel.shape[0],)), layers.Dense(kernel.shape[1], activation=activation)])
    model.set_weights([kernel, bias])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss=loss)
    return model


def test_sample_weighted_mse_step_and_loss_match_a_float64_hand_computation(rng):
    n, features, outputs = 6, 3, 2
    x = rng.normal(size=(n, features))
    y = rng.normal(size=(n, outputs))
    w = rng.uniform(0.0, 3.0, size=n)
    kernel, bias = rng.normal(size=(features, outputs)), rng.normal(size=outputs)

    model = linear_model(kernel.astype("float32"), bias.astype("float32"))
    history = model.fit(x, y, sample_weight=w, batch_size=n, epochs=1, shuffle=False, verbose=0)

    diff = x @ kernel + bias - y                               # float64 reference
    expected_loss = numpy.mean(w * (diff ** 2).mean(axis=1))   # mean over the batch of w_n * loss_n
    d_output = 2 * w[:, None] * diff / (n * outputs)
    new_kernel, new_bias = kernel - 0.1 * x.T @ d_output, bias - 0.1 * d_output.sum(axis=0)
    assert history.history["loss"][0] == pytest.approx(expected_loss, rel=1e-5)
    numpy.testing.assert_allclose(model.get_weights()[0], new_kernel, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(model.get_weights()[1], new_bias, rtol=1e-5, atol=1e-6)


def test_class_weight_on_the_fused_softmax_path_matches_a_float64_hand_computation(rng):
    n, features, classes = 8, 4, 3
    x = rng.normal(size=(n, features))
    labels = numpy.array([0, 1, 2, 2, 1, 0, 2, 2])
    kernel, bias = rng.normal(size=(features, classes)), rng.normal(size=classes)
    class_weight = {0: 2.0, 2: 0.5}                            # class 1 is not named: weight 1

    model = linear_model(kernel.astype("float32"), bias.astype("float32"), "sparse_categorical_crossentropy",
                         activation="softmax")
    history = model.fit(x, labels, class_weight=class_weight, batch_size=n, epochs=1, shuffle=False, verbose=0)

    z = x @ kernel + bias
    p = numpy.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    w = numpy.array([class_weight.get(label, 1.0) for label in labels])
    expected_loss = numpy.mean(w * -numpy.log(p[numpy.arange(n), labels]))
    d_logits = w[:, None] * (p - numpy.eye(classes)[labels]) / n
    assert history.history["loss"][0] == pytest.approx(expected_loss, rel=1e-5)
    numpy.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * x.T @ d_logits, rtol=1e-5, atol=1e-6)


def test_class_weight_reads_one_hot_targets_by_argmax(rng):
    x = rng.normal(size=(10, 4)).astype("float32")
    labels = rng.integers(0, 3, size=10)
    kernel, bias = rng.normal(size=(4, 3)).astype("float32"), numpy.zeros(3, "float32")
    sparse = linear_model(kernel, bias, "sparse_categorical_crossentropy", activation="softmax")
    one_hot = linear_model(kernel, bias, "categorical_crossentropy", activation="softmax")
    a = sparse.fit(x, labels, class_weight={1: 3.0}, batch_size=5, shuffle=False, verbose=0)
    b = one_hot.fit(x, numpy.eye(3)[labels], class_weight={1: 3.0}, batch_size=5, shuffle=False, verbose=0)
    assert a.history["loss"][0] == pytest.approx(b.history["loss"][0], rel=1e-6)
    numpy.testing.assert_allclose(sparse.get_weights()[0], one_hot.get_weights()[0], rtol=1e-6, atol=1e-7)


def test_validation_split_keeps_the_weights_of_the_training_part(rng):
    x, y, w = rng.normal(size=(10, 3)), rng.normal(size=(10, 1)), rng.uniform(size=10)
    kernel, bias = rng.normal(size=(3, 1)).astype("float32"), numpy.zeros(1, "float32")
    split = linear_model(kernel, bias)
    split.fit(x, y, sample_weight=w, validation_split=0.2, batch_size=8, shuffle=False, verbose=0)
    explicit = linear_model(kernel, bias)
    explicit.fit(x[:8], y[:8], sample_weight=w[:8], batch_size=8, shuffle=False, verbose=0)
    numpy.testing.assert_array_equal(split.get_weights()[0], explicit.get_weights()[0])


def test_bad_weights_are_refused_with_what_was_expected(rng):
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    model = linear_model(numpy.zeros((3, 1), "float32"), numpy.zeros(1, "float32"))
    with pytest.raises(ValueError, match="sample_weight or class_weight, not both"):
        model.fit(x, y, sample_weight=numpy.ones(6), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(6,\).*received shape \(5,\)"):
        model.fit(x, y, sample_weight=numpy.ones(5), verbose=0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.fit(x, y, sample_weight=numpy.full(6, numpy.nan), verbose=0)
    with pytest.raises(ValueError, match="non-negative class indices"):
        model.fit(x, y, class_weight={-1: 2.0}, verbose=0)
