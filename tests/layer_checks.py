"""Checks several layer test files share."""
import re

import numpy
import pytest


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
