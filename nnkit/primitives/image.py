"""Image sampling for the preprocessing and augmentation layers (NHWC): Keras' ``affine_transform``, one sampler
for rotation, zoom and translation, and the separable interpolation matrices of ``resize``.

A transform is Keras' 8-vector per image, ``[a0, a1, a2, b0, b1, b2, c0, c1]``: the output pixel at column
``x``, row ``y`` reads the input at ``x_in = a0*x + a1*y + a2``, ``y_in = b0*x + b1*y + b2`` (pixel centres at
integers; ``c0 = c1 = 0``, as every Keras layer makes them). Transforms are drawn and built on the host
(NumPy); the sampling runs where the images are.

Resizing uses half-pixel centres (output pixel ``o`` sits at input coordinate ``(o + 0.5) * H / OH - 0.5``),
without antialiasing, as Keras 3 does on every backend: bilinear clamps at the edges, nearest takes the input
pixel ``floor((o + 0.5) * H / OH)``. Each axis is one ``(OH, H)`` matrix, so the resize is two small GEMMs and
its backward the two transposed ones.
"""
import functools

import numpy

from .. import backend

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


# ---- the transforms (host) --------------------------------------------------------------------------------
def rotation_transforms(degrees, H, W):
    """``(N, 8)`` transforms rotating each image by ``degrees[n]`` counter-clockwise about its centre
    ``((W - 1) / 2, (H - 1) / 2)`` (Keras' RandomRotation; 90 degrees is ``numpy.rot90``)."""
    theta = numpy.radians(numpy.asarray(degrees, dtype=numpy.float64))
    cos, sin = numpy.cos(theta), numpy.sin(theta)
    cx, cy = (W - 1) / 2, (H - 1) / 2
    zero = numpy.zeros_like(theta)
    return numpy.stack([cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos, zero, zero], 1)


def zoom_transforms(width_zoom, height_zoom, H, W):
    """``(N, 8)`` transforms scaling the sampled area by ``width_zoom``/``height_zoom`` about the centre (a zoom
    above 1 shows more of the image, smaller: Keras' RandomZoom)."""
    zx = numpy.asarray(width_zoom, dtype=numpy.float64)
    zy = numpy.asarray(height_zoom, dtype=numpy.float64)
    zero = numpy.zeros_like(zx)
    return numpy.stack([zx, zero, (W - 1) / 2 * (1 - zx), zero, zy, (H - 1) / 2 * (1 - zy), zero, zero], 1)


def translation_transforms(dx, dy):
    """``(N, 8)`` transforms moving each image right by ``dx`` and down by ``dy`` pixels (Keras'
    RandomTranslation)."""
    dx = numpy.asarray(dx, dtype=numpy.float64)
    one, zero = numpy.ones_like(dx), numpy.zeros_like(dx)
    return numpy.stack([one, zero, -dx, zero, one, -numpy.asarray(dy, dtype=numpy.float64), zero, zero], 1)


# ---- the sampler -------------------------------------------------------------------------------------------
def affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0.0):
    """``images (N, H, W, C)`` resampled by ``transforms (N, 8)`` (see the module docstring); the output has the
    input's shape and (float) dtype, as ``keras.ops.image.affine_transform``.

    Args:
        interpolation: ``"bilinear"`` (4 taps) or ``"nearest"`` (the coordinate rounded half to even).
        fill_mode: how taps outside the image read: ``"reflect"`` (``d c b a | a b c d | d c b a``), ``"wrap"``
            (``a b c d | a b c d``), ``"constant"`` (``fill_value``, tap by tap, so edges blend into it),
            ``"nearest"`` (``a a | a b c d | d d``).
    """
    _check_choice("interpolation", interpolation, INTERPOLATIONS)
    _check_choice("fill_mode", fill_mode, FILL_MODES)
    xp = backend.get_array_module(images)
    N, H, W, C = images.shape
    t = xp.asarray(numpy.asarray(transforms, dtype=numpy.float64).reshape(N, 8), dtype=images.dtype)
    rows = xp.arange(H, dtype=images.dtype)[:, None]
    cols = xp.arange(W, dtype=images.dtype)[None, :]
    x_in = t[:, 0, None, None] * cols + t[:, 1, None, None] * rows + t[:, 2, None, None]  # (N, H, W)
    y_in = t[:, 3, None, None] * cols + t[:, 4, None, None] * rows + t[:, 5, None, None]
    return map_coordinates(images, y_in, x_in, interpolation, fill_mode, fill_value)


