"""Conv2D: 2-D convolution by im2col + GEMM, channels-last."""
from .. import backend, ops
from ..ops import conv as conv_ops, workspace
from .affine import AffineLayer
from .base import positive_int


def pair(layer_name, argument, value):
    """Keras accepts ``3`` or ``(3, 3)`` for sizes, strides and dilation: always give a pair back."""
    values = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values) != 2:
        raise ValueError(f"{layer_name}: expected an integer or a pair of integers for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return tuple(positive_int(layer_name, argument, v) for v in values)


def padding_mode(layer_name, value):
    """``'valid'`` or ``'same'`` (case-insensitive), else a ValueError naming the layer."""
    mode = str(value).lower()
    if mode not in ("valid", "same"):
        raise ValueError(f"{layer_name}: expected padding 'valid' or 'same'. Received: padding={value!r}")
    return mode


class Conv2D(AffineLayer):
    """2-D convolution over NHWC images: ``activation(conv(x, kernel) + bias)``.

    Args:
        filters: number of output channels F.
        kernel_size: an integer or a pair ``(KH, KW)``.
        strides: an integer or a pair ``(SH, SW)`` (default 1).
        padding: ``'valid'`` (no padding) or ``'same'`` (output size ``ceil(input / stride)``, the extra
            padding row/column at the bottom/right, as TensorFlow does).
        dilation_rate: an integer or a pair ``(DH, DW)``: the spacing between kernel taps.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer:
            as in Keras.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, OH, OW, filters)``.
    The kernel has Keras' layout ``(KH, KW, C, filters)``, so Keras weights load unchanged.

    Example:
        >>> layer = Conv2D(32, (3, 3), activation="relu")
        >>> layer(numpy.ones((2, 28, 28, 1))).shape
        (2, 26, 26, 32)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                 activation=None, **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.filters = positive_int("Conv2D", "filters", filters)
        self.kernel_size = pair("Conv2D", "kernel_size", kernel_size)
        self.strides = pair("Conv2D", "strides", strides)
        self.padding = padding_mode("Conv2D", padding)
        self.dilation_rate = pair("Conv2D", "dilation_rate", dilation_rate)
        #: im2col bytes held at once; a batch needing more is convolved in chunks.
        self.workspace_bytes = conv_ops.WORKSPACE_BYTES

    def build(self, input_shape):
        self._check_rank(input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}' (Conv2D) needs the channel axis of its input to be known. "
                             f"Received input shape {input_shape}.")
        self.compute_output_shape(input_shape)  # raises when the kernel does not fit a 'valid' input
        self.add_kernel_and_bias(self.kernel_size + (channels, self.filters))

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, H, W, _ = input_shape
        if H is None or W is None:
            return (N, None, None, self.filters)
        OH, OW, _, _ = self._geometry(H, W)
        return (N, OH, OW, self.filters)

    def _check_rank(self, shape):
        if len(shape) != 4:
            raise ValueError(f"Layer '{self.name}' (Conv2D) expects 4-D input (batch, height, width, channels), "
                             f"but received input of shape {tuple(shape)}.")

    def _geometry(self, H, W):
        (KH, KW), (SH, SW), (DH, DW) = self.kernel_size, self.strides, self.dilation_rate
        OH, OW, PH, PW = ops.conv_output_geometry(H, W, KH, KW, SH, SW, DH, DW, self.padding)
        if OH == 0 or OW == 0:
            span = (DH * (KH - 1) + 1, DW * (KW - 1) + 1)
            raise ValueError(f"Layer '{self.name}' (Conv2D): the kernel {span} (with dilation) is larger than "
                             f"the input's {H}x{W} pixels with padding='valid'. Use padding='same' or a "
                             f"smaller kernel.")
        return OH, OW, PH, PW

    def _conv_args(self, H, W):
        """``(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)``, the argument tail of im2col and col2im."""
        OH, OW, PH, PW = self._geometry(H, W)
        return self.kernel_size + self.strides + (PH, PW) + self.dilation_rate + (OH, OW)

    def _chunks(self, x_shape, itemsize, OH, OW):
        KH, KW = self.kernel_size
        return ops.batch_chunks(x_shape[0], KH * KW * x_shape[3] * OH * OW * itemsize, self.workspace_bytes)

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        if x.shape[-1] != self.kernel.shape[2]:
            raise ValueError(f"Layer '{self.name}' (Conv2D) expects inputs with {self.kernel.shape[2]} channels "
                             f"(kernel shape {tuple(self.kernel.shape)}), but received input of shape "
                             f"{tuple(x.shape)}.")
        xp = backend.get_array_module(x)
        N, H, W, _ = x.shape
        args = self._conv_args(H, W)
        OH, OW = args[-2:]
        kernel = self.kernel.reshape(-1, self.filters)
        self._cols = self._y = self._z = None  # release last step's buffers so that they can be recycled
        z = workspace.empty(f"{self.name}.z", (N * OH * OW, self.filters), kernel.dtype, xp)
        chunks = self._chunks(x.shape, x.dtype.itemsize, OH, OW)
        for start, stop in chunks:
            cols = ops.im2col(x[start:stop], *args)
            xp.matmul(cols, kernel, out=z[start * OH * OW:stop * OH * OW])
            # Keep the patch matrix for the weight gradient when it is the whole batch; else recompute it.
            self._cols = cols if training and len(chunks) == 1 else None
            cols = None
        self._x, self._args = x, args
        activation = self.output_activation()
        self._y = ops.bias_activation(z, self.bias_or_none, activation)
        self._z = z if activation.needs_input else None
        return self._y.reshape(N, OH, OW, self.filters)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        x, args = self._x, self._args
        OH, OW = args[-2:]
        # ==== dz (activation and bias) ====
        dz = ops.bias_activation_backward(dy.reshape(-1, self.filters), self._z, self._y, self.output_activation(),
                                          self.bias_grad_or_none)
        kernel = self.kernel.reshape(-1, self.filters)
        kernel_grad = self.grads["kernel"].reshape(-1, self.filters) if "kernel" in self.grads else None
        chunks = self._chunks(x.shape, x.dtype.itemsize, OH, OW)
        dx = None
        if self.needs_input_gradient and len(chunks) > 1:
            dx = xp.empty(x.shape, dtype=dz.dtype)
        for index, (start, stop) in enumerate(chunks):
            rows = slice(start * OH * OW, stop * OH * OW)
            # ==== dW ====
            if kernel_grad is not None:
                cols = self._cols if self._cols is not None else ops.im2col(x[start:stop], *args)
                self._cols = None
                if index == 0:
                    xp.matmul(cols.T, dz[rows], out=kernel_grad)
                else:
                    kernel_grad += cols.T @ dz[rows]
                cols = None
            # ==== dx ====
            if self.needs_input_gradient:
                dx_chunk = ops.col2im(dz[rows] @ kernel.T, (stop - start,) + x.shape[1:], *args)
                if len(chunks) == 1:
                    dx = dx_chunk
                else:
                    dx[start:stop] = dx_chunk
        return dx

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate)}
