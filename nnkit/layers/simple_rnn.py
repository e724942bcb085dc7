"""SimpleRNN: the fully connected recurrent layer (Elman 1990)."""
from .. import backend
from .rnn_base import Recurrent


class SimpleRNN(Recurrent):
    """Fully connected recurrent layer: ``h = activation(x @ kernel + h @ recurrent_kernel + bias)``.

    Args:
        units: size of the hidden state. activation: 'tanh'. use_bias: True.
        kernel_initializer: 'glorot_uniform'. recurrent_initializer: 'orthogonal'. bias_initializer: 'zeros'.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout, recurrent_dropout,
        return_sequences, return_state, go_backwards, stateful, unroll: as in LSTM.

    Call arguments: as LSTM's, with ``initial_state`` ``[h]`` (or ``h``).

    Input shape: ``(batch, timesteps, features)``, with an optional ``(batch, timesteps)`` mask.
    Output shape: ``(batch, timesteps, units)`` with return_sequences, else ``(batch, units)``; with
    return_state a list ``[output, h]``.

    Example:
        >>> rnn = SimpleRNN(4)
        >>> rnn(numpy.ones((32, 10, 8))).shape
        (32, 4)
    """

    gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNN has no recurrent_activation (it has no gates); use `activation`.")
        super().__init__(units, activation=activation, **kwargs)

    def _scan(self, xw, initial_states):
        xp = backend.get_array_module(xw)
        T = xw.shape[0]
        H = self._state_buffer(xw, initial_states[0])
        Y = xp.empty_like(xw)                     # activation outputs before masking
        for t in range(T):
            xw[t] += self._recurrent_input(H[t]) @ self.recurrent_kernel     # xw now holds pre-activations
            Y[t] = self.activation.forward(xw[t])
            m = self._step_mask(t)
            H[t + 1] = Y[t] if m is None else xp.where(m[:, None] > 0, Y[t], H[t])
        self._Z, self._Y = xw, Y
        return H, [H[T]]

    def _scan_backward(self, dH, d_final_states):
        xp = backend.get_array_module(dH)
        T, N, U = dH.shape
        dz = xp.empty_like(self._Y)
        dh = xp.zeros((N, U), dtype=dH.dtype)
        for t in reversed(range(T)):
            dh += dH[t]
            m = self._step_mask(t)
            carry = 0 if m is None else dh * (1 - m[:, None])
            dz[t] = self.activation.backward(dh if m is None else dh * m[:, None], self._Z[t], self._Y[t])
            dh = self._recurrent_backward(dz[t], carry)
        self._recurrent_kernel_grad(xp, dz)
        return dz, [dh]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config
