"""EinsumDense: Keras' kernel, bias and output shapes (a declarative table, derived by hand from Keras'
``_analyze_einsum_string``), the gradient equations, forward against float64 NumPy, numerical gradients on both
backends, errors naming the layer, configs, Keras goldens (outputs, and the weights after one SGD step;
tests/data/make_keras_einsum_dense.py) and the fused softmax cross-entropy against a hand-computed step."""
import json
import math
import os

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers.einsum_dense import EinsumDense, einsum_gradient_equations
from nnkit.layers.serialization import deserialize, serialize
from nnkit.utils import gradcheck

from layer_checks import assert_keras_sgd_step, keras_cases

DATA = os.path.join(os.path.dirname(__file__), "data")


def host(array):
    return backend.to_host(array)


# ---- shapes ----------------------------------------------------------------------------------------------------------
# (equation, output_shape, bias_axes, input shape) -> (kernel shape, bias shape, output shape). A kernel letter in
# the output takes the output's size, else the input's; the bias spans the output letters from the first bias letter
# on (1 where a letter has no bias), plus a 1 per axis of a right ellipsis. None output sizes of input letters are
# the input's; a left ellipsis keeps the input's leading axes in order.
SHAPES = [
    ("ab,bc->ac", 64, "c", (None, 32), (32, 64), (64,), (None, 64)),
    ("abc,cd->abd", (None, 64), "d", (None, 32, 128), (128, 64), (64,), (None, 32, 64)),
    ("...x,xy->...y", 64, "y", (None, 32, 128), (128, 64), (64,), (None, 32, 64)),
    ("abc,cde->abde", (None, 4, 5), "de", (None, 8, 16), (16, 4, 5), (4, 5), (None, 8, 4, 5)),   # MHA's q, k, v
    ("abcd,cde->abe", (None, 6), "e", (None, 8, 4, 5), (4, 5, 6), (6,), (None, 8, 6)),          # MHA's output
    ("abc,cd->abd", (8, 5), "b", (None, 8, 3), (3, 5), (8, 1), (None, 8, 5)),
    ("...b,bc->...c", 7, "c", (None, 3, 4, 5), (5, 7), (7,), (None, 3, 4, 7)),
    ("ab...,bc->ac...", 5, "c", (None, 3, 4, 6), (3, 5), (5, 1, 1), (None, 5, 4, 6)),
    ("ab...,bc->ac...", 5, None, (None, 3), (3, 5), None, (None, 5)),                            # empty ellipsis
    ("abc,bcd->abd", (None, 4), "bd", (None, 3, 5), (3, 5, 4), (3, 4), (None, 3, 4)),
    ("abc,cd->ad", 4, None, (None, 3, 5), (5, 4), None, (None, 4)),
    ("abc,cde->abde", (None, 4, 5), "d", (None, None, 16), (16, 4, 5), (4, 1), (None, None, 4, 5)),
]


@pytest.mark.parametrize("equation, output_shape, bias_axes, input_shape, kernel, bias, output", SHAPES)
def test_shapes_are_keras(equation, output_shape, bias_axes, input_shape, kernel, bias, output):
    layer = EinsumDense(equation, output_shape, bias_axes=bias_axes)
    assert layer.build_for(input_shape) == output
    assert [w.shape for w in layer.weights] == [kernel] + ([bias] if bias else [])
    assert [spec.name for spec in layer.weight_specs] == ["kernel"] + (["bias"] if bias else [])


@pytest.mark.parametrize("equation, output_shape, bias_axes, input_shape, kernel, bias, output", SHAPES)
def test_symbolic_call_and_array_call_agree(equation, output_shape, bias_axes, input_shape, kernel, bias, output):
    symbolic = EinsumDense(equation, output_shape, bias_axes=bias_axes)(nnkit.Input(shape=input_shape[1:]))
    assert tuple(symbolic.shape) == output
    x = numpy.ones((2,) + tuple(3 if d is None else d for d in input_shape[1:]), numpy.float32)
    y = EinsumDense(equation, output_shape, bias_axes=bias_axes)(x)
    assert y.shape == tuple(2 if i == 0 else (3 if d is None else d) for i, d in enumerate(output))


