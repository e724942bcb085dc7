"""Models as graphs: functional models (fan-out, shared layers, nested and siamese models, several outputs),
subclassed models and composite layers, all checked against independent references: float64 central
differences of the total loss for every weight, hand-computed Adam and SGD steps, and losses computed by
hand from the predictions. Also regressions (a layer reused in a Sequential, logits left behind by the
fused loss, optimizer state lost on freezing or when another model sharing the layers trains, the step's
building blocks right after compile) and the functional API's surface (layers, get_layer, sub-models,
errors, multi-input/output data, saving and loading)."""
import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Activation, Add, Concatenate, Conv2D, Dense, Flatten, Input, Layer


# ---- references ----------------------------------------------------------------------------------------
def _numeric_gradient(loss, arrays, epsilon=1e-6):
    """Central differences of the scalar ``loss(arrays)`` with respect to each float64 array (perturbed in place)."""
    gradients = []
    for array in arrays:
        flat, gradient = array.reshape(-1), numpy.zeros(array.size)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + epsilon
            plus = loss(arrays)
            flat[i] = original - epsilon
            minus = loss(arrays)
            flat[i] = original
            gradient[i] = (plus - minus) / (2 * epsilon)
        gradients.append(gradient.reshape(array.shape))
    return gradients


def _relative_error(a, b):
    return float(numpy.linalg.norm(a - b) / max(numpy.linalg.norm(a), numpy.linalg.norm(b), 1e-12))


def _on_device(structure):
    if isinstance(structure, dict):
        return {key: backend.to_device(value) for key, value in structure.items()}
    if isinstance(structure, list):
        return [backend.to_device(value) for value in structure]
    return backend.to_device(structure)


def _assert_gradients_of_every_weight(model, x, y, logits=True):
    """One forward/backward of the total loss (the fused loss with ``logits=True``) against central differences
    of the unfused loss, every weight perturbed through ``set_weights``."""
    y = _on_device(y)
    y_pred = model(x, training=True, logits=logits)
    _, y_pred_grad = model.compute_loss_and_gradients(y, y_pred, logits=logits)
    model.backward(y_pred_grad)
    grad_of = {id(value): backend.to_host(grad).copy() for _, _, value, grad in model.store.entries}
    assert len(grad_of) == len(model.weights)  # every weight of these models trains
    analytic = [grad_of[id(weight)] for weight in model.weights]

    def loss(weights):
        model.set_weights(weights)
        return float(model.compute_loss_and_gradients(y, model(x))[0])
    numeric = _numeric_gradient(loss, model.get_weights())
    errors = [_relative_error(a, n) for a, n in zip(analytic, numeric)]
    assert max(errors) < 1e-6, errors


def _softmax(z):
    e = numpy.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cross_entropy(probabilities, labels):
    return float(-numpy.mean(numpy.log(probabilities[numpy.arange(len(labels)), labels])))


# ---- 1. whole-graph gradient checks --------------------------------------------------------------------
def _fan_out(rng):
    inputs = Input((3,))
    hidden = Dense(4, activation="tanh")(inputs)
    model = nnkit.Model(inputs, Add()([Dense(2)(hidden), Dense(2, activation="tanh")(hidden)]))
    model.compile(optimizer="sgd", loss="mse")
    return model, rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def _shared_then_concatenate(rng):
    left, right = Input((3,)), Input((3,))
    shared = Dense(4, activation="tanh")
    model = nnkit.Model([left, right], Dense(3, activation="softmax")(Concatenate()([shared(left), shared(right)])))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model, [rng.standard_normal((5, 3)), rng.standard_normal((5, 3))], rng.integers(0, 3, 5)


def _nested_sequential(rng):
    inputs = Input((3,))
    tower = nnkit.Sequential([Input((4,)), Dense(4, activation="tanh"), Dense(3)])
    model = nnkit.Model(inputs, Dense(3, activation="softmax")(tower(Dense(4, activation="tanh")(inputs))))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model, rng.standard_normal((5, 3)), rng.integers(0, 3, 5)


