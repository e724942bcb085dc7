"""Keras' ops namespace (``keras.ops``), differentiable: ``from nnkit import ops``.

Each op runs on arrays (NumPy, or CuPy on the GPU) and returns an array; on symbolic tensors (``nnkit.Input``, a
layer's output, or inside a custom layer's ``call``) it becomes a node of the model's graph with its own gradient
rule, so models and custom layers written with ops train with ``fit``. The internal CPU/GPU kernels the built-in
layers use live in ``nnkit.primitives``.
"""
from .core import arange, cast, convert_to_tensor, eye, full, ones, ones_like, shape, stop_gradient, zeros, zeros_like
from .nn import (elu, gelu, hard_sigmoid, hard_silu, hard_swish, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
                 softmax, softplus, softsign, swish)
from .numpy import (abs, absolute, add, concatenate, divide, exp, expand_dims, getitem, log, matmul, max, mean, min,
                    multiply, negative, power, reshape, sqrt, square, squeeze, subtract, sum, tanh, transpose,
                    true_divide)
from .nn_more import (average_pool, batch_normalization, binary_crossentropy, categorical_crossentropy, conv,
                      depthwise_conv, glu, hard_tanh, leaky_relu, log_sigmoid, max_pool, moments, normalize,
                      sparse_categorical_crossentropy)
from .numpy_more import (argmax, argmin, ceil, clip, cos, count_nonzero, cumsum, dot, einsum, equal, erf, expm1, flip,
                         floor, floor_divide, full_like, greater, greater_equal, less, less_equal, linspace, log1p,
                         logical_and, logical_not, logical_or, logsumexp, maximum, minimum, mod, moveaxis, norm,
                         not_equal, one_hot, pad, prod, reciprocal, repeat, round, sign, sin, split, stack, std,
                         swapaxes, take, take_along_axis, tile, var, where)
from ..random import dropout  # Keras keeps it in keras.random; the issue asks for it among the ops too
