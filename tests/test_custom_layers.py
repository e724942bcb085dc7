"""Keras-style custom layers: ``add_weight(shape=...)`` in ``build`` and a ``call`` written with ``nnkit.ops``
and other layers, traced into a graph whose op nodes carry their own gradient rules. Checked against the same
models built from nnkit's Dense, and against float64 central differences."""
import numpy
import pytest

import nnkit
from nnkit import backend, layers, ops
from nnkit.utils import gradcheck


class Linear(layers.Layer):
    """The Keras guide's first custom layer."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class MLPBlock(layers.Layer):
    """Nested custom layers, as in the Keras guide."""

    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(8)
        self.linear_2 = Linear(5)

    def call(self, inputs):
        return self.linear_2(ops.relu(self.linear_1(inputs)))


class TiedAutoencoder(layers.Layer):
    """One weight read twice: the graph sums both uses' gradients."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 3), name="tied")

    def call(self, inputs):
        code = ops.tanh(ops.matmul(inputs, self.w))
        return ops.matmul(code, ops.transpose(self.w))


def _fit_twice(model, x, y):
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    return model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]


def test_linear_layers_train_exactly_as_dense_layers(backend_name, rng):
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    custom = nnkit.Sequential([layers.Input((4,)), Linear(3), Linear(2)])
    built_in = nnkit.Sequential([layers.Input((4,)), layers.Dense(3), layers.Dense(2)])
    built_in.set_weights(custom.get_weights())
    numpy.testing.assert_allclose(custom.predict(x, verbose=0), built_in.predict(x, verbose=0), rtol=1e-6)
    numpy.testing.assert_allclose(_fit_twice(custom, x, y), _fit_twice(built_in, x, y), rtol=1e-5)
    for got, want in zip(custom.get_weights(), built_in.get_weights()):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    first = custom.layers[0]
    assert first.w is first.variable and first.b is first.variable_1  # the attributes follow the trained weights
    numpy.testing.assert_array_equal(backend.to_host(first.w), custom.get_weights()[0])