def _siamese(rng):
    left, right = Input((3,)), Input((3,))
    encoder = nnkit.Sequential([Input((3,)), Dense(4, activation="tanh"), Dense(2, activation="tanh")])
    model = nnkit.Model([left, right], Dense(1)(Concatenate()([encoder(left), encoder(right)])))
    model.compile(optimizer="sgd", loss="mse")
    return model, [rng.standard_normal((5, 3)), rng.standard_normal((5, 3))], rng.standard_normal((5, 1))


def _two_outputs_with_loss_weights(rng):
    inputs = Input((3,))
    hidden = Dense(4, activation="tanh", name="hidden")(inputs)  # an output that also feeds the head
    head = Dense(3, activation="softmax", name="head")(hidden)
    model = nnkit.Model(inputs, [hidden, head])
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.3, 2.0])
    return model, rng.standard_normal((5, 3)), [rng.standard_normal((5, 4)), rng.integers(0, 3, 5)]


def _shared_softmax_head_on_two_outputs(rng):
    left, right = Input((3,)), Input((3,))
    head = Dense(3, activation="softmax")
    model = nnkit.Model([left, right], [head(Dense(3, activation="tanh")(left)), head(right)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", loss_weights=[0.7, 1.9])
    return model, [rng.standard_normal((5, 3)), rng.standard_normal((5, 3))], [rng.integers(0, 3, 5)] * 2


class Residual(Layer):
    """A composite layer: ``call`` holds sublayers (traced into a graph on first use)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = Dense(units, activation="tanh")
        self.projection = Dense(units)
        self.add = Add()

    def call(self, inputs):
        return self.add([self.projection(self.inner(inputs)), inputs])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _composite_layer(rng):
    inputs = Input((4,))
    model = nnkit.Model(inputs, Dense(3, activation="softmax")(Residual(4)(inputs)))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model, rng.standard_normal((5, 4)), rng.integers(0, 3, 5)


@pytest.mark.parametrize("logits", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("build", [_fan_out, _shared_then_concatenate, _nested_sequential, _siamese,
                                   _two_outputs_with_loss_weights, _shared_softmax_head_on_two_outputs,
                                   _composite_layer], ids=lambda f: f.__name__.strip("_"))
def test_gradient_of_the_total_loss_for_every_weight(build, logits, backend_name, rng):
    backend.set_floatx("float64")
    model, x, y = build(rng)
    _assert_gradients_of_every_weight(model, x, y, logits=logits)


def test_fan_out_forward_matches_numpy(rng):
    backend.set_floatx("float64")
    model, x, _ = _fan_out(rng)
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    hidden = numpy.tanh(x @ k1 + b1)
    numpy.testing.assert_allclose(model.predict(x, verbose=0), hidden @ k2 + b2 + numpy.tanh(hidden @ k3 + b3),
                                  rtol=1e-12)


def test_compute_loss_and_gradients_right_after_compile(rng):
    model, x, y = _fan_out(rng)
    loss, _ = model.compute_loss_and_gradients(y, model(x, training=True))
    expected = numpy.mean((model.predict(x, verbose=0) - y) ** 2)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


# ---- 2. regressions ------------------------------------------------------------------------------------
def test_layer_used_twice_in_a_sequential_gets_the_summed_gradient(backend_name, rng):
    backend.set_floatx("float64")
    dense, head = Dense(4), Dense(1)
    model = nnkit.Sequential([Input((4,)), dense, Activation("tanh"), dense, head])
    model.compile(optimizer=nnkit.optimizers.SGD(0.1), loss="mse")
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 1))
    before = dense.get_weights() + head.get_weights()

    def forward(weights):
        kernel, bias, v, c = weights
        return (numpy.tanh(x @ kernel + bias) @ kernel + bias) @ v + c
    numpy.testing.assert_allclose(model.predict(x, verbose=0), forward(before), rtol=1e-12)
    expected = _numeric_gradient(lambda w: numpy.mean((forward(w) - y) ** 2), [w.copy() for w in before])
    model.train_on_batch(x, y)
    for old, new, gradient in zip(before, dense.get_weights() + head.get_weights(), expected):
        numpy.testing.assert_allclose((old - new) / 0.1, gradient, rtol=1e-6, atol=1e-10)


def test_layer_used_twice_in_a_sequential_is_counted_once():
    dense = Dense(4)
    model = nnkit.Sequential([Input((4,)), dense, Activation("tanh"), dense, Dense(1)])
    assert model.count_params() == (4 * 4 + 4) + (4 + 1)
    assert len(model.get_weights()) == 4


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_after_fit_the_softmax_layer_returns_probabilities(kind, backend_name, rng):
    if kind == "sequential":
        model = nnkit.Sequential([Input((3,)), Dense(5, activation="tanh"), Dense(3, activation="softmax")])
        hidden_layer = model.layers[0]
    else:
        inputs = Input((3,))
        hidden_layer = Dense(5, activation="tanh")
        model = nnkit.Model(inputs, Dense(3, activation="softmax")(hidden_layer(inputs)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, labels = rng.standard_normal((20, 3)).astype("float32"), rng.integers(0, 3, 20)
    model.fit(x, labels, epochs=2, batch_size=8, verbose=0, validation_split=0.2)
    for output in (model.layers[-1](hidden_layer(x)), model(x, training=True), model(x)):
        output = backend.to_host(output)
        assert output.min() >= 0
        numpy.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)


def _adam_reference(parameters, gradients, state, t, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras' Adam step by hand on the parameters named in ``gradients`` (step number ``t``, from 1)."""
    alpha = lr * numpy.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    for name, g in gradients.items():
        m, v = state.get(name, (0.0, 0.0))
        m, v = beta_1 * m + (1 - beta_1) * g, beta_2 * v + (1 - beta_2) * g * g
        state[name] = (m, v)
        parameters[name] = parameters[name] - alpha * m / (numpy.sqrt(v) + epsilon)


def test_freezing_between_fits_keeps_adams_moments_and_iterations(backend_name, rng):
    backend.set_floatx("float64")
    inputs = Input((3,))
    body, head = Dense(4, activation="tanh"), Dense(2)
    model = nnkit.Model(inputs, head(body(inputs)))
    model.compile(optimizer=nnkit.optimizers.Adam(0.01), loss="mse")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    names = ["k1", "b1", "k2", "b2"]
    parameters = dict(zip(names, body.get_weights() + head.get_weights()))
    state = {}

    def gradients(trained):
        def loss(w):
            k1, b1, k2, b2 = w
            return numpy.mean((numpy.tanh(x @ k1 + b1) @ k2 + b2 - y) ** 2)
        values = _numeric_gradient(loss, [parameters[n].copy() for n in names])
        return {n: g for n, g in zip(names, values) if n in trained}

    def fit_and_compare(epochs, trained, first_step):
        model.fit(x, y, epochs=epochs, batch_size=len(x), shuffle=False, verbose=0)
        for t in range(first_step, first_step + epochs):
            _adam_reference(parameters, gradients(trained), state, t)
        assert model.optimizer.iterations == first_step + epochs - 1
        for name, value in zip(names, body.get_weights() + head.get_weights()):
            numpy.testing.assert_allclose(value, parameters[name], rtol=1e-7, atol=1e-10, err_msg=name)

    fit_and_compare(2, names, 1)
    frozen = body.get_weights()
    body.trainable = False
    fit_and_compare(2, ["k2", "b2"], 3)  # the head's moments continue from step 2, the body's wait
    for old, new in zip(frozen, body.get_weights()):
        numpy.testing.assert_array_equal(old, new)
    body.trainable = True
    fit_and_compare(1, names, 5)  # the body's moments resume from where step 2 left them


def test_training_a_model_that_shares_layers_keeps_the_other_models_optimizer_state(rng):
    inputs = Input((3,))
    features = Dense(4, activation="tanh")(inputs)
    model = nnkit.Model(inputs, Dense(2)(features))
    extractor = nnkit.Model(inputs, features)
    model.compile(optimizer="adam", loss="mse")
    extractor.compile(optimizer="adam", loss="mse")
    x, y, z = rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), rng.standard_normal((8, 4))
    for _ in range(3):  # alternating, as a GAN trains its discriminator and its combined model
        model.train_on_batch(x, y)
        extractor.train_on_batch(x, z)
    assert (model.optimizer.iterations, extractor.optimizer.iterations) == (3, 3)


# ---- 3. subclassed models and composite layers ---------------------------------------------------------
class MyModel(nnkit.Model):
    """Layers in an attribute, in a list and in a dict."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.first = Dense(units, activation="relu")
        self.blocks = [Dense(units, activation="tanh"), Dense(units)]
        self.heads = {"classes": Dense(3, activation="softmax")}

    def call(self, inputs, training=None):
        hidden = self.first(inputs)
        for block in self.blocks:
            hidden = block(hidden)
        return self.heads["classes"](hidden)


def _classes(rng, n=30, features=5):
    x = rng.standard_normal((n, features)).astype("float32")
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)


def test_subclassed_model_tracks_layers_in_attributes_lists_and_dicts(rng):
    model = MyModel()
    x, labels = _classes(rng)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, labels, epochs=2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]
    assert model.layers == [model.first, *model.blocks, model.heads["classes"]]
    assert model.count_params() == (5 * 4 + 4) + 2 * (4 * 4 + 4) + (4 * 3 + 3)
    assert model.store.size == model.count_params()


def test_subclassed_model_evaluate_predict_and_summary(rng, capsys):
    model = MyModel()
    x, labels = _classes(rng)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=1, verbose=0)
    probabilities = model.predict(x, verbose=0).astype(numpy.float64)
    loss, accuracy = model.evaluate(x, labels, verbose=0)
    assert loss == pytest.approx(_cross_entropy(probabilities, labels), rel=1e-5)
    assert accuracy == pytest.approx(numpy.mean(probabilities.argmax(axis=1) == labels))
    model.summary()
    printed = capsys.readouterr().out
    assert all(layer.name in printed for layer in model.layers)
    assert "Total params: 79" in printed


def test_subclassed_model_save_weights_and_load_weights(rng, tmp_path):
    model = MyModel()
    x, labels = _classes(rng)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, verbose=0)
    model.save_weights(tmp_path / "my.weights.safetensors")
    twin = MyModel()
    twin.build((None, 5))
    assert not numpy.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    twin.load_weights(tmp_path / "my.weights.safetensors")
    numpy.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))


class AddsOne(nnkit.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(2)

    def call(self, inputs):
        return self.dense(inputs + 1)


class Exponentiates(nnkit.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(2)

    def call(self, inputs):
        return self.dense(numpy.exp(inputs))


class Determinant(nnkit.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(2)

    def call(self, inputs):
        return self.dense(numpy.linalg.det(inputs))


@pytest.mark.parametrize("model_class, function", [(AddsOne, lambda x: x + 1), (Exponentiates, numpy.exp)])
def test_array_math_in_call_becomes_ops_of_the_graph(model_class, function, rng):
    model = model_class()
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((4, 3)).astype("float32"), rng.standard_normal((4, 2)).astype("float32")
    model.fit(x, y, verbose=0)
    kernel, bias = model.dense.get_weights()
    numpy.testing.assert_allclose(model.predict(x, verbose=0), function(x) @ kernel + bias, rtol=1e-5)


def test_a_numpy_function_without_an_op_fails_at_first_use_naming_it(rng):
    model = Determinant()
    with pytest.raises(TypeError, match=r"Determinant.call.*numpy\.det.*nnkit.ops"):
        model.predict(rng.standard_normal((4, 3, 3)), verbose=0)


def test_composite_layer_in_a_functional_model_trains(rng):
    inputs = Input((4,))
    model = nnkit.Model(inputs, Dense(3, activation="softmax")(Residual(4)(inputs)))
    assert model.count_params() == 2 * (4 * 4 + 4) + (4 * 3 + 3)
    model.compile(optimizer=nnkit.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    x, labels = _classes(rng, n=40, features=4)
    losses = model.fit(x, labels, epochs=15, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]


def test_composite_layer_gradcheck(backend_name, rng):
    result = nnkit.utils.gradcheck(Residual(4), rng.standard_normal((5, 4)))
    assert set(result.errors) == {"input 0", "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"}
    assert result.max_relative_error < 1e-6, result


# ---- 4. the functional API -----------------------------------------------------------------------------
def _conv_classifier():
    inputs = Input((6, 6, 1), name="image")
    features = Conv2D(2, 3, name="conv")(inputs)
    return nnkit.Model(inputs, Dense(3, activation="softmax", name="classes")(Flatten(name="flat")(features)))


def test_layers_start_with_the_input_layers_and_get_layer(rng):
    left, right = Input((3,), name="left"), Input((2,), name="right")
    merged = Concatenate(name="merge")([Dense(4, name="dense_left")(left), Dense(4, name="dense_right")(right)])
    model = nnkit.Model([left, right], Dense(1, name="out")(merged))
    assert [layer.name for layer in model.layers] == ["left", "right", "dense_left", "dense_right", "merge", "out"]
    assert [type(layer).__name__ for layer in model.layers[:2]] == ["InputLayer"] * 2
    assert model.get_layer("merge") is model.layers[4] is model.get_layer(index=4)
    assert model.get_layer(index=-1).name == "out"
    # Keras orders by depth, then by discovery: an input merged in later comes after the deeper layers.
    late = nnkit.Model([left, right], Concatenate(name="late")([model.get_layer("dense_left").output, right]))
    assert [layer.name for layer in late.layers] == ["left", "dense_left", "right", "late"]
    with pytest.raises(ValueError, match="No layer named 'nope'.*dense_left"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="out of range"):
        model.get_layer(index=6)


def test_feature_extractor_shares_the_weights(rng):
    model = _conv_classifier()
    conv = model.get_layer("conv")
    assert conv.output.shape == (None, 4, 4, 2)
    extractor = nnkit.Model(model.inputs, conv.output)
    x = rng.standard_normal((4, 6, 6, 1)).astype("float32")
    before, probabilities = extractor.predict(x, verbose=0), model.predict(x, verbose=0)
    kernel, bias = extractor.get_layer("conv").get_weights()
    extractor.get_layer("conv").set_weights([kernel * 2, bias * 2])
    numpy.testing.assert_allclose(extractor.predict(x, verbose=0), 2 * before, rtol=1e-6, atol=1e-6)
    assert not numpy.allclose(model.predict(x, verbose=0), probabilities)
    classes = model.get_layer("classes")
    expected = _softmax(2 * before.reshape(4, -1).astype(numpy.float64) @ classes.get_weights()[0]
                        + classes.get_weights()[1])
    numpy.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_model_construction_errors():
    used, unused = Input((3,)), Input((3,))
    output = Add()([Dense(2)(used), Dense(2)(unused)])
    with pytest.raises(ValueError, match="Graph disconnected"):
        nnkit.Model(used, output)
    with pytest.raises(ValueError, match=r"unique.*\['twin'\]"):
        nnkit.Model([used, unused], Add()([Dense(2, name="twin")(used), Dense(2, name="twin")(unused)]))
    with pytest.raises(TypeError, match=r"(?s)symbolic tensors.*of type ndarray"):
        nnkit.Model(numpy.zeros((2, 3)), output)


def _two_in_two_out(dict_outputs=False):
    a, b = Input((3,), name="a"), Input((2,), name="b")
    hidden = Concatenate()([Dense(4, activation="tanh")(a), b])
    classes, value = Dense(3, activation="softmax", name="cls")(hidden), Dense(1, name="reg")(hidden)
    return nnkit.Model([a, b], {"cls": classes, "reg": value} if dict_outputs else [classes, value])


def _two_in_two_out_data(rng, n=20):
    return ([rng.standard_normal((n, 3)), rng.standard_normal((n, 2))],
            [rng.integers(0, 3, n), rng.standard_normal((n, 1))])


@pytest.mark.parametrize("as_dicts", [False, True], ids=["lists", "dicts"])
def test_multi_input_output_fit_and_history_keys(as_dicts, rng):
    model = _two_in_two_out()
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], []])
    (xa, xb), (yc, yr) = _two_in_two_out_data(rng)
    x, y = ({"a": xa, "b": xb}, {"cls": yc, "reg": yr}) if as_dicts else ([xa, xb], [yc, yr])
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y))
    assert sorted(history.history) == sorted(["loss", "cls_loss", "reg_loss", "cls_accuracy", "val_loss",
                                              "val_cls_loss", "val_reg_loss", "val_cls_accuracy"])
    assert all(len(values) == 2 for values in history.history.values())


def test_multi_output_evaluate_is_the_weighted_sum_of_hand_computed_losses(rng):
    model = _two_in_two_out()
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.5, "reg": 0.25}, metrics={"cls": ["accuracy"]})
    x, (labels, targets) = _two_in_two_out_data(rng)
    probabilities, values = (p.astype(numpy.float64) for p in model.predict(x, verbose=0))
    logs = model.evaluate(x, [labels, targets], verbose=0, return_dict=True)
    cls_loss, reg_loss = _cross_entropy(probabilities, labels), float(numpy.mean((values - targets) ** 2))
    assert logs["cls_loss"] == pytest.approx(cls_loss, rel=1e-5)
    assert logs["reg_loss"] == pytest.approx(reg_loss, rel=1e-5)
    assert logs["loss"] == pytest.approx(1.5 * cls_loss + 0.25 * reg_loss, rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(numpy.mean(probabilities.argmax(axis=1) == labels))


def test_predict_returns_a_list_or_a_dict_as_the_outputs_are_given(rng):
    x, _ = _two_in_two_out_data(rng, n=7)
    listed = _two_in_two_out().predict(x, verbose=0)
    assert isinstance(listed, list) and [p.shape for p in listed] == [(7, 3), (7, 1)]
    keyed = _two_in_two_out(dict_outputs=True).predict({"a": x[0], "b": x[1]}, verbose=0)
    assert isinstance(keyed, dict) and {k: p.shape for k, p in keyed.items()} == {"cls": (7, 3), "reg": (7, 1)}


def test_functional_save_and_load_model_with_a_shared_layer_and_a_nested_sequential(rng, tmp_path):
    left, right = Input((3,), name="left"), Input((3,), name="right")
    shared = Dense(4, activation="tanh", name="shared")
    tower = nnkit.Sequential([Input((8,)), Dense(5, activation="tanh"), Dense(2)], name="tower")
    model = nnkit.Model([left, right], tower(Concatenate(name="pair")([shared(left), shared(right)])))
    assert model.count_params() == (3 * 4 + 4) + (8 * 5 + 5) + (5 * 2 + 2)
    model.compile(optimizer="adam", loss="mse")
    x, y = [rng.standard_normal((10, 3)), rng.standard_normal((10, 3))], rng.standard_normal((10, 2))
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "model.nnkit")
    restored = nnkit.models.load_model(tmp_path / "model.nnkit")
    assert [layer.name for layer in restored.layers] == ["left", "right", "shared", "pair", "tower"]
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.optimizer.iterations == model.optimizer.iterations == 2
    resumed = restored.fit(x, y, epochs=1, shuffle=False, verbose=0).history["loss"]
    assert resumed == model.fit(x, y, epochs=1, shuffle=False, verbose=0).history["loss"]


def test_subclassed_model_save_and_load_model_with_custom_objects(rng, tmp_path):
    model = MyModel(units=6)
    x, labels = _classes(rng)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, verbose=0)
    model.save(tmp_path / "my.nnkit")
    restored = nnkit.models.load_model(tmp_path / "my.nnkit", custom_objects={"MyModel": MyModel})
    assert type(restored) is MyModel and restored.units == 6
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_validation_split_and_per_output_sample_weights(rng):
    """A zero sample weight on every 'cls' sample removes that output's loss (Keras' weighted mean); the
    validation losses of validation_split are evaluate's on the last samples."""
    model = _two_in_two_out()
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    (xa, xb), (yc, yr) = _two_in_two_out_data(rng, n=20)
    logs = model.test_on_batch([xa, xb], [yc, yr], sample_weight={"cls": numpy.zeros(20), "reg": numpy.ones(20)},
                               return_dict=True)
    assert logs["cls_loss"] == 0 and logs["loss"] == pytest.approx(logs["reg_loss"])
    history = model.fit([xa, xb], [yc, yr], epochs=1, batch_size=20, validation_split=0.25, shuffle=False, verbose=0,
                        sample_weight={"cls": numpy.ones(20), "reg": numpy.full(20, 2.0)})
    expected = model.evaluate([xa[15:], xb[15:]], [yc[15:], yr[15:]], verbose=0, return_dict=True)
    for key, value in expected.items():
        assert history.history[f"val_{key}"][0] == pytest.approx(value, rel=1e-6)


