"""Keras' neural-network ops beyond the activations of ``nn.py``: more activations, the cross-entropies (per
sample, unreduced, as ``keras.ops``), convolution and pooling (1-D and 2-D), batch normalization, moments and
normalize.

Convolution runs on the im2col + GEMM of ``nnkit.primitives`` (Conv2D's kernels; 1-D inputs as ``(N, 1, T, C)``)
and pooling on its pooling kernels, so the ops run on NumPy and on CuPy alike. Probabilities are clipped to
``[1e-7, 1 - 1e-7]`` as in ``nnkit.losses`` (Keras' ``backend.epsilon()``); the cross-entropies differentiate
with respect to ``output`` only (``target`` gets no gradient).
"""
import math

import numpy

from .. import activations, backend, primitives
from ..layers.conv import int_tuple
from ..layers.depthwise import depthwise_product, depthwise_product_backward
from ..layers.symbolic import KerasTensor
from ..losses import EPSILON
from ..primitives import conv as conv_ops, cross_entropy
from .dispatch import operation
from .shapes import normalize_axis, reduced_shape, xp_of


# ---- helpers --------------------------------------------------------------------------------------------------
def _dtype_name(value):
    """The dtype name of a tensor argument (a KerasTensor, an array, a Python number or list)."""
    if isinstance(value, KerasTensor):
        return value.dtype
    if isinstance(value, (bool, int, float)) or value is None:
        return None
    return numpy.asarray(value).dtype.name if not hasattr(value, "dtype") else numpy.dtype(value.dtype).name


def _float_name(name):
    """``name`` if it is a float dtype, else floatx (what an int tensor becomes in a float op)."""
    return name if name is not None and numpy.dtype(name).kind == "f" else backend.floatx().name


def _dtype_of(argument):
    """A dtype rule: the float dtype of the argument ``argument`` (Keras gives the ops' outputs its dtype)."""
    return lambda dtypes, arguments: _float_name(_dtype_name(arguments[argument]))


def _as_float(value, xp, dtype=None):
    """``value`` (an array, a list, a number) as a float array of the backend: ``dtype``, else its own float dtype,
    else floatx."""
    array = value if hasattr(value, "dtype") and hasattr(value, "shape") else xp.asarray(value)
    target = numpy.dtype(dtype) if dtype is not None else numpy.dtype(_float_name(array.dtype.name))
    return array if array.dtype == target else array.astype(target)


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _same_shape(name, a, b):
    """The common shape of two shapes that must be equal (None sizes match any), else Keras' ValueError."""
    a, b = (None if isinstance(s, list) else s for s in (a, b))  # a Python list constant: shape unknown here
    if a is None or b is None:
        return a if b is None else b
    if len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b)):
        raise ValueError(f"nnkit.ops.{name}: arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={a}, output.shape={b}")
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _expand(g, axis):
    """A gradient of a reduction over ``axis`` with that axis put back (size 1)."""
    return g.reshape(g.shape[:axis] + (1,) + g.shape[axis:])


# ---- activations ----------------------------------------------------------------------------------------------
def _elementwise_shape(x, **_):
    return x


@operation("x", shape=_elementwise_shape, dtype=_dtype_of("x"))
def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x > 0``, else ``negative_slope * x`` (``nnkit.activations.leaky_relu``)."""
    function = activations.LeakyReLU(negative_slope)
    x = _as_float(x, xp_of(x))
    y = function.forward(x)
    return y, lambda g: {"x": function.backward(g, x, y)}


@operation("x", shape=_elementwise_shape, dtype=_dtype_of("x"))
def hard_tanh(x):
    """``x`` clipped to ``[-1, 1]`` (gradient 1 inside, 0 outside)."""
    xp = xp_of(x)
    x = _as_float(x, xp)
    return xp.clip(x, -1, 1), lambda g: {"x": g * ((x > -1) & (x < 1))}


@operation("x", shape=_elementwise_shape, dtype=_dtype_of("x"))
def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|`` (``nnkit.activations.softplus``)."""
    softplus = activations.Softplus()
    x = _as_float(x, xp_of(x))
    y = -softplus.forward(-x)
    return y, lambda g: {"x": softplus.backward(g, -x, -y)}  # d/dx -softplus(-x) = softplus'(-x)


