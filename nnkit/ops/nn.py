"""Keras' neural-network ops (``keras.ops.relu``, ``softmax``...), on nnkit's activations (one reference each).

The element-wise activations are the objects of ``nnkit.activations`` as ops; softmax and log_softmax take an
``axis`` (the activation works over the last one, so other axes are moved there and back).
"""
from .. import activations
from .dispatch import operation
from .shapes import elementwise


def _activation_op(name, **arguments):
    function = activations.get(name)

    @operation("x", shape=elementwise)
    def op(x):
        y = function.forward(x)
        return y, lambda g: {"x": function.backward(g, x, y)}
    op.__name__ = op.name = name
    op.__doc__ = f"The {name} activation, element-wise (``nnkit.activations.{name}``)."
    return op


relu = _activation_op("relu")
relu6 = _activation_op("relu6")
sigmoid = _activation_op("sigmoid")
softplus = _activation_op("softplus")
softsign = _activation_op("softsign")
silu = swish = _activation_op("silu")
elu = _activation_op("elu")
selu = _activation_op("selu")
hard_sigmoid = _activation_op("hard_sigmoid")
hard_silu = hard_swish = _activation_op("hard_silu")
mish = _activation_op("mish")


def _last_axis_op(name):
    function = activations.get(name)

    @operation("x", shape=elementwise)
    def op(x, axis=-1):
        moved = x.swapaxes(axis, -1)
        y = function.forward(moved)
        return y.swapaxes(axis, -1), lambda g: {"x": function.backward(g.swapaxes(axis, -1), moved, y)
                                                .swapaxes(axis, -1)}
    op.__name__ = op.name = name
    op.__doc__ = f"The {name} over ``axis`` (default the last one)."
    return op


softmax = _last_axis_op("softmax")
log_softmax = _last_axis_op("log_softmax")


@operation("x", shape=elementwise)
def gelu(x, approximate=True):
    """The GELU activation; Keras' ``ops.gelu`` uses the tanh approximation by default."""
    function = activations.GELU(approximate=approximate)
    y = function.forward(x)
    return y, lambda g: {"x": function.backward(g, x, y)}


# keras.ops.nn holds these too (nn_more does not import this module)
from .nn_more import (average_pool, batch_normalization, binary_crossentropy, categorical_crossentropy,  # noqa: E402
                      conv, depthwise_conv, glu, hard_tanh, leaky_relu, log_sigmoid, max_pool, moments, normalize,
                      sparse_categorical_crossentropy)
