"""Keras 3's further losses (Huber, LogCosh, KLDivergence, Poisson, the hinges, CosineSimilarity, MSLE, MAPE),
label smoothing of the cross-entropies and the ``reduction`` argument: values and gradients against Keras'
(``tests/data/keras_losses.npz``, written by ``tests/data/make_keras_losses.py``), gradients against float64
central differences, one training step in a model, config round-trips and argument errors."""
import ast
import os

import numpy
import pytest

import nnkit
from nnkit import backend, losses
from nnkit.layers import Dense

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDENS = numpy.load(os.path.join(HERE, "data", "keras_losses.npz"))


def _cases():
    """CASES of make_keras_losses.py, read without importing Keras."""
    with open(os.path.join(HERE, "data", "make_keras_losses.py")) as f:
        tree = ast.parse(f.read())
    node = next(n for n in tree.body if isinstance(n, ast.AnnAssign | ast.Assign)
                and getattr((n.targets[0] if isinstance(n, ast.Assign) else n.target), "id", None) == "CASES")
    return ast.literal_eval(node.value)


CASES = _cases()


def _host(array):
    return backend.to_host(array) if not isinstance(array, (float, numpy.ndarray)) else numpy.asarray(array)


# Keras (torch backend) rounds its reduced loss through float32: agreement is to float32's precision.
def _close(actual, expected):
    actual, expected = numpy.asarray(_host(actual), dtype=float), numpy.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    numpy.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6 * max(numpy.abs(expected).max(), 1e-3))


@pytest.mark.parametrize("case", sorted(CASES))
def test_value_and_gradient_match_keras(case, backend_name):
    class_name, arguments, _, _ = CASES[case]
    loss = getattr(losses, class_name)(**arguments)
    xp = backend.xp()
    y_true, y_pred = xp.asarray(GOLDENS[f"{case}_true"]), xp.asarray(GOLDENS[f"{case}_pred"])
    _close(loss(y_true, y_pred), GOLDENS[f"{case}_value"])
    if f"{case}_grad" in GOLDENS:
        value, grad = loss.reduced_forward_backward(y_true, y_pred)
        _close(value, GOLDENS[f"{case}_value"])
        _close(grad, GOLDENS[f"{case}_grad"])


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][1].get("reduction", "") is not None))
def test_gradient_matches_central_differences(case):
    class_name, arguments, _, _ = CASES[case]
    loss = getattr(losses, class_name)(**arguments)
    y_true, y_pred = GOLDENS[f"{case}_true"], GOLDENS[f"{case}_pred"].copy()
    _, grad = loss.reduced_forward_backward(y_true, y_pred)
    numeric = numpy.zeros_like(y_pred)
    h = 1e-6
    for index in numpy.ndindex(y_pred.shape):
        saved = y_pred[index]
        y_pred[index] = saved + h
        up = loss(y_true, y_pred)
        y_pred[index] = saved - h
        down = loss(y_true, y_pred)
        y_pred[index] = saved
        numeric[index] = (up - down) / (2 * h)
    numpy.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_reductions_relate_as_keras_says(rng):
    t, p = rng.standard_normal((5, 3, 4)), rng.standard_normal((5, 3, 4))
    mean = losses.Huber()(t, p)
    assert losses.Huber(reduction="mean")(t, p) == pytest.approx(mean)
    assert losses.Huber(reduction="sum")(t, p) == pytest.approx(mean * 15)
    per_sample = losses.Huber(reduction=None)(t, p)
    assert per_sample.shape == (5,) and per_sample.mean() == pytest.approx(mean)
    numpy.testing.assert_allclose(losses.Huber(reduction="none")(t, p), per_sample)
    w = numpy.array([1.0, 0.0, 2.0, 0.5, 1.0])
    numpy.testing.assert_allclose(losses.Huber(reduction=None)(t, p, sample_weight=w), per_sample * w)
    assert losses.Huber()(t, p, sample_weight=w) == pytest.approx((per_sample * w).mean())
    assert losses.Huber(reduction="mean_with_sample_weight")(t, p, sample_weight=w) == \
        pytest.approx((per_sample * w).sum() * 3 / w.sum())


