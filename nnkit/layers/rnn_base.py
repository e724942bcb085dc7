"""What SimpleRNN, LSTM and GRU share: arguments, weights, masking, dropout, and the time loop's frame.

Back-propagation through time is organised around GEMMs over all steps at once. Inputs are made
time-major, ``x (N, T, D) -> (T, N, D)``, and the input projection of every step is one GEMM
``(T*N, D) @ kernel``. Each step then runs one small GEMM for the recurrent projection and one element-wise
op (``nnkit.primitives.recurrent``). The backward pass mirrors it: one GEMM per step to send the gradient back
through the recurrent kernel, then one GEMM each for the kernel gradient, the recurrent-kernel gradient and
the input gradient over all steps.

A call takes Keras' arguments ``layer(sequences, initial_state=None, mask=None, training=None)``. Given initial
states (or an explicit mask) the layer's inputs become the list ``[sequences, *states(, mask)]`` and its backward
returns ``[dx, *d_states(, None)]``: the gradient reaching ``h_0`` (and ``c_0``) is what back-propagation through
time carries past the first step. With ``stateful=True`` each call starts from the final states of the one before
(truncated back-propagation through time: no gradient crosses from one call to the next).

A subclass sets ``gates`` (G), builds its weights and writes ``_scan`` and ``_scan_backward``.
"""
import numpy

from .. import _cpu as cpu_kernels
from .. import activations, backend, initializers, regularizers
from .._arguments import dropout_rate
from .base import Layer, positive_int


class _CarriedStates:
    """A stateful layer's states between calls, and the batch size they fix. One object per layer, updated in place:
    the shallow copies a graph takes of a layer's attributes (``Layer.save_call_state``) share it, so putting a
    call's attributes back for its backward never rolls the states back."""

    def __init__(self):
        self.batch_size = None
        self.values = None


