"""What Dense and Conv2D share: ``activation(x · kernel + bias)`` with Keras' kernel/bias arguments."""
from .. import activations, initializers, regularizers
from .base import Layer


class AffineLayer(Layer):
    """Base of layers with a kernel, an optional bias and a fused output activation.

    While ``emit_logits`` is set (by the trainer, around one call, when the loss takes over this layer's
    softmax/sigmoid: the fused cross-entropy of DESIGN.md) the layer outputs logits.
    """

    def __init__(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def add_kernel_and_bias(self, kernel_shape):
        """``self.kernel`` of ``kernel_shape`` and, with ``use_bias``, ``self.bias`` of its last dimension."""
        self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight(name="bias", shape=(kernel_shape[-1],), initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer)

    @property
    def bias_or_none(self):
        """The bias, or None when ``use_bias`` is False (what the fused ops take)."""
        return self.bias if self.use_bias else None

    @property
    def bias_grad_or_none(self):
        """The bias gradient buffer, or None without a bias or while the layer is frozen."""
        return self.grads.get("bias") if self.use_bias else None

    def output_activation(self):
        """The activation this layer applies now (linear while the loss has taken it over)."""
        return activations.linear if self.emit_logits else self.activation

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}
