"""Convolution by im2col + GEMM, channels-last (NHWC); see DESIGN.md.

``im2col`` turns every receptive field of ``x (N, H, W, C)`` into one row of a ``(N*OH*OW, KH*KW*C)``
matrix (row ``(n*OH + oh)*OW + ow``, column ``(kh*KW + kw)*C + c``); the convolution is then one GEMM with
the kernel reshaped to ``(KH*KW*C, F)``, and its output is already NHWC. ``col2im`` is the adjoint: it
sums every column entry back onto the input pixel it was read from.

The NumPy twin picks the layout by the number of channels. With few channels (an image's first layer) it
builds the matrix taps-first, as a contiguous ``(KH*KW*C, N*OH*OW)`` array, and returns its transpose:
copying whole ``(N, OH, OW)`` planes per tap beats gathering ``(KH, KW, C)`` blocks of a few bytes per row
(2-8x for C = 2..4), and makes the weight-gradient GEMM ``cols.T @ dz`` contiguous. With many channels the
rows-first ``(N*OH*OW, KH*KW*C)`` copy moves contiguous runs of C values and wins instead (4.5x at C = 32).
"""
from .. import _cpu as cpu_kernels
from .. import backend
from ..cuda import conv as cuda_conv
from . import workspace

#: Bytes of im2col workspace a convolution may hold at once; larger batches are processed in chunks.
WORKSPACE_BYTES = 64 * 2**20
#: From this many input channels on, the NumPy im2col builds its matrix rows-first (measured crossover: 8-16).
ROWS_FIRST_CHANNELS = 16


def conv_output_geometry(H, W, KH, KW, SH, SW, DH, DW, padding):
    """``(OH, OW, PH, PW)`` of a convolution or pooling window, as Keras/TensorFlow compute them.

    ``'valid'``: no padding, ``OH = (H - DH*(KH-1) - 1) // SH + 1`` (0 when the window is larger than the
    input). ``'same'``: ``OH = ceil(H / SH)``, the total padding split in two with the extra row at the
    bottom (column at the right); ``PH``/``PW`` are the top/left pads.
    """
    OH, PH = _axis_geometry(H, KH, SH, DH, padding)
    OW, PW = _axis_geometry(W, KW, SW, DW, padding)
    return OH, OW, PH, PW