def test_layers_called_on_input_give_keras_shapes():
    """The two calls that failed with misleading errors before the functional API."""
    assert Dense(64)(Input(shape=(784,))).shape == (None, 64)
    tokens = Input(shape=(5,), dtype="int32")
    embedded = nnkit.layers.Embedding(100, 8)(tokens)
    assert embedded.shape == (None, 5, 8) and tokens.dtype == "int32"
    model = nnkit.Model(tokens, Dense(1, activation="sigmoid")(Flatten()(embedded)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = numpy.random.default_rng(0).integers(0, 100, (16, 5))
    model.fit(x, (x[:, 0] > 50).astype(float), epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (16, 1)


class Doubling(Layer):
    """A custom layer with an explicit backward: y = 2x."""

    def forward(self, x, training=False):
        return 2 * x

    def backward(self, dy):
        return 2 * dy


def test_custom_objects_reach_a_custom_layer_inside_a_wrapper(tmp_path):
    inputs = Input(shape=(4, 3))
    model = nnkit.Model(inputs, nnkit.layers.TimeDistributed(Doubling())(inputs))
    model.save(tmp_path / "m.nnkit")
    with pytest.raises(nnkit.models.WeightsFileError, match="Doubling"):
        nnkit.models.load_model(tmp_path / "m.nnkit")
    restored = nnkit.models.load_model(tmp_path / "m.nnkit", custom_objects={"Doubling": Doubling})
    x = numpy.ones((2, 4, 3))
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), 2 * x)


def test_a_layer_created_inside_call_still_trains_and_is_in_the_weights():
    class MadeInCall(nnkit.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = Dense(4)

        def call(self, inputs):
            return Dense(2)(self.hidden(inputs))

    model = MadeInCall()
    model.compile(optimizer="sgd", loss="mse")
    x, y = numpy.ones((8, 3)), numpy.zeros((8, 2))
    model.build((None, 3))
    before = model.get_weights()
    model.fit(x, y, verbose=0)
    assert [w.shape for w in before] == [(3, 4), (4,), (4, 2), (2,)]
    assert all(numpy.abs(old - new).max() > 0 for old, new in zip(before, model.get_weights()))


class ResidualBlock(nnkit.Model):
    """A subclassed model used as a layer: x + Dense(Dense(x))."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner, self.outer = Dense(units, activation="tanh"), Dense(units)

    def call(self, inputs):
        return nnkit.layers.add([inputs, self.outer(self.inner(inputs))])


def test_subclassed_model_nested_twice_in_a_functional_model_trains_and_saves(tmp_path):
    backend.set_floatx("float64")
    inputs = Input(shape=(4,))
    block = ResidualBlock(4)
    model = nnkit.Model(inputs, Dense(1)(block(block(inputs))))
    model.compile(optimizer="sgd", loss="mse")
    x = numpy.random.default_rng(0).standard_normal((6, 4))
    y = x.sum(axis=1, keepdims=True)
    weights = model.get_weights()

    def loss(arrays):
        model.set_weights(arrays)
        return model.evaluate(x, y, verbose=0)
    expected = _numeric_gradient(loss, [w.copy() for w in weights])
    model.set_weights(weights)
    model.train_on_batch(x, y)
    for old, new, gradient in zip(weights, model.get_weights(), expected):
        numpy.testing.assert_allclose((old - new) / 0.01, gradient, rtol=1e-6, atol=1e-9)
    model.save(tmp_path / "m.nnkit")
    restored = nnkit.models.load_model(tmp_path / "m.nnkit", custom_objects={"ResidualBlock": ResidualBlock})
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_call_with_arguments_the_layer_does_not_take_names_the_layer_and_its_signature():
    layer = Dense(3, name="head")
    with pytest.raises(TypeError, match=r"Layer 'head' \(Dense\) takes the call arguments \(inputs, training=None\)"):
        layer(numpy.ones((2, 4), "float32"), use_causal_mask=True)