def test_glorot_fans_are_the_kernels_input_and_output_letters():
    """Keras counts fan_in over the kernel's input letters (c: 16) and fan_out over its output letters (d, e: 4*5),
    not as a convolution kernel (which would give a limit of sqrt(6 / (64 + 80)) ~ 0.20)."""
    layer = EinsumDense("abc,cde->abde", (None, 4, 5))
    layer.build_for((None, 8, 16))
    kernel = host(layer.kernel)
    limit = math.sqrt(6 / (16 + 20))
    assert numpy.abs(kernel).max() <= limit and numpy.abs(kernel).max() > 0.9 * limit


@pytest.mark.parametrize("equation, gradients", [
    ("abc,cde->abde", (("abde,cde->abc", ()), ("abc,abde->cde", ()))),
    ("ab,bc->ac", (("ac,bc->ab", ()), ("ab,ac->bc", ()))),
    ("abcd,cde->abe", (("abe,cde->abcd", ()), ("abcd,abe->cde", ()))),
    ("abc,cd->ad", (("ad,cd->ac", (1,)), ("abc,ad->cd", ()))),       # b is summed from the input alone
    ("abc,bcd->abd", (("abd,bcd->abc", ()), ("abc,abd->bcd", ()))),
])
def test_gradient_equations(equation, gradients):
    assert einsum_gradient_equations(equation) == gradients


# ---- forward and gradients -------------------------------------------------------------------------------------------

def test_attention_projection_is_a_matrix_product(rng, xp):
    """``abc,cde->abde`` is ``x @ kernel.reshape(C, H*K)`` plus the bias, per position."""
    backend.set_floatx("float64")
    layer = EinsumDense("abc,cde->abde", (None, 3, 4), bias_axes="de", activation="relu",
                        bias_initializer="random_normal")
    x = rng.standard_normal((2, 5, 6))
    y = host(layer(xp.asarray(x)))
    kernel, bias = layer.get_weights()
    expected = numpy.maximum((x @ kernel.reshape(6, 12)).reshape(2, 5, 3, 4) + bias, 0)
    numpy.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_summed_input_letter_and_sequence_bias_by_loops(rng, xp):
    """``abc,cd->ad``: y[n, d] = sum over b and c of x[n, b, c] * kernel[c, d]; ``abc,cd->abd`` with bias ``b``:
    one bias per position."""
    backend.set_floatx("float64")
    x = rng.standard_normal((2, 3, 5))
    summed = EinsumDense("abc,cd->ad", 4)
    y = host(summed(xp.asarray(x)))
    (kernel,) = summed.get_weights()
    expected = numpy.zeros((2, 4))
    for n, b, c, d in numpy.ndindex(2, 3, 5, 4):
        expected[n, d] += x[n, b, c] * kernel[c, d]
    numpy.testing.assert_allclose(y, expected, rtol=1e-12)
    per_position = EinsumDense("abc,cd->abd", (3, 4), bias_axes="b", bias_initializer="random_normal")
    y = host(per_position(xp.asarray(x)))
    kernel, bias = per_position.get_weights()
    expected = numpy.zeros((2, 3, 4))
    for n, b, c, d in numpy.ndindex(2, 3, 5, 4):
        expected[n, b, d] += x[n, b, c] * kernel[c, d]
    numpy.testing.assert_allclose(y, expected + bias[None, :, :1], rtol=1e-12)


