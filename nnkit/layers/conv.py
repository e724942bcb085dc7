"""Conv2D: 2-D convolution by im2col + GEMM, channels-last (Conv1D reuses it on ``(N, 1, T, C)``)."""
from .. import backend, primitives
from ..primitives import conv as conv_ops, workspace
from .affine import AffineLayer
from .base import positive_int


def int_tuple(layer_name, argument, value, rank):
    """Keras accepts ``3`` or ``(3,) * rank`` for sizes, strides and dilation: always give a ``rank``-tuple back."""
    values = (value,) * rank if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values) != rank:
        expected = "a pair of integers" if rank == 2 else f"a tuple of {rank} integer{'s' * (rank > 1)}"
        raise ValueError(f"{layer_name}: expected an integer or {expected} for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return tuple(positive_int(layer_name, argument, v) for v in values)


def pair(layer_name, argument, value):
    """Keras accepts ``3`` or ``(3, 3)`` for sizes, strides and dilation: always give a pair back."""
    return int_tuple(layer_name, argument, value, 2)


def padding_mode(layer_name, value, modes=("valid", "same")):
    """One of ``modes`` (case-insensitive), else a ValueError naming the layer."""
    mode = str(value).lower()
    if mode not in modes:
        expected = ", ".join(repr(m) for m in modes[:-1]) + f" or {modes[-1]!r}"
        raise ValueError(f"{layer_name}: expected padding {expected}. Received: padding={value!r}")
    return mode


def window_geometry(layer, H, W, window):
    """``(OH, OW, PH, PW)`` of ``layer``'s convolution window ``((KH, KW), (SH, SW), (DH, DW))`` over an
    ``H x W`` input with its padding, or a ValueError naming the layer when the window does not fit."""
    (KH, KW), (SH, SW), (DH, DW) = window
    OH, OW, PH, PW = primitives.conv_output_geometry(H, W, KH, KW, SH, SW, DH, DW, layer.padding)
    if OH == 0 or OW == 0:
        span = (DH * (KH - 1) + 1, DW * (KW - 1) + 1)
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): the kernel {span} (with dilation) is "
                         f"larger than the input's {H}x{W} pixels with padding='valid'. Use padding='same' or a "
                         f"smaller kernel.")
    return OH, OW, PH, PW