def _glu_shape(x, axis=-1):
    shape = list(x)
    size = shape[axis]
    if size is not None:
        if size % 2:
            raise ValueError(f"nnkit.ops.glu: axis size must be divisible by 2. Received: x.shape={x} with "
                             f"axis={axis}")
        shape[axis] = size // 2
    return tuple(shape)


@operation("x", shape=_glu_shape, dtype=_dtype_of("x"))
def glu(x, axis=-1):
    """The gated linear unit: ``a * sigmoid(b)`` with ``x`` split in halves ``a, b`` along ``axis``."""
    xp = xp_of(x)
    x = _as_float(x, xp)
    _glu_shape(x.shape, axis)
    a, b = xp.split(x, 2, axis=axis)
    gate = activations.Sigmoid().forward(b)

    def backward(g):
        return {"x": xp.concatenate([g * gate, g * a * gate * (1 - gate)], axis=axis)}
    return a * gate, backward


# ---- cross-entropies ------------------------------------------------------------------------------------------
def _binary_crossentropy_shape(target, output, from_logits=False):
    return _same_shape("binary_crossentropy", target, output)


@operation("target", "output", shape=_binary_crossentropy_shape, dtype=_dtype_of("output"))
def binary_crossentropy(target, output, from_logits=False):
    """Element-wise ``-(t log p + (1 - t) log(1 - p))`` (no reduction), ``p = output`` clipped to
    ``[1e-7, 1 - 1e-7]`` or ``sigmoid(output)`` with ``from_logits`` (then in the stable form
    ``max(z, 0) - z t + log(1 + exp(-|z|))``). Differentiable w.r.t. ``output``."""
    xp = xp_of(output, target)
    output = _as_float(output, xp)
    target = _as_float(target, xp, output.dtype)
    _same_shape("binary_crossentropy", tuple(target.shape), tuple(output.shape))
    if from_logits:
        loss = cross_entropy.sigmoid_binary_cross_entropy_elements(output, target)
        return loss, lambda g: {"target": None, "output": g * (activations.Sigmoid().forward(output) - target)}
    loss, d_output = cross_entropy.clipped_binary_cross_entropy_elements(output, target, EPSILON)
    return loss, lambda g: {"target": None, "output": g * d_output}


def _categorical_from(target, output, from_logits, axis):
    """``(loss, backward)`` of the categorical cross-entropy of ``target`` (distributions, ``output``'s shape)
    over ``axis``; Keras renormalises probabilities to sum to 1 before the clip."""
    xp = xp_of(output)
    if from_logits:
        shifted = output - output.max(axis=axis, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=axis, keepdims=True)
        loss = -(target * (shifted - xp.log(total))).sum(axis=axis)

        def backward(g):  # d/dz_k = sum(t) softmax_k - t_k
            return {"target": None, "output": _expand(g, axis) * (exp / total * target.sum(axis=axis, keepdims=True)
                                                                    - target)}
        return loss, backward
    loss, d_output = cross_entropy.clipped_categorical_cross_entropy_rows(target, output, EPSILON, axis)
    return loss, lambda g: {"target": None, "output": _expand(g, axis) * d_output}


def _categorical_crossentropy_shape(target, output, from_logits=False, axis=-1):
    shape = _same_shape("categorical_crossentropy", target, output)
    if len(shape) < 1:
        raise ValueError("nnkit.ops.categorical_crossentropy: arguments `target` and `output` must be at least "
                         f"rank 1. Received: target.shape={target}, output.shape={output}")
    axis = normalize_axis(axis, len(shape))[0]
    return shape[:axis] + shape[axis + 1:]


