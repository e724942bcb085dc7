"""ActivityRegularization: the identity, with a penalty on its input added to the loss."""

from .. import backend, regularizers
from .._arguments import non_negative_number
from .base import Layer


class ActivityRegularization(Layer):
    """Passes its input through and adds ``(l1 * sum(|x|) + l2 * sum(x ** 2)) / batch_size`` to the loss (in
    training and in evaluation, as Keras adds a layer's activity loss), with its gradient added to the input's.

    Args:
        l1: L1 factor, a non-negative number.
        l2: L2 factor, a non-negative number.

    Input shape: any. Output shape: the same.
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1 = non_negative_number("ActivityRegularization", "l1", l1)
        self.l2 = non_negative_number("ActivityRegularization", "l2", l2)
        self._regularizer = regularizers.L1L2(l1=self.l1, l2=self.l2)
        self._x = None

    def forward(self, x, training=False):
        self._x = x
        return x

    def backward(self, dy):
        if not self.needs_input_gradient:
            return None
        x = self._x
        penalty_grad = backend.get_array_module(x).zeros_like(x)
        self._regularizer.add_gradient(x, penalty_grad)
        return dy + penalty_grad * x.dtype.type(1 / max(len(x), 1))

    # The trainer adds every regularized layer's penalty to the loss; this layer's is its last input's.
    @property
    def has_regularizers(self):
        return bool(self.l1 or self.l2)

    def regularization_penalty(self):
        if self._x is None:
            return 0.0
        return self._regularizer.penalty(self._x) / max(len(self._x), 1)

    def add_regularization_gradients(self):
        """Nothing to add after ``backward``: the penalty's gradient reaches the input inside it."""

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
