"""Every layer refuses bad constructor arguments before it is built: sizes that are not positive integers (``0``,
``-1``, ``3.5``, ``"64"``, ``True``), shapes that are not tuples of them, rates and other numbers outside their
range or not finite. A declarative table: each row is a layer, arguments that construct it, and for one argument
the bad values; each must raise a ValueError or TypeError whose message names the argument and the value."""
import math

import pytest

from nnkit import layers

NAN, INF = math.nan, math.inf
SIZE = [0, -1, 3.5, 2.0, "64", True, None]  # positive integers
SIZES = SIZE + [(3, 0), (3, -1), (3.0, 3), ("3", 3), (3, 3, 3, 3), ()]  # an integer or a tuple of them
NON_NEGATIVE_SIZES = [-1, 1.5, "1", True, None, (1, -1), (1.5, 1), ((1, 1), (1, -1))]
RATE = [-0.1, 1.0, 1.5, NAN, INF, "0.5", True, None]  # in [0, 1)
POSITIVE = [0, 0.0, -1e-3, NAN, INF, "1e-3", True, None]  # > 0
NON_NEGATIVE = [-1e-3, NAN, INF, "0.1", True, None]  # >= 0
FINITE = [NAN, INF, -INF, "1", True, None]  # any finite number
AXIS = [1.5, "1", True, None]  # an integer
SHAPE = [-2, 3.5, "32", True, (-1,), (0, 3), (3.5,), ("3",), [[3]]]  # a tuple of positive integers