def test_unreduced_loss_under_gradient_tape(rng):
    t, p = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss = losses.LogCosh(reduction=None)
    with nnkit.GradientTape() as tape:
        watched = tape.watch(p)
        values = loss(t, watched)
        total = nnkit.ops.sum(values * numpy.array([1.0, 2.0, 0.0, 1.0]))
    grad = _host(tape.gradient(total, watched))
    numpy.testing.assert_allclose(grad, numpy.tanh(p - t) / 3 * numpy.array([[1.0], [2.0], [0.0], [1.0]]),
                                  rtol=1e-6)


NAMES = {"huber": "Huber", "log_cosh": "LogCosh", "kl_divergence": "KLDivergence", "kld": "KLDivergence",
         "poisson": "Poisson", "hinge": "Hinge", "squared_hinge": "SquaredHinge",
         "categorical_hinge": "CategoricalHinge", "cosine_similarity": "CosineSimilarity",
         "msle": "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
         "mape": "MeanAbsolutePercentageError", "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
         "bce": "BinaryCrossentropy"}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_names_and_function_style_objects(name):
    assert type(losses.get(name)).__name__ == NAMES[name]
    assert type(losses.get(NAMES[name])).__name__ == NAMES[name]
    if name != "bce":
        assert type(getattr(losses, name)).__name__ == NAMES[name]
    assert losses.get(NAMES[name]).name == {"Huber": "huber_loss", "KLDivergence": "kl_divergence",
                                            "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
                                            "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
                                            "BinaryCrossentropy": "binary_crossentropy"}.get(
        NAMES[name], name)


@pytest.mark.parametrize("loss", [losses.Huber(delta=0.5, reduction="sum", name="h"), losses.CosineSimilarity(axis=1),
                                  losses.KLDivergence(reduction=None), losses.MeanAbsolutePercentageError(),
                                  losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                                  losses.CategoricalCrossentropy(label_smoothing=0.2, reduction="mean")])
def test_config_round_trip(loss):
    again = losses.get({"class_name": type(loss).__name__, "config": loss.get_config()})
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert type(loss)(**loss.get_config()).get_config() == loss.get_config()


def test_argument_errors():
    with pytest.raises(ValueError, match="delta must be positive"):
        losses.Huber(delta=-1.0)
    with pytest.raises(ValueError, match="delta must be positive"):
        losses.Huber(delta=0)
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        losses.BinaryCrossentropy(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="reduction"):
        losses.Hinge(reduction="average")
    with pytest.raises(ValueError, match="axis must be an integer"):
        losses.CosineSimilarity(axis=None)
    with pytest.raises(ValueError, match="batch axis"):
        losses.CosineSimilarity(axis=0)(numpy.ones((2, 3)), numpy.ones((2, 3)))
    with pytest.raises(ValueError, match="do not match"):
        losses.Poisson()(numpy.ones((2, 3)), numpy.ones((2, 4)))


def test_compile_refuses_unreduced_loss():
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), Dense(2)])
    with pytest.raises(ValueError, match="reduction=None"):
        model.compile(optimizer="sgd", loss=losses.Huber(reduction=None))
    with pytest.raises(ValueError, match="reduction='none'"):
        model.compile(optimizer="sgd", loss={"dense": losses.Poisson(reduction="none")})


# ---- one training step in a model --------------------------------------------------------------------
TRAINING = {  # loss -> (output activation, targets' kind)
    "huber": (None, "regression"), "log_cosh": (None, "regression"), "kld": ("softmax", "distribution"),
    "poisson": ("softplus", "counts"), "hinge": (None, "binary"), "squared_hinge": (None, "binary"),
    "categorical_hinge": (None, "one_hot"), "cosine_similarity": (None, "regression"),
    "msle": ("softplus", "counts"), "mape": (None, "regression"),
    "huber_sum": (None, "regression"),
}


