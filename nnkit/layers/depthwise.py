"""DepthwiseConv2D and SeparableConv2D: per-channel convolutions by im2col, channels-last.

The patch matrix of ``x`` (``im2col``, columns ``(kh*KW + kw)*C + c``) is read as ``(R, T, C)`` with
``T = KH*KW`` taps and ``R = N*OH*OW`` rows; the depthwise kernel ``(KH, KW, C, M)`` as ``(T, C, M)``. Output
channel ``c*M + m`` (Keras' order) is ``sum_t cols[r, t, c] * kernel[t, c, m]``, a product per channel over the
taps (an einsum); the backward runs its two adjoints and ``col2im``.
"""
from .. import backend, initializers, primitives, regularizers
from ..primitives import conv as conv_ops, workspace
from .affine import AffineLayer
from .base import positive_int
from .conv import padding_mode, pair, window_geometry


def depthwise_product(cols, kernel, out):
    """Write ``out[r, c*M + m] = sum_t cols[r, t*C + c] * kernel[t, c, m]`` (``out`` of shape ``(R, C*M)``)."""
    T, C, M = kernel.shape
    xp = backend.get_array_module(cols)
    cols, out = cols.reshape(-1, T, C), out.reshape(-1, C, M)
    for m in range(M):  # one product per multiplier: einsum runs faster on these than on all M at once
        out[:, :, m] = xp.einsum("rtc,tc->rc", cols, kernel[:, :, m])


def depthwise_product_backward(dz, cols, kernel, kernel_grad, accumulate=False):
    """The adjoints of ``depthwise_product``: write (or with ``accumulate`` add) the kernel gradient
    ``(T, C, M)`` into ``kernel_grad`` (unless it is None) and return ``dcols (R, T*C)``."""
    T, C, M = kernel.shape
    xp = backend.get_array_module(dz)
    dz = dz.reshape(-1, C, M)
    # ==== dW ====
    if kernel_grad is not None:
        for m in range(M):
            grad = xp.einsum("rtc,rc->tc", cols.reshape(-1, T, C), dz[:, :, m])
            if accumulate:
                kernel_grad[:, :, m] += grad
            else:
                kernel_grad[:, :, m] = grad
    # ==== dcols ====
    return xp.einsum("rcm,tcm->rtc", dz, kernel).reshape(-1, T * C)


