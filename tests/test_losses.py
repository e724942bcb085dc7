"""Losses: values against float64 formulas written here, gradients against gradcheck, the fused
softmax/sigmoid paths against the unfused chain rule, and stability for huge logits."""
import numpy
import pytest

import nnkit
from nnkit import backend, losses
from nnkit.layers import Dense
from nnkit.utils import gradcheck

EPS = 1e-7


def _softmax(z):
    e = numpy.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + numpy.exp(-z))


def _one_hot(labels, k):
    return numpy.eye(k)[labels]


# ---- references: Keras' formulas with "sum over batch size" reduction ------------------------------
def ref_mse(t, p):
    return numpy.mean((p - t) ** 2)


def ref_mae(t, p):
    return numpy.mean(numpy.abs(p - t))


def ref_bce(t, p):
    p = numpy.clip(p, EPS, 1 - EPS)
    return -numpy.mean(t * numpy.log(p) + (1 - t) * numpy.log(1 - p))


def ref_cce(t, p):
    p = numpy.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return -numpy.mean((t * numpy.log(p)).sum(axis=-1))


def _case(name, rng, from_logits=False, n=6, k=5):
    """(loss object, y_true, y_pred, float64 reference value) for one loss."""
    loss = losses.registry.get(name, from_logits=from_logits)
    if name in ("mean_squared_error", "mean_absolute_error"):
        t, p = rng.standard_normal((n, k)), rng.standard_normal((n, k))
        return loss, t, p, (ref_mse if "squared" in name else ref_mae)(t, p)
    if name == "binary_crossentropy":
        t = rng.integers(0, 2, (n, k)).astype(float)
        t[0, 0] = 0.3  # soft targets are allowed
        z = rng.standard_normal((n, k)) * 2
        p = z if from_logits else _sigmoid(z)
        return loss, t, p, ref_bce(t, _sigmoid(z))
    labels = rng.integers(0, k, n)
    z = rng.standard_normal((n, k)) * 2
    p = z if from_logits else _softmax(z)
    t = labels if name == "sparse_categorical_crossentropy" else _one_hot(labels, k)
    return loss, t, p, ref_cce(_one_hot(labels, k), _softmax(z))


ALL = ["mean_squared_error", "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy",
       "sparse_categorical_crossentropy"]
CASES = [(name, False) for name in ALL] + [(name, True) for name in ALL[2:]]


@pytest.mark.parametrize("name, from_logits", CASES)
def test_value_matches_float64_formula(name, from_logits, xp, rng):
    loss, t, p, expected = _case(name, rng, from_logits)
    value, _ = loss.forward_backward(xp.asarray(t), xp.asarray(p))
    assert float(value) == pytest.approx(expected, rel=1e-12)
    assert loss(t, p) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name, from_logits", CASES)
def test_gradient_passes_gradcheck(name, from_logits, backend_name, rng):
    loss, t, p, _ = _case(name, rng, from_logits)
    assert gradcheck(loss, (t, p)).max_relative_error < 1e-7


@pytest.mark.parametrize("name, from_logits", CASES)
def test_float32_value_close_to_float64(name, from_logits, xp, rng):
    loss, t, p, expected = _case(name, rng, from_logits)
    value, grad = loss.forward_backward(xp.asarray(t), xp.asarray(p, dtype=numpy.float32))
    assert float(value) == pytest.approx(expected, rel=1e-5)
    assert grad.dtype == numpy.float32


def test_names_and_aliases():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("mae"), losses.MeanAbsoluteError)
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert losses.get("mse").name == "mean_squared_error"
    assert losses.get("sparse_categorical_crossentropy").from_logits is False
    custom = losses.CategoricalCrossentropy(from_logits=True)
    assert losses.get(custom) is custom


def test_unknown_loss_lists_known_names():
    with pytest.raises(ValueError) as error:
        losses.get("cross_entropy")
    for name in ALL + ["mse", "mae"]:
        assert name in str(error.value)


def test_binary_targets_may_omit_the_last_axis(xp, rng):
    t = rng.integers(0, 2, 8).astype(float)
    z = rng.standard_normal((8, 1))
    expected = ref_bce(t[:, None], _sigmoid(z))
    assert losses.BinaryCrossentropy()(t, _sigmoid(z)) == pytest.approx(expected, rel=1e-12)
    assert losses.BinaryCrossentropy(from_logits=True)(t, z) == pytest.approx(expected, rel=1e-12)


