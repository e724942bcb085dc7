"""Conv1D: a 1-D convolution computed as Conv2D's im2col + GEMM over ``(N, 1, T, C)`` with a ``(1, K)`` window."""
from .. import primitives
from .conv import Conv2D


class Conv1D(Conv2D):
    """1-D (temporal) convolution over ``(batch, steps, channels)``: ``activation(conv1d(x, kernel) + bias)``.

    Args:
        filters: number of output channels F.
        kernel_size: an integer (or a tuple of one) K.
        strides: an integer (or a tuple of one) S (default 1).
        padding: ``'valid'`` (no padding), ``'same'`` (output length ``ceil(steps / S)``, the extra padding step
            at the end, as TensorFlow does) or ``'causal'`` (``(K - 1) * dilation_rate`` zeros before the first
            step, so that ``output[t]`` does not depend on ``input[t + 1:]``; WaveNet, van den Oord et al. 2016).
        dilation_rate: an integer (or a tuple of one) D: the spacing between kernel taps.
        groups: split the input channels into this many groups, each convolved with its own
            ``filters // groups`` filters; the input channels and ``filters`` must both be divisible by it.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer:
            as in Keras.

    Input shape: ``(batch, steps, channels)``.
    Output shape: ``(batch, new_steps, filters)``.
    The kernel has Keras' layout ``(K, channels // groups, filters)``, so Keras weights load unchanged.

    Example:
        >>> Conv1D(32, 3, activation="relu")(numpy.ones((4, 10, 128))).shape
        (4, 8, 32)
    """
    rank = 1
    _axes = "(batch, steps, channels)"
    _paddings = ("valid", "same", "causal")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, groups=1,
                 activation=None, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, dilation_rate=dilation_rate,
                         groups=groups, activation=activation, **kwargs)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        N, T, _ = input_shape
        return (N, None if T is None else self._geometry(1, T)[1], self.filters)

    def _window(self):
        return (1,) + self.kernel_size, (1,) + self.strides, (1,) + self.dilation_rate

    def _geometry(self, H, W):
        """``(1, OT, 0, PT)``: the 2-D geometry of a ``(1, W)`` image; 'causal' pads ``(K - 1) * D`` at the start."""
        (K,), (S,), (D,) = self.kernel_size, self.strides, self.dilation_rate
        if self.padding == "causal":
            OT, PT = (W - 1) // S + 1, D * (K - 1)
        else:
            _, OT, _, PT = primitives.conv_output_geometry(1, W, 1, K, 1, S, 1, D, self.padding)
        if OT == 0:
            raise ValueError(f"Layer '{self.name}' (Conv1D): the kernel ({D * (K - 1) + 1} steps with dilation) is "
                             f"longer than the input's {W} steps with padding='valid'. Use padding='same' or "
                             f"'causal', or a smaller kernel.")
        return 1, OT, 0, PT

    def forward(self, x, training=False):
        self._check_input(x)
        N, T, C = x.shape
        return self._convolve(x.reshape(N, 1, T, C), training).reshape(N, -1, self.filters)

    def backward(self, dy):
        dx = super().backward(dy)
        return None if dx is None else dx.reshape(dx.shape[0], dx.shape[2], dx.shape[3])

    def forward_masked(self, x, mask, training=False):
        """Keras' Conv1D does not support masking: the mask stops here."""
        return self.forward(x, training=training), None