class Conv2D(AffineLayer):
    """2-D convolution over NHWC images: ``activation(conv(x, kernel) + bias)``.

    Args:
        filters: number of output channels F.
        kernel_size: an integer or a pair ``(KH, KW)``.
        strides: an integer or a pair ``(SH, SW)`` (default 1).
        padding: ``'valid'`` (no padding) or ``'same'`` (output size ``ceil(input / stride)``, the extra
            padding row/column at the bottom/right, as TensorFlow does).
        dilation_rate: an integer or a pair ``(DH, DW)``: the spacing between kernel taps.
        groups: split the input channels into this many groups, each convolved with its own
            ``filters // groups`` filters (the outputs are concatenated along the channels); the input channels
            and ``filters`` must both be divisible by it (default 1). The GEMM runs with a block-diagonal kernel.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer:
            as in Keras.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, OH, OW, filters)``.
    The kernel has Keras' layout ``(KH, KW, C // groups, filters)``, so Keras weights load unchanged.

    Example:
        >>> layer = Conv2D(32, (3, 3), activation="relu")
        >>> layer(numpy.ones((2, 28, 28, 1))).shape
        (2, 26, 26, 32)
    """
    #: The number of spatial axes; Conv1D (rank 1) runs as a 2-D convolution over ``(N, 1, T, C)``.
    rank = 2
    _axes = "(batch, height, width, channels)"
    _paddings = ("valid", "same")

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1), groups=1,
                 activation=None, **kwargs):
        super().__init__(activation=activation, **kwargs)
        kind = type(self).__name__
        self.filters = positive_int(kind, "filters", filters)
        self.kernel_size = int_tuple(kind, "kernel_size", kernel_size, self.rank)
        self.strides = int_tuple(kind, "strides", strides, self.rank)
        self.padding = padding_mode(kind, padding, self._paddings)
        self.dilation_rate = int_tuple(kind, "dilation_rate", dilation_rate, self.rank)
        self.groups = positive_int(kind, "groups", groups)
        if self.filters % self.groups:
            raise ValueError(f"{kind}: the number of filters must be divisible by the number of groups. "
                             f"Received: groups={self.groups}, filters={self.filters}")
        #: im2col bytes held at once; a batch needing more is convolved in chunks.
        self.workspace_bytes = conv_ops.WORKSPACE_BYTES

    def build(self, input_shape):
        self._check_rank(input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) needs the channel axis of its input to be "
                             f"known. Received input shape {input_shape}.")
        if channels % self.groups:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): the number of input channels must be "
                             f"divisible by the number of groups. Received groups={self.groups}, but the input has "
                             f"{channels} channels (input shape {input_shape}).")
        self.compute_output_shape(input_shape)  # raises when the kernel does not fit a 'valid' input
        self.add_kernel_and_bias(self.kernel_size + (channels // self.groups, self.filters))

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, H, W, _ = input_shape
        if H is None or W is None:
            return (N, None, None, self.filters)
        OH, OW, _, _ = self._geometry(H, W)
        return (N, OH, OW, self.filters)

    def _check_rank(self, shape):
        if len(shape) != self.rank + 2:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects {self.rank + 2}-D input "
                             f"{self._axes}, but received input of shape {tuple(shape)}.")

    def _check_input(self, x):
        self._check_rank(x.shape)
        channels = self.kernel.shape[-2] * self.groups
        if x.shape[-1] != channels:
            groups = f" and {self.groups} groups" if self.groups > 1 else ""
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects inputs with {channels} channels "
                             f"(kernel shape {tuple(self.kernel.shape)}{groups}), but received input of shape "
                             f"{tuple(x.shape)}.")

    def _window(self):
        """``(KH, KW), (SH, SW), (DH, DW)`` of the 2-D convolution that computes the layer."""
        return self.kernel_size, self.strides, self.dilation_rate

    def _geometry(self, H, W):
        return window_geometry(self, H, W, self._window())

    def _conv_args(self, H, W):
        """``(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)``, the argument tail of im2col and col2im."""
        OH, OW, PH, PW = self._geometry(H, W)
        (KH, KW), (SH, SW), (DH, DW) = self._window()
        return (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)

    def _chunks(self, x_shape, itemsize, OH, OW):
        (KH, KW), _, _ = self._window()
        return primitives.batch_chunks(x_shape[0], KH * KW * x_shape[3] * OH * OW * itemsize, self.workspace_bytes)

    def _group_slices(self):
        """``[(input channels, filters)]``: the slices of each group."""
        C, F = self.kernel.shape[-2], self.filters // self.groups
        return [(slice(g * C, (g + 1) * C), slice(g * F, (g + 1) * F)) for g in range(self.groups)]

    def _gemm_kernel(self):
        """The ``(KH*KW*C, F)`` matrix of the GEMM: the kernel itself or, with groups, the block-diagonal kernel
        (the input channels of group g feed its filters only; zeros elsewhere)."""
        if self.groups == 1:
            return self.kernel.reshape(-1, self.filters)
        xp = backend.get_array_module(self.kernel)
        dense = xp.zeros(self.kernel.shape[:-2] + (self.kernel.shape[-2] * self.groups, self.filters),
                         dtype=self.kernel.dtype)
        for channels, filters in self._group_slices():
            dense[..., channels, filters] = self.kernel[..., filters]
        return dense.reshape(-1, self.filters)

    def forward(self, x, training=False):
        self._check_input(x)
        return self._convolve(x, training)

    def _convolve(self, x, training):
        """The forward pass on NHWC ``x`` (checked), keeping what ``backward`` needs."""
        xp = backend.get_array_module(x)
        N, H, W, _ = x.shape
        args = self._conv_args(H, W)
        OH, OW = args[-2:]
        kernel = self._gemm_kernel()
        self._cols = self._y = self._z = None  # release last step's buffers so that they can be recycled
        z = workspace.empty(f"{self.name}.z", (N * OH * OW, self.filters), kernel.dtype, xp)
        chunks = self._chunks(x.shape, x.dtype.itemsize, OH, OW)
        for start, stop in chunks:
            cols = primitives.im2col(x[start:stop], *args)
            xp.matmul(cols, kernel, out=z[start * OH * OW:stop * OH * OW])
            # Keep the patch matrix for the weight gradient when it is the whole batch; else recompute it.
            self._cols = cols if training and len(chunks) == 1 else None
            cols = None
        self._x, self._args = x, args
        activation = self.output_activation()
        self._y = primitives.bias_activation(z, self.bias_or_none, activation)
        self._z = z if activation.needs_input else None
        return self._y.reshape(N, OH, OW, self.filters)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        x, args = self._x, self._args
        OH, OW = args[-2:]
        # ==== dz (activation and bias) ====
        dz = primitives.bias_activation_backward(dy.reshape(-1, self.filters), self._z, self._y, self.output_activation(),
                                          self.bias_grad_or_none)
        kernel = self._gemm_kernel()
        kernel_grad = None
        if "kernel" in self.grads:
            kernel_grad = self.grads["kernel"].reshape(-1, self.filters) if self.groups == 1 else xp.empty_like(kernel)
        chunks = self._chunks(x.shape, x.dtype.itemsize, OH, OW)
        dx = None
        if self.needs_input_gradient and len(chunks) > 1:
            dx = xp.empty(x.shape, dtype=dz.dtype)
        for index, (start, stop) in enumerate(chunks):
            rows = slice(start * OH * OW, stop * OH * OW)
            # ==== dW ====
            if kernel_grad is not None:
                cols = self._cols if self._cols is not None else primitives.im2col(x[start:stop], *args)
                self._cols = None
                if index == 0:
                    xp.matmul(cols.T, dz[rows], out=kernel_grad)
                else:
                    kernel_grad += cols.T @ dz[rows]
                cols = None
            # ==== dx ====
            if self.needs_input_gradient:
                # A recycled buffer: a fresh multi-megabyte product page-faults on every step (workspace.py)
                d_cols = workspace.empty(f"{self.name}.d_cols", (rows.stop - rows.start, kernel.shape[0]), dz.dtype, xp)
                xp.matmul(dz[rows], kernel.T, out=d_cols)
                dx_chunk = primitives.col2im(d_cols, (stop - start,) + x.shape[1:], *args)
                d_cols = None
                if len(chunks) == 1:
                    dx = dx_chunk
                else:
                    dx[start:stop] = dx_chunk
        if self.groups > 1 and kernel_grad is not None:  # each group's kernel gets its diagonal block
            blocks = kernel_grad.reshape(self.kernel.shape[:-2] + (-1, self.filters))
            for channels, filters in self._group_slices():
                self.grads["kernel"][..., filters] = blocks[..., channels, filters]
        return dx

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups}
