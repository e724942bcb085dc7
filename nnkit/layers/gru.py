"""GRU: gated recurrent unit (Cho et al. 2014), in Keras' two variants (``reset_after``)."""
from .. import backend
from ..primitives import recurrent
from .rnn_base import Recurrent


class GRU(Recurrent):
    """Gated recurrent unit, with Keras' arguments, defaults and weight layout.

    ``kernel`` is ``(features, 3*units)``, ``recurrent_kernel`` ``(units, 3*units)``, gates in Keras' order
    z (update), r (reset), h (candidate). Per step, with ``reset_after=True`` (Keras' default, cuDNN's
    variant; ``bias`` is ``(2, 3*units)``: input bias, recurrent bias)::

        z = recurrent_activation(x W_z + b0_z + h R_z + b1_z)      r likewise
        hh = activation(x W_h + b0_h + r * (h R_h + b1_h))
        h = z * h + (1 - z) * hh

    and with ``reset_after=False`` (``bias`` is ``(3*units,)``) ``hh = activation(x W_h + b_h + (r * h) R_h)``.

    Args:
        units, activation ('tanh'), recurrent_activation ('sigmoid'), use_bias, kernel_initializer,
        recurrent_initializer ('orthogonal'), bias_initializer, kernel/recurrent/bias_regularizer, dropout,
        recurrent_dropout, return_sequences, return_state, go_backwards, stateful, unroll: as in LSTM.
        reset_after: True (apply the reset gate after the recurrent projection).

    Call arguments: as LSTM's, with ``initial_state`` ``[h]`` (or ``h``).

    Input shape: ``(batch, timesteps, features)``, with an optional ``(batch, timesteps)`` mask.
    Output shape: ``(batch, timesteps, units)`` with return_sequences, else ``(batch, units)``; with
    return_state a list ``[output, h]``.

    Example:
        >>> gru = GRU(4, return_sequences=True)
        >>> gru(numpy.ones((32, 10, 8))).shape
        (32, 10, 4)
    """

    gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if not self.use_bias:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def _input_bias_grad(self):
        if not self.use_bias or "bias" not in self.grads:
            return None
        return self.grads["bias"][0] if self.reset_after else self.grads["bias"]

    def _scan_is_compiled(self, x_tm):
        return self.reset_after and recurrent.scan_is_compiled((x_tm, self.kernel, self.recurrent_kernel),
                                                               self.activation, self.recurrent_activation)

    def _scan(self, xw, initial_states):
        H = self._state_buffer(xw, initial_states[0])
        if not self.reset_after:
            return self._scan_reset_before(xw, H)
        xp = backend.get_array_module(xw)
        T = xw.shape[0]
        HR = xp.empty_like(xw)
        gates = xp.empty_like(xw)
        if self._compiled_scan:
            recurrent.gru_scan_compiled(xw, self.recurrent_kernel, self.bias[1] if self.use_bias else None,
                                        self._recurrent_mask, self._mask_tm, H, HR, gates)
            self._xw, self._HR, self._gates = None, HR, gates  # the compiled backward does not read xw
            return H, [H[T]]
        for t in range(T):
            xp.matmul(self._recurrent_input(H[t]), self.recurrent_kernel, out=HR[t])
            if self.use_bias:
                HR[t] += self.bias[1]
            recurrent.gru_step(xw[t], HR[t], H[t], self._step_mask(t), H[t + 1], gates[t],
                         self.activation, self.recurrent_activation)
        self._xw, self._HR, self._gates = xw, HR, gates
        return H, [H[T]]

    def _scan_backward(self, dH, d_final_states):
        if not self.reset_after:
            return self._scan_backward_reset_before(dH)
        xp = backend.get_array_module(dH)
        T, N, U = dH.shape
        H = self._H
        dxw, dhr = xp.empty_like(self._gates), xp.empty_like(self._gates)
        if self._compiled_scan:
            dh = recurrent.gru_scan_backward_compiled(dH, self.recurrent_kernel, self._recurrent_mask, self._mask_tm,
                                                      H, self._HR, self._gates, dxw, dhr)
        else:
            dh = self._step_loop_backward(dH, dxw, dhr)
        self._recurrent_kernel_grad(xp, dhr)
        if self.use_bias and "bias" in self.grads:
            dhr.reshape(T * N, -1).sum(axis=0, out=self.grads["bias"][1])
        return dxw, [dh]

    def _step_loop_backward(self, dH, dxw, dhr):
        xp = backend.get_array_module(dH)
        T, N, U = dH.shape
        dh = xp.zeros((N, U), dtype=dH.dtype)
        dh_carry = xp.empty_like(dh)
        for t in reversed(range(T)):
            dh += dH[t]
            recurrent.gru_step_backward(dh, self._xw[t], self._HR[t], self._H[t], self._gates[t],
                                        self._step_mask(t), dxw[t], dhr[t], dh_carry, self.activation,
                                        self.recurrent_activation)
            dh = self._recurrent_backward(dhr[t], dh_carry)
        return dh

    # ---- reset_after=False: the reset gate scales h before the recurrent projection (no fused kernel) ----
    def _scan_reset_before(self, xw, H):
        xp = backend.get_array_module(xw)
        T, N, _ = xw.shape
        U = self.units
        R_zr, R_h = self.recurrent_kernel[:, :2 * U], self.recurrent_kernel[:, 2 * U:]
        pre = xp.empty_like(xw)            # pre-activations of z, r, hh
        gates = xp.empty_like(xw)          # z, r, hh
        RH = xp.empty((T, N, U), dtype=xw.dtype)   # r * h_in, the input of R_h
        for t in range(T):
            h_in = self._recurrent_input(H[t])
            pre[t, :, :2 * U] = xw[t, :, :2 * U] + h_in @ R_zr
            gates[t, :, :2 * U] = self.recurrent_activation.forward(pre[t, :, :2 * U])
            z, r = gates[t, :, :U], gates[t, :, U:2 * U]
            RH[t] = r * h_in
            pre[t, :, 2 * U:] = xw[t, :, 2 * U:] + RH[t] @ R_h
            hh = gates[t, :, 2 * U:]
            hh[...] = self.activation.forward(pre[t, :, 2 * U:])
            h_new = hh + z * (H[t] - hh)
            mask = self._step_mask(t)
            H[t + 1] = h_new if mask is None else xp.where(mask[:, None] > 0, h_new, H[t])
        self._pre, self._gates, self._RH = pre, gates, RH
        return H, [H[T]]

    def _scan_backward_reset_before(self, dH):
        xp = backend.get_array_module(dH)
        T, N, U = dH.shape
        H, pre, gates = self._H, self._pre, self._gates
        R_zr, R_h = self.recurrent_kernel[:, :2 * U], self.recurrent_kernel[:, 2 * U:]
        dpre = xp.empty_like(pre)
        dh = xp.zeros((N, U), dtype=dH.dtype)
        for t in reversed(range(T)):
            dh = dh + dH[t]
            mask = self._step_mask(t)
            carry = 0 if mask is None else dh * (1 - mask[:, None])
            if mask is not None:
                dh = dh * mask[:, None]
            z, r, hh = gates[t, :, :U], gates[t, :, U:2 * U], gates[t, :, 2 * U:]
            h_in = self._recurrent_input(H[t])
            dpre[t, :, 2 * U:] = self.activation.backward(dh * (1 - z), pre[t, :, 2 * U:], hh)
            d_rh = dpre[t, :, 2 * U:] @ R_h.T
            dpre[t, :, :U] = self.recurrent_activation.backward(dh * (H[t] - hh), pre[t, :, :U], z)
            dpre[t, :, U:2 * U] = self.recurrent_activation.backward(d_rh * h_in, pre[t, :, U:2 * U], r)
            dh_in = d_rh * r + dpre[t, :, :2 * U] @ R_zr.T
            if self._recurrent_mask is not None:
                dh_in *= self._recurrent_mask
            dh = dh * z + carry + dh_in
        if "recurrent_kernel" in self.grads:
            h_in = self._recurrent_input(H[:-1]).reshape(T * N, U)
            dR = self.grads["recurrent_kernel"]
            dR[:, :2 * U] = h_in.T @ dpre[:, :, :2 * U].reshape(T * N, 2 * U)
            dR[:, 2 * U:] = self._RH.reshape(T * N, U).T @ dpre[:, :, 2 * U:].reshape(T * N, U)
        return dpre, [dh]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
