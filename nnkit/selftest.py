"""``python -m nnkit.selftest``: check nnkit's CUDA kernels on this machine's GPU.

Prints the device, CuPy and CUDA versions, compiles every ``kernels/*.cu``, then runs each kernel on random
shapes (odd sizes included) with its outputs poisoned with NaN beforehand, so an element the kernel forgets
to write shows, and compares it with an independent float64 reference written with NumPy index maps.
Prints a pass/fail table and exits non-zero when anything fails. Without a GPU it says so and checks the
CPU path (the functions of ``nnkit.primitives``, which use the compiled CPU kernels for float32 where they are
built, and the compiled matrix product and recurrent scans) against the same references.
"""
import sys
import time
from dataclasses import dataclass

import numpy

from . import activations, backend

#: Worst accepted error, relative to the largest reference value, per dtype: element-wise / gathers, and
#: reductions (losses, bias gradients, col2im and pooling sums).
TOLERANCE = {
    numpy.dtype(numpy.float32): {"elementwise": 2e-6, "reduction": 5e-5},
    numpy.dtype(numpy.float64): {"elementwise": 1e-13, "reduction": 1e-11},
}


def relative_error(got, expected):
    """``max|got - expected| / max|expected|`` (over finite entries); inf when NaN appears where the
    reference has a number (an unwritten, poisoned element), or an infinity differs, or the shapes differ."""
    got, expected = numpy.asarray(backend.to_host(got), numpy.float64), numpy.asarray(expected, numpy.float64)
    if got.shape != expected.shape:
        return numpy.inf
    if numpy.any(numpy.isnan(got) != numpy.isnan(expected)):
        return numpy.inf
    equal = (got == expected) | numpy.isnan(expected)  # NaN where expected, or the same infinity
    with numpy.errstate(invalid="ignore"):
        diff = numpy.where(equal, 0.0, numpy.abs(got - expected))
    scale = numpy.max(numpy.abs(expected[numpy.isfinite(expected)]), initial=0.0)
    return float(diff.max(initial=0.0) / max(scale, numpy.finfo(numpy.float64).tiny))