def test_sparse_labels_of_shape_n_by_1(xp, rng):
    labels = rng.integers(0, 4, 5)
    z = rng.standard_normal((5, 4))
    expected = ref_cce(_one_hot(labels, 4), _softmax(z))
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels[:, None], z) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_cross_entropy_on_sequence_outputs(name, from_logits, xp, rng):
    """(N, T, K) outputs (a Dense on sequences): Keras averages over all N*T positions."""
    labels = rng.integers(0, 4, (3, 5))
    z = rng.standard_normal((3, 5, 4))
    t = labels if "sparse" in name else _one_hot(labels, 4)
    loss = losses.registry.get(name, from_logits=from_logits)
    p = z if from_logits else _softmax(z)
    value, grad = loss.forward_backward(xp.asarray(t), xp.asarray(p))
    assert float(value) == pytest.approx(ref_cce(_one_hot(labels, 4), _softmax(z)), rel=1e-12)
    assert grad.shape == z.shape
    assert gradcheck(loss, (t, p)).max_relative_error < 1e-7


# ---- stability --------------------------------------------------------------------------------------
def test_softmax_cross_entropy_huge_logits(xp):
    z = xp.asarray([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    with numpy.errstate(over="raise", invalid="raise"):
        value, grad = loss.forward_backward(xp.asarray([0, 1]), z)
    assert float(value) == pytest.approx((0.0 + 1e4) / 2)
    numpy.testing.assert_allclose(backend.to_host(grad), [[0, 0, 0], [0.5, -0.5, 0]], atol=1e-12)
    one_hot = losses.CategoricalCrossentropy(from_logits=True)
    value32, _ = one_hot.forward_backward(xp.asarray([[0, 0, 1.0]], dtype=numpy.float32),
                                          xp.asarray([[1e4, 0, -1e4]], dtype=numpy.float32))
    assert float(value32) == pytest.approx(2e4)


def test_sigmoid_binary_cross_entropy_huge_logits(xp):
    z = xp.asarray([[1e4, -1e4, 1e4, -1e4]], dtype=numpy.float32)
    t = xp.asarray([[1.0, 0.0, 0.0, 1.0]], dtype=numpy.float32)
    with numpy.errstate(over="raise", invalid="raise"):
        value, grad = losses.BinaryCrossentropy(from_logits=True).forward_backward(t, z)
    assert float(value) == pytest.approx(2e4 / 4)
    numpy.testing.assert_allclose(backend.to_host(grad), [[0, 0, 0.25, -0.25]], atol=1e-7)


def test_probabilities_at_zero_and_one_are_clipped(xp):
    p = xp.asarray([[1.0, 0.0]])
    assert losses.BinaryCrossentropy()(numpy.array([[0.0, 1.0]]), p) == pytest.approx(-numpy.log(EPS), rel=1e-6)
    assert losses.CategoricalCrossentropy()(numpy.array([[0.0, 1.0]]), p) == pytest.approx(-numpy.log(EPS), rel=1e-6)
    _, grad = losses.BinaryCrossentropy().forward_backward(xp.asarray([[0.0, 1.0]]), p)
    assert numpy.isfinite(backend.to_host(grad)).all()


# ---- fused paths inside a model ----------------------------------------------------------------------
def _one_step_gradients(activation, loss, x, y):
    """Loss and kernel/bias gradients of one full-batch SGD(lr=1) step, read from the weight change."""
    backend.set_floatx("float64")
    nnkit.utils.set_random_seed(3)
    model = nnkit.Sequential([nnkit.Input(shape=(x.shape[1],)), Dense(y.shape[1] if y.ndim == 2 and
                                                                         activation != "sigmoid" else 3,
                                                                         activation=activation)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=1.0), loss=loss)
    kernel, bias = model.get_weights()
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    new_kernel, new_bias = model.get_weights()
    return model, kernel, bias, history.history["loss"][0], kernel - new_kernel, bias - new_bias


@pytest.mark.parametrize("loss_name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_fused_softmax_cross_entropy_matches_unfused_math(loss_name, backend_name, rng):
    x = rng.standard_normal((7, 4))
    labels = rng.integers(0, 3, 7)
    t = _one_hot(labels, 3)
    y = labels if "sparse" in loss_name else t
    model, kernel, bias, loss, d_kernel, d_bias = _one_step_gradients("softmax", loss_name, x, numpy.eye(3)[labels]
                                                                      if y.ndim == 2 else y)
    assert model.compiled.fused[0] is not None  # the fused path was taken
    assert not model.layers[-1].emit_logits  # and no flag was left on the layer
    # Unfused: p = softmax(z); dL/dp = -t / p / N; dz = p * (dL/dp - sum(dL/dp * p)).
    p = _softmax(x @ kernel + bias)
    assert loss == pytest.approx(ref_cce(t, p), rel=1e-10)
    dp = -t / p / len(x)
    dz = p * (dp - (dp * p).sum(axis=1, keepdims=True))
    numpy.testing.assert_allclose(d_kernel, x.T @ dz, rtol=1e-8, atol=1e-12)
    numpy.testing.assert_allclose(d_bias, dz.sum(axis=0), rtol=1e-8, atol=1e-12)
    numpy.testing.assert_allclose(model.predict(x, verbose=0), _softmax(x @ (kernel - d_kernel) + bias - d_bias),
                                  rtol=1e-10)


def test_fused_sigmoid_binary_cross_entropy_matches_unfused_math(backend_name, rng):
    x = rng.standard_normal((9, 4))
    t = rng.integers(0, 2, (9, 3)).astype(float)
    model, kernel, bias, loss, d_kernel, d_bias = _one_step_gradients("sigmoid", "binary_crossentropy", x, t)
    assert model.compiled.fused[0] is not None and not model.layers[-1].emit_logits
    p = _sigmoid(x @ kernel + bias)
    assert loss == pytest.approx(ref_bce(t, p), rel=1e-10)
    # Unfused: dL/dp = (p - t) / (p (1 - p)) / size; dz = dL/dp * p (1 - p).
    dz = (p - t) / (p * (1 - p)) / t.size * p * (1 - p)
    numpy.testing.assert_allclose(d_kernel, x.T @ dz, rtol=1e-8, atol=1e-12)
    numpy.testing.assert_allclose(d_bias, dz.sum(axis=0), rtol=1e-8, atol=1e-12)


def test_fused_training_stable_with_huge_logits(backend_name):
    """A saturated softmax layer (logits ~1e4) still gives a finite loss and finite weights."""
    model = nnkit.Sequential([nnkit.Input(shape=(2,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.set_weights([numpy.array([[1e4, 0, -1e4], [0, 0, 0]]), numpy.zeros(3)])
    history = model.fit(numpy.array([[1.0, 0.0], [1.0, 0.0]]), numpy.array([0, 2]), epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(1e4, rel=1e-6)
    assert all(numpy.isfinite(w).all() for w in model.get_weights())


def test_targets_shape_mismatch_is_clear(xp):
    with pytest.raises(ValueError, match=r"targets of shape \(4, 3\).*\(None, 5\)"):
        losses.CategoricalCrossentropy().validate_targets(xp.zeros((4, 3)), (None, 5))
    with pytest.raises(ValueError, match="labels of shape"):
        losses.SparseCategoricalCrossentropy().validate_targets(xp.zeros((4, 5), dtype=int), (None, 5))
    with pytest.raises(ValueError, match=r"label 7 is out of range.*\[0, 4\]"):
        losses.SparseCategoricalCrossentropy().validate_targets(xp.asarray([0, 7, 1]), (None, 5))


def test_targets_of_any_length_fit_an_output_with_steps_of_any_length(xp):
    losses.MeanSquaredError().validate_targets(xp.zeros((4, 7, 3)), (None, None, 3))
    losses.SparseCategoricalCrossentropy().validate_targets(xp.zeros((4, 7), dtype=int), (None, None, 5))
    with pytest.raises(ValueError, match="do not match the model output"):
        losses.MeanSquaredError().validate_targets(xp.zeros((4, 7, 2)), (None, None, 3))
