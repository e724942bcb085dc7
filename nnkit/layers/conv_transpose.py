"""Conv2DTranspose: the adjoint of a convolution, channels-last.

The forward pass is the backward (input-gradient) pass of a Conv2D: one GEMM of the input with the kernel gives
the patch columns of the output, and ``col2im`` sums them onto the output pixels. Its backward is a Conv2D
forward: ``im2col`` of ``dy`` and two GEMMs.
"""
from .. import backend, primitives
from ..primitives import conv as conv_ops, workspace
from .affine import AffineLayer
from .base import positive_int
from .conv import padding_mode, pair


def transposed_length(size, kernel, stride, dilation, padding, output_padding=None):
    """``(out, pad)`` along one axis: Keras' output length of a transposed convolution of ``size`` pixels, and
    the padding before the first pixel of the convolution (``out`` pixels back to ``size``) it is the adjoint of.

    Keras (as JAX and TensorFlow) spreads the input ``stride`` apart, pads it with ``left`` and ``right`` zeros
    and convolves with the (flipped, dilated) kernel of span ``span = dilation*(kernel - 1) + 1``:

    - ``'valid'``: ``left = span - 1``, ``right = span - 1 + output_padding`` (by default
      ``max(span, stride) - span``), so ``out = (size - 1)*stride + span + output_padding``;
    - ``'same'``: a total padding of ``stride + span - 2`` (``out = size*stride``) or, with ``output_padding``,
      ``span + span % 2 - 2 + output_padding`` (``out = (size - 1)*stride + span % 2 + output_padding``),
      ``left`` being its larger half but at most ``span - 1``.

    Then ``out = (size - 1)*stride + left + right - span + 2`` and ``pad = span - 1 - left``.
    """
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        left, right = span - 1, span - 1 + extra
    else:
        total = stride + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, span - 1)
        right = total - left
    return (size - 1) * stride + left + right - span + 2, span - 1 - left


def _output_padding(value, strides):
    """Keras' ``output_padding``: None, or a pair of non-negative integers each smaller than its stride."""
    values = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise ValueError(f"Conv2DTranspose: expected a non-negative integer or a pair of them for "
                         f"`output_padding`. Received: output_padding={value!r}")
    if any(p >= s for p, s in zip(values, strides)):
        raise ValueError(f"Conv2DTranspose: expected `output_padding` smaller than `strides` in each dimension. "
                         f"Received: output_padding={values}, strides={strides}")
    return values


