"""Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax) and the activations added for them (selu, silu/swish,
hard_sigmoid, hard_silu/hard_swish, exponential, relu6, mish, softsign, log_softmax): float64 formulas written
here, Keras' outputs and gradients (tests/data/keras_reshaping_*.npz, written by make_keras_reshaping.py),
gradients (float64 central differences), argument tables, masks, configs, PReLU after one SGD step against Keras,
and TensorFlow's beginner tutorial with keras replaced by nnkit."""
import math
import os
import re

import numpy
import pytest

import nnkit
from nnkit import activations, backend
from nnkit.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from nnkit.layers.serialization import deserialize, serialize
from nnkit.utils import gradcheck

DATA = os.path.join(os.path.dirname(__file__), "data")


def host(array):
    return backend.to_host(array)


@pytest.fixture(scope="module")
def keras_activations():
    return dict(numpy.load(os.path.join(DATA, "keras_reshaping_activations.npz")))


def _sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def _softplus(x):
    return numpy.log1p(numpy.exp(x))


SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# Independent float64 references, from the definitions in Keras' docstrings and the papers.
NEW_ACTIVATIONS = {
    "selu": lambda x: SELU_SCALE * numpy.where(x > 0, x, SELU_ALPHA * (numpy.exp(x) - 1)),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x / (1 + numpy.exp(-x)),
    "hard_sigmoid": lambda x: numpy.minimum(numpy.maximum(x + 3, 0), 6) / 6,
    "hard_silu": lambda x: numpy.where(x < -3, 0.0, numpy.where(x > 3, x, x * (x + 3) / 6)),
    "hard_swish": lambda x: x * numpy.minimum(numpy.maximum(x + 3, 0), 6) / 6,
    "exponential": numpy.exp,
    "relu6": lambda x: numpy.minimum(numpy.maximum(x, 0), 6),
    "mish": lambda x: x * numpy.tanh(_softplus(x)),
    "softsign": lambda x: x / (numpy.abs(x) + 1),
    "log_softmax": lambda x: numpy.log(numpy.exp(x) / numpy.exp(x).sum(axis=-1, keepdims=True)),
}
def _inputs(rng, shape=(4, 7), scale=7.0):
    """Away from the kinks (0, +-3, 6) so central differences are valid."""
    x = rng.uniform(-scale, scale, shape)
    for kink in (0.0, 3.0, -3.0, 6.0):
        x[numpy.abs(x - kink) < 0.05] += 0.2
    return x


# ---- the new activations ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NEW_ACTIVATIONS))
def test_activation_forward_matches_float64_formula(name, xp, rng):
    x = _inputs(rng)
    y = activations.get(name).forward(xp.asarray(x))
    numpy.testing.assert_allclose(host(y), NEW_ACTIVATIONS[name](x), rtol=1e-12, atol=1e-14)
    y32 = activations.get(name).forward(xp.asarray(x, dtype=numpy.float32))
    assert y32.dtype == numpy.float32
    numpy.testing.assert_allclose(host(y32), NEW_ACTIVATIONS[name](x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NEW_ACTIVATIONS))
def test_activation_gradients(name, backend_name, rng):
    assert gradcheck(activations.get(name), _inputs(rng)).max_relative_error < 1e-7


@pytest.mark.parametrize("name", sorted(NEW_ACTIVATIONS))
def test_activations_match_keras(name, keras_activations, xp):
    data = keras_activations
    index = list(data["keys_x"]).index(f"fn_{name}")
    activation = activations.get(name)
    x, up = xp.asarray(data["x"]), xp.asarray(data["up_x"])
    y = activation.forward(x)
    numpy.testing.assert_allclose(host(y), data["y_x"][index], rtol=1e-12, atol=1e-14)
    dx = activation.backward(up, x, y)
    # torch's float64 hardsigmoid/hardswish backward uses a float32 1/6, hence 1e-7.
    numpy.testing.assert_allclose(host(dx), data["grad_x"][index], rtol=1e-7, atol=1e-12)


def test_aliases_and_names():
    """Keras' aliases resolve to the same activation, which serializes by its main name (as Keras' does)."""
    aliases = {"swish": "silu", "hard_swish": "hard_silu"}
    for name in NEW_ACTIVATIONS:
        activation = activations.get(name)
        assert activations.serialize(activation) == aliases.get(name, name)
        assert type(getattr(activations, name)) is type(activation)