@pytest.mark.parametrize("N, T, C, H, K", [(2, 3, 4, 2, 3), (8, 32, 64, 4, 16)])  # the second through BLAS
def test_attention_projection_backward_is_matrix_products(N, T, C, H, K, rng, xp):
    """With ``X = x.reshape(N*T, C)`` and ``Dz = dy.reshape(N*T, H*K)`` (linear activation): ``dkernel = X.T @ Dz``,
    ``dx = Dz @ kernel.reshape(C, H*K).T`` and ``dbias`` the column sums of ``Dz``."""
    backend.set_floatx("float64")
    layer = EinsumDense("abc,cde->abde", (None, H, K), bias_axes="de", bias_initializer="random_normal")
    x, dy = rng.standard_normal((N, T, C)), rng.standard_normal((N, T, H, K))
    y = host(layer(xp.asarray(x)))
    kernel, bias = layer.get_weights()
    W = kernel.reshape(C, H * K)
    numpy.testing.assert_allclose(y, (x.reshape(-1, C) @ W).reshape(N, T, H, K) + bias, rtol=1e-10, atol=1e-12)
    dx = host(layer.backward(xp.asarray(dy)))
    X, Dz = x.reshape(-1, C), dy.reshape(-1, H * K)
    numpy.testing.assert_allclose(dx, (Dz @ W.T).reshape(N, T, C), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(host(layer.grads["kernel"]), (X.T @ Dz).reshape(C, H, K), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(host(layer.grads["bias"]), Dz.sum(axis=0).reshape(H, K), rtol=1e-10, atol=1e-12)


GRADIENT_CASES = [
    (dict(equation="ab,bc->ac", output_shape=4, bias_axes="c", activation="tanh"), (3, 5)),
    (dict(equation="abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", activation="gelu"), (2, 4, 5)),
    (dict(equation="abcd,cde->abe", output_shape=(None, 4), bias_axes="e", activation="sigmoid"), (2, 3, 2, 3)),
    (dict(equation="...b,bc->...c", output_shape=4, bias_axes="c", activation="relu"), (2, 3, 2, 5)),
    (dict(equation="ab...,bc->ac...", output_shape=3, bias_axes="c", activation="elu"), (2, 4, 2, 3)),
    (dict(equation="abc,cd->abd", output_shape=(3, 4), bias_axes="b", activation="softplus"), (2, 3, 5)),
    (dict(equation="abc,bcd->abd", output_shape=(3, 4), bias_axes="bd", activation="tanh"), (2, 3, 5)),
    (dict(equation="abc,cd->ad", output_shape=4, activation="softmax"), (2, 3, 5)),
    (dict(equation="abc,cde->abde", output_shape=(None, 2, 4), bias_axes="de", activation="softmax"), (2, 3, 5)),
    (dict(equation="abc,cde->abde", output_shape=(None, 2, 4), bias_axes="d", activation="tanh"), (2, 3, 5)),
    (dict(equation="abc,cde->abde", output_shape=(None, 2, 4), bias_axes="e", activation="log_softmax"), (2, 3, 5)),
]


@pytest.mark.parametrize("kwargs, input_shape", GRADIENT_CASES)
def test_gradients(kwargs, input_shape, rng, backend_name):
    layer = EinsumDense(**kwargs, bias_initializer="random_normal")
    result = gradcheck(layer, rng.standard_normal(input_shape), max_checks=40)
    assert result.max_relative_error < 1e-6, result
    assert set(result.errors) == {"input 0", "kernel"} | ({"bias"} if "bias_axes" in kwargs else set())


def test_first_layer_returns_no_input_gradient(rng):
    layer = EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de")
    y = layer(rng.standard_normal((2, 4, 5)).astype(numpy.float32))
    layer.needs_input_gradient = False
    assert layer.backward(numpy.ones_like(y)) is None
    assert numpy.abs(layer.grads["kernel"]).sum() > 0 and host(layer.grads["bias"]).tolist() == [[8.0] * 3] * 2


# ---- errors ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(equation="ab,bc", output_shape=3), "invalid einsum equation 'ab,bc'"),
    (dict(equation="ab,bc->ac->d", output_shape=3), "invalid einsum equation"),
    (dict(equation="ab,b...->a...", output_shape=3), "invalid einsum equation"),
    (dict(equation="a...,ab->b...", output_shape=3), "invalid einsum equation"),    # right: two letters at least
    (dict(equation="a1,1c->ac", output_shape=3), "invalid einsum equation"),
    (dict(equation=5, output_shape=3), "invalid einsum equation"),
    (dict(equation="aab,bc->ac", output_shape=3), "letter repeated within one operand"),
    (dict(equation="ab,bc->acd", output_shape=(3, 4)), "dimension 'd' of the output spec 'acd' is in neither"),
    (dict(equation="ab,bcd->ac", output_shape=3), "kernel dimension 'd' is in neither"),
    (dict(equation="ab,bc->ac", output_shape=3, bias_axes="b"), "bias dimension 'b' was requested, but is not part"),
    (dict(equation="ab,bc->ac", output_shape=3, bias_axes=""), "non-empty string of output letters for `bias_axes`"),
    (dict(equation="ab,bc->ac", output_shape=0), "output_shape=0"),
    (dict(equation="ab,bc->ac", output_shape="3"), "output_shape='3'"),
    (dict(equation="ab,bc->ac", output_shape=(3.0,)), r"output_shape=\(3.0,\)"),
    (dict(equation="ab,bc->ac", output_shape=3, lora_rank=4), "LoRA is not supported"),
    (dict(equation="ab,bc->ac", output_shape=3, kernel_constraint="non_neg"), "unexpected keyword"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=f"EinsumDense.*{message}|{message}") as info:
        EinsumDense(**kwargs)
    assert "EinsumDense" in str(info.value)


@pytest.mark.parametrize("equation, output_shape, input_shape, message", [
    ("ab,bc->ac", (None, 3), (None, 4), r"output_shape \(None, 3\) does not fit the output spec 'ac': expected 1"),
    ("...b,bc->...c", (None, 3), (None, 2, 4), r"expected 1 dimension"),
    ("abc,cd->abd", (5, 3), (None, 4, 2), "do not match at shared dimension 'b'. Input shape is 4, and output shape "
                                          "is 5"),
    ("abc,cde->abde", (None, 4, 5), (None, 8), "expects an input of rank 3, but received input of shape"),
    ("...bc,cd->...bd", (None, 4), (None,), "expects an input of rank 2 or more"),
    ("abc,cde->abde", (None, None, 5), (None, 8, 16), r"kernel shape \(16, None, 5\) \('cde'\) is not fully known"),
    ("abc,bcd->abd", (None, 4), (None, None, 5), r"kernel shape \(None, 5, 4\)"),
])
def test_shape_errors_name_the_layer(equation, output_shape, input_shape, message):
    layer = EinsumDense(equation, output_shape, name="proj")
    with pytest.raises(ValueError, match=message) as info:
        layer.build_for(input_shape)
    assert str(info.value).startswith("Layer 'proj' (EinsumDense):")


def test_inputs_keep_the_sizes_of_the_weights_only():
    """As in Keras, other axes (the sequence) may change between calls; the rank and the kernel's and bias' sizes
    may not."""
    layer = EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", name="q")
    assert layer(numpy.zeros((2, 4, 5), numpy.float32)).shape == (2, 4, 2, 3)
    assert layer(numpy.zeros((1, 7, 5), numpy.float32)).shape == (1, 7, 2, 3)
    with pytest.raises(ValueError, match=r"Layer 'q' \(EinsumDense\): expected axis 2 \('c' of 'abc,cde->abde'\) "
                                         r"of size 5, as the layer was built for, but received input of shape "
                                         r"\(2, 4, 6\)"):
        layer(numpy.zeros((2, 4, 6), numpy.float32))
    with pytest.raises(ValueError, match=r"Layer 'q' \(EinsumDense\): expected an input of rank 3"):
        layer(numpy.zeros((2, 4, 1, 5), numpy.float32))
    per_position = EinsumDense("...bc,cd->...bd", (3, 4), bias_axes="b", name="p")
    per_position(numpy.zeros((2, 3, 5), numpy.float32))
    with pytest.raises(ValueError, match=r"expected axis 1 \('b' of '...bc,cd->...bd'\) of size 3"):
        per_position(numpy.zeros((2, 4, 5), numpy.float32))


# ---- configs ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [
    EinsumDense("abc,cde->abde", [None, 4, 8], bias_axes="de", name="query"),
    EinsumDense("...b,bc->...c", 16, activation="relu", kernel_initializer="he_normal", bias_axes="c",
                kernel_regularizer="l2", bias_regularizer="l1"),
    EinsumDense("ab...,bc->ac...", (3,), bias_initializer="ones", trainable=False),
])
def test_config_round_trip(layer):
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config
    twin = EinsumDense.from_config(config)
    assert twin.get_config() == config
    assert deserialize(serialize(layer)).get_config() == config
    assert "use_bias" not in config and config["equation"] == layer.equation


