"""BatchNormalization (Ioffe & Szegedy 2015), with Keras' defaults and moving statistics."""
from .. import backend, distribution, initializers, regularizers
from .._arguments import integer, number, positive_number
from .base import Layer


class BatchNormalization(Layer):
    """Normalizes each feature (channel) over the batch: ``gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    In training the batch's mean and (biased) variance are used and folded into the moving statistics,
    ``moving = moving * momentum + batch * (1 - momentum)``; at inference (and when the layer is frozen,
    ``trainable=False``, as in Keras) the moving statistics are used.

    Args:
        axis: the feature axis (default -1: the channels of NHWC images, the features of dense inputs).
        momentum: of the moving statistics (default 0.99). epsilon: added to the variance (default 1e-3).
        center, scale: learn ``beta`` / ``gamma`` (default both).
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer,
        beta_regularizer, gamma_regularizer: as in Keras.
        synchronized: in data-parallel training (``nnkit.distribution.DataParallel``), compute the batch
            statistics over the global batch (one all-reduce per layer forward and backward) instead of each
            process's share (default False, as in Keras). Without a distribution it changes nothing.

    Input shape: any, rank >= 2. Output shape: the same.
    Weights (``get_weights()``, Keras' order): gamma, beta, moving_mean, moving_variance; the last two are
    not trained by the optimizer.

    Example:
        >>> BatchNormalization()(numpy.ones((8, 4, 4, 16)), training=True).shape
        (8, 4, 4, 16)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = integer("BatchNormalization", "axis", axis)
        self.momentum = number("BatchNormalization", "momentum", momentum, low=0, high=1)
        self.epsilon = positive_number("BatchNormalization", "epsilon", epsilon)
        if not isinstance(synchronized, bool):
            raise ValueError(f"BatchNormalization: expected True or False for `synchronized`. "
                             f"Received: synchronized={synchronized!r}")
        self.synchronized = synchronized
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        self.check_input_rank(input_shape, 2, "an input of rank >= 2 (batch, ..., features)")
        axis = self._feature_axis(len(input_shape), input_shape)
        features = input_shape[axis]
        if features is None:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization) needs axis {self.axis} of its input to be "
                             f"known. Received input shape {input_shape}.")
        if self.scale:
            self.add_weight(name="gamma", shape=(features,), initializer=self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight(name="beta", shape=(features,), initializer=self.beta_initializer,
                            regularizer=self.beta_regularizer)
        self.add_weight(name="moving_mean", shape=(features,),
                        initializer=self.moving_mean_initializer, trainable=False)
        self.add_weight(name="moving_variance", shape=(features,),
                        initializer=self.moving_variance_initializer, trainable=False)

    def _feature_axis(self, ndim, shape):
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization): axis={self.axis} is not a feature axis "
                             f"of input shape {tuple(shape)} (axis 0 is the batch).")
        return self.axis % ndim

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        axis = self._feature_axis(x.ndim, x.shape)
        features = self.moving_mean.shape[0]
        if x.shape[axis] != features:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization) expects {features} features on axis "
                             f"{self.axis}, but received input of shape {tuple(x.shape)}.")
        reduce = tuple(a for a in range(x.ndim) if a != axis)
        per_feature = tuple(features if a == axis else 1 for a in range(x.ndim))
        self._training = training and self.trainable
        self._parallel = distribution.data_parallel() if self.synchronized and self._training else None
        if self._training:
            mean = self._batch_mean(x, reduce)
            centered = x - mean.reshape(per_feature)
            variance = self._batch_mean(xp.square(centered), reduce)
            self.moving_mean *= self.momentum
            self.moving_mean += (1 - self.momentum) * mean
            self.moving_variance *= self.momentum
            self.moving_variance += (1 - self.momentum) * variance
        else:
            variance = self.moving_variance
            centered = x - self.moving_mean.reshape(per_feature)
        self._inv_std = (1 / xp.sqrt(variance + self.epsilon)).reshape(per_feature).astype(x.dtype, copy=False)
        self._x_hat = centered * self._inv_std
        self._reduce, self._per_feature = reduce, per_feature
        y = self._x_hat * self.gamma.reshape(per_feature) if self.scale else self._x_hat.copy()
        if self.center:
            y += self.beta.reshape(per_feature)
        return y

    def _batch_mean(self, x, reduce):
        """The mean over the batch axes: this process's share, or (synchronized) the global batch's."""
        if self._parallel is None:
            return x.mean(axis=reduce)
        count = x.size // x.shape[self._feature_axis(x.ndim, x.shape)]
        share = self._parallel.share
        total, = self._parallel.synchronized_sums(x.sum(axis=reduce))
        return total / (count * share.total / share.rows)

    def backward(self, dy):
        reduce, per_feature, x_hat = self._reduce, self._per_feature, self._x_hat
        # ==== dbeta, dgamma ====
        dy_sum = dy.sum(axis=reduce)
        dy_x_hat_sum = (dy * x_hat).sum(axis=reduce)
        if "beta" in self.grads:
            self.grads["beta"][...] = dy_sum
        if "gamma" in self.grads:
            self.grads["gamma"][...] = dy_x_hat_sum
        if not self.needs_input_gradient:
            return None
        # ==== dx ====
        gain = self._inv_std * self.gamma.reshape(per_feature) if self.scale else self._inv_std
        if not self._training:  # the statistics are constants
            return dy * gain
        count = dy.size // dy_sum.size
        if self._parallel is not None:
            # dy is the gradient of this process's mean loss; the global loss weighs it by the share's fraction,
            # and the returned gradient is in this process's units again (the trainer scales the weights' later).
            fraction = self._parallel.share.fraction
            dy_sum, dy_x_hat_sum = self._parallel.synchronized_sums(dy_sum * fraction, dy_x_hat_sum * fraction)
            count, dy_sum, dy_x_hat_sum = count / fraction, dy_sum / fraction, dy_x_hat_sum / fraction
        mean_dy = (dy_sum / count).reshape(per_feature)
        mean_dy_x_hat = (dy_x_hat_sum / count).reshape(per_feature)
        return gain * (dy - mean_dy - x_hat * mean_dy_x_hat)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "synchronized": self.synchronized}