def _axis_geometry(size, kernel, stride, dilation, padding):
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return max((size - span) // stride + 1, 0), 0
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        return out, total // 2
    raise ValueError(f"padding must be 'valid' or 'same'. Received: padding={padding!r}")


def padded(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, value=0):
    """``x`` with ``PH``/``PW`` rows/columns of ``value`` before and as many after as the last window needs.

    Returns ``x`` itself when no padding is needed.
    """
    N, H, W, C = x.shape
    bottom = max((OH - 1) * SH + DH * (KH - 1) + 1 - H - PH, 0)
    right = max((OW - 1) * SW + DW * (KW - 1) + 1 - W - PW, 0)
    if PH == PW == bottom == right == 0:
        return x
    xp = backend.get_array_module(x)
    out = xp.full((N, PH + H + bottom, PW + W + right, C), value, dtype=x.dtype)
    out[:, PH:PH + H, PW:PW + W, :] = x
    return out


def window_tap(padded_x, kh, kw, SH, SW, DH, DW, OH, OW):
    """The ``(N, OH, OW, C)`` strided view of the pixels that tap ``(kh, kw)`` of every window reads."""
    top, left = kh * DH, kw * DW
    return padded_x[:, top:top + (OH - 1) * SH + 1:SH, left:left + (OW - 1) * SW + 1:SW, :]


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The ``(N*OH*OW, KH*KW*C)`` patch matrix of ``x (N, H, W, C)`` (zeros where a tap is in the padding).

    The result may be a non-contiguous view (the transpose of a taps-first array, for few channels).
    """
    if backend.is_device_array(x):
        return im2col_gpu(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if cpu_kernels.handles(x) and x.shape[3] >= ROWS_FIRST_CHANNELS:  # few channels: NumPy's taps-first wins
        return im2col_compiled(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return im2col_reference(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def im2col_reference(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The NumPy version (the reference of both twins): one strided copy per tap."""
    xp = backend.get_array_module(x)
    N, H, W, C = x.shape
    source = padded(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if C >= ROWS_FIRST_CHANNELS:
        cols = workspace.empty("im2col", (N, OH, OW, KH, KW, C), x.dtype, xp)
        for kh in range(KH):
            for kw in range(KW):
                cols[:, :, :, kh, kw, :] = window_tap(source, kh, kw, SH, SW, DH, DW, OH, OW)
        return cols.reshape(N * OH * OW, KH * KW * C)
    cols = workspace.empty("im2col", (KH, KW, C, N, OH, OW), x.dtype, xp)
    for kh in range(KH):
        for kw in range(KW):
            cols[kh, kw] = window_tap(source, kh, kw, SH, SW, DH, DW, OH, OW).transpose(3, 0, 1, 2)
    return cols.reshape(KH * KW * C, N * OH * OW).T


def im2col_compiled(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The compiled CPU twin (float32): one pass writing the patch matrix rows-first, into a recycled buffer."""
    N, C = x.shape[0], x.shape[3]
    out = workspace.empty("im2col", (N * OH * OW, KH * KW * C), x.dtype)
    return cpu_kernels.im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=out)


def im2col_gpu(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The GPU twin: one kernel writing the patch matrix row-major (contiguous)."""
    return cuda_conv.im2col(backend.get_array_module(x).ascontiguousarray(x), KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def col2im(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The adjoint of ``im2col``: ``dx (N, H, W, C)`` with every entry of ``cols`` added to its source pixel."""
    if backend.is_device_array(cols):
        return col2im_gpu(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if cpu_kernels.handles(cols):
        return col2im_compiled(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return col2im_reference(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def col2im_reference(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The NumPy version (the reference of both twins): one strided add per tap into a zeroed, padded image."""
    xp = backend.get_array_module(cols)
    N, H, W, C = x_shape
    taps = _tap_blocks(cols, N, OH, OW, KH, KW, C)
    bottom = max((OH - 1) * SH + DH * (KH - 1) + 1 - H - PH, 0)
    right = max((OW - 1) * SW + DW * (KW - 1) + 1 - W - PW, 0)
    dx = workspace.zeros("col2im", (N, PH + H + bottom, PW + W + right, C), cols.dtype, xp)
    for kh in range(KH):
        for kw in range(KW):
            window_tap(dx, kh, kw, SH, SW, DH, DW, OH, OW)[...] += taps[kh, kw]
    if PH == PW == bottom == right == 0:
        return dx
    return xp.ascontiguousarray(dx[:, PH:PH + H, PW:PW + W, :])


def col2im_compiled(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The compiled CPU twin (float32): one pass over the patch matrix, each row added into its image."""
    out = workspace.empty("col2im", x_shape, cols.dtype)
    return cpu_kernels.col2im(cols, tuple(x_shape), KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=out)


def col2im_gpu(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The GPU twin: one thread per input pixel gathers its entries (no atomics)."""
    cols = backend.get_array_module(cols).ascontiguousarray(cols)
    return cuda_conv.col2im(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)


def _tap_blocks(cols, N, OH, OW, KH, KW, C):
    """``cols`` as a ``(KH, KW, N, OH, OW, C)`` view, whichever of the two layouts it is stored in."""
    if cols.T.flags.c_contiguous:  # taps-first storage, as im2col makes it
        return cols.T.reshape(KH, KW, C, N, OH, OW).transpose(0, 1, 3, 4, 5, 2)
    return cols.reshape(N, OH, OW, KH, KW, C).transpose(3, 4, 0, 1, 2, 5)


def batch_chunks(N, bytes_per_sample, budget=None):
    """``[(start, stop), ...]`` covering ``range(N)`` with at most ``budget`` bytes of workspace each."""
    budget = WORKSPACE_BYTES if budget is None else budget
    step = max(1, min(N, budget // max(bytes_per_sample, 1)))
    return [(start, min(start + step, N)) for start in range(0, N, step)]
