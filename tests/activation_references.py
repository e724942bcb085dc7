"""Float64 references of the activations for the property tests, written from the textbook formulas (not from nnkit's
code): ``REFERENCES[name] = (f, f', the inputs where f' jumps)``, each function on float64 arrays, stable over all
of float32's range (float64 holds float32's largest value cubed)."""
import math

import numpy

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _sigmoid(x):
    e = numpy.exp(-numpy.abs(x))
    return numpy.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x):
    return numpy.maximum(x, 0) + numpy.log1p(numpy.exp(-numpy.abs(x)))


def _sech2(u):
    return 1 / numpy.cosh(u) ** 2  # cosh overflows to inf for |u| > 710: sech^2 is then 0, as it should be


def _erf(x):
    return numpy.vectorize(math.erf)(x)


def _gelu_tanh(x):
    u = SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
    return (0.5 * x * (1 + numpy.tanh(u)),
            0.5 * (1 + numpy.tanh(u)) + 0.5 * x * _sech2(u) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x))


REFERENCES = {
    "linear": (lambda x: x, lambda x: numpy.ones_like(x), ()),
    "relu": (lambda x: numpy.maximum(x, 0), lambda x: (x > 0) * 1.0, (0,)),
    "leaky_relu": (lambda x: numpy.where(x > 0, x, 0.2 * x), lambda x: numpy.where(x > 0, 1, 0.2), (0,)),
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x), ()),
    "tanh": (numpy.tanh, lambda x: _sech2(x), ()),
    "elu": (lambda x: numpy.where(x > 0, x, numpy.expm1(numpy.minimum(x, 0))),
            lambda x: numpy.where(x > 0, 1, numpy.exp(numpy.minimum(x, 0))), ()),
    "selu": (lambda x: SELU_SCALE * numpy.where(x > 0, x, SELU_ALPHA * numpy.expm1(numpy.minimum(x, 0))),
             lambda x: SELU_SCALE * numpy.where(x > 0, 1, SELU_ALPHA * numpy.exp(numpy.minimum(x, 0))), (0,)),
    "softplus": (_softplus, _sigmoid, ()),
    "gelu": (lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
             lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * numpy.exp(-x * x / 2) / math.sqrt(2 * math.pi), ()),
    "gelu_tanh": (lambda x: _gelu_tanh(x)[0], lambda x: _gelu_tanh(x)[1], ()),
    "silu": (lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * _sigmoid(-x)), ()),
    "hard_sigmoid": (lambda x: numpy.clip(x / 6 + 0.5, 0, 1), lambda x: (numpy.abs(x) < 3) / 6, (-3, 3)),
    "hard_silu": (lambda x: x * numpy.clip(x + 3, 0, 6) / 6,
                  lambda x: numpy.where(x < -3, 0, numpy.where(x > 3, 1, (2 * x + 3) / 6)), (-3, 3)),
    "exponential": (numpy.exp, numpy.exp, ()),
    "relu6": (lambda x: numpy.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)) * 1.0, (0, 6)),
    "mish": (lambda x: x * numpy.tanh(_softplus(x)),
             lambda x: numpy.tanh(_softplus(x)) + x * _sech2(_softplus(x)) * _sigmoid(x), ()),
    "softsign": (lambda x: x / (1 + numpy.abs(x)), lambda x: 1 / (1 + numpy.abs(x)) ** 2, ()),
    "log_sigmoid": (lambda x: -_softplus(-x), lambda x: _sigmoid(-x), ()),
    "hard_tanh": (lambda x: numpy.clip(x, -1, 1), lambda x: (numpy.abs(x) < 1) * 1.0, (-1, 1)),
}