class Recurrent(Layer):
    """Base of the recurrent layers (see SimpleRNN, LSTM, GRU for the arguments)."""

    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False,
                 **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.units = positive_int(kind, "units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = dropout_rate(kind, "dropout", dropout)
        self.recurrent_dropout = dropout_rate(kind, "recurrent_dropout", recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self._carried = _CarriedStates()
        # Keras compiles an unrolled loop when `unroll` is set; nnkit's loop is the same math either way.
        self.unroll = bool(unroll)
        # Keras' RNN option (set by Bidirectional): padded steps output zeros instead of the carried state.
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._compiled_scan = False  # set by each forward pass (_scan_is_compiled)

    # ---- shapes and weights ----------------------------------------------------------------------------
    def build(self, input_shape):
        if isinstance(input_shape, list):  # [sequences, *initial states(, mask)]
            input_shape = input_shape[0]
        if len(input_shape) != 3:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects an input of rank 3 "
                             f"(batch, timesteps, features), but received input of shape {tuple(input_shape)}.")
        GU = self.gates * self.units
        self.add_weight(name="kernel", shape=(input_shape[-1], GU), initializer=self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        self.add_weight(name="recurrent_kernel", shape=(self.units, GU), initializer=self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.add_weight(name="bias", shape=self.bias_shape(), initializer=self.bias_initializer_for_build(),
                            regularizer=self.bias_regularizer)
        if self.stateful and input_shape[0] is not None and self._carried.batch_size is None:
            self._carried.batch_size = input_shape[0]

    def bias_shape(self):
        """The bias shape: ``(gates * units,)``; GRU with ``reset_after`` overrides it."""
        return (self.gates * self.units,)

    def bias_initializer_for_build(self):
        """The initializer ``build`` gives the bias (LSTM's ``unit_forget_bias`` overrides it)."""
        return self.bias_initializer

    def compute_output_shape(self, input_shape, explicit_mask=False):
        """The shape of the output (with ``return_state``, each state is ``(batch, units)`` besides it)."""
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        N, T = input_shape[0], input_shape[1]
        output = (N, T, self.units) if self.return_sequences else (N, self.units)
        return [output] + [(N, self.units)] * self.state_count if self.return_state else output

    @property
    def state_count(self):
        """The number of state arrays (1; LSTM has 2: h and c), as ``return_state`` returns them."""
        return 1

    @property
    def state_names(self):
        """The states' names, in ``initial_state`` order: ``["h"]`` (LSTM: ``["h", "c"]``)."""
        return ["h", "c"][:self.state_count]

    # ---- the call: initial states and an explicit mask -----------------------------------------------
    def bind_call(self, sequences, initial_state=None, mask=None, training=None):
        """Keras' call: ``layer(sequences, initial_state=None, mask=None, training=None)``.

        Args:
            sequences: ``(batch, timesteps, features)``.
            initial_state: the states to start from instead of zeros (or, when ``stateful``, of the carried
                ones): a list ``[h, c]`` for LSTM, ``[h]`` or ``h`` for GRU and SimpleRNN, each
                ``(batch, units)``. They join the layer's inputs, so gradients reach them.
            mask: ``(batch, timesteps)`` booleans (True = real step), used instead of any mask the input carries.
            training: run in training mode (dropout).
        """
        if isinstance(sequences, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) takes one sequence tensor; pass initial "
                             f"states as `initial_state=[...]`. Received a list of {len(sequences)} tensors.")
        states = self.checked_initial_state(initial_state, sequences.shape)
        if not states and mask is None:
            return sequences, training, {}
        inputs = [sequences, *states] + ([mask] if mask is not None else [])
        return inputs, training, ({"explicit_mask": True} if mask is not None else {})

    def checked_initial_state(self, initial_state, sequences_shape):
        """``initial_state`` as a list of ``state_count`` states of shape ``(batch, units)`` (batch as in
        ``sequences_shape``), or a ValueError naming the layer; ``[]`` for None."""
        if initial_state is None:
            return []
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        states = [s if hasattr(s, "shape") else numpy.asarray(s) for s in states]  # arrays, KerasTensors
        kind, names = type(self).__name__, self.state_names
        if len(states) != self.state_count:
            raise ValueError(f"Layer '{self.name}' ({kind}) expects `initial_state` to hold {self.state_count} "
                             f"state(s) [{', '.join(names)}], each of shape (batch, {self.units}); received "
                             f"{len(states)}.")
        for name, state in zip(names, states):
            shape = tuple(state.shape)
            N = sequences_shape[0]
            if len(shape) != 2 or shape[1] != self.units or None not in (N, shape[0]) and shape[0] != N:
                raise ValueError(f"Layer '{self.name}' ({kind}) expects the initial state {name} to have shape "
                                 f"(batch, units) = ({N}, {self.units}); received shape {shape}.")
        return states

    def _split_inputs(self, inputs, explicit_mask):
        """``(sequences, initial states, explicit mask or None)`` from the layer's inputs (see ``bind_call``)."""
        self._listed_inputs, self._explicit_mask, self._states_given = isinstance(inputs, (list, tuple)), \
            explicit_mask, False
        if not self._listed_inputs:
            return inputs, [], None
        x, *states = inputs
        mask = states.pop() if explicit_mask else None
        self._states_given = bool(states)
        return x, self.checked_initial_state(states or None, x.shape), mask

    # ---- stateful ---------------------------------------------------------------------------------------
    @property
    def states(self):
        """The states a ``stateful`` layer carries to its next call (backend arrays, ``[h]`` or ``[h, c]``); None
        for a layer that is not stateful, or before its first call."""
        if not self.stateful or self._carried.values is None:
            return None
        return list(self._carried.values)

    def reset_states(self):
        """Zero the carried states of a ``stateful`` layer (its next call starts from zeros); the batch size they
        fixed stays. Keras 3 calls it ``reset_state``; both names work."""
        if self._carried.values is not None:
            for state in self._carried.values:
                state.fill(0)

    def reset_state(self):
        """``reset_states`` (Keras 3's name)."""
        self.reset_states()

    def _carried_initial_states(self, N):
        """A stateful layer's states to start from (None before its first call); a ValueError if the batch size
        differs from the one the states were made for."""
        carried = self._carried
        if carried.batch_size is not None and N != carried.batch_size:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) is stateful: every batch must have the "
                             f"batch size its states were made for. Expected batch size: {carried.batch_size}; "
                             f"received batch size: {N}. Give every batch (predict's and evaluate's too) that size, "
                             f"or use a layer with stateful=False.")
        carried.batch_size = N
        return carried.values

    # ---- forward -----------------------------------------------------------------------------------
    def forward(self, inputs, training=False, explicit_mask=False):
        return self.forward_masked(inputs, None, training, explicit_mask)[0]

    def forward_masked(self, inputs, mask, training=False, explicit_mask=False):
        x, states, given_mask = self._split_inputs(inputs, explicit_mask)
        if explicit_mask:
            mask = given_mask
        elif isinstance(mask, list):  # the masks of [sequences, *states]: the sequences' counts
            mask = mask[0]
        return self._run(x, states, mask, training), (mask if self.return_sequences else None)

    def _run(self, x, states, mask, training):
        xp = backend.get_array_module(x)
        self._check_input(x)
        self._check_mask(mask, x.shape)
        N, T, D = x.shape
        carried = self._carried_initial_states(N) if self.stateful else None
        initial_states = states or carried or [None] * self.state_count
        U, dtype = self.units, self.kernel.dtype
        if self.go_backwards:
            x = x[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        x_tm = xp.ascontiguousarray(x.transpose(1, 0, 2), dtype=dtype)          # (T, N, D)
        self._input_mask = self._dropout_mask((N, D), self.dropout, training, xp, dtype)
        if self._input_mask is not None:
            x_tm = x_tm * self._input_mask  # not in place: x_tm is the caller's x when N == 1 or T == 1
        self._recurrent_mask = self._dropout_mask((N, U), self.recurrent_dropout, training, xp, dtype)
        self._mask_tm = None if mask is None else xp.ascontiguousarray(xp.asarray(mask).T, dtype=dtype)  # (T, N)
        self._x_tm = x_tm
        self._compiled_scan = self._scan_is_compiled(x_tm)
        # ==== all input projections: one GEMM ====
        xw = self._product(x_tm.reshape(T * N, D), self.kernel).reshape(T, N, -1)
        bias = self._input_bias()
        if bias is not None:
            xw += bias
        H, final_states = self._scan(xw, initial_states)   # H: (T + 1, N, U), H[0] = h_0
        self._H = H
        if self.stateful:
            self._carried.values = [xp.array(state) for state in final_states]
        if self.return_sequences:
            outputs = H[1:] if not self._zero_outputs() else H[1:] * self._mask_tm[:, :, None]
            output = outputs.transpose(1, 0, 2)
        else:
            output = H[T]
        if self.return_state:
            return [output] + final_states
        return output

    def _zero_outputs(self):
        return self.zero_output_for_mask and self._mask_tm is not None

    def _state_buffer(self, xw, initial):
        """One state over time, ``(T + 1, N, U)``: ``[0]`` holds ``initial`` (zeros when None), ``[t + 1]`` step t's."""
        xp = backend.get_array_module(xw)
        T, N, _ = xw.shape
        buffer = xp.zeros((T + 1, N, self.units), dtype=xw.dtype)
        if initial is not None:
            buffer[0] = initial
        return buffer

    def _dropout_mask(self, shape, rate, training, xp, dtype):
        """Keras' dropout for RNNs: one inverted-dropout mask per sequence, shared by every time step."""
        if not training or rate == 0:
            return None
        keep = backend.device_rng().random(shape, dtype=dtype) >= rate
        return keep * dtype.type(1 / (1 - rate))

    def _check_input(self, x):
        features = self.kernel.shape[0]
        if x.ndim != 3 or x.shape[-1] != features:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects input of shape "
                             f"(batch, timesteps, {features}), but received input of shape {tuple(x.shape)}.")
        if x.shape[1] == 0:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) received a sequence with 0 timesteps.")

    def _check_mask(self, mask, x_shape):
        if mask is not None and tuple(mask.shape) != tuple(x_shape[:2]):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects a mask of shape (batch, timesteps) "
                             f"= {tuple(x_shape[:2])}, but received a mask of shape {tuple(mask.shape)}.")

    def _input_bias(self):
        return self.bias if self.use_bias else None

    def _input_bias_grad(self):
        return self.grads.get("bias") if self.use_bias else None

    def _recurrent_input(self, h):
        return h if self._recurrent_mask is None else h * self._recurrent_mask

    # ---- backward ----------------------------------------------------------------------------------
    def backward(self, dy):
        xp = backend.get_array_module(self._H)
        if self.return_state:
            dy, d_states = dy[0], list(dy[1:])
        else:
            d_states = [None] * self.state_count
        T, N, D = self._x_tm.shape
        U = self.units
        # ==== dH: the gradient reaching each h_t from the outputs ====
        dH = xp.zeros((T, N, U), dtype=self._H.dtype)
        if self.return_sequences:
            dH[...] = dy.transpose(1, 0, 2)
            if self._zero_outputs():
                dH *= self._mask_tm[:, :, None]
        else:
            dH[T - 1] += dy
        if d_states[0] is not None:
            dH[T - 1] += d_states[0]
        # ==== through time ====
        dxw, d_initial_states = self._scan_backward(dH, d_states[1:])    # (T, N, G*U); [dh_0(, dc_0)]
        dxw2 = dxw.reshape(T * N, -1)
        # ==== dW, db ====
        if "kernel" in self.grads:
            self._product(self._x_tm.reshape(T * N, D), dxw2, out=self.grads["kernel"], transpose_a=True)
        bias_grad = self._input_bias_grad()
        if bias_grad is not None:
            dxw2.sum(axis=0, out=bias_grad)
        # ==== dx ====
        if not self.needs_input_gradient:
            return None
        dx_tm = self._product(dxw2, self.kernel.T).reshape(T, N, D)
        if self._input_mask is not None:
            dx_tm *= self._input_mask
        dx = dx_tm.transpose(1, 0, 2)
        if self.go_backwards:
            dx = dx[:, ::-1]
        dx = xp.ascontiguousarray(dx)
        if not self._listed_inputs:
            return dx
        # ==== the given initial states (and no gradient for an explicit mask) ====
        return [dx] + (d_initial_states if self._states_given else []) + ([None] if self._explicit_mask else [])

    def _recurrent_kernel_grad(self, xp, dz):
        """``recurrent_kernel`` gradient over all steps in one GEMM: ``sum_t h_{t-1}^T dz_t``."""
        if "recurrent_kernel" not in self.grads:
            return
        T, N, U = self._H.shape[0] - 1, self._H.shape[1], self.units
        h_in = self._recurrent_input(self._H[:-1]).reshape(T * N, U)
        self._product(h_in, dz.reshape(T * N, -1), out=self.grads["recurrent_kernel"], transpose_a=True)

    def _scan_is_compiled(self, x_tm):
        """Whether the whole sequence runs on the compiled CPU kernels (a subclass with a compiled scan says)."""
        return False

    def _product(self, a, b, out=None, transpose_a=False):
        """``a @ b`` (``a.T @ b`` when ``transpose_a``) for the layer's GEMMs outside the scan: on the compiled
        kernels' threads when the scan runs there (OpenBLAS' threads, busy-waiting after a product, would take the
        cores from the scan), else the array module's."""
        if self._compiled_scan:
            return cpu_kernels.matmul(a, b, out=out, transpose_a=transpose_a)
        return backend.get_array_module(a).matmul(a.T if transpose_a else a, b, out=out)

    def _recurrent_backward(self, dz, carry):
        """``dh_{t-1}`` from ``dz_t``: through the recurrent kernel (and its dropout mask), plus ``carry``."""
        dh = dz @ self.recurrent_kernel.T
        if self._recurrent_mask is not None:
            dh *= self._recurrent_mask
        dh += carry
        return dh

    def _step_mask(self, t):
        return None if self._mask_tm is None else self._mask_tm[t]

    # ---- description -------------------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}