@operation("target", "output", shape=_categorical_crossentropy_shape, dtype=_dtype_of("output"))
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample ``-sum(target * log(q))`` over ``axis`` (no reduction): ``q = softmax(output)`` with
    ``from_logits``, else ``output`` renormalised over ``axis`` and clipped to ``[1e-7, 1 - 1e-7]``.
    Differentiable w.r.t. ``output``."""
    xp = xp_of(output, target)
    output = _as_float(output, xp)
    target = _as_float(target, xp, output.dtype)
    _categorical_crossentropy_shape(tuple(target.shape), tuple(output.shape), from_logits, axis)
    return _categorical_from(target, output, from_logits, normalize_axis(axis, output.ndim)[0])


def _sparse_target_shape(target, output):
    if isinstance(target, list):  # a Python list constant: shape unknown here
        return None
    if target is not None and len(target) == len(output) and len(target) and target[-1] == 1:
        return target[:-1]
    return target


def _sparse_categorical_crossentropy_shape(target, output, from_logits=False, axis=-1):
    if len(output) < 1:
        raise ValueError(f"nnkit.ops.sparse_categorical_crossentropy: argument `output` must be at least rank 1. "
                         f"Received: output.shape={output}")
    axis = normalize_axis(axis, len(output))[0]
    expected = output[:axis] + output[axis + 1:]
    labels = _sparse_target_shape(target, output)
    if labels is not None and (len(labels) != len(expected) or any(
            a is not None and b is not None and a != b for a, b in zip(labels, expected))):
        raise ValueError("nnkit.ops.sparse_categorical_crossentropy: arguments `target` and `output` must have "
                         f"the same shape up until the last dimension: target.shape={target}, output.shape={output}")
    return expected


@operation("target", "output", shape=_sparse_categorical_crossentropy_shape, dtype=_dtype_of("output"))
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``categorical_crossentropy`` with integer class labels: ``target`` has ``output``'s shape without
    ``axis`` (or with a trailing 1). A label outside ``[0, K)`` selects no class (loss 0, as Keras' one-hot).
    Differentiable w.r.t. ``output``."""
    xp = xp_of(output, target)
    output = _as_float(output, xp)
    labels = target if _is_array(target) else xp.asarray(target)
    _sparse_categorical_crossentropy_shape(tuple(labels.shape), tuple(output.shape), from_logits, axis)
    labels = labels.reshape(_sparse_target_shape(tuple(labels.shape), tuple(output.shape)))
    axis = normalize_axis(axis, output.ndim)[0]
    classes = [1] * output.ndim
    classes[axis] = output.shape[axis]
    one_hot = (_expand(labels.astype(numpy.int64), axis) == xp.arange(output.shape[axis]).reshape(classes))
    return _categorical_from(one_hot.astype(output.dtype), output, from_logits, axis)


# ---- convolution ----------------------------------------------------------------------------------------------
def _data_format(name, data_format):
    data_format = "channels_last" if data_format is None else str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"nnkit.ops.{name}: `data_format` must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    return data_format


def _padding(name, padding):
    mode = str(padding).lower()
    if mode not in ("valid", "same"):
        raise ValueError(f"nnkit.ops.{name}: `padding` must be 'valid' or 'same'. Received: padding={padding!r}")
    return mode


def _rank(name, shape):
    rank = len(shape) - 2
    if rank not in (1, 2):
        raise NotImplementedError(f"nnkit.ops.{name}: 1-D and 2-D inputs (rank 3 or 4, batch and channels "
                                  f"included) are supported; received an input of shape {tuple(shape)}.")
    return rank


def _spatial(shape, data_format):
    """``(spatial sizes, channels)`` of an input shape."""
    if data_format == "channels_first":
        return tuple(shape[2:]), shape[1]
    return tuple(shape[1:-1]), shape[-1]


def _with_spatial(batch, spatial, channels, data_format):
    if data_format == "channels_first":
        return (batch, channels) + tuple(spatial)
    return (batch,) + tuple(spatial) + (channels,)