@pytest.mark.parametrize("name", ["selu", "silu", "hard_silu", "exponential", "mish", "softsign", "log_softmax"])
def test_large_inputs_stay_finite(name, xp):
    x = numpy.array([[-1e4, -50.0, 0.0, 50.0, 80.0]])
    for dtype in (numpy.float32, numpy.float64):
        activation = activations.get(name)
        with numpy.errstate(under="ignore"):
            y = activation.forward(xp.asarray(x, dtype=dtype))
            dx = activation.backward(xp.ones_like(y), xp.asarray(x, dtype=dtype), y)
        assert numpy.isfinite(host(y)).all() and numpy.isfinite(host(dx)).all(), (name, dtype)


def test_dense_takes_the_new_activations_by_name(rng):
    x = rng.standard_normal((3, 4))
    for name in NEW_ACTIVATIONS:
        layer = nnkit.layers.Dense(5, activation=name)
        assert gradcheck(layer, x).max_relative_error < 1e-6, name


# ---- the layers: formulas, Keras, gradients -----------------------------------------------------------------------

def _relu_reference(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """Keras' ReLU-layer formula, one case per line."""
    y = numpy.where(x > threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else numpy.where(x > threshold, numpy.minimum(y, max_value), y)


LAYER_FORMULAS = [
    (lambda: ReLU(), lambda x: numpy.maximum(x, 0)),
    (lambda: ReLU(max_value=6), lambda x: numpy.clip(x, 0, 6)),
    (lambda: ReLU(negative_slope=0.2), lambda x: numpy.where(x >= 0, x, 0.2 * x)),
    (lambda: ReLU(threshold=1.5), lambda x: numpy.where(x > 1.5, x, 0.0)),
    (lambda: ReLU(max_value=2.5, negative_slope=0.5, threshold=1.0),
     lambda x: _relu_reference(x, 2.5, 0.5, 1.0)),
    (lambda: ReLU(max_value=0.5, threshold=2.0), lambda x: numpy.where(x > 2.0, 0.5, 0.0)),
    (lambda: LeakyReLU(), lambda x: numpy.where(x >= 0, x, 0.3 * x)),
    (lambda: LeakyReLU(negative_slope=0.0), lambda x: numpy.maximum(x, 0)),
    (lambda: ELU(), lambda x: numpy.where(x > 0, x, numpy.exp(x) - 1)),
    (lambda: ELU(alpha=-0.5), lambda x: numpy.where(x > 0, x, -0.5 * (numpy.exp(x) - 1))),
    (lambda: Softmax(), lambda x: numpy.exp(x) / numpy.exp(x).sum(axis=-1, keepdims=True)),
    (lambda: Softmax(axis=1), lambda x: numpy.exp(x) / numpy.exp(x).sum(axis=1, keepdims=True)),
    (lambda: Softmax(axis=[1, 2]), lambda x: numpy.exp(x) / numpy.exp(x).sum(axis=(1, 2), keepdims=True)),
]


def _away_from_layer_kinks(rng, shape):
    x = rng.uniform(-4, 4, shape)
    for kink in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 6.0):
        x[numpy.abs(x - kink) < 0.05] += 0.12
    return x


@pytest.mark.parametrize("make, formula", LAYER_FORMULAS, ids=range(len(LAYER_FORMULAS)))
def test_layer_forward_matches_float64_formula(make, formula, xp, rng):
    x = _away_from_layer_kinks(rng, (3, 4, 5))
    numpy.testing.assert_allclose(host(make().forward(xp.asarray(x))), formula(x), rtol=1e-12, atol=1e-14)
    y32 = make().forward(xp.asarray(x, dtype=numpy.float32))
    assert y32.dtype == numpy.float32
    numpy.testing.assert_allclose(host(y32), formula(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, formula", LAYER_FORMULAS, ids=range(len(LAYER_FORMULAS)))
def test_layer_gradients(make, formula, backend_name, rng):
    assert gradcheck(make(), _away_from_layer_kinks(rng, (3, 4, 5))).max_relative_error < 1e-6


@pytest.mark.parametrize("shared_axes", [None, [1], [1, 2], 2])
def test_prelu_gradients(shared_axes, backend_name, rng):
    layer = PReLU(alpha_initializer="random_normal", shared_axes=shared_axes)
    result = gradcheck(layer, _away_from_layer_kinks(rng, (3, 2, 4, 3)))
    assert set(result.errors) == {"input 0", "alpha"} and result.max_relative_error < 1e-6, result


KERAS_LAYERS = {
    "relu": lambda: ReLU(), "relu_max6": lambda: ReLU(max_value=6),
    "relu_all": lambda: ReLU(max_value=2.5, negative_slope=0.5, threshold=1.0),
    "leaky_relu": lambda: LeakyReLU(), "leaky_relu_01": lambda: LeakyReLU(negative_slope=0.1),
    "elu": lambda: ELU(), "elu_05": lambda: ELU(alpha=0.5),
    "softmax": lambda: Softmax(), "softmax_axis1": lambda: Softmax(axis=1),
    "softmax_axes12": lambda: Softmax(axis=[1, 2]), "softmax_mask": lambda: Softmax(),
    "softmax_mask_broadcast": lambda: Softmax(),
}


@pytest.mark.parametrize("key", sorted(KERAS_LAYERS))
def test_layers_match_keras_outputs_and_gradients(key, keras_activations, xp):
    data = keras_activations
    input_name = "x" if key in data["keys_x"] else "x3"
    index = list(data[f"keys_{input_name}"]).index(key)
    x, up = xp.asarray(data[input_name]), xp.asarray(data[f"up_{input_name}"])
    mask = {"softmax_mask": "mask", "softmax_mask_broadcast": "mask_broadcast"}.get(key)
    layer = KERAS_LAYERS[key]()
    y, _ = layer.forward_masked(x, None if mask is None else xp.asarray(data[mask]))
    numpy.testing.assert_allclose(host(y), data[f"y_{input_name}"][index], rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(host(layer.backward(up)), data[f"grad_{input_name}"][index], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("key, shared_axes", [("prelu", None), ("prelu_shared", [1])])
def test_prelu_matches_keras(key, shared_axes, keras_activations, backend_name):
    data = keras_activations
    previous = backend.floatx()
    backend.set_floatx("float64")
    layer = PReLU(shared_axes=shared_axes)
    layer.build_for((None, 3, 4))
    backend.set_floatx(previous)
    assert layer.alpha.shape == data[f"alpha_{key}"].shape
    layer.set_weights([data[f"alpha_{key}"]])
    xp = backend.xp()
    y = layer.forward(xp.asarray(data["x3"]))
    numpy.testing.assert_allclose(host(y), data[key], rtol=1e-12)
    numpy.testing.assert_allclose(host(layer.backward(xp.asarray(data["up_x3"]))), data[f"grad_{key}"], rtol=1e-12)
    numpy.testing.assert_allclose(host(layer.grads["alpha"]), data[f"grad_alpha_{key}"], rtol=1e-10)


def test_prelu_after_one_sgd_step_matches_keras(backend_name):
    """Dense -> PReLU(shared_axes=[1]) -> Flatten -> Dense -> Softmax, one SGD step with sparse cross-entropy
    (nnkit fuses the Softmax layer into the loss), against Keras' weights after its train_on_batch."""
    data = numpy.load(os.path.join(DATA, "keras_reshaping_prelu.npz"))
    layers = nnkit.layers
    model = nnkit.Sequential([nnkit.Input((3, 4)), layers.Dense(5), PReLU(shared_axes=[1]), layers.Flatten(),
                              layers.Dense(3), Softmax()])
    model.set_weights([data[f"start_weights_{i}"] for i in range(5)])
    numpy.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-5, atol=1e-6)
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(data["x"], data["labels"])
    numpy.testing.assert_allclose(loss, data["sgd_loss"], rtol=1e-5)
    for i, weight in enumerate(model.get_weights()):
        numpy.testing.assert_allclose(weight, data[f"sgd_weights_{i}"], rtol=1e-5, atol=1e-6, err_msg=f"weight {i}")


# ---- Softmax with a mask, and as the last layer of a trained model ------------------------------------------------

def test_softmax_mask_gives_masked_positions_zero(xp, rng):
    x = rng.standard_normal((2, 3, 5))
    mask = rng.uniform(size=(2, 3, 5)) > 0.4
    mask[0, 0] = False
    mask[1, 2] = [True, False, False, False, False]
    y = host(Softmax().forward_masked(xp.asarray(x), xp.asarray(mask))[0])
    for n, t in numpy.ndindex(2, 3):
        keep = mask[n, t]
        expected = numpy.zeros(5)
        expected[keep] = numpy.exp(x[n, t, keep]) / numpy.exp(x[n, t, keep]).sum()
        numpy.testing.assert_allclose(y[n, t], expected, rtol=1e-12, atol=1e-300)
    assert (y[0, 0] == 0).all() and y[1, 2].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_softmax_mask_gradients(backend_name, rng):
    x = rng.standard_normal((2, 3, 4))
    mask = rng.uniform(size=(2, 1, 4)) > 0.3   # broadcast over the middle axis
    mask[1, 0] = False                          # fully masked
    layer = Softmax()
    xp = backend.xp()

    def fn(x):
        y, _ = layer.forward_masked(x, xp.asarray(mask))
        return y, lambda dy: (layer.backward(dy),)
    assert gradcheck(fn, x).max_relative_error < 1e-6


def test_softmax_mask_passes_through_and_errors(xp):
    layer = Softmax()
    mask = xp.asarray([[True, False, True]])
    _, out_mask = layer.forward_masked(xp.zeros((1, 3)), mask)
    assert out_mask is mask
    for bad in (numpy.ones((2, 3), dtype=bool), numpy.ones((1, 1, 1, 3), dtype=bool)):
        with pytest.raises(ValueError, match=re.escape("(Softmax): the `mask` must be broadcastable to `inputs`")):
            layer.forward_masked(xp.zeros((4, 3)), xp.asarray(bad))


def test_last_softmax_layer_fuses_into_cross_entropy(backend_name):
    """Saturated logits (0, 40): the fused loss is the exact -log softmax (40), not the clipped -log(1e-7), and the
    gradient is softmax - onehot, so one SGD step moves the kernel by lr * x^T (softmax - onehot)."""
    model = nnkit.Sequential([nnkit.Input((1,)), nnkit.layers.Dense(2, use_bias=False), Softmax()])
    model.set_weights([numpy.array([[0.0, 40.0]])])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(numpy.array([[1.0]]), numpy.array([0]))
    assert loss == pytest.approx(40 + math.log1p(math.exp(-40)), rel=1e-6)
    p1 = 1 / (1 + math.exp(-40))   # softmax - onehot = (p0 - 1, p1) = (-p1, p1)
    numpy.testing.assert_allclose(model.get_weights()[0], [[0.1 * p1, 40 - 0.1 * p1]], rtol=1e-6)


def test_tensorflow_beginner_tutorial():
    """https://www.tensorflow.org/tutorials/quickstart/beginner with keras replaced by nnkit (digits for MNIST)."""
    (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
    x_train, x_test = x_train / 16.0, x_test / 16.0
    model = nnkit.Sequential([
        nnkit.layers.Flatten(input_shape=(8, 8)),
        nnkit.layers.Dense(128, activation="relu"),
        nnkit.layers.Dropout(0.2),
        nnkit.layers.Dense(10),
    ])
    predictions = model(x_train[:1])
    probabilities = activations.softmax(predictions)
    assert probabilities.shape == (1, 10)
    loss_fn = nnkit.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss_fn(y_train[:1], predictions)) == pytest.approx(math.log(10), rel=0.5)
    model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.8, accuracy   # 0.87 with the tests' seed (chance: 0.1)
    probability_model = nnkit.Sequential([model, Softmax()])
    probs = host(probability_model(x_test[:5]))
    logits = model.predict(x_test[:5], verbose=0).astype(numpy.float64)
    numpy.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    numpy.testing.assert_allclose(probs, numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True), rtol=1e-5)


# ---- shapes, arguments and configs --------------------------------------------------------------------------------

@pytest.mark.parametrize("input_shape, shared_axes, alpha_shape", [
    ((None, 5), None, (5,)),
    ((None, 3, 4), None, (3, 4)),
    ((None, 3, 4), [1], (1, 4)),
    ((None, 6, 6, 3), [1, 2], (1, 1, 3)),
    ((None, None, 4), [1], (1, 4)),
    ((None, 6, 6, 3), 3, (6, 6, 1)),
])
def test_prelu_alpha_layout(input_shape, shared_axes, alpha_shape):
    layer = PReLU(shared_axes=shared_axes)
    assert layer.build_for(input_shape) == input_shape
    assert layer.alpha.shape == alpha_shape and (host(layer.alpha) == 0).all()   # "Zeros": a ReLU to start with
    assert [w.shape for w in layer.trainable_weights] == [alpha_shape]


@pytest.mark.parametrize("make, input_shape, message", [
    (lambda: PReLU(), (None, None, 4), "(PReLU) needs fixed sizes for the axes it does not share (shared_axes=None)"),
    (lambda: PReLU(shared_axes=[3]), (None, 4, 5), "shared_axes=[3] must be axes of the input (1 to 2)"),
])
def test_prelu_shape_errors(make, input_shape, message):
    with pytest.raises(ValueError) as error:
        make().build_for(input_shape)
    assert message in str(error.value)


def test_prelu_checks_the_input_at_run_time(xp):
    layer = PReLU(shared_axes=[1])
    layer.build_for((None, 3, 4))
    assert layer.forward(xp.ones((2, 7, 4), dtype=layer.alpha.dtype)).shape == (2, 7, 4)   # a shared axis: any size
    with pytest.raises(ValueError, match=r"was built for samples of shape \(3, 4\), but received input of shape "
                                         r"\(2, 3, 5\)"):
        layer.forward(xp.ones((2, 3, 5)))


ARGUMENT_ERRORS = [
    (lambda: ReLU(max_value=-1), "ReLU: expected a finite number >= 0 for `max_value`. Received: max_value=-1"),
    (lambda: ReLU(negative_slope=None), "ReLU: expected a finite number >= 0 for `negative_slope`. Received: "
                                        "negative_slope=None"),
    (lambda: ReLU(threshold=-0.5), "Received: threshold=-0.5"),
    (lambda: LeakyReLU(negative_slope=-0.1), "LeakyReLU: expected a finite number >= 0 for `negative_slope`."),
    (lambda: PReLU(alpha_constraint="non_neg"), "PReLU: nnkit has no weight constraints; expected "
                                                "alpha_constraint=None. Received: alpha_constraint='non_neg'"),
    (lambda: PReLU(shared_axes=[0]), "PReLU: expected `shared_axes` to be sample axes numbered from 1"),
    (lambda: PReLU(alpha_initializer="nope"), "Unknown initializer 'nope'"),
    (lambda: ELU(alpha="1"), "ELU: expected a finite number for `alpha`. Received: alpha='1'"),
    (lambda: Softmax(axis="last"), "Softmax: expected an integer or a list of integers for `axis`. Received: "
                                   "axis='last'"),
    (lambda: Softmax(axis=[]), "Received: axis=[]"),
]


@pytest.mark.parametrize("make, message", ARGUMENT_ERRORS, ids=[e[1][:40] for e in ARGUMENT_ERRORS])
def test_argument_errors(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


@pytest.mark.parametrize("layer, keys", [
    (ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5), {"max_value": 6.0, "negative_slope": 0.1,
                                                              "threshold": 0.5}),
    (LeakyReLU(), {"negative_slope": 0.3}),
    (PReLU(alpha_regularizer="l2", shared_axes=[1, 2]), {"alpha_constraint": None, "shared_axes": [1, 2]}),
    (ELU(alpha=0.5), {"alpha": 0.5}),
    (Softmax(axis=[1, 2]), {"axis": [1, 2]}),
    (Softmax(), {"axis": -1}),
])
def test_config_round_trips(layer, keys):
    config = layer.get_config()
    assert keys.items() <= config.items()
    assert type(layer).from_config(config).get_config() == config
    assert deserialize(serialize(layer)).get_config() == config


def test_leaky_relu_takes_keras_2_alpha_with_a_warning():
    with pytest.warns(UserWarning, match="`alpha` is deprecated. Use `negative_slope` instead."):
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and "alpha" not in layer.get_config()


def test_keras_layer_names():
    expected = {ReLU: "re_lu", LeakyReLU: "leaky_re_lu", PReLU: "p_re_lu", ELU: "elu", Softmax: "softmax"}
    for cls, name in expected.items():
        assert re.fullmatch(name + r"(_\d+)?", cls().name)


def test_prelu_trains_and_saves(tmp_path, rng):
    x = rng.standard_normal((16, 4))
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    model = nnkit.Sequential([nnkit.Input((4,)), nnkit.layers.Dense(6), PReLU(alpha_initializer="constant"),
                              nnkit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = model.layers[1].get_weights()[0].copy()
    model.fit(x, y, epochs=2, verbose=0)
    assert not numpy.array_equal(model.layers[1].get_weights()[0], before)
    model.save(tmp_path / "m.nnkit")
    restored = nnkit.models.load_model(tmp_path / "m.nnkit")
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
