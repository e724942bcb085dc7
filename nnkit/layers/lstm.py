"""LSTM: long short-term memory (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)."""
from .. import backend, initializers
from ..primitives import recurrent
from .rnn_base import Recurrent


class _UnitForgetBias(initializers.Initializer):
    """Keras' ``unit_forget_bias``: the bias initializer for the i and c, o gates, ones for the f gate."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def draw(self, shape, rng):
        U = self.units
        bias = self.base(shape, "float64")
        bias[U:2 * U] = 1.0
        return bias


class LSTM(Recurrent):
    """Long short-term memory layer, with Keras' arguments, defaults and weight layout.

    ``kernel`` is ``(features, 4*units)``, ``recurrent_kernel`` ``(units, 4*units)``, ``bias`` ``(4*units,)``,
    with the gates in Keras' order i, f, c, o: ``set_weights(keras_lstm.get_weights())`` reproduces a Keras
    LSTM's outputs. Per step::

        i = recurrent_activation(x W_i + h R_i + b_i)   f, o likewise
        c = f * c + i * activation(x W_c + h R_c + b_c);   h = o * activation(c)

    Args:
        units: size of the hidden state.
        activation: 'tanh'. recurrent_activation: 'sigmoid' (for i, f, o). use_bias: True.
        kernel_initializer: 'glorot_uniform'. recurrent_initializer: 'orthogonal'. bias_initializer: 'zeros'.
        unit_forget_bias: True: the forget gate's bias starts at 1 (Jozefowicz et al. 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: None.
        dropout, recurrent_dropout: fractions of the inputs / of the state dropped in training (one mask
            per sequence).
        return_sequences: output every step's h (else only the last). return_state: also return h and c.
        go_backwards: process the sequence in reverse (and return the reversed sequence).
        stateful: each call starts from the final states of the call before (every batch the same size; no
            gradient crosses between calls); ``reset_states()`` (or ``reset_state()``) zeroes them.
        unroll: accepted for Keras compatibility; nnkit runs the same loop either way.

    Call arguments: ``layer(sequences, initial_state=None, mask=None, training=None)``; ``initial_state`` is
    ``[h, c]``, each ``(batch, units)`` (an encoder's ``return_state`` outputs, e.g.), and gets gradients;
    ``mask`` ``(batch, timesteps)`` replaces the mask the input carries.

    Input shape: ``(batch, timesteps, features)``; an incoming mask ``(batch, timesteps)`` skips padded steps.
    Output shape: ``(batch, timesteps, units)`` with return_sequences, else ``(batch, units)``; with
    return_state a list ``[output, h, c]``.

    Example:
        >>> lstm = LSTM(4)
        >>> lstm(numpy.ones((32, 10, 8))).shape
        (32, 4)
    """

    gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_count(self):
        return 2

    def bias_initializer_for_build(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def _scan_is_compiled(self, x_tm):
        return recurrent.scan_is_compiled((x_tm, self.kernel, self.recurrent_kernel), self.activation,
                                          self.recurrent_activation)

    def _scan(self, xw, initial_states):
        xp = backend.get_array_module(xw)
        T = xw.shape[0]
        H, C = (self._state_buffer(xw, state) for state in initial_states)
        gates = xp.empty_like(xw)
        if self._compiled_scan:
            recurrent.lstm_scan_compiled(xw, self.recurrent_kernel, self._recurrent_mask, self._mask_tm, H, C, gates)
            self._C, self._xw, self._HR, self._gates = C, None, None, gates  # the compiled backward needs no xw, hr
            return H, [H[T], C[T]]
        HR = xp.empty_like(xw)
        for t in range(T):
            xp.matmul(self._recurrent_input(H[t]), self.recurrent_kernel, out=HR[t])
            recurrent.lstm_step(xw[t], HR[t], H[t], C[t], self._step_mask(t), H[t + 1], C[t + 1], gates[t],
                          self.activation, self.recurrent_activation)
        self._C, self._xw, self._HR, self._gates = C, xw, HR, gates
        return H, [H[T], C[T]]

    def _scan_backward(self, dH, d_final_states):
        xp = backend.get_array_module(dH)
        T, N, U = dH.shape
        C = self._C
        dz = xp.empty_like(self._gates)
        if self._compiled_scan:
            dh, dc = recurrent.lstm_scan_backward_compiled(dH, d_final_states[0], self.recurrent_kernel,
                                                           self._recurrent_mask, self._mask_tm, C, self._gates, dz)
            self._recurrent_kernel_grad(xp, dz)
            return dz, [dh, dc]
        dh = xp.zeros((N, U), dtype=dH.dtype)
        dc = xp.zeros((N, U), dtype=dH.dtype) if d_final_states[0] is None else xp.array(d_final_states[0])
        dh_carry, dc_prev = xp.empty_like(dh), xp.empty_like(dc)
        for t in reversed(range(T)):
            dh += dH[t]
            recurrent.lstm_step_backward(dh, dc, self._xw[t], self._HR[t], C[t], C[t + 1], self._gates[t],
                                   self._step_mask(t), dz[t], dh_carry, dc_prev,
                                   self.activation, self.recurrent_activation)
            dh = self._recurrent_backward(dz[t], dh_carry)
            dc, dc_prev = dc_prev, dc
        self._recurrent_kernel_grad(xp, dz)
        return dz, [dh, dc]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