def _window(name, rank, kernel_size, strides, dilation_rate):
    """The window as 2-D ``(KH, KW), (SH, SW), (DH, DW)`` (a 1-D one as ``(1, K)``...)."""
    sizes = int_tuple(f"nnkit.ops.{name}", "kernel size", kernel_size, rank)
    steps = int_tuple(f"nnkit.ops.{name}", "strides", strides, rank)
    dilations = int_tuple(f"nnkit.ops.{name}", "dilation_rate", dilation_rate, rank)
    if rank == 1:
        return (1,) + sizes, (1,) + steps, (1,) + dilations
    return sizes, steps, dilations


def _geometry(name, spatial, window, padding):
    """``(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)`` for a 2-D ``spatial`` size, or a ValueError when the window
    does not fit."""
    (KH, KW), (SH, SW), (DH, DW) = window
    H, W = spatial
    OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, SH, SW, DH, DW, padding)
    if OH == 0 or OW == 0:
        raise ValueError(f"nnkit.ops.{name}: the window {(DH * (KH - 1) + 1, DW * (KW - 1) + 1)} (with dilation) is "
                         f"larger than the input's spatial size {spatial} with padding='valid'.")
    return (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def _output_spatial(name, spatial, window, padding):
    """The output's spatial sizes (None where the input's is unknown), or a ValueError when the window does not
    fit."""
    sizes, steps, dilations = (w[-len(spatial):] for w in window)
    out = []
    for size, K, S, D in zip(spatial, sizes, steps, dilations):
        if size is None:
            out.append(None)
            continue
        length = primitives.conv_output_geometry(size, 1, K, 1, S, 1, D, 1, padding)[0]
        if length == 0:
            raise ValueError(f"nnkit.ops.{name}: the window {tuple(sizes)} (dilation {tuple(dilations)}) is larger "
                             f"than the input's spatial size {tuple(spatial)} with padding='valid'.")
        out.append(length)
    return tuple(out)


def _to_nhwc(x, rank, data_format):
    """A 1-D or 2-D input as NHWC (channels-first moved last, 1-D as height 1)."""
    if data_format == "channels_first":
        x = x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))
    return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]) if rank == 1 else x


def _from_nhwc(y, rank, data_format):
    """The inverse of ``_to_nhwc`` for an output (or input gradient) in NHWC."""
    if rank == 1:
        y = y.reshape(y.shape[0], y.shape[2], y.shape[3])
    if data_format == "channels_first":
        y = y.transpose((0, y.ndim - 1) + tuple(range(1, y.ndim - 1)))
    return y