def map_coordinates(images, y_in, x_in, interpolation, fill_mode, fill_value=0.0):
    """``out[n, i, j, :] = images[n]`` sampled at row ``y_in[n, i, j]``, column ``x_in[n, i, j]``."""
    xp = backend.get_array_module(images)
    N, H, W, C = images.shape
    batch = xp.arange(N)[:, None, None]
    out = xp.zeros(y_in.shape + (C,), dtype=images.dtype)
    for row, row_weight in _taps(y_in, interpolation):
        for col, col_weight in _taps(x_in, interpolation):
            value = images[batch, _fixed(row, H, fill_mode), _fixed(col, W, fill_mode)]
            if fill_mode == "constant":
                inside = (row >= 0) & (row < H) & (col >= 0) & (col < W)
                value = xp.where(inside[..., None], value, images.dtype.type(fill_value))
            out += value if row_weight is None else (row_weight * col_weight)[..., None] * value
    return out


def _taps(coordinate, interpolation):
    """``[(integer index, weight)]``: the pixels a coordinate reads and their weights (None: weight 1)."""
    xp = backend.get_array_module(coordinate)
    if interpolation == "nearest":
        return [(xp.rint(coordinate).astype(numpy.int64), None)]
    lower = xp.floor(coordinate)
    upper_weight = coordinate - lower
    lower = lower.astype(numpy.int64)
    return [(lower, 1 - upper_weight), (lower + 1, upper_weight)]


def _fixed(index, size, fill_mode):
    """``index`` brought inside ``[0, size)`` as ``fill_mode`` extends the image (constant: clamped; the caller
    replaces those taps by the fill value)."""
    xp = backend.get_array_module(index)
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "reflect":  # period 2*size: a b c d d c b a
        index = index % (2 * size)
        return xp.where(index < size, index, 2 * size - 1 - index)
    return xp.clip(index, 0, size - 1)


