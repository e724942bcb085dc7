"""Checks several layer test files share."""
import json
import os
import re

import numpy
import pytest

import nnkit


def check_output_shape_or_error(make, input_shape, expected):
    """Build ``make()`` for ``input_shape``: a string ``expected`` is the ValueError's message (which must name the
    layer), else the output shape, also checked on a batch of two when the shape is known. Returns ``(layer, x,
    y)`` for that batch, or None when there was none to run."""
    layer = make()
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=re.escape(expected)) as error:
            layer.build_for(input_shape)
        assert f"Layer '{layer.name}' ({type(layer).__name__})" in str(error.value)
        return None
    assert layer.build_for(input_shape) == expected
    if None in input_shape[1:]:
        return None
    x = numpy.ones((2,) + input_shape[1:], numpy.float32)
    y = layer(x)
    assert y.shape == (2,) + expected[1:]
    return layer, x, y


def keras_cases(name):
    """A golden file of tests/data written with its configurations under ``configs``: ``(arrays, configs)``."""
    data = numpy.load(os.path.join(os.path.dirname(__file__), "data", name))
    return data, json.loads(str(data["configs"]))


def assert_keras_sgd_step(steps, case, layers):
    """``Input -> layers -> Flatten -> Dense(2)`` from Keras' starting weights takes one SGD(0.1) step on mean
    squared error exactly as Keras took it: the loss and every weight after it (``<case>__...`` in ``steps``)."""
    x, y = steps[f"{case}__x"], steps[f"{case}__y"]
    model = nnkit.Sequential([nnkit.Input(shape=x.shape[1:]), *layers, nnkit.layers.Flatten(), nnkit.layers.Dense(2)])
    model.set_weights([steps[f"{case}__start{i}"] for i in range(len(model.get_weights()))])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    assert model.train_on_batch(x, y) == pytest.approx(float(steps[f"{case}__loss"]), rel=1e-5)
    for i, weight in enumerate(model.get_weights()):
        numpy.testing.assert_allclose(weight, steps[f"{case}__after{i}"], rtol=1e-4, atol=1e-6, err_msg=str(i))