def _conv_shape_rule(name, depthwise):
    def rule(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
        data_format = _data_format(name, data_format)
        rank = _rank(name, inputs)
        if len(kernel) != rank + 2:
            raise ValueError(f"nnkit.ops.{name}: the kernel must have rank {rank + 2} (spatial sizes, input "
                             f"channels, {'multiplier' if depthwise else 'filters'}) for an input of shape "
                             f"{inputs}. Received: kernel.shape={kernel}")
        spatial, channels = _spatial(inputs, data_format)
        _check_channels(name, channels, kernel, depthwise)
        window = _window(name, rank, kernel[:rank], strides, dilation_rate)
        out = _output_spatial(name, spatial, window, _padding(name, padding))
        filters = kernel[-1] * kernel[-2] if depthwise else kernel[-1]
        return _with_spatial(inputs[0], out, filters, data_format)
    return rule


def _check_channels(name, channels, kernel_shape, depthwise):
    kernel_channels = kernel_shape[-2]
    if channels is None:
        return
    if depthwise:
        if channels != kernel_channels:
            raise ValueError(f"nnkit.ops.{name}: the input has {channels} channels but the kernel expects "
                             f"{kernel_channels} (kernel shape {tuple(kernel_shape)}).")
        return
    if channels % kernel_channels:
        raise ValueError(f"nnkit.ops.{name}: the number of input channels must be evenly divisible by the kernel's "
                         f"in_channels. Received input channels {channels} and kernel in_channels {kernel_channels}.")
    if kernel_shape[-1] % (channels // kernel_channels):
        raise ValueError(f"nnkit.ops.{name}: the kernel's {kernel_shape[-1]} filters must be divisible by the "
                         f"{channels // kernel_channels} groups (input channels / kernel in_channels).")


def _prepare(name, inputs, kernel, strides, padding, data_format, dilation_rate, depthwise):
    """Common set-up of conv and depthwise_conv: ``(x NHWC, kernel (KH, KW, Cin, F), args, rank, data_format)``."""
    xp = xp_of(inputs, kernel)
    inputs = _as_float(inputs, xp)
    kernel = _as_float(kernel, xp)
    dtype = numpy.result_type(inputs.dtype, kernel.dtype)
    inputs, kernel = inputs.astype(dtype, copy=False), kernel.astype(dtype, copy=False)
    data_format = _data_format(name, data_format)
    rank = _rank(name, inputs.shape)
    if kernel.ndim != rank + 2:
        raise ValueError(f"nnkit.ops.{name}: the kernel must have rank {rank + 2} for an input of shape "
                         f"{tuple(inputs.shape)}. Received: kernel.shape={tuple(kernel.shape)}")
    _check_channels(name, _spatial(inputs.shape, data_format)[1], kernel.shape, depthwise)
    window = _window(name, rank, kernel.shape[:rank], strides, dilation_rate)
    x = _to_nhwc(inputs, rank, data_format)
    kernel2d = kernel.reshape((1,) + kernel.shape) if rank == 1 else kernel
    args = _geometry(name, x.shape[1:3], window, _padding(name, padding))
    return x, kernel2d, args, rank, data_format, kernel.shape


def _chunks(x, args):
    KH, KW = args[:2]
    OH, OW = args[-2:]
    return primitives.batch_chunks(x.shape[0], KH * KW * x.shape[3] * OH * OW * x.dtype.itemsize,
                                   conv_ops.WORKSPACE_BYTES)


def _group_slices(C, Cg, F):
    groups = C // Cg
    Fg = F // groups
    return [(slice(g * Cg, (g + 1) * Cg), slice(g * Fg, (g + 1) * Fg)) for g in range(groups)]


@operation("inputs", "kernel", shape=_conv_shape_rule("conv", depthwise=False), dtype=_dtype_of("inputs"))
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """1-D or 2-D convolution (cross-correlation, as Keras), kernel ``(*kernel_size, in_channels, filters)``;
    grouped when the input has a multiple of the kernel's in_channels. Gradients w.r.t. inputs and kernel."""
    x, kernel2d, args, rank, data_format, kernel_shape = _prepare(
        "conv", inputs, kernel, strides, padding, data_format, dilation_rate, depthwise=False)
    xp = xp_of(x)
    N, C = x.shape[0], x.shape[3]
    KH, KW, Cg, F = kernel2d.shape
    T, OH, OW = KH * KW, args[-2], args[-1]
    groups = _group_slices(C, Cg, F)
    matrices = [kernel2d[..., filters].reshape(T * Cg, -1) for _, filters in groups]
    chunks = _chunks(x, args)
    z = xp.empty((N * OH * OW, F), dtype=x.dtype)
    for start, stop in chunks:
        cols = primitives.im2col(x[start:stop], *args)
        rows = slice(start * OH * OW, stop * OH * OW)
        if len(groups) == 1:
            z[rows] = cols @ matrices[0]
        else:
            taps = cols.reshape(-1, T, C)
            for (channels, filters), matrix in zip(groups, matrices):
                z[rows, filters] = taps[:, :, channels].reshape(-1, T * Cg) @ matrix
        cols = None
    output = _from_nhwc(z.reshape(N, OH, OW, F), rank, data_format)

    def backward(g):
        dz = xp.ascontiguousarray(_to_nhwc(g, rank, data_format)).reshape(-1, F)
        d_kernel = xp.zeros((T, Cg, F), dtype=x.dtype)
        dx = xp.empty(x.shape, dtype=x.dtype) if len(chunks) > 1 else None
        for start, stop in chunks:
            rows = slice(start * OH * OW, stop * OH * OW)
            cols = primitives.im2col(x[start:stop], *args)
            if len(groups) == 1:
                d_kernel += (cols.T @ dz[rows]).reshape(T, Cg, F)
                d_cols = dz[rows] @ matrices[0].T
            else:
                taps = cols.reshape(-1, T, C)
                d_cols = xp.empty(((stop - start) * OH * OW, T, C), dtype=x.dtype)
                for (channels, filters), matrix in zip(groups, matrices):
                    d_kernel[:, :, filters] += (taps[:, :, channels].reshape(-1, T * Cg).T @ dz[rows, filters]
                                                ).reshape(T, Cg, -1)
                    d_cols[:, :, channels] = (dz[rows, filters] @ matrix.T).reshape(-1, T, Cg)
                d_cols = d_cols.reshape(-1, T * C)
            cols = None
            chunk = primitives.col2im(d_cols, (stop - start,) + x.shape[1:], *args)
            if dx is None:
                dx = chunk
            else:
                dx[start:stop] = chunk
        return {"inputs": _from_nhwc(dx, rank, data_format), "kernel": d_kernel.reshape(kernel_shape)}
    return output, backward


@operation("inputs", "kernel", shape=_conv_shape_rule("depthwise_conv", depthwise=True), dtype=_dtype_of("inputs"))
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """1-D or 2-D depthwise convolution, kernel ``(*kernel_size, channels, multiplier)``; output channel
    ``c * multiplier + m`` (Keras' order). Gradients w.r.t. inputs and kernel."""
    x, kernel2d, args, rank, data_format, kernel_shape = _prepare(
        "depthwise_conv", inputs, kernel, strides, padding, data_format, dilation_rate, depthwise=True)
    xp = xp_of(x)
    N = x.shape[0]
    KH, KW, C, M = kernel2d.shape
    OH, OW = args[-2:]
    taps = kernel2d.reshape(KH * KW, C, M)
    chunks = _chunks(x, args)
    u = xp.empty((N * OH * OW, C * M), dtype=x.dtype)
    for start, stop in chunks:
        depthwise_product(primitives.im2col(x[start:stop], *args), taps, u[start * OH * OW:stop * OH * OW])
    output = _from_nhwc(u.reshape(N, OH, OW, C * M), rank, data_format)

    def backward(g):
        du = xp.ascontiguousarray(_to_nhwc(g, rank, data_format)).reshape(-1, C * M)
        d_taps = xp.empty(taps.shape, dtype=x.dtype)
        dx = xp.empty(x.shape, dtype=x.dtype)
        for index, (start, stop) in enumerate(chunks):
            cols = primitives.im2col(x[start:stop], *args)
            d_cols = depthwise_product_backward(du[start * OH * OW:stop * OH * OW], cols, taps, d_taps, index > 0)
            dx[start:stop] = primitives.col2im(d_cols, (stop - start,) + x.shape[1:], *args)
        return {"inputs": _from_nhwc(dx, rank, data_format), "kernel": d_taps.reshape(kernel_shape)}
    return output, backward


# ---- pooling --------------------------------------------------------------------------------------------------
def _pool_shape_rule(name):
    def rule(inputs, pool_size, strides=None, padding="valid", data_format=None):
        data_format = _data_format(name, data_format)
        rank = _rank(name, inputs)
        spatial, channels = _spatial(inputs, data_format)
        window = _window(name, rank, pool_size, pool_size if strides is None else strides, 1)
        return _with_spatial(inputs[0], _output_spatial(name, spatial, window, _padding(name, padding)), channels,
                             data_format)
    return rule


def _pool_setup(name, inputs, pool_size, strides, padding, data_format):
    """``(x NHWC, (KH, KW, SH, SW, PH, PW, OH, OW), rank, data_format)``."""
    x = _as_float(inputs, xp_of(inputs))
    data_format = _data_format(name, data_format)
    rank = _rank(name, x.shape)
    window = _window(name, rank, pool_size, pool_size if strides is None else strides, 1)
    x = _to_nhwc(x, rank, data_format)
    KH, KW, SH, SW, PH, PW, _, _, OH, OW = _geometry(name, x.shape[1:3], window, _padding(name, padding))
    return x, (KH, KW, SH, SW, PH, PW, OH, OW), rank, data_format


@operation("inputs", shape=_pool_shape_rule("max_pool"), dtype=_dtype_of("inputs"))
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """1-D or 2-D max pooling (``strides`` default to ``pool_size``; 'same' padding never wins); each window's
    gradient goes to its first maximum."""
    x, args, rank, data_format = _pool_setup("max_pool", inputs, pool_size, strides, padding, data_format)
    y, saved = primitives.max_pool2d(x, *args)

    def backward(g):
        dy = xp_of(g).ascontiguousarray(_to_nhwc(g, rank, data_format))
        return {"inputs": _from_nhwc(primitives.max_pool2d_backward(dy, saved, x.shape, *args), rank, data_format)}
    return _from_nhwc(y, rank, data_format), backward


@operation("inputs", shape=_pool_shape_rule("average_pool"), dtype=_dtype_of("inputs"))
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """1-D or 2-D average pooling (``strides`` default to ``pool_size``); with 'same' padding each window
    averages over its taps inside the input, as Keras."""
    x, args, rank, data_format = _pool_setup("average_pool", inputs, pool_size, strides, padding, data_format)
    y = primitives.avg_pool2d(x, *args)

    def backward(g):
        dy = xp_of(g).ascontiguousarray(_to_nhwc(g, rank, data_format))
        return {"inputs": _from_nhwc(primitives.avg_pool2d_backward(dy, x.shape, *args), rank, data_format)}
    return _from_nhwc(y, rank, data_format), backward


# ---- normalization --------------------------------------------------------------------------------------------
def _batch_normalization_shape(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    size = x[axis]
    for name, shape in (("mean", mean), ("variance", variance), ("offset", offset), ("scale", scale)):
        if shape is None:
            continue
        if isinstance(shape, list):  # a constant given as a Python list (each leaf's shape, None for numbers)
            shape = (len(shape),)
        if len(shape) != 1 or (size is not None and shape[0] is not None and shape[0] != size):
            raise ValueError(f"nnkit.ops.batch_normalization: argument `{name}` must be a vector of length "
                             f"`x.shape[axis]`. Expected: `{(size,)}`. Received: `{shape}`.")
    return x


@operation("x", "mean", "variance", "offset", "scale", shape=_batch_normalization_shape, dtype=_dtype_of("x"))
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, the vectors along ``axis``. Gradients w.r.t.
    ``x``, ``mean``, ``variance``, ``offset`` and ``scale``."""
    xp = xp_of(x, mean, variance)
    x = _as_float(x, xp)
    axis = normalize_axis(axis, x.ndim)[0]
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    given = {"mean": mean, "variance": variance, "offset": offset, "scale": scale}
    _batch_normalization_shape(tuple(x.shape), axis=axis, **{name: None if value is None else tuple(numpy.shape(value))
                                                            for name, value in given.items()})
    vectors = {name: _as_float(value, xp, x.dtype).reshape(shape) for name, value in given.items() if value is not None}
    inv = 1 / xp.sqrt(vectors["variance"] + x.dtype.type(epsilon))
    centered = x - vectors["mean"]
    normalized = centered * inv
    factor = inv * vectors["scale"] if "scale" in vectors else inv
    y = centered * factor
    if "offset" in vectors:
        y = y + vectors["offset"]
    others = tuple(a for a in range(x.ndim) if a != axis)

    def backward(g):
        gf = g * factor
        scaled = g * vectors["scale"] if "scale" in vectors else g
        grads = {"mean": -gf.sum(axis=others),
                 "variance": (scaled * centered).sum(axis=others) * (-0.5 * inv.reshape(-1) ** 3),
                 "offset": g.sum(axis=others) if offset is not None else None,
                 "scale": (g * normalized).sum(axis=others) if scale is not None else None}
        # A vector given as a list or a number is a constant: no gradient.
        grads = {name: grad.reshape(given[name].shape) if _is_array(given[name]) and grad is not None else None
                 for name, grad in grads.items()}
        return {"x": gf, **grads}
    return y, backward


def _moments_shape(x, axes, keepdims=False, synchronized=False):
    shape = reduced_shape(x, axes, keepdims)
    return [shape, shape]


@operation("x", shape=_moments_shape, dtype=_dtype_of("x"))
def moments(x, axes, keepdims=False, synchronized=False):
    """``(mean, variance)`` of ``x`` over ``axes`` (the population variance); float16 is computed in float32.
    On symbolic tensors the two outputs come as a list. ``synchronized`` has nothing to synchronize (one device).
    Gradients from both outputs reach ``x``."""
    xp = xp_of(x)
    x = _as_float(x, xp)
    axes = normalize_axis(axes, x.ndim)
    work = x.astype(numpy.float32) if x.dtype == numpy.float16 else x
    count = math.prod(x.shape[a] for a in axes)
    mean = work.mean(axis=axes, keepdims=True)
    centered = work - mean
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    kept = reduced_shape(x.shape, axes, keepdims)
    outputs = tuple(v.reshape(kept).astype(x.dtype, copy=False) for v in (mean, variance))

    def backward(grads):
        g_mean, g_variance = grads
        dx = xp.zeros(work.shape, dtype=work.dtype)
        full = reduced_shape(x.shape, axes, True)
        if g_mean is not None:
            dx += g_mean.reshape(full) / count
        if g_variance is not None:
            dx += g_variance.reshape(full) * (2 / count) * centered
        return {"x": dx.astype(x.dtype, copy=False)}
    return outputs, backward


def _normalize_shape(x, axis=-1, order=2, epsilon=None):
    if axis is not None:
        normalize_axis(axis, max(len(x), 1))
    return x if len(x) else (1,)


@operation("x", shape=_normalize_shape, dtype=_dtype_of("x"))
def normalize(x, axis=-1, order=2, epsilon=None):
    """``x / max(norm(x), epsilon)`` over ``axis`` (an int, a tuple, or None for all axes) with the ``order``-norm
    (an int >= 1; epsilon defaults to 1e-7, Keras' ``backend.epsilon()``)."""
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"nnkit.ops.normalize: argument `order` must be an int >= 1. Received: order={order}")
    xp = xp_of(x)
    x = _as_float(x, xp)
    source_shape = x.shape
    if x.ndim == 0:
        x = x.reshape(1)
    axes = normalize_axis(axis, x.ndim)
    if order != 2 and len(axes) > 1:
        raise NotImplementedError("nnkit.ops.normalize: an order other than 2 needs a single axis (Keras takes the "
                                  "matrix norm over two axes).")
    epsilon = EPSILON if epsilon is None else epsilon
    magnitude = xp.abs(x)
    if order == 2:
        norm = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
    else:
        norm = (magnitude ** order).sum(axis=axes, keepdims=True) ** (1 / order)
    small = norm <= epsilon
    denominator = xp.where(small, x.dtype.type(epsilon), norm)
    y = x / denominator

    def backward(g):
        # Above epsilon: dy_i/dx_j = delta_ij / n - x_i sign(x_j) |x_j|^(p-1) / n^(p+1).
        dot = (g * x).sum(axis=axes, keepdims=True)
        safe = xp.where(small, x.dtype.type(1), norm)
        derivative = xp.sign(x) * magnitude ** (order - 1) if order != 2 else x
        dx = g / denominator - xp.where(small, x.dtype.type(0), derivative * dot / safe ** (order + 1))
        return {"x": dx.reshape(source_shape)}
    return y.reshape(source_shape) if len(source_shape) else y, backward