# (layer, constructor arguments, argument, bad values)
TABLE = [
    ("Dense", {"units": 3}, "units", SIZE),
    ("Dense", {"units": 3}, "input_shape", SHAPE),
    ("Dense", {"units": 3}, "input_dim", SIZE[:-1]),
    ("Dense", {"units": 3}, "name", [3, b"dense", ["dense"]]),
    ("Dense", {"units": 3}, "batch_input_shape", [(None, -1), (None, 0), "32", 3]),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, "input_dim", SIZE),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, "output_dim", SIZE),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, "input_length", SIZE[:-1]),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, "filters", SIZE),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, "kernel_size", SIZES),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, "strides", SIZES),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, "dilation_rate", SIZES),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, "groups", SIZE),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, "padding", ["full", 1, None]),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, "filters", SIZE),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, "kernel_size", SIZE + [(3, 3), (0,)]),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, "strides", SIZE + [(1, 1)]),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, "dilation_rate", SIZE),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, "filters", SIZE),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, "kernel_size", SIZES),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2}, "output_padding",
     [-1, 1.5, "1", True, (1, -1), (2, 2)]),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, "strides", SIZES),
    ("DepthwiseConv2D", {"kernel_size": 3}, "kernel_size", SIZES),
    ("DepthwiseConv2D", {"kernel_size": 3}, "depth_multiplier", SIZE),
    ("DepthwiseConv2D", {"kernel_size": 3}, "strides", SIZES),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, "filters", SIZE),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, "depth_multiplier", SIZE),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, "dilation_rate", SIZES),
    ("MaxPooling2D", {}, "pool_size", SIZES),
    ("MaxPooling2D", {}, "strides", [v for v in SIZES if v is not None]),  # None: pool_size
    ("MaxPooling2D", {}, "padding", ["full", None]),
    ("AveragePooling2D", {}, "pool_size", SIZES),
    ("AveragePooling2D", {}, "strides", [v for v in SIZES if v is not None]),
    ("MaxPooling1D", {}, "pool_size", SIZE + [(2, 2)]),
    ("MaxPooling1D", {}, "strides", SIZE[:-1]),
    ("AveragePooling1D", {}, "pool_size", SIZE),
    ("UpSampling1D", {}, "size", SIZE),
    ("UpSampling2D", {}, "size", SIZES),
    ("ZeroPadding1D", {}, "padding", NON_NEGATIVE_SIZES),
    ("ZeroPadding2D", {}, "padding", NON_NEGATIVE_SIZES),
    ("Cropping1D", {}, "cropping", NON_NEGATIVE_SIZES),
    ("Cropping2D", {}, "cropping", NON_NEGATIVE_SIZES),
    ("RepeatVector", {"n": 2}, "n", SIZE),
    ("Reshape", {"target_shape": (2, 3)}, "target_shape", [-2, "23", 3.5, None, (-2, 3), (2.5, 3),
                                                             ("2", 3), (-1, -1)]),
    ("Permute", {"dims": (2, 1)}, "dims", ["21", 2.5, None, (1, 1), (0, 1), (1, 3), (1.0, 2), (True, 2)]),
    ("Dropout", {"rate": 0.5}, "rate", RATE),
    ("SpatialDropout1D", {"rate": 0.5}, "rate", RATE),
    ("SpatialDropout2D", {"rate": 0.5}, "rate", RATE),
    ("GaussianDropout", {"rate": 0.5}, "rate", RATE),
    ("AlphaDropout", {"rate": 0.5}, "rate", RATE),
    ("GaussianNoise", {"stddev": 0.5}, "stddev", NON_NEGATIVE),
    ("Attention", {}, "dropout", RATE),
    ("AdditiveAttention", {}, "dropout", RATE),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, "num_heads", SIZE),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, "key_dim", SIZE),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, "value_dim", SIZE[:-1]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, "dropout", RATE),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, "output_shape", SIZE[:-1] + [(4, 0)]),
    ("SimpleRNN", {"units": 3}, "units", SIZE),
    ("SimpleRNN", {"units": 3}, "dropout", RATE),
    ("LSTM", {"units": 3}, "units", SIZE),
    ("LSTM", {"units": 3}, "recurrent_dropout", RATE),
    ("GRU", {"units": 3}, "units", SIZE),
    ("GRU", {"units": 3}, "dropout", RATE),
    ("BatchNormalization", {}, "momentum", [-0.1, 1.5, NAN, "0.9", True, None]),
    ("BatchNormalization", {}, "epsilon", POSITIVE),
    ("BatchNormalization", {}, "axis", AXIS),
    ("LayerNormalization", {}, "epsilon", POSITIVE),
    ("LayerNormalization", {}, "axis", AXIS),
    ("GroupNormalization", {}, "groups", [0, -2, 2.5, "2", True, None]),
    ("GroupNormalization", {}, "epsilon", POSITIVE),
    ("GroupNormalization", {}, "axis", AXIS),
    ("UnitNormalization", {}, "axis", AXIS),
    ("Softmax", {}, "axis", AXIS),
    ("Concatenate", {}, "axis", AXIS),
    ("Dot", {"axes": 1}, "axes", AXIS),
    ("LeakyReLU", {}, "negative_slope", NON_NEGATIVE),
    ("ReLU", {}, "max_value", NON_NEGATIVE[:-1]),
    ("ReLU", {}, "negative_slope", NON_NEGATIVE),
    ("ReLU", {}, "threshold", FINITE),
    ("ELU", {}, "alpha", FINITE),
    ("ActivityRegularization", {}, "l1", NON_NEGATIVE),
    ("ActivityRegularization", {}, "l2", NON_NEGATIVE),
    ("Rescaling", {"scale": 0.5}, "scale", FINITE),
    ("Rescaling", {"scale": 0.5}, "offset", FINITE),
    ("Masking", {}, "mask_value", FINITE),
    ("Resizing", {"height": 4, "width": 4}, "height", SIZE),
    ("Resizing", {"height": 4, "width": 4}, "width", SIZE),
    ("CenterCrop", {"height": 4, "width": 4}, "height", SIZE),
    ("RandomCrop", {"height": 4, "width": 4}, "width", SIZE),
    ("RandomRotation", {"factor": 0.1}, "factor", [NAN, "0.1", True, None, 1.5, (0.2, 0.1, 0.3)]),
    ("RandomZoom", {"height_factor": 0.1}, "height_factor", [NAN, "0.1", True, None, -1.5]),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.1}, "width_factor", [NAN, "0.1", True, 1.5]),
    ("RandomContrast", {"factor": 0.1}, "factor", [NAN, "0.1", True, None, -0.1]),
    ("RandomBrightness", {"factor": 0.1}, "factor", [NAN, "0.1", True, None, 1.5]),
    ("Hashing", {"num_bins": 4}, "num_bins", SIZE),
    ("CategoryEncoding", {"num_tokens": 4}, "num_tokens", SIZE[:-1]),
    ("Discretization", {"num_bins": 4}, "num_bins", SIZE[:-1]),
    ("Discretization", {"num_bins": 4}, "epsilon", POSITIVE[:-1]),
    ("Discretization", {"bin_boundaries": [0.0, 1.0]}, "bin_boundaries", [[0.0, NAN], [1.0, 0.0], ["0", 1]]),
    ("IntegerLookup", {}, "max_tokens", SIZE[:-1]),
    ("IntegerLookup", {}, "num_oov_indices", [-1, 1.5, "1", True, None]),
    ("StringLookup", {}, "num_oov_indices", [-1, 1.5, "1", True, None]),
    ("TextVectorization", {}, "max_tokens", SIZE[:-1]),
    ("TextVectorization", {}, "output_sequence_length", SIZE[:-1]),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 4}, "output_shape", SIZE + [(4, 0)]),
    ("InputLayer", {"shape": (3,)}, "shape", SHAPE),
    ("InputLayer", {"shape": (3,)}, "batch_size", SIZE[:-1]),
]


def _cases():
    for layer, arguments, argument, bad_values in TABLE:
        for value in bad_values:
            yield pytest.param(layer, arguments, argument, value, id=f"{layer}-{argument}={value!r}")


def _mentions(message, value):
    """Whether ``message`` shows ``value`` (or, for a sequence, one of its elements: the offending one)."""
    if repr(value) in message or str(value) in message:
        return True
    return isinstance(value, (tuple, list)) and any(_mentions(message, item) for item in value)


@pytest.mark.parametrize("layer, arguments, argument, value", list(_cases()))
def test_layer_refuses_bad_argument(layer, arguments, argument, value):
    with pytest.raises((ValueError, TypeError)) as error:
        getattr(layers, layer)(**{**arguments, argument: value})
    message = str(error.value)
    assert argument in message and _mentions(message, value), message


@pytest.mark.parametrize("layer, arguments", [(layer, arguments) for layer, arguments, _, _ in TABLE],
                         ids=[f"{row[0]}-{row[2]}" for row in TABLE])
def test_table_rows_construct_with_their_good_arguments(layer, arguments):
    assert isinstance(getattr(layers, layer)(**arguments), layers.Layer)