def test_keras_config_names():
    config = EinsumDense("abc,cde->abde", (None, 4, 8), bias_axes="de").get_config()
    assert {key: config[key] for key in ("equation", "output_shape", "bias_axes", "activation")} == {
        "equation": "abc,cde->abde", "output_shape": [None, 4, 8], "bias_axes": "de", "activation": "linear"}
    assert EinsumDense("ab,bc->ac", 5).get_config()["output_shape"] == [5]


# ---- Keras goldens ---------------------------------------------------------------------------------------------------

GOLDENS, GOLDEN_CONFIGS = keras_cases("keras_einsum_dense.npz")


@pytest.mark.parametrize("case", sorted(GOLDEN_CONFIGS))
def test_keras_outputs(case, backend_name):
    layer = EinsumDense(**GOLDEN_CONFIGS[case])
    x = GOLDENS[f"{case}__x"]
    layer.build_for((None,) + x.shape[1:])
    count = len(layer.get_weights())
    layer.set_weights([GOLDENS[f"{case}__w{i}"] for i in range(count)])
    assert f"{case}__w{count}" not in GOLDENS
    numpy.testing.assert_allclose(host(layer(x)), GOLDENS[f"{case}__y"], rtol=1e-5, atol=1e-6)


STEPS, STEP_CONFIGS = keras_cases("keras_einsum_dense_sgd.npz")