class _DepthwiseBase(AffineLayer):
    """What DepthwiseConv2D and SeparableConv2D share: arguments, geometry, and the depthwise stage
    ``u = depthwise_conv(x)`` (``forward_depthwise``) with its backward (``backward_depthwise``)."""
    #: The name of the depthwise kernel weight (Keras 3 calls DepthwiseConv2D's ``kernel``).
    depthwise_name = "depthwise_kernel"

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, dilation_rate=(1, 1),
                 activation=None, depthwise_initializer="glorot_uniform", depthwise_regularizer=None, **kwargs):
        super().__init__(activation=activation, kernel_initializer=depthwise_initializer,
                         kernel_regularizer=depthwise_regularizer, **kwargs)
        kind = type(self).__name__
        self.kernel_size = pair(kind, "kernel_size", kernel_size)
        self.strides = pair(kind, "strides", strides)
        self.padding = padding_mode(kind, padding)
        self.depth_multiplier = positive_int(kind, "depth_multiplier", depth_multiplier)
        self.dilation_rate = pair(kind, "dilation_rate", dilation_rate)
        #: im2col bytes held at once; a batch needing more is processed in chunks.
        self.workspace_bytes = conv_ops.WORKSPACE_BYTES

    @property
    def depthwise_initializer(self):
        """The initializer of the depthwise kernel."""
        return self.kernel_initializer

    @property
    def depthwise_regularizer(self):
        """The regularizer of the depthwise kernel (or None)."""
        return self.kernel_regularizer

    def build_depthwise(self, input_shape):
        """Check ``input_shape`` and create the depthwise kernel ``(KH, KW, C, depth_multiplier)``; return C."""
        channels = input_shape[-1] if len(input_shape) == 4 else None
        self.compute_output_shape(input_shape)  # raises on a wrong rank or a kernel larger than a 'valid' input
        if channels is None:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) needs the channel axis of its input to be "
                             f"known. Received input shape {input_shape}.")
        self.add_weight(name=self.depthwise_name, shape=self.kernel_size + (channels, self.depth_multiplier),
                        initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        return channels

    def output_size(self, input_shape):
        """``(N, OH, OW)`` for ``input_shape`` (None where unknown), after checking its rank."""
        if len(input_shape) != 4:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects 4-D input (batch, height, width, "
                             f"channels), but received input of shape {tuple(input_shape)}.")
        N, H, W, _ = input_shape
        if H is None or W is None:
            return N, None, None
        return (N,) + self._conv_args(H, W)[-2:]

    def _conv_args(self, H, W):
        """``(KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)``, the argument tail of im2col and col2im."""
        window = (KH, KW), (SH, SW), (DH, DW) = self.kernel_size, self.strides, self.dilation_rate
        OH, OW, PH, PW = window_geometry(self, H, W, window)
        return (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)

    def _chunks(self, x_shape, itemsize, OH, OW):
        KH, KW = self.kernel_size
        return primitives.batch_chunks(x_shape[0], KH * KW * x_shape[3] * OH * OW * itemsize, self.workspace_bytes)

    def forward_depthwise(self, x, training):
        """``u (N*OH*OW, C*M)``, the depthwise convolution of ``x``; keeps what ``backward_depthwise`` needs."""
        kernel = getattr(self, self.depthwise_name)
        self.output_size(x.shape)
        if x.shape[-1] != kernel.shape[2]:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects inputs with {kernel.shape[2]} "
                             f"channels (depthwise kernel shape {tuple(kernel.shape)}), but received input of "
                             f"shape {tuple(x.shape)}.")
        xp = backend.get_array_module(x)
        N, H, W, C = x.shape
        args = self._conv_args(H, W)
        OH, OW = args[-2:]
        u = workspace.empty(f"{self.name}.u", (N * OH * OW, C * self.depth_multiplier), kernel.dtype, xp)
        chunks = self._chunks(x.shape, x.dtype.itemsize, OH, OW)
        taps = kernel.reshape(-1, C, self.depth_multiplier)
        for start, stop in chunks:
            cols = primitives.im2col(x[start:stop], *args)
            depthwise_product(cols, taps, u[start * OH * OW:stop * OH * OW])
            # Keep the patch matrix for the weight gradient when it is the whole batch; else recompute it.
            self._cols = cols if training and len(chunks) == 1 else None
            cols = None
        self._x, self._args = x, args
        return u

    def backward_depthwise(self, du):
        """From ``du (N*OH*OW, C*M)``: write the depthwise kernel's gradient and return ``dx``."""
        xp = backend.get_array_module(du)
        x, args = self._x, self._args
        OH, OW = args[-2:]
        C = x.shape[3]
        taps = getattr(self, self.depthwise_name).reshape(-1, C, self.depth_multiplier)
        grad = self.grads.get(self.depthwise_name)
        grad = None if grad is None else grad.reshape(taps.shape)
        chunks = self._chunks(x.shape, x.dtype.itemsize, OH, OW)
        dx = xp.empty(x.shape, dtype=du.dtype) if self.needs_input_gradient else None
        for index, (start, stop) in enumerate(chunks):
            if grad is None and dx is None:
                break
            cols = self._cols if self._cols is not None else primitives.im2col(x[start:stop], *args)
            self._cols = None
            dcols = depthwise_product_backward(du[start * OH * OW:stop * OH * OW], cols, taps, grad, index > 0)
            cols = None
            if dx is not None:
                dx[start:stop] = primitives.col2im(dcols, (stop - start,) + x.shape[1:], *args)
        return dx

    def get_config(self):
        config = super().get_config()
        config["depthwise_initializer"] = config.pop("kernel_initializer")
        config["depthwise_regularizer"] = config.pop("kernel_regularizer")
        return {**config, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "depth_multiplier": self.depth_multiplier,
                "dilation_rate": list(self.dilation_rate)}


