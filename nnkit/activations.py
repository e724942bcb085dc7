"""Activation functions, by name (``activation="relu"``) or as functions (``nnkit.activations.relu(x)``).

Each is an object with ``forward(x) -> y`` and ``backward(dy, x, y) -> dx``. Those whose derivative can be
written from the output alone set ``needs_input = False``: a layer may then apply them in place and keep
only ``y`` for the backward pass.
"""
import math

from . import backend
from ._registry import Registry

registry = Registry("activation")


class Activation:
    """Base of the activations: ``f(x)`` and its derivative, element-wise or over the last axis.

    Calling an activation, ``nnkit.activations.relu(x)``, applies ``forward`` to an array.
    ``needs_input = False`` declares that ``backward`` reads only the output ``y``.
    """
    name = None
    needs_input = False

    def __call__(self, x):
        return self.forward(backend.get_array_module(x).asarray(x))

    def forward(self, x):
        """Return ``f(x)`` as a new array of ``x``'s shape and dtype, on ``x``'s backend."""
        raise NotImplementedError

    def backward(self, dy, x, y):
        """Return ``dy * f'(x)``: the gradient with respect to the input, given the output gradient ``dy``,
        the input ``x`` and the output ``y = f(x)``. When ``needs_input`` is False a caller may pass
        ``x=None``, so the derivative must be computed from ``y`` alone.
        """
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments (empty when there are none), for ``serialize``."""
        return {}


def _register(cls):
    registry.register(cls.name)(cls)
    return cls


@_register
class Linear(Activation):
    """The identity: ``f(x) = x``."""
    name = "linear"

    def forward(self, x):
        return x

    def backward(self, dy, x, y):
        return dy


@_register
class ReLU(Activation):
    """Rectified linear unit: ``f(x) = max(x, 0)``."""
    name = "relu"

    def forward(self, x):
        return backend.get_array_module(x).maximum(x, 0)

    def backward(self, dy, x, y):
        return dy * (y > 0)


@_register
class LeakyReLU(Activation):
    """``f(x) = x`` for ``x > 0``, else ``negative_slope * x`` (default 0.2, as
    ``keras.activations.leaky_relu``). The derivative is read from the output's sign, which assumes a
    positive ``negative_slope``.
    """
    name = "leaky_relu"

    def __init__(self, negative_slope=0.2):
        self.negative_slope = negative_slope

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy, x, y):
        xp = backend.get_array_module(dy)
        # y has x's sign (for a positive slope), so the output alone tells the branch.
        return dy * xp.where(y > 0, y.dtype.type(1), y.dtype.type(self.negative_slope))

    def get_config(self):
        return {"negative_slope": self.negative_slope}


@_register
class Sigmoid(Activation):
    """Logistic sigmoid: ``f(x) = 1 / (1 + exp(-x))``, computed without overflow for large ``|x|``."""
    name = "sigmoid"

    def forward(self, x):
        xp = backend.get_array_module(x)
        # Two branches so neither exp() overflows.
        z = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))

    def backward(self, dy, x, y):
        return dy * y * (1 - y)


@_register
class Tanh(Activation):
    """Hyperbolic tangent: ``f(x) = tanh(x)``."""
    name = "tanh"

    def forward(self, x):
        return backend.get_array_module(x).tanh(x)

    def backward(self, dy, x, y):
        return dy * (1 - y * y)


@_register
class Softmax(Activation):
    """Softmax over the last axis."""
    name = "softmax"

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, dy, x, y):
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


@_register
class ELU(Activation):
    """Exponential linear unit (Clevert et al. 2016): ``f(x) = x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``; ``alpha`` 1.0."""
    name = "elu"

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, dy, x, y):
        xp = backend.get_array_module(dy)
        # For x <= 0, d/dx alpha*(e^x - 1) = y + alpha.
        return dy * xp.where(y > 0, y.dtype.type(1), y + y.dtype.type(self.alpha))

    def get_config(self):
        return {"alpha": self.alpha}


@_register
class Softplus(Activation):
    """``f(x) = log(1 + exp(x))``, computed stably as ``logaddexp(x, 0)``."""
    name = "softplus"

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.logaddexp(x, x.dtype.type(0))

    def backward(self, dy, x, y):
        xp = backend.get_array_module(dy)
        # softplus'(x) = sigmoid(x) = 1 - exp(-softplus(x))
        return dy * -xp.expm1(-y)


@_register
class GELU(Activation):
    """Gaussian error linear unit (Hendrycks & Gimpel 2016); exact by default, as in Keras."""
    name = "gelu"
    needs_input = True

    def __init__(self, approximate=False):
        self.approximate = approximate

    def forward(self, x):
        xp = backend.get_array_module(x)
        if self.approximate:
            return 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))
        return 0.5 * x * (1 + backend.erf(x / math.sqrt(2)))

    def backward(self, dy, x, y):
        xp = backend.get_array_module(x)
        if self.approximate:
            inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
            t = xp.tanh(inner)
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        cdf = 0.5 * (1 + backend.erf(x / math.sqrt(2)))
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return dy * (cdf + x * pdf)

    def get_config(self):
        return {"approximate": self.approximate}


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def get(identifier):
    """An Activation object from a name, an Activation, a callable or None (linear)."""
    if identifier is None:
        return Linear()
    activation = registry.get(identifier)
    if not isinstance(activation, Activation):
        raise ValueError(f"Activation must be a name ({', '.join(registry.names())}) or an "
                         f"nnkit.activations.Activation, so that its derivative is known. Received: {identifier!r}")
    return activation


def serialize(activation):
    """The activation's name, or ``{"class_name": name, "config": {...}}`` when it has non-default
    arguments to keep (any non-empty ``get_config``).
    """
    return activation.name if not activation.get_config() else {"class_name": activation.name,
                                                                 "config": activation.get_config()}


linear = Linear()
relu = ReLU()
leaky_relu = LeakyReLU()
sigmoid = Sigmoid()
tanh = Tanh()
softmax = Softmax()
elu = ELU()
softplus = Softplus()
gelu = GELU()