@pytest.mark.parametrize("case", sorted(STEP_CONFIGS))
def test_keras_one_sgd_step(case, backend_name):
    assert_keras_sgd_step(STEPS, case, [EinsumDense(**kw) for kw in STEP_CONFIGS[case]])


# ---- in models -------------------------------------------------------------------------------------------------------

def test_softmax_output_with_the_fused_cross_entropy_takes_one_hand_computed_step(rng, backend_name):
    """The loss takes over the softmax (over the last axis): the gradient of the mean cross-entropy with respect to
    the logits z of ``x @ kernel + bias`` (per position) is ``(softmax(z) - onehot) / (N * T)``."""
    backend.set_floatx("float64")
    N, T, C, K = 4, 3, 5, 6
    x = rng.standard_normal((N, T, C))
    labels = rng.integers(0, K, (N, T))
    inputs = nnkit.Input(shape=(T, C))
    model = nnkit.Model(inputs, EinsumDense("abc,cd->abd", (None, K), bias_axes="d", activation="softmax")(inputs))
    kernel, bias = [rng.standard_normal(w.shape) for w in model.get_weights()]
    model.set_weights([kernel, bias])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(x, labels)

    z = x @ kernel + bias
    p = numpy.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    onehot = numpy.eye(K)[labels]
    assert loss == pytest.approx(-numpy.mean(numpy.log((p * onehot).sum(axis=-1))), rel=1e-10)
    dz = (p - onehot) / (N * T)
    new_kernel, new_bias = model.get_weights()
    numpy.testing.assert_allclose(new_kernel, kernel - 0.5 * numpy.einsum("ntc,ntk->ck", x, dz), rtol=1e-10)
    numpy.testing.assert_allclose(new_bias, bias - 0.5 * dz.sum(axis=(0, 1)), rtol=1e-10)
    z = x @ new_kernel + new_bias
    numpy.testing.assert_allclose(model.predict(x, verbose=0), numpy.exp(z) / numpy.exp(z).sum(-1, keepdims=True),
                                  rtol=1e-10)


def test_attention_style_projections_learn_in_a_functional_model(rng):
    """Input -> query projection (``abc,cde->abde``) -> output projection (``abcd,cde->abe``) -> mean over the
    sequence; the pair learns a linear map of the features."""
    inputs = nnkit.Input(shape=(5, 6))
    heads = EinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de", name="query")(inputs)
    assert tuple(heads.shape) == (None, 5, 2, 4)
    outputs = EinsumDense("abcd,cde->abe", (None, 3), bias_axes="e", name="attention_output")(heads)
    model = nnkit.Model(inputs, outputs)
    x = rng.standard_normal((64, 5, 6)).astype(numpy.float32)
    y = x @ rng.standard_normal((6, 3)).astype(numpy.float32)
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.02), loss="mse")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=60, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.01 * first
    assert [w.shape for w in model.get_weights()] == [(6, 2, 4), (2, 4), (2, 4, 3), (3,)]
