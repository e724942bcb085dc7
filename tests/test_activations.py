"""Activations: forward values against float64 formulas written here, backward against gradcheck."""
import math

import numpy
import pytest

from nnkit import activations, backend
from nnkit.utils import gradcheck


def _erf(x):
    return numpy.vectorize(math.erf)(x)


# Independent float64 references (written from the textbook definitions, not from nnkit's code).
REFERENCES = {
    "linear": lambda x: x,
    "relu": lambda x: numpy.where(x > 0, x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + numpy.exp(-x)),
    "tanh": lambda x: (numpy.exp(x) - numpy.exp(-x)) / (numpy.exp(x) + numpy.exp(-x)),
    "softmax": lambda x: numpy.exp(x) / numpy.exp(x).sum(axis=-1, keepdims=True),
    "leaky_relu": lambda x: numpy.where(x > 0, x, 0.2 * x),  # Keras 3's default negative_slope
    "elu": lambda x: numpy.where(x > 0, x, numpy.exp(x) - 1.0),
    "gelu": lambda x: x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0))),
    "softplus": lambda x: numpy.log(1.0 + numpy.exp(x)),
}
NAMES = sorted(REFERENCES)


def _inputs(rng, shape=(4, 7)):
    # Keep away from the kinks of relu / leaky_relu / elu so central differences are valid.
    x = rng.uniform(-3, 3, shape)
    x[numpy.abs(x) < 0.05] += 0.3
    return x


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_float64_formula(name, xp, rng):
    x = _inputs(rng)
    y = activations.get(name).forward(xp.asarray(x))
    numpy.testing.assert_allclose(backend.to_host(y), REFERENCES[name](x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_forward_float32_close_to_float64(name, xp, rng):
    x = _inputs(rng)
    y = activations.get(name).forward(xp.asarray(x, dtype=numpy.float32))
    assert y.dtype == numpy.float32
    numpy.testing.assert_allclose(backend.to_host(y), REFERENCES[name](x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_backward_passes_gradcheck(name, backend_name, rng):
    result = gradcheck(activations.get(name), _inputs(rng))
    assert result.max_relative_error < 1e-7, result


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "elu", "softplus", "leaky_relu", "selu",
                                  "hard_sigmoid", "exponential", "relu6", "softsign", "log_softmax"])
def test_output_only_backward_ignores_input(name, xp, rng):
    """Activations declaring needs_input=False must give the same gradient without x (layers drop it)."""
    activation = activations.get(name)
    assert activation.needs_input is False
    x = xp.asarray(_inputs(rng))
    y = activation.forward(x)
    dy = xp.asarray(rng.standard_normal(x.shape))
    with_x = activation.backward(dy, x, y)
    without_x = activation.backward(dy, None, y)
    numpy.testing.assert_array_equal(backend.to_host(with_x), backend.to_host(without_x))


def test_gelu_tanh_approximation(xp, rng):
    x = _inputs(rng)
    gelu = activations.GELU(approximate=True)
    expected = 0.5 * x * (1 + numpy.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    numpy.testing.assert_allclose(backend.to_host(gelu.forward(xp.asarray(x))), expected, rtol=1e-12)
    assert gradcheck(gelu, x).max_relative_error < 1e-7


def test_parameterised_activations(xp, rng):
    x = _inputs(rng)
    leaky = activations.LeakyReLU(negative_slope=0.05)
    numpy.testing.assert_allclose(backend.to_host(leaky.forward(xp.asarray(x))), numpy.where(x > 0, x, 0.05 * x))
    elu = activations.ELU(alpha=2.5)
    numpy.testing.assert_allclose(backend.to_host(elu.forward(xp.asarray(x))),
                                  numpy.where(x > 0, x, 2.5 * (numpy.exp(x) - 1)), rtol=1e-12)
    assert gradcheck(leaky, x).max_relative_error < 1e-7
    assert gradcheck(elu, x).max_relative_error < 1e-7


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax", "softplus", "elu", "gelu"])
def test_huge_inputs_stay_finite(name, xp):
    x = numpy.array([[-1e4, -50.0, 0.0, 50.0, 1e4]])
    for dtype in (numpy.float32, numpy.float64):
        activation = activations.get(name)
        with numpy.errstate(over="raise", invalid="raise"):
            y = activation.forward(xp.asarray(x, dtype=dtype))
            dx = activation.backward(xp.ones_like(y), xp.asarray(x, dtype=dtype), y)
        assert numpy.isfinite(backend.to_host(y)).all() and numpy.isfinite(backend.to_host(dx)).all()


def test_huge_input_limits(xp):
    x = xp.asarray([[-1e4, 1e4]])
    numpy.testing.assert_allclose(backend.to_host(activations.sigmoid(x)), [[0.0, 1.0]])
    numpy.testing.assert_allclose(backend.to_host(activations.softmax(x)), [[0.0, 1.0]])
    numpy.testing.assert_allclose(backend.to_host(activations.softplus(x)), [[0.0, 1e4]])


def test_functions_and_names_agree(xp, rng):
    x = xp.asarray(_inputs(rng))
    for name in NAMES:
        by_function = getattr(activations, name)(x)
        by_name = activations.get(name).forward(x)
        numpy.testing.assert_array_equal(backend.to_host(by_function), backend.to_host(by_name))


def test_get_accepts_none_and_instances():
    assert activations.get(None).name == "linear"
    relu = activations.ReLU()
    assert activations.get(relu) is relu


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as error:
        activations.get("swishy")
    message = str(error.value)
    assert "'swishy'" in message
    for name in NAMES:
        assert name in message


def test_plain_callable_is_rejected_with_reason():
    with pytest.raises(ValueError, match="derivative"):
        activations.get(lambda x: x)