def test_nested_custom_layers_route_their_weights_and_train(rng):
    block = MLPBlock()
    y = block(numpy.ones((2, 4), "float32"))
    assert tuple(y.shape) == (2, 5)
    assert [spec.name for spec in block.weight_specs] == ["linear/variable", "linear/variable_1",
                                                          "linear_1/variable", "linear_1/variable_1"]
    model = nnkit.Sequential([layers.Input((4,)), block])
    before = model.get_weights()
    _fit_twice(model, rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 5)).astype("float32"))
    assert all(not numpy.allclose(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("make", [lambda: Linear(3), MLPBlock, TiedAutoencoder], ids=["linear", "nested", "tied"])
def test_gradients_of_ops_in_call_match_central_differences(backend_name, rng, make):
    result = gradcheck(make(), rng.normal(size=(3, 4)))
    assert result.max_relative_error < 1e-6, result


def test_ops_between_layers_of_a_functional_model_match_central_differences(backend_name, rng):
    backend.set_floatx("float64")
    inputs = layers.Input((4,))
    hidden = layers.Dense(3)(inputs)
    outputs = ops.relu(hidden) * 2.0 - hidden[:, :1] / (1.5 + ops.square(hidden)) + ops.mean(hidden, axis=-1,
                                                                                               keepdims=True)
    model = nnkit.Model(inputs, outputs)
    x = rng.normal(size=(5, 4))
    kernel, bias = (backend.to_host(w) for w in model.get_weights())
    h = x @ kernel + bias
    expected = numpy.maximum(h, 0) * 2 - h[:, :1] / (1.5 + h ** 2) + h.mean(axis=-1, keepdims=True)
    numpy.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-12)
    result = gradcheck(model, x)
    assert result.max_relative_error < 1e-6, result


class PositionEmbedding(layers.Layer):
    """The keras-io pattern: a layer called on a constant (the positions) inside call."""

    def __init__(self, steps, width):
        super().__init__()
        self.positions = layers.Embedding(steps, width)

    def call(self, x):
        return x + self.positions(ops.arange(0, ops.shape(x)[1]))


def test_a_layer_called_on_a_constant_inside_call_trains(rng):
    model = nnkit.Sequential([layers.Input((5, 3)), PositionEmbedding(5, 3), layers.Flatten(), layers.Dense(1)])
    before = model.get_weights()[0].copy()
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    numpy.testing.assert_allclose(model.layers[0](x), x + before[None], rtol=1e-6)
    _fit_twice(model, x, rng.normal(size=(8, 1)).astype("float32"))
    assert not numpy.allclose(model.get_weights()[0], before)


def test_python_control_flow_on_a_tensor_in_call_is_explained():
    class Branchy(layers.Layer):
        def call(self, inputs):
            return inputs if ops.sum(inputs) > 0 else -inputs

    with pytest.raises(TypeError, match=r"bool\(\).*Python control flow on tensor values"):
        nnkit.Sequential([layers.Input((3,)), Branchy()]).predict(numpy.ones((1, 3)), verbose=0)


def test_add_weight_checks_its_arguments():
    layer = layers.Layer()
    layer.add_weight(shape=(2,), name="w")
    with pytest.raises(ValueError, match="already has a weight named 'w'"):
        layer.add_weight(shape=(2,), name="w")
    with pytest.raises(ValueError, match="without '/'"):
        layer.add_weight(shape=(2,), name="a/b")
    with pytest.raises(TypeError, match="no weight constraints"):
        layer.add_weight(shape=(2,), constraint=lambda w: w)
    assert layer.add_weight(shape=(3,), dtype="int32").dtype == numpy.int32  # zeros for integer weights


class TransformerBlock(layers.Layer):
    """keras-io "Text classification with Transformer", verbatim but for the import."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = nnkit.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def test_the_keras_io_transformer_text_classifier_runs_and_learns(rng):
    vocab_size, maxlen, embed_dim, num_heads, ff_dim = 50, 10, 16, 2, 16
    inputs = layers.Input(shape=(maxlen,))
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = nnkit.Model(inputs=inputs, outputs=outputs)
    attention = 3 * (embed_dim * num_heads * embed_dim + num_heads * embed_dim) + num_heads * embed_dim ** 2 + embed_dim
    block = attention + 2 * (embed_dim * ff_dim + ff_dim) + 2 * 2 * embed_dim
    assert model.count_params() == (vocab_size + maxlen) * embed_dim + block + (embed_dim * 20 + 20) + (20 * 2 + 2)
    tokens = rng.integers(0, vocab_size, (512, maxlen))
    labels = (tokens[:, 0] < vocab_size // 2).astype(int)  # the first token decides: positions matter
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(tokens, labels, batch_size=32, epochs=6, verbose=0).history
    assert history["loss"][-1] < 0.9 * history["loss"][0] and history["accuracy"][-1] > 0.6


def test_lambda_layers_compute_and_differentiate_their_function(backend_name, rng):
    scaled_tanh = layers.Lambda(lambda x, k: ops.tanh(x) * k, arguments={"k": 3.0})
    x = rng.normal(size=(4, 3))
    numpy.testing.assert_allclose(backend.to_host(scaled_tanh(x.astype("float32"))), numpy.tanh(x) * 3, rtol=1e-6)
    result = gradcheck(layers.Lambda(lambda pair: ops.multiply(pair[0], ops.exp(pair[1]))), [x, rng.normal(size=(4, 3))])
    assert result.max_relative_error < 1e-6, result
    with pytest.raises(TypeError, match="wraps a Python function"):
        scaled_tanh.get_config()


class ActivityRegularizationLayer(layers.Layer):
    """The Keras guide's add_loss example."""

    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


def test_add_loss_joins_the_loss_and_its_gradient(rng):
    backend.set_floatx("float64")
    model = nnkit.Sequential([layers.Input((3,)), layers.Dense(4, activation="tanh"),
                              ActivityRegularizationLayer(rate=0.5), layers.Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))
    weights = model.get_weights()

    def reference(ws):
        hidden = numpy.tanh(x @ ws[0] + ws[1])
        return numpy.mean((hidden @ ws[2] + ws[3] - y) ** 2) + 0.5 * hidden.mean()
    assert model.evaluate(x, y, verbose=0) == pytest.approx(reference(weights), rel=1e-12)
    assert [float(v) for v in model.losses] == pytest.approx([0.5 * numpy.tanh(x @ weights[0] + weights[1]).mean()])
    expected = []
    for index, weight in enumerate(weights):
        grad = numpy.zeros_like(weight)
        for position in numpy.ndindex(weight.shape):
            shifted = [w.copy() for w in weights]
            shifted[index][position] += 1e-6
            up = reference(shifted)
            shifted[index][position] -= 2e-6
            grad[position] = (up - reference(shifted)) / 2e-6
        expected.append(weight - 0.1 * grad)
    model.fit(x, y, batch_size=5, epochs=1, verbose=0)
    for got, want in zip(model.get_weights(), expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_add_loss_outside_call_is_refused():
    with pytest.raises(ValueError, match="add_loss\\(\\) can only be called inside call\\(\\)"):
        ActivityRegularizationLayer().add_loss(numpy.float32(1.0))


def test_training_passed_on_follows_the_models_mode_and_a_branch_on_it_is_explained(rng):
    class Noisy(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dropout = layers.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.dropout(inputs, training=training)

    class Branchy(layers.Layer):
        def call(self, inputs, training=None):
            return ops.relu(inputs) if training else inputs

    model = nnkit.Sequential([layers.Input((50,)), Noisy()])
    x = numpy.ones((4, 50), "float32")
    numpy.testing.assert_array_equal(model.predict(x, verbose=0), x)  # inference: no dropout
    dropped = backend.to_host(model(x, training=True))
    assert 0 < numpy.mean(dropped == 0) < 1 and set(numpy.unique(dropped)) <= {0.0, 2.0}
    with pytest.raises(TypeError, match=r"branches on `training`.*training=training"):
        nnkit.Sequential([layers.Input((3,)), Branchy()]).predict(numpy.ones((1, 3)), verbose=0)
