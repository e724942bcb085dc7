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
    ``needs_input = False`` declares that ``backward`` reads only the output ``y``; ``aliases`` are further
    names it is registered under (Keras' ``"swish"`` for ``"silu"``).
    """
    name = None
    aliases = ()
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
    registry.register(cls.name, *cls.aliases)(cls)
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
            return 0.5 * x * (1 + xp.tanh(_tanh_gelu_inner(xp, x)))
        return 0.5 * x * (1 + backend.erf(x / math.sqrt(2)))

    def backward(self, dy, x, y):
        xp = backend.get_array_module(x)
        if self.approximate:
            t = xp.tanh(_tanh_gelu_inner(xp, x))
            # x * (1 - t^2) is 0 beyond |x| = 10 (t is +-1 there), but x * x would overflow first (float32:
            # |x| > 1.8e19) and make it inf * 0 = NaN: the saturated term is evaluated at the clipped x.
            clipped = xp.clip(x, -_TANH_GELU_SATURATION, _TANH_GELU_SATURATION)
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * clipped * clipped)
            return dy * (0.5 * (1 + t) + 0.5 * clipped * (1 - t * t) * d_inner)
        cdf = 0.5 * (1 + backend.erf(x / math.sqrt(2)))
        # The density is 0 in float64 beyond |x| = 40; clipping there keeps x * x from overflowing.
        near = xp.clip(x, -40, 40)
        pdf = xp.exp(-0.5 * near * near) / math.sqrt(2 * math.pi)
        return dy * (cdf + x * pdf)

    def get_config(self):
        return {"approximate": self.approximate}


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
#: Beyond this |x|, tanh of the approximate GELU's inner term is +-1 exactly in float64 (the inner term passes 43).
_TANH_GELU_SATURATION = 10


def _tanh_gelu_inner(xp, x):
    """``sqrt(2 / pi) * (x + 0.044715 x^3)``, the tanh argument of the approximate GELU, with ``x`` clipped where
    the tanh is saturated: the same tanh, and no cube overflowing (float32: from |x| ~ 7e12)."""
    x = xp.clip(x, -_TANH_GELU_SATURATION, _TANH_GELU_SATURATION)
    return _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)


@_register
class SELU(Activation):
    """Scaled exponential linear unit (Klambauer et al. 2017): ``scale * x`` for ``x > 0``, else
    ``scale * alpha * (exp(x) - 1)``, with Keras' constants ``alpha = 1.67326324...``, ``scale = 1.05070098...``.
    """
    name = "selu"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def forward(self, x):
        xp = backend.get_array_module(x)
        negative = (self.scale * self.alpha) * xp.expm1(xp.minimum(x, 0))
        return xp.where(x > 0, self.scale * x, negative).astype(x.dtype, copy=False)

    def backward(self, dy, x, y):
        xp = backend.get_array_module(dy)
        # For x <= 0, d/dx scale*alpha*(e^x - 1) = y + scale*alpha; y > 0 exactly where x > 0.
        return dy * xp.where(y > 0, y.dtype.type(self.scale), y + y.dtype.type(self.scale * self.alpha))


@_register
class SiLU(Activation):
    """Sigmoid linear unit, also called swish (Ramachandran et al. 2017): ``f(x) = x * sigmoid(x)``."""
    name = "silu"
    aliases = ("swish",)
    needs_input = True

    def forward(self, x):
        return x * sigmoid.forward(x)

    def backward(self, dy, x, y):
        s = sigmoid.forward(x)
        return dy * (s * (1 + x * (1 - s)))


@_register
class HardSigmoid(Activation):
    """Piecewise-linear sigmoid, as Keras 3: ``f(x) = relu6(x + 3) / 6``, i.e. 0 below -3, 1 above 3."""
    name = "hard_sigmoid"

    def forward(self, x):
        return backend.get_array_module(x).clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    def backward(self, dy, x, y):
        return dy * (((y > 0) & (y < 1)) * y.dtype.type(1 / 6))


@_register
class HardSiLU(Activation):
    """Hard SiLU, also called hard swish (Howard et al. 2019): ``f(x) = x * relu6(x + 3) / 6``."""
    name = "hard_silu"
    aliases = ("hard_swish",)
    needs_input = True

    def forward(self, x):
        xp = backend.get_array_module(x)
        # relu6(x + 3) / 6 first: x * relu6(x + 3) would overflow for x beyond float32's max / 6.
        return (x * (xp.clip(x + 3, 0, 6) / 6)).astype(x.dtype, copy=False)

    def backward(self, dy, x, y):
        xp = backend.get_array_module(x)
        # 0 below -3, 1 above 3, and d/dx x*(x + 3)/6 = x/3 + 1/2 between (so written, 2x cannot overflow).
        slope = xp.where(x < -3, 0, xp.where(x > 3, 1, x / 3 + 0.5)).astype(x.dtype, copy=False)
        return dy * slope


@_register
class Exponential(Activation):
    """``f(x) = exp(x)``."""
    name = "exponential"

    def forward(self, x):
        return backend.get_array_module(x).exp(x)

    def backward(self, dy, x, y):
        return dy * y


@_register
class ReLU6(Activation):
    """ReLU capped at 6: ``f(x) = min(max(x, 0), 6)``."""
    name = "relu6"

    def forward(self, x):
        return backend.get_array_module(x).clip(x, 0, 6).astype(x.dtype, copy=False)

    def backward(self, dy, x, y):
        return dy * ((y > 0) & (y < 6))


@_register
class Mish(Activation):
    """Mish (Misra 2019): ``f(x) = x * tanh(softplus(x))``."""
    name = "mish"
    needs_input = True

    def forward(self, x):
        return x * backend.get_array_module(x).tanh(softplus.forward(x))

    def backward(self, dy, x, y):
        t = backend.get_array_module(x).tanh(softplus.forward(x))
        # d/dx x*tanh(sp(x)) = tanh(sp) + x * (1 - tanh(sp)^2) * sp'(x), and sp' = sigmoid.
        return dy * (t + x * (1 - t * t) * sigmoid.forward(x))


@_register
class Softsign(Activation):
    """``f(x) = x / (1 + |x|)``."""
    name = "softsign"

    def forward(self, x):
        return x / (1 + backend.get_array_module(x).abs(x))

    def backward(self, dy, x, y):
        # 1 / (1 + |x|)^2, and 1 / (1 + |x|) = 1 - |y|.
        d = 1 - backend.get_array_module(y).abs(y)
        return dy * (d * d)


@_register
class LogSoftmax(Activation):
    """Log of the softmax over the last axis: ``f(x) = x - logsumexp(x)``, computed stably."""
    name = "log_softmax"

    def forward(self, x):
        xp = backend.get_array_module(x)
        shifted = x - x.max(axis=-1, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))

    def backward(self, dy, x, y):
        # d/dx_j sum_i dy_i (x_i - lse(x)) = dy_j - softmax_j * sum_i dy_i, and softmax = exp(y).
        return dy - backend.get_array_module(y).exp(y) * dy.sum(axis=-1, keepdims=True)


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
selu = SELU()
silu = swish = SiLU()
hard_sigmoid = HardSigmoid()
hard_silu = hard_swish = HardSiLU()
exponential = Exponential()
relu6 = ReLU6()
mish = Mish()
softsign = Softsign()
log_softmax = LogSoftmax()