# ---- float64 references, written as index maps (independent of nnkit.primitives' slicing) -----------------------
def conv_indices(N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """Index arrays of shape (N, OH, OW, KH, KW, C) giving, per im2col entry, the source (n, ih, iw, c)
    and whether it lies inside the image."""
    n, oh, ow, kh, kw, c = numpy.ix_(range(N), range(OH), range(OW), range(KH), range(KW), range(C))
    ih = oh * SH - PH + kh * DH
    iw = ow * SW - PW + kw * DW
    shape = (N, OH, OW, KH, KW, C)
    inside = numpy.broadcast_to((ih >= 0) & (ih < H) & (iw >= 0) & (iw < W), shape)
    return [numpy.broadcast_to(a, shape) for a in (n, numpy.clip(ih, 0, H - 1), numpy.clip(iw, 0, W - 1), c)], inside


def reference_im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """float64 im2col of NHWC ``x`` by fancy indexing: ``(N*OH*OW, KH*KW*C)``, zeros in the padding."""
    N, H, W, C = x.shape
    (n, ih, iw, c), inside = conv_indices(N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    cols = numpy.where(inside, numpy.asarray(x, numpy.float64)[n, ih, iw, c], 0.0)
    return cols.reshape(N * OH * OW, KH * KW * C)


def reference_col2im(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """float64 col2im: scatter-add ``cols`` back into an ``x_shape`` array (padding dropped)."""
    N, H, W, C = x_shape
    (n, ih, iw, c), inside = conv_indices(N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    dx = numpy.zeros(x_shape)
    values = numpy.asarray(cols, numpy.float64).reshape(N, OH, OW, KH, KW, C)
    numpy.add.at(dx, (n[inside], ih[inside], iw[inside], c[inside]), values[inside])
    return dx


def reference_max_pool2d(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """``(y, argmax)``: padding is -inf; argmax is the first maximum in row-major window order."""
    N, H, W, C = x.shape
    (n, ih, iw, c), inside = conv_indices(N, H, W, C, KH, KW, SH, SW, PH, PW, 1, 1, OH, OW)
    windows = numpy.where(inside, numpy.asarray(x, numpy.float64)[n, ih, iw, c], -numpy.inf)
    windows = windows.transpose(0, 1, 2, 5, 3, 4).reshape(N, OH, OW, C, KH * KW)
    return windows.max(axis=-1), windows.argmax(axis=-1)


def reference_max_pool2d_backward(dy, argmax, x_shape, KH, KW, SH, SW, PH, PW, OH, OW):
    """float64 max-pool backward: each ``dy`` added at its window's ``argmax`` (index ``kh * KW + kw``)."""
    N, H, W, C = x_shape
    n, oh, ow, c = numpy.indices((N, OH, OW, C))
    ih = oh * SH - PH + argmax // KW
    iw = ow * SW - PW + argmax % KW
    inside = (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
    dx = numpy.zeros(x_shape)
    numpy.add.at(dx, (n[inside], ih[inside], iw[inside], c[inside]), numpy.asarray(dy, numpy.float64)[inside])
    return dx


_FORWARD64 = {"linear": lambda z, a: z, "relu": lambda z, a: numpy.maximum(z, 0),
              "leaky_relu": lambda z, a: numpy.where(z > 0, z, a.negative_slope * z),
              "sigmoid": lambda z, a: 1 / (1 + numpy.exp(-z)), "tanh": lambda z, a: numpy.tanh(z),
              "elu": lambda z, a: numpy.where(z > 0, z, a.alpha * numpy.expm1(numpy.minimum(z, 0)))}
_DERIVATIVE64 = {"linear": lambda y, a: numpy.ones_like(y), "relu": lambda y, a: (y > 0) * 1.0,
                 "leaky_relu": lambda y, a: numpy.where(y > 0, 1.0, a.negative_slope),
                 "sigmoid": lambda y, a: y * (1 - y), "tanh": lambda y, a: 1 - y * y,
                 "elu": lambda y, a: numpy.where(y > 0, 1.0, y + a.alpha)}
FUSED_ACTIVATIONS = tuple(_FORWARD64)


def reference_softmax_cross_entropy(logits, targets):
    """float64 ``(loss, grad)``; ``targets`` are labels (N,) or a matrix (N, K)."""
    z = numpy.asarray(logits, numpy.float64)
    N, K = z.shape
    t = numpy.eye(K)[targets] if targets.ndim == 1 else numpy.asarray(targets, numpy.float64)
    log_softmax = z - z.max(axis=1, keepdims=True)
    log_softmax -= numpy.log(numpy.exp(log_softmax).sum(axis=1, keepdims=True))
    return -(t * log_softmax).sum() / N, (numpy.exp(log_softmax) - t) / N


def reference_sigmoid_cross_entropy(logits, targets):
    """float64 mean sigmoid cross-entropy of logits and its gradient ``(sigmoid(z) - t) / size``."""
    z, t = numpy.asarray(logits, numpy.float64), numpy.asarray(targets, numpy.float64)
    p = 1 / (1 + numpy.exp(-z))
    loss = -(t * numpy.log(p) + (1 - t) * numpy.log1p(-p))  # fine for the moderate logits used here
    return loss.mean(), (p - t) / z.size


def reference_adam(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay):
    """float64 Adam step with decoupled decay: returns the new ``(p, m, v)``."""
    p, g, m, v = (numpy.asarray(a, numpy.float64) for a in (p, g, m, v))
    p = p * (1 - decay)
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    return p - alpha * m / (numpy.sqrt(v) + epsilon), m, v


def reference_sgd(p, g, velocity, learning_rate, momentum, nesterov):
    """float64 SGD step (momentum, Nesterov): returns the new parameters and velocity (None without momentum)."""
    p, g = numpy.asarray(p, numpy.float64), numpy.asarray(g, numpy.float64)
    if not momentum:
        return p - learning_rate * g, None
    velocity = momentum * numpy.asarray(velocity, numpy.float64) - learning_rate * g
    return (p + momentum * velocity - learning_rate * g if nesterov else p + velocity), velocity


def reference_layer_norm(x, gamma, beta, epsilon):
    """float64 layer normalization of the rows of ``x (rows, F)``: ``(y, mean, rstd)``; gamma, beta may be None."""
    x = numpy.asarray(x, numpy.float64)
    F = x.shape[1]
    mean = x.sum(axis=1) / F
    rstd = 1 / numpy.sqrt(((x - mean[:, None]) ** 2).sum(axis=1) / F + epsilon)
    y = (x - mean[:, None]) * rstd[:, None]
    if gamma is not None:
        y = y * numpy.asarray(gamma, numpy.float64)
    if beta is not None:
        y = y + numpy.asarray(beta, numpy.float64)
    return y, mean, rstd


def reference_layer_norm_backward(dy, x, gamma, epsilon):
    """float64 ``(dx, dgamma, dbeta)`` of ``reference_layer_norm``, by the chain rule through the variance and the
    mean one stage at a time (the form of Ioffe & Szegedy 2015), not the folded formula the kernel uses."""
    x, dy = numpy.asarray(x, numpy.float64), numpy.asarray(dy, numpy.float64)
    F = x.shape[1]
    centered = x - x.mean(axis=1, keepdims=True)
    variance = (centered ** 2).mean(axis=1, keepdims=True)
    std_inv = 1 / numpy.sqrt(variance + epsilon)
    d_x_hat = dy if gamma is None else dy * numpy.asarray(gamma, numpy.float64)
    d_variance = (d_x_hat * centered).sum(axis=1, keepdims=True) * -0.5 * std_inv ** 3
    d_mean = -(d_x_hat * std_inv).sum(axis=1, keepdims=True) + d_variance * (-2 * centered).mean(axis=1, keepdims=True)
    dx = d_x_hat * std_inv + d_variance * 2 * centered / F + d_mean / F
    return dx, (dy * centered * std_inv).sum(axis=0), dy.sum(axis=0)


def reference_attention_softmax(scores, attend, scale, keep=None, rate=0.0):
    """float64 ``(probs, dropped)`` of attention's masked softmax: the softmax over the last axis of the scaled
    scores of the attended keys alone (``attend``, boolean, broadcast), 0 elsewhere and in fully masked rows;
    ``dropped = probs * keep / (1 - rate)`` (``probs`` when ``keep`` is None)."""
    z = numpy.where(attend, numpy.asarray(scores, numpy.float64) * scale, -numpy.inf)
    row_max = z.max(axis=-1, keepdims=True)
    e = numpy.exp(z - numpy.where(numpy.isfinite(row_max), row_max, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    probs = e / numpy.where(total > 0, total, 1.0)
    return probs, probs if keep is None else probs * keep / (1 - rate)


def reference_attention_softmax_backward(d_dropped, probs, scale, keep=None, rate=0.0):
    """float64 gradient of the scores: the softmax Jacobian ``diag(p) - p p^T`` of each row applied to
    ``d_probs = d_dropped * keep / (1 - rate)``, times ``scale``."""
    p = numpy.asarray(probs, numpy.float64)
    d_probs = numpy.asarray(d_dropped, numpy.float64)
    if keep is not None:
        d_probs = d_probs * keep / (1 - rate)
    return scale * (p * d_probs - p * numpy.einsum("...j,...j->...", p, d_probs)[..., None])


# ---- the cases ----------------------------------------------------------------------------------------------
def reference_lstm_scan(xw, kernel, recurrent_mask, mask, h0, c0, dH, dc_last):
    """An LSTM layer's loop in float64 over ``lstm_step_reference`` and its backward, with the recurrent product
    ``(H[t] * recurrent_mask) @ kernel`` per step: ``(H, C, gates, dz, dh0, dc0)``."""
    from .primitives import recurrent as steps
    tanh, sigmoid = activations.get("tanh"), activations.get("sigmoid")
    xw, kernel, dH = (numpy.asarray(a, numpy.float64) for a in (xw, kernel, dH))
    T, N, U = dH.shape
    keep = numpy.ones((N, U)) if recurrent_mask is None else recurrent_mask.astype(numpy.float64)
    H, C = numpy.zeros((T + 1, N, U)), numpy.zeros((T + 1, N, U))
    H[0], C[0] = h0, c0
    gates, HR, dz = numpy.empty_like(xw), numpy.empty_like(xw), numpy.empty_like(xw)
    step_mask = [None if mask is None else mask[t].astype(numpy.float64) for t in range(T)]
    for t in range(T):
        HR[t] = (H[t] * keep) @ kernel
        steps.lstm_step_reference(xw[t], HR[t], H[t], C[t], step_mask[t], H[t + 1], C[t + 1], gates[t], tanh, sigmoid)
    dh = numpy.zeros((N, U))
    dc = numpy.zeros((N, U)) if dc_last is None else dc_last.astype(numpy.float64)
    dh_carry, dc_prev = numpy.empty((N, U)), numpy.empty((N, U))
    for t in reversed(range(T)):
        dh = dh + dH[t]
        steps.lstm_step_backward_reference(dh, dc, xw[t], HR[t], C[t], C[t + 1], gates[t], step_mask[t], dz[t],
                                           dh_carry, dc_prev, tanh, sigmoid)
        dh = (dz[t] @ kernel.T) * keep + dh_carry
        dc = dc_prev.copy()
    return H, C, gates, dz, dh, dc


def reference_gru_scan(xw, kernel, bias, recurrent_mask, mask, h0, dH):
    """A GRU layer's loop (``reset_after=True``) in float64 over ``gru_step_reference`` and its backward, with
    ``HR[t] = (H[t] * recurrent_mask) @ kernel + bias``: ``(H, HR, gates, dxw, dhr, dh0)``."""
    from .primitives import recurrent as steps
    tanh, sigmoid = activations.get("tanh"), activations.get("sigmoid")
    xw, kernel, dH = (numpy.asarray(a, numpy.float64) for a in (xw, kernel, dH))
    T, N, U = dH.shape
    keep = numpy.ones((N, U)) if recurrent_mask is None else recurrent_mask.astype(numpy.float64)
    H = numpy.zeros((T + 1, N, U))
    H[0] = h0
    HR, gates, dxw, dhr = (numpy.empty_like(xw) for _ in range(4))
    step_mask = [None if mask is None else mask[t].astype(numpy.float64) for t in range(T)]
    for t in range(T):
        HR[t] = (H[t] * keep) @ kernel + (0 if bias is None else bias)
        steps.gru_step_reference(xw[t], HR[t], H[t], step_mask[t], H[t + 1], gates[t], tanh, sigmoid)
    dh, dh_carry = numpy.zeros((N, U)), numpy.empty((N, U))
    for t in reversed(range(T)):
        dh = dh + dH[t]
        steps.gru_step_backward_reference(dh, xw[t], HR[t], H[t], gates[t], step_mask[t], dxw[t], dhr[t], dh_carry,
                                          tanh, sigmoid)
        dh = (dhr[t] @ kernel.T) * keep + dh_carry
    return H, HR, gates, dxw, dhr, dh


@dataclass
class Result:
    """One checked case: the kernel, dtype, case description, relative error and its tolerance."""
    kernel: str
    dtype: str
    case: str
    error: float
    tolerance: float

    @property
    def passed(self):
        """Whether the error is within the tolerance."""
        return self.error <= self.tolerance


class Runner:
    """Runs each case on the GPU kernel (``device=True``) or on nnkit.primitives' NumPy functions."""

    def __init__(self, device, seed=0):
        self.device = device
        self.rng = numpy.random.default_rng(seed)
        self.results = []

    # helpers
    def to_backend(self, array):
        """``array`` on the checked backend (CuPy with ``device=True``, else a NumPy copy)."""
        return backend.cupy.asarray(array) if self.device else numpy.array(array)

    def poisoned(self, shape, dtype):
        """An output buffer full of NaN (-7777 for integers): an element left unwritten shows."""
        if not self.device:
            return None
        fill = numpy.nan if numpy.dtype(dtype).kind == "f" else -7777
        return backend.cupy.full(shape, fill, dtype=dtype)

    def record(self, kernel, dtype, case, got, expected, kind="elementwise"):
        """Append a Result comparing ``got`` with ``expected`` under the dtype's tolerance for ``kind``."""
        tolerance = TOLERANCE[numpy.dtype(dtype)][kind]
        self.results.append(Result(kernel, numpy.dtype(dtype).name, case, relative_error(got, expected), tolerance))

    def random(self, shape, dtype, scale=1.0):
        """Standard-normal values times ``scale``, in ``dtype``."""
        return (self.rng.standard_normal(shape) * scale).astype(dtype)

    # the geometry of a random convolution or pooling window, odd sizes included
    def conv_geometry(self, pooling=False):
        """A random, valid convolution (or pooling, without dilation) geometry: ``(x_shape, kernel arguments)``."""
        r = self.rng.integers
        N, H, W, C = int(r(1, 4)), int(r(3, 12)), int(r(3, 12)), int(r(1, 6))
        KH, KW = int(r(1, 4)), int(r(1, 4))
        SH, SW = int(r(1, 3)), int(r(1, 3))
        DH, DW = (1, 1) if pooling else (int(r(1, 3)), int(r(1, 3)))
        PH, PW = int(r(0, KH)), int(r(0, KW))
        OH = max((H + PH + int(r(0, 2)) - DH * (KH - 1) - 1) // SH + 1, 1)
        OW = max((W + PW + int(r(0, 2)) - DW * (KW - 1) - 1) // SW + 1, 1)
        return (N, H, W, C), (KH, KW, SH, SW, PH, PW) + (() if pooling else (DH, DW)) + (OH, OW)

    # kernels
    def check_conv(self, dtype):
        """im2col and col2im against the float64 references, on random geometries."""
        from .primitives import conv as conv_ops
        if self.device:
            from .cuda import conv as conv_kernels
        for _ in range(4):
            x_shape, args = self.conv_geometry()
            case = f"x{x_shape} k{args[:2]} s{args[2:4]} p{args[4:6]} d{args[6:8]}"
            x = self.random(x_shape, dtype)
            N, (OH, OW), (KH, KW), C = x_shape[0], args[-2:], args[:2], x_shape[3]
            dcols = self.random((N * OH * OW, KH * KW * C), dtype)
            if self.device:
                got = conv_kernels.im2col(self.to_backend(x), *args, out=self.poisoned(dcols.shape, dtype))
                dx = conv_kernels.col2im(self.to_backend(dcols), x_shape, *args, out=self.poisoned(x_shape, dtype))
            else:
                got = conv_ops.im2col(x, *args)
                dx = conv_ops.col2im(dcols, x_shape, *args)
            self.record("im2col", dtype, case, got, reference_im2col(x, *args))
            self.record("col2im", dtype, case, dx, reference_col2im(dcols, x_shape, *args), "reduction")

    def check_pool(self, dtype):
        """Max pooling forward and backward against the references, with ties."""
        from .primitives import pool as pool_ops
        if self.device:
            from .cuda import pool as pool_kernels
        for _ in range(4):
            x_shape, args = self.conv_geometry(pooling=True)
            case = f"x{x_shape} k{args[:2]} s{args[2:4]} p{args[4:6]}"
            # Rounded values make ties, which must go to the first maximum.
            x = numpy.round(self.random(x_shape, dtype) * 2) / 2
            y_expected, argmax = reference_max_pool2d(x, *args)
            dy = self.random(y_expected.shape, dtype)
            if self.device:
                y, saved = pool_kernels.max_pool2d(self.to_backend(x), *args, out=self.poisoned(y_expected.shape, dtype),
                                                   argmax_out=self.poisoned(y_expected.shape, numpy.int32))
                dx = pool_kernels.max_pool2d_backward(self.to_backend(dy), saved, x_shape, *args,
                                                      out=self.poisoned(x_shape, dtype))
            else:
                y, saved = pool_ops.max_pool2d(x, *args)
                dx = pool_ops.max_pool2d_backward(dy, saved, x_shape, *args)
            self.record("max_pool2d", dtype, case, y, y_expected)
            self.record("max_pool2d_backward", dtype, case, dx,
                        reference_max_pool2d_backward(dy, argmax, x_shape, *args), "reduction")

    def check_bias_act(self, dtype):
        """The fused bias + activation, forward and backward, for every fused activation."""
        from .primitives import bias_act
        for name in FUSED_ACTIVATIONS:
            activation = activations.get(name)
            rows, F = int(self.rng.integers(1, 300)), int(self.rng.choice([1, 3, 10, 33, 64, 129]))
            case = f"{name} ({rows}, {F})"
            z, bias, dy = self.random((rows, F), dtype), self.random((F,), dtype), self.random((rows, F), dtype)
            y_expected = _FORWARD64[name](z.astype(numpy.float64) + bias, activation)
            y = bias_act.bias_activation(self.to_backend(z), self.to_backend(bias), activation)
            self.record("bias_act_forward", dtype, case, y, y_expected)
            # The backward from the kernel's own (float-rounded) output, so the comparison isolates it.
            y_host = backend.to_host(y)
            dz_expected = dy * _DERIVATIVE64[name](y_host.astype(numpy.float64), activation)
            bias_grad = self.poisoned((F,), dtype) if self.device else numpy.full(F, numpy.nan, dtype)
            dz = bias_act.bias_activation_backward(self.to_backend(dy), None, self.to_backend(y_host), activation,
                                                   bias_grad)
            self.record("bias_act_backward", dtype, case, dz, dz_expected)
            self.record("bias_act_backward (db)", dtype, case, bias_grad, dz_expected.sum(axis=0), "reduction")

    def check_cross_entropy(self, dtype):
        """The fused softmax and sigmoid cross-entropies (loss and gradient) against float64 references."""
        from .primitives import cross_entropy
        for N, K in ((64, 10), (1, 1), (33, 129), (7, 1000), (300, 40), (5, 2500), (2048, 17)):
            logits = self.random((N, K), dtype, scale=4.0) + 50  # a large offset: stability needs the max shift
            labels = self.rng.integers(0, K, N)
            soft = self.rng.random((N, K))
            soft = (soft / soft.sum(axis=1, keepdims=True)).astype(dtype)
            for what, targets in (("labels", labels), ("soft", soft)):
                loss, grad = cross_entropy.softmax_cross_entropy(self.to_backend(logits), self.to_backend(targets))
                loss_expected, grad_expected = reference_softmax_cross_entropy(logits, targets)
                self.record("softmax_cross_entropy (loss)", dtype, f"{what} ({N}, {K})", loss, loss_expected,
                            "reduction")
                self.record("softmax_cross_entropy (grad)", dtype, f"{what} ({N}, {K})", grad, grad_expected)
        for shape in ((64, 1), (33, 7), (1000, 37)):
            logits = self.random(shape, dtype, scale=3.0)
            targets = self.rng.random(shape).astype(dtype)
            loss, grad = cross_entropy.sigmoid_binary_cross_entropy(self.to_backend(logits), self.to_backend(targets))
            loss_expected, grad_expected = reference_sigmoid_cross_entropy(logits, targets)
            self.record("sigmoid_cross_entropy (loss)", dtype, f"{shape}", loss, loss_expected, "reduction")
            self.record("sigmoid_cross_entropy (grad)", dtype, f"{shape}", grad, grad_expected)

    def check_optim(self, dtype):
        """The Adam and SGD steps against float64 references."""
        from .primitives import optim
        for n in (1, 7, 4099, 100003):
            p, g, m = self.random(n, dtype), self.random(n, dtype), self.random(n, dtype, 0.1)
            v = numpy.abs(self.random(n, dtype, 0.1))
            for decay in (0.0, 4e-6):
                args = (0.01, 0.9, 0.999, 1e-7, decay)
                arrays = [self.to_backend(a) for a in (p, g, m, v)]
                optim.adam_step(*arrays, *args)
                for name, got, expected in zip("pmv", (arrays[0], arrays[2], arrays[3]),
                                               reference_adam(p, g, m, v, *args)):
                    self.record(f"adam_step ({name})", dtype, f"n={n} decay={decay}", got, expected)
            velocity = self.random(n, dtype)
            for momentum, nesterov in ((0.0, False), (0.9, False), (0.9, True)):
                arrays = [self.to_backend(a) for a in (p, g, velocity)]
                optim.sgd_step(arrays[0], arrays[1], arrays[2] if momentum else None, 0.01, momentum, nesterov)
                p_expected, v_expected = reference_sgd(p, g, velocity, 0.01, momentum, nesterov)
                case = f"n={n} momentum={momentum} nesterov={nesterov}"
                self.record("sgd_step (p)", dtype, case, arrays[0], p_expected)
                if momentum:
                    self.record("sgd_step (velocity)", dtype, case, arrays[2], v_expected)

    def check_layer_norm(self, dtype):
        """Layer normalization of rows, forward (y, mean, rstd) and backward (dx, dgamma, dbeta), with and without
        gamma and beta, on rows one warp covers, rows that take several, and enough rows for partial sums."""
        from .primitives import layer_norm as ln_ops
        if self.device:
            from .cuda import layer_norm as ln_kernels
        epsilon = 1e-3
        sizes = [(int(self.rng.integers(1, 300)), F) for F in (1, 3, 31, 32, 33, 100, 1024, 1025, 4099)]
        for k, (rows, F) in enumerate(sizes + [(2000, 40), (70000, 3)]):
            x = self.random((rows, F), dtype, scale=2.0) + 3  # an offset: the variance must not cancel
            gamma, beta = (None, None) if k % 3 == 1 else (self.random(F, dtype), self.random(F, dtype))
            dy = self.random((rows, F), dtype)
            case = f"({rows}, {F}){'' if gamma is not None else ' no gamma/beta'}"
            param = [None if p is None else self.to_backend(p) for p in (gamma, beta)]
            if self.device:
                y, mean, rstd = ln_kernels.layer_norm(
                    self.to_backend(x), *param, epsilon, y=self.poisoned((rows, F), dtype),
                    mean=self.poisoned(rows, dtype), rstd=self.poisoned(rows, dtype))
                dgamma, dbeta = self.poisoned(F, dtype), self.poisoned(F, dtype)
                dx = ln_kernels.layer_norm_backward(self.to_backend(dy), self.to_backend(x), mean, rstd, param[0],
                                                    dgamma, dbeta, dx=self.poisoned((rows, F), dtype))
            else:
                y, mean, rstd = ln_ops.layer_norm(x, *param, (1,), epsilon)
                dgamma, dbeta = numpy.full(F, numpy.nan, dtype), numpy.full(F, numpy.nan, dtype)
                dx = ln_ops.layer_norm_backward(dy, x, mean, rstd, param[0], (1,), dgamma, dbeta)
            y_expected, mean_expected, rstd_expected = reference_layer_norm(x, gamma, beta, epsilon)
            dx_expected, dgamma_expected, dbeta_expected = reference_layer_norm_backward(dy, x, gamma, epsilon)
            self.record("layer_norm_forward", dtype, case, y, y_expected, "reduction")
            self.record("layer_norm_forward (mean)", dtype, case, mean.reshape(-1), mean_expected, "reduction")
            self.record("layer_norm_forward (rstd)", dtype, case, rstd.reshape(-1), rstd_expected, "reduction")
            self.record("layer_norm_backward", dtype, case, dx, dx_expected, "reduction")
            self.record("layer_norm_backward (dgamma)", dtype, case, dgamma, dgamma_expected, "reduction")
            self.record("layer_norm_backward (dbeta)", dtype, case, dbeta, dbeta_expected, "reduction")

    def check_attention_softmax(self, dtype):
        """Attention's masked softmax with dropout, forward (probs, dropped) and backward (d_scores, from the
        kernel's own probs), with masks of each broadcast shape, causal rows, fully masked rows and long rows."""
        from .primitives import attention
        if self.device:
            from .cuda import attention as kernels
        r = self.rng
        for k, (B, H, Tq, Tk) in enumerate([(2, 3, 5, 7), (1, 2, 3, 1), (2, 2, 4, 32), (1, 3, 6, 33), (2, 1, 3, 100),
                                            (1, 2, 3, 513), (1, 1, 3, 1000), (1, 1, 2, 4099), (1, 1, 2, 9000),
                                            (64, 4, 16, 16)]):
            shape = (B, H, Tq, Tk)
            mask_shape = [None, (B, 1, Tq, Tk), (B, 1, 1, Tk), (1, 1, Tq, Tk), shape, (B, 1, Tq, 1)][k % 6]
            mask = None if mask_shape is None else r.random(mask_shape) > 0.3
            if mask is not None and mask.shape[-1] == Tk and mask.shape[-2] == Tq:
                mask[0, 0, 0] = False  # a fully masked row
            causal, rate = bool(k % 2), 0.2 if k % 3 == 1 else 0.0
            seed, scale = (int(r.integers(0, 2**63)) if rate else None), float(r.uniform(0.1, 1.0))
            case = f"{shape} mask {mask_shape}{' causal' if causal else ''} rate {rate} scale {scale:.3f}"
            x = self.random(shape, dtype, scale=4.0) + 50  # a large offset: stability needs the max shift
            dd = self.random(shape, dtype)
            attend = numpy.ones(shape, bool) if mask is None else numpy.broadcast_to(mask, shape)
            if causal:
                attend = attend & numpy.tri(Tq, Tk, dtype=bool)
            keep = attention.dropout_keep_mask(shape, seed, rate) if rate else None
            if self.device:
                dropout = None if not rate else (attention.dropout_key(seed), attention.keep_threshold(rate),
                                                 1 / (1 - rate))
                probs, dropped = kernels.attention_softmax(
                    self.to_backend(x), None if mask is None else self.to_backend(mask), causal, scale, -1e9,
                    dropout=dropout, probs=self.poisoned(shape, dtype),
                    dropped=self.poisoned(shape, dtype) if rate else None)
                dropped = probs if dropped is None else dropped
                d_scores = kernels.attention_softmax_backward(self.to_backend(dd), probs, scale, dropout=dropout,
                                                              d_scores=self.poisoned(shape, dtype))
            else:
                probs, dropped = attention.attention_softmax(x, mask, causal, scale, rate, seed)
                d_scores = attention.attention_softmax_backward(dd, probs, scale, rate, seed)
            probs_expected, dropped_expected = reference_attention_softmax(x, attend, dtype.type(scale), keep, rate)
            self.record("attention_softmax (probs)", dtype, case, probs, probs_expected, "reduction")
            self.record("attention_softmax (dropped)", dtype, case, dropped, dropped_expected, "reduction")
            self.record("attention_softmax_backward", dtype, case, d_scores,
                        reference_attention_softmax_backward(dd, backend.to_host(probs), dtype.type(scale), keep,
                                                             rate), "reduction")

    def check_compiled_cpu(self, dtype):
        """The compiled CPU kernels that have no NumPy twin in ``nnkit.primitives``' dispatch (float32, CPU runs
        only, where the extension is built): the matrix product and the LSTM and GRU sequence scans, forward and
        backward, against float64 products and loops, with padding and recurrent dropout masks."""
        from . import _cpu
        if self.device or dtype != numpy.float32 or _cpu.unavailable_reason() is not None:
            return
        for rows, K, M in ((1, 1, 1), (13, 300, 37), (40, 64, 256)):
            for transposed in (False, True):
                a = self.random((K, rows) if transposed else (rows, K), dtype)
                b = self.random((K, M), dtype)
                expected = (a.astype(numpy.float64).T if transposed else a.astype(numpy.float64)) @ b
                self.record("cpu matmul", dtype, f"{rows}x{K}x{M} transposed={transposed}",
                            _cpu.matmul(a, b, transpose_a=transposed), expected, "reduction")
        for T, N, U in ((3, 1, 1), (6, 5, 20), (9, 7, 16)):
            recurrent_mask = (self.rng.random((N, U)) > 0.3).astype(dtype) / dtype.type(0.7)
            mask = (self.rng.random((T, N)) > 0.3).astype(dtype)
            h0, dH = self.random((N, U), dtype), self.random((T, N, U), dtype)
            case = f"T={T} N={N} U={U}"
            xw, kernel = self.random((T, N, 4 * U), dtype), self.random((U, 4 * U), dtype, 1 / numpy.sqrt(U))
            c0, dc_last = self.random((N, U), dtype), self.random((N, U), dtype)
            H, C = numpy.zeros((T + 1, N, U), dtype), numpy.zeros((T + 1, N, U), dtype)
            H[0], C[0] = h0, c0
            gates, dz = numpy.full((T, N, 4 * U), numpy.nan, dtype), numpy.full((T, N, 4 * U), numpy.nan, dtype)
            _cpu.lstm_scan(xw, kernel, recurrent_mask, mask, H, C, gates)
            dh0, dc0 = _cpu.lstm_scan_backward(dH, dc_last, kernel, recurrent_mask, mask, C, gates, dz)
            expected = reference_lstm_scan(xw, kernel, recurrent_mask, mask, h0, c0, dH, dc_last)
            for name, got, want in zip(("H", "C", "gates", "dz", "dh0", "dc0"), (H, C, gates, dz, dh0, dc0), expected):
                self.record(f"cpu lstm_scan ({name})", dtype, case, got, want, "reduction")
            xw, kernel = self.random((T, N, 3 * U), dtype), self.random((U, 3 * U), dtype, 1 / numpy.sqrt(U))
            bias = self.random(3 * U, dtype)
            H = numpy.zeros((T + 1, N, U), dtype)
            H[0] = h0
            HR, gates, dxw, dhr = (numpy.full((T, N, 3 * U), numpy.nan, dtype) for _ in range(4))
            _cpu.gru_scan(xw, kernel, bias, recurrent_mask, mask, H, HR, gates)
            dh0 = _cpu.gru_scan_backward(dH, kernel, recurrent_mask, mask, H, HR, gates, dxw, dhr)
            expected = reference_gru_scan(xw, kernel, bias, recurrent_mask, mask, h0, dH)
            for name, got, want in zip(("H", "HR", "gates", "dxw", "dhr", "dh0"), (H, HR, gates, dxw, dhr, dh0),
                                       expected):
                self.record(f"cpu gru_scan ({name})", dtype, case, got, want, "reduction")

    def run_all(self):
        """Run every check in float32 and float64; a check that raises becomes a failed Result."""
        for dtype in (numpy.float32, numpy.float64):
            for check in (self.check_conv, self.check_pool, self.check_bias_act, self.check_cross_entropy,
                          self.check_optim, self.check_layer_norm,
                          self.check_attention_softmax, self.check_compiled_cpu):
                try:
                    check(numpy.dtype(dtype))
                except Exception as error:  # report the failure in the table, keep checking the rest
                    name = check.__name__.replace("check_", "")
                    self.results.append(Result(name, numpy.dtype(dtype).name, f"raised {type(error).__name__}: "
                                               f"{error}", numpy.inf, 0.0))
        return self.results


# ---- the report -----------------------------------------------------------------------------------------------
def device_lines():
    """Lines naming the GPU, its compute capability and memory, and the CuPy and CUDA versions."""
    cupy = backend.cupy
    properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = properties["name"].decode() if isinstance(properties["name"], bytes) else properties["name"]

    def version(v):
        return f"{v // 1000}.{v % 1000 // 10}"
    return [f"device:       {name} (compute capability {properties['major']}.{properties['minor']}, "
            f"{properties['totalGlobalMem'] / 2**30:.1f} GiB)",
            f"CuPy:         {cupy.__version__}",
            f"CUDA runtime: {version(cupy.cuda.runtime.runtimeGetVersion())}, "
            f"driver: {version(cupy.cuda.runtime.driverGetVersion())}"]


def compile_kernels():
    """Compile every kernels/*.cu; returns [(file name, seconds or the error)]."""
    from . import cuda
    compiled = []
    for path in cuda.kernel_files():
        start = time.perf_counter()
        try:
            cuda.module(path.stem).compile()
            compiled.append((path.name, time.perf_counter() - start, None))
        except Exception as error:  # a compile error: report it, keep going
            compiled.append((path.name, None, error))
    return compiled


def summarise(results, print_fn=print):
    """One line per (kernel, dtype) with its worst case; failing cases listed in full."""
    print_fn(f"{'kernel':<32} {'dtype':<8} {'cases':>5} {'worst error':>12} {'tolerance':>10}  result")
    groups = {}
    for result in results:
        groups.setdefault((result.kernel, result.dtype), []).append(result)
    for (kernel, dtype), group in groups.items():
        worst = max(group, key=lambda r: r.error / max(r.tolerance, 1e-300))
        status = "pass" if all(r.passed for r in group) else "FAIL"
        print_fn(f"{kernel:<32} {dtype:<8} {len(group):>5} {worst.error:>12.2e} {worst.tolerance:>10.0e}  {status}")
    for result in results:
        if not result.passed:
            print_fn(f"  FAIL {result.kernel} {result.dtype} {result.case}: error {result.error:.3e} "
                     f"> {result.tolerance:.0e}")


def main(argv=None):
    """``python -m nnkit.selftest``: compile the kernels, check them (or the NumPy path without a GPU), print a table."""
    print(f"nnkit self-test: NumPy {numpy.__version__}")
    reason = backend.gpu_unavailable_reason()
    failures = 0
    if reason is None:
        for line in device_lines():
            print(line)
        for name, seconds, error in compile_kernels():
            if error is None:
                print(f"compiled {name:<20} {seconds:6.2f} s")
            else:
                failures += 1
                print(f"FAILED to compile {name}: {error}")
        with backend.use("gpu"):
            results = Runner(device=True).run_all()
        print("\nGPU kernels against float64 NumPy references (outputs poisoned with NaN before each run):")
    else:
        print(f"No GPU: {reason}.\nChecking the CPU path instead (nnkit.primitives' functions and the compiled CPU "
              f"kernels against float64 NumPy references).")
        with backend.use("cpu"):
            results = Runner(device=False).run_all()
        print()
    summarise(results)
    failures += sum(not r.passed for r in results)
    print(f"\n{len(results) - sum(not r.passed for r in results)}/{len(results)} checks passed"
          + (f", {failures} failure(s)" if failures else "") + ".")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