# ---- resizing ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def interpolation_matrix(in_size, out_size, interpolation="bilinear"):
    """The ``(out_size, in_size)`` float64 NumPy matrix (read-only, cached) that resizes one axis (half-pixel
    centres, no antialiasing): each row holds the weights of the input pixels an output pixel reads."""
    _check_choice("interpolation", interpolation, INTERPOLATIONS)
    matrix = numpy.zeros((out_size, in_size))
    out = numpy.arange(out_size)
    if interpolation == "nearest":  # floor((o + 0.5) * in / out), in integers so that no tie is rounded away
        matrix[out, numpy.minimum((2 * out + 1) * in_size // (2 * out_size), in_size - 1)] = 1
    else:
        source = numpy.maximum(((2 * out + 1) * in_size - out_size) / (2 * out_size), 0)
        lower = numpy.minimum(numpy.floor(source).astype(numpy.int64), in_size - 1)
        upper_weight = source - lower
        numpy.add.at(matrix, (out, lower), 1 - upper_weight)
        numpy.add.at(matrix, (out, numpy.minimum(lower + 1, in_size - 1)), upper_weight)
    matrix.setflags(write=False)
    return matrix


def resize(images, row_matrix, col_matrix):
    """``images (N, H, W, C)`` resized with an ``(OH, H)`` and an ``(OW, W)`` matrix (arrays of the images'
    module and dtype) to ``(N, OH, OW, C)``: one GEMM per axis."""
    xp = backend.get_array_module(images)
    N, H, W, C = images.shape
    rows = xp.matmul(row_matrix, images.reshape(N, H, W * C)).reshape(N, -1, W, C)  # (N, OH, W, C)
    return xp.matmul(col_matrix, rows)  # (OW, W) @ (W, C) for each (n, oh)


def resize_backward(dy, row_matrix, col_matrix):
    """The gradient of ``resize``'s input from that of its output ``dy (N, OH, OW, C)``: the transposed GEMMs."""
    xp = backend.get_array_module(dy)
    N, OH, OW, C = dy.shape
    W = col_matrix.shape[1]
    rows = xp.matmul(col_matrix.T, dy).reshape(N, OH, W * C)  # (N, OH, W, C)
    return xp.matmul(row_matrix.T, rows).reshape(N, -1, W, C)


def crop_and_resize(images, window, size, interpolation="bilinear", fill_value=0.0):
    """The ``window = (top, left, rows, cols)`` of every image (padded with ``fill_value`` where it reaches
    outside), resized to ``size = (OH, OW)`` when it is not that size already.

    Returns ``(output, saved)``, ``saved`` being what ``crop_and_resize_backward`` needs. A window inside the
    image of the target size is a view of ``images``.
    """
    xp = backend.get_array_module(images)
    N, H, W, C = images.shape
    top, left, rows, cols = window
    r0, r1, c0, c1 = max(top, 0), min(top + rows, H), max(left, 0), min(left + cols, W)
    if (r0, r1, c0, c1) == (top, top + rows, left, left + cols):
        part = images[:, r0:r1, c0:c1]
    else:
        part = xp.full((N, rows, cols, C), fill_value, dtype=images.dtype)
        part[:, r0 - top:r1 - top, c0 - left:c1 - left] = images[:, r0:r1, c0:c1]
    matrices = None
    if (rows, cols) != tuple(size):
        matrices = (xp.asarray(interpolation_matrix(rows, size[0], interpolation), dtype=images.dtype),
                    xp.asarray(interpolation_matrix(cols, size[1], interpolation), dtype=images.dtype))
        part = resize(part, *matrices)
    return part, (images.shape, window, matrices)


def crop_and_resize_backward(dy, saved):
    """The gradient of ``crop_and_resize``'s input from that of its output (zero outside the window)."""
    shape, (top, left, rows, cols), matrices = saved
    if matrices is not None:
        dy = resize_backward(dy, *matrices)
    N, H, W, C = shape
    r0, r1, c0, c1 = max(top, 0), min(top + rows, H), max(left, 0), min(left + cols, W)
    dx = backend.get_array_module(dy).zeros(shape, dtype=dy.dtype)
    dx[:, r0:r1, c0:c1] = dy[:, r0 - top:r1 - top, c0 - left:c1 - left]
    return dx


def aspect_crop(H, W, height, width):
    """``(top, left, rows, cols)``: the largest centred window of an ``H x W`` image with the
    aspect ratio of ``height x width`` (Keras' ``crop_to_aspect_ratio`` and ``smart_resize``)."""
    crop_height = max(min(H, int(W * height / width)), 1)
    crop_width = max(min(W, int(H * width / height)), 1)
    return (H - crop_height) // 2, (W - crop_width) // 2, crop_height, crop_width


def aspect_pad(H, W, height, width):
    """``(top, left, rows, cols)``: the window (reaching outside the image) that pads an ``H x W`` image equally
    on both sides to about the aspect ratio of ``height x width`` (Keras' ``pad_to_aspect_ratio``)."""
    top = (max(H, int(W * height / width)) - H) // 2
    left = (max(W, int(H * width / height)) - W) // 2
    return -top, -left, H + 2 * top, W + 2 * left


def _check_choice(argument, value, choices):
    if value not in choices:
        raise ValueError(f"Expected `{argument}` to be one of {', '.join(map(repr, choices))}. "
                         f"Received: {argument}={value!r}")