def _targets(kind, rng, shape):
    if kind == "regression":
        return rng.standard_normal(shape)
    if kind == "counts":
        return rng.poisson(2.0, shape).astype(float)
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(float)
    if kind == "one_hot":
        return numpy.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    t = rng.random(shape)
    return t / t.sum(axis=1, keepdims=True)


def _one_step(loss, activation, x, y, seed=3):
    """The model, the history loss, its output before the step, and the change of (kernel, bias) of one
    full-batch SGD(lr=1) step."""
    backend.set_floatx("float64")
    nnkit.utils.set_random_seed(seed)
    model = nnkit.Sequential([nnkit.Input(shape=(x.shape[1],)), Dense(y.shape[1], activation=activation)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=1.0), loss=loss)
    kernel, bias = model.get_weights()
    before = model.predict(x, verbose=0)
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    new_kernel, new_bias = model.get_weights()
    return model, history.history["loss"][0], before, kernel - new_kernel, bias - new_bias


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_one_training_step(name, backend_name, rng):
    activation, kind = TRAINING[name]
    loss = losses.Huber(reduction="sum") if name == "huber_sum" else losses.get(name)
    x, y = rng.standard_normal((8, 4)), _targets(kind, rng, (8, 3))
    _, value, p, d_kernel, d_bias = _one_step(loss, activation, x, y)
    assert value == pytest.approx(loss(y, p), rel=1e-10)
    _, dp = loss.reduced_forward_backward(y, p)
    if activation == "softmax":
        dz = p * (dp - (dp * p).sum(axis=1, keepdims=True))
    elif activation == "softplus":
        dz = dp * (1 - numpy.exp(-p))  # softplus' derivative sigmoid(z) = 1 - exp(-softplus(z))
    else:
        dz = dp
    numpy.testing.assert_allclose(d_kernel, x.T @ dz, rtol=1e-8, atol=1e-12)
    numpy.testing.assert_allclose(d_bias, dz.sum(axis=0), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("loss, activation", [(losses.CategoricalCrossentropy(label_smoothing=0.2), "softmax"),
                                              (losses.BinaryCrossentropy(label_smoothing=0.3), "sigmoid")])
def test_label_smoothing_in_the_fused_path(loss, activation, backend_name, rng):
    x = rng.standard_normal((7, 4))
    y = numpy.eye(3)[rng.integers(0, 3, 7)]
    model, value, p, d_kernel, d_bias = _one_step(loss, activation, x, y)
    assert model.compiled.fused[0] is not None  # the fused from-logits path was taken
    assert model.compiled.train_losses[0].label_smoothing == loss.label_smoothing
    smoothing = loss.label_smoothing
    if activation == "softmax":
        t = y * (1 - smoothing) + smoothing / 3
        expected = -(t * numpy.log(p)).sum(axis=1).mean()
        dz = (p - t) / len(x)
    else:
        t = y * (1 - smoothing) + 0.5 * smoothing
        expected = -(t * numpy.log(p) + (1 - t) * numpy.log(1 - p)).mean()
        dz = (p - t) / t.size
    assert value == pytest.approx(expected, rel=1e-10)
    assert loss(y, p) == pytest.approx(expected, rel=1e-6)  # the probabilities' path, clipped
    numpy.testing.assert_allclose(d_kernel, x.T @ dz, rtol=1e-8, atol=1e-12)
    numpy.testing.assert_allclose(d_bias, dz.sum(axis=0), rtol=1e-8, atol=1e-12)


def test_sample_weights_in_fit_with_new_loss(rng):
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    w = numpy.array([1.0, 0.0, 2.0, 1.0, 0.5, 1.0])
    backend.set_floatx("float64")
    nnkit.utils.set_random_seed(1)
    model = nnkit.Sequential([nnkit.Input(shape=(4,)), Dense(2)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="log_cosh")
    p = model.predict(x, verbose=0)
    history = model.fit(x, y, sample_weight=w, batch_size=6, epochs=1, shuffle=False, verbose=0)
    per_sample = losses.LogCosh(reduction=None)(y, p)
    assert history.history["loss"][0] == pytest.approx((per_sample * w).mean(), rel=1e-10)