class DepthwiseConv2D(_DepthwiseBase):
    """Depthwise 2-D convolution over NHWC images: each input channel is convolved with its own
    ``depth_multiplier`` filters, then ``activation(... + bias)``.

    Args:
        kernel_size: an integer or a pair ``(KH, KW)``.
        strides: an integer or a pair ``(SH, SW)`` (default 1).
        padding: ``'valid'`` or ``'same'`` (as Conv2D: the extra padding row/column at the bottom/right).
        depth_multiplier: M, the number of output channels per input channel.
        dilation_rate: an integer or a pair ``(DH, DW)``.
        activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer:
            as in Keras.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, OH, OW, C*M)``, channel ``c*M + m`` from input
    channel ``c``. The weights are Keras 3's: ``kernel`` ``(KH, KW, C, M)`` and ``bias`` ``(C*M,)``.

    Example:
        >>> layer = DepthwiseConv2D(3, depth_multiplier=2, padding="same")
        >>> layer(numpy.ones((2, 8, 8, 3))).shape
        (2, 8, 8, 6)
    """
    depthwise_name = "kernel"

    def build(self, input_shape):
        channels = self.build_depthwise(input_shape)
        if self.use_bias:
            self.add_weight(name="bias", shape=(channels * self.depth_multiplier,), initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1] if len(input_shape) == 4 else None
        return self.output_size(input_shape) + (None if channels is None else channels * self.depth_multiplier,)

    def forward(self, x, training=False):
        self._y = self._z = self._cols = None  # release last step's buffers so that they can be recycled
        z = self.forward_depthwise(x, training)
        activation = self.output_activation()
        self._y = primitives.bias_activation(z, self.bias_or_none, activation)
        self._z = z if activation.needs_input else None
        return self._y.reshape((x.shape[0],) + self._args[-2:] + (z.shape[1],))

    def backward(self, dy):
        # ==== dz (activation and bias) ====
        dz = primitives.bias_activation_backward(dy.reshape(self._y.shape), self._z, self._y, self.output_activation(),
                                          self.bias_grad_or_none)
        # ==== dW, dx ====
        return self.backward_depthwise(dz)


class SeparableConv2D(_DepthwiseBase):
    """Depthwise separable 2-D convolution: a depthwise convolution (each input channel with its own
    ``depth_multiplier`` filters) followed by a pointwise (1x1) convolution to ``filters`` channels, then
    ``activation(... + bias)``.

    Args:
        filters: number of output channels F.
        kernel_size: an integer or a pair ``(KH, KW)``.
        strides: an integer or a pair ``(SH, SW)`` (default 1) of the depthwise stage.
        padding: ``'valid'`` or ``'same'``.
        dilation_rate: an integer or a pair ``(DH, DW)``.
        depth_multiplier: M, the depthwise output channels per input channel.
        activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
        depthwise_regularizer, pointwise_regularizer, bias_regularizer: as in Keras.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, OH, OW, filters)``. The weights are Keras':
    ``depthwise_kernel`` ``(KH, KW, C, M)``, ``pointwise_kernel`` ``(1, 1, C*M, filters)``, ``bias``
    ``(filters,)``.

    Example:
        >>> layer = SeparableConv2D(16, 3, depth_multiplier=2, padding="same")
        >>> layer(numpy.ones((2, 8, 8, 3))).shape
        (2, 8, 8, 16)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                 depth_multiplier=1, activation=None, pointwise_initializer="glorot_uniform",
                 pointwise_regularizer=None, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier,
                         dilation_rate=dilation_rate, activation=activation, **kwargs)
        self.filters = positive_int("SeparableConv2D", "filters", filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def build(self, input_shape):
        channels = self.build_depthwise(input_shape)
        self.add_weight(name="pointwise_kernel", shape=(1, 1, channels * self.depth_multiplier, self.filters),
                        initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer)
        if self.use_bias:
            self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        return self.output_size(input_shape) + (self.filters,)

    def forward(self, x, training=False):
        self._y = self._z = self._u = self._cols = None  # release last step's buffers so that they can be recycled
        xp = backend.get_array_module(x)
        u = self.forward_depthwise(x, training)
        z = workspace.empty(f"{self.name}.z", (u.shape[0], self.filters), u.dtype, xp)
        xp.matmul(u, self.pointwise_kernel.reshape(-1, self.filters), out=z)
        activation = self.output_activation()
        self._u = u
        self._y = primitives.bias_activation(z, self.bias_or_none, activation)
        self._z = z if activation.needs_input else None
        return self._y.reshape((x.shape[0],) + self._args[-2:] + (self.filters,))

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        pointwise = self.pointwise_kernel.reshape(-1, self.filters)
        # ==== dz (activation and bias) ====
        dz = primitives.bias_activation_backward(dy.reshape(-1, self.filters), self._z, self._y, self.output_activation(),
                                          self.bias_grad_or_none)
        # ==== dW (pointwise) ====
        if "pointwise_kernel" in self.grads:
            xp.matmul(self._u.T, dz, out=self.grads["pointwise_kernel"].reshape(pointwise.shape))
        # ==== dW (depthwise), dx ====
        return self.backward_depthwise(dz @ pointwise.T)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer)}