class Conv2DTranspose(AffineLayer):
    """Transposed 2-D convolution over NHWC images (sometimes called deconvolution): the adjoint of a Conv2D
    with the same kernel, then ``activation(... + bias)``; it maps a convolution's output shape back to its
    input shape (``strides=2`` doubles the height and width).

    Args:
        filters: number of output channels F.
        kernel_size: an integer or a pair ``(KH, KW)``.
        strides: an integer or a pair ``(SH, SW)`` (default 1).
        padding: ``'valid'`` or ``'same'``; with ``'same'`` and no ``output_padding`` the output is the input
            size times the strides.
        output_padding: None, an integer or a pair: extra rows/columns at the bottom/right of the output,
            each smaller than its stride; the output size is then Keras' (see ``transposed_length``).
        dilation_rate: an integer or a pair ``(DH, DW)``; more than 1 only with strides of 1 (as in Keras).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer:
            as in Keras.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, OH, OW, filters)``, with
    ``OH = (H - 1)*SH + KH + output_padding`` for ``'valid'`` (dilation 1, ``KH >= SH``) and
    ``OH = H*SH`` for ``'same'``. The kernel has Keras' layout ``(KH, KW, filters, C)``.

    Example:
        >>> layer = Conv2DTranspose(8, 3, strides=2, padding="same")
        >>> layer(numpy.ones((2, 4, 4, 16))).shape
        (2, 8, 8, 8)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 dilation_rate=(1, 1), activation=None, **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.filters = positive_int("Conv2DTranspose", "filters", filters)
        self.kernel_size = pair("Conv2DTranspose", "kernel_size", kernel_size)
        self.strides = pair("Conv2DTranspose", "strides", strides)
        self.padding = padding_mode("Conv2DTranspose", padding)
        self.dilation_rate = pair("Conv2DTranspose", "dilation_rate", dilation_rate)
        self.output_padding = None if output_padding is None else _output_padding(output_padding, self.strides)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Conv2DTranspose: `strides` > 1 is not supported together with `dilation_rate` > 1 "
                             f"(as in Keras). Received: strides={self.strides}, dilation_rate={self.dilation_rate}")
        #: im2col bytes held at once; a batch needing more is processed in chunks.
        self.workspace_bytes = conv_ops.WORKSPACE_BYTES

    def build(self, input_shape):
        self._check_rank(input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}' (Conv2DTranspose) needs the channel axis of its input to be "
                             f"known. Received input shape {input_shape}.")
        self.add_weight(name="kernel", shape=self.kernel_size + (self.filters, channels),
                        initializer=self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, H, W, _ = input_shape
        OH = None if H is None else self._length(0, H)[0]
        OW = None if W is None else self._length(1, W)[0]
        return (N, OH, OW, self.filters)

    def _check_rank(self, shape):
        if len(shape) != 4:
            raise ValueError(f"Layer '{self.name}' (Conv2DTranspose) expects 4-D input (batch, height, width, "
                             f"channels), but received input of shape {tuple(shape)}.")

    def _length(self, axis, size):
        output_padding = None if self.output_padding is None else self.output_padding[axis]
        return transposed_length(size, self.kernel_size[axis], self.strides[axis], self.dilation_rate[axis],
                                 self.padding, output_padding)

    def _geometry(self, H, W):
        """``(OH, OW, args)``: the output size, and the argument tail of im2col/col2im for the convolution from
        the output (OH, OW) back to the input (H, W) that this layer is the adjoint of."""
        (OH, PH), (OW, PW) = self._length(0, H), self._length(1, W)
        return OH, OW, self.kernel_size + self.strides + (PH, PW) + self.dilation_rate + (H, W)

    def _chunks(self, x_shape, itemsize):
        KH, KW = self.kernel_size
        return primitives.batch_chunks(x_shape[0], x_shape[1] * x_shape[2] * KH * KW * self.filters * itemsize,
                                self.workspace_bytes)

    def forward(self, x, training=False):
        self._check_rank(x.shape)
        C = self.kernel.shape[3]
        if x.shape[-1] != C:
            raise ValueError(f"Layer '{self.name}' (Conv2DTranspose) expects inputs with {C} channels (kernel shape "
                             f"{tuple(self.kernel.shape)}), but received input of shape {tuple(x.shape)}.")
        xp = backend.get_array_module(x)
        N, H, W, _ = x.shape
        OH, OW, args = self._geometry(H, W)
        kernel = self.kernel.reshape(-1, C)  # (KH*KW*F, C)
        self._y = self._z = None  # release last step's buffers so that they can be recycled
        chunks = self._chunks(x.shape, x.dtype.itemsize)
        z = None if len(chunks) == 1 else workspace.empty(f"{self.name}.z", (N, OH, OW, self.filters), x.dtype, xp)
        for start, stop in chunks:
            cols = x[start:stop].reshape(-1, C) @ kernel.T
            out = primitives.col2im(cols, (stop - start, OH, OW, self.filters), *args)
            if z is None:
                z = out
            else:
                z[start:stop] = out
            cols = out = None
        self._x, self._args = x, args
        activation = self.output_activation()
        self._y = primitives.bias_activation(z.reshape(-1, self.filters), self.bias_or_none, activation)
        self._z = z.reshape(-1, self.filters) if activation.needs_input else None
        return self._y.reshape(N, OH, OW, self.filters)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        x, args = self._x, self._args
        C = x.shape[3]
        # ==== dz (activation and bias) ====
        dz = primitives.bias_activation_backward(dy.reshape(-1, self.filters), self._z, self._y, self.output_activation(),
                                          self.bias_grad_or_none)
        dz = dz.reshape(dy.shape)
        kernel = self.kernel.reshape(-1, C)
        kernel_grad = self.grads["kernel"].reshape(-1, C) if "kernel" in self.grads else None
        chunks = self._chunks(x.shape, x.dtype.itemsize)
        dx = xp.empty(x.shape, dtype=dz.dtype) if self.needs_input_gradient else None
        for index, (start, stop) in enumerate(chunks):
            cols = primitives.im2col(dz[start:stop], *args)  # (n*H*W, KH*KW*F)
            rows = x[start:stop].reshape(-1, C)
            # ==== dW ====
            if kernel_grad is not None:
                if index == 0:
                    xp.matmul(cols.T, rows, out=kernel_grad)
                else:
                    kernel_grad += cols.T @ rows
            # ==== dx ====
            if dx is not None:
                xp.matmul(cols, kernel, out=dx[start:stop].reshape(-1, C))
            cols = None
        return dx

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "dilation_rate": list(self.dilation_rate)}
