"""One time step of the recurrent layers: the gate non-linearities and the state update.

The layers batch the input projections of all time steps into one GEMM and run one GEMM per step for the
recurrent projection; what is left per step is element-wise, and lives here. Each step exists as a
reference written with the array module of its arguments (any activation), and, for the default
activations (tanh for the candidate, sigmoid for the gates), a fused GPU kernel (``kernels/recurrent.cu``).
The kernel is used when the arrays are on the GPU and the activations allow it. On the CPU, float32 arrays with
the default activations use the compiled twins (``nnkit._cpu``); for the LSTM, a whole sequence runs in one
compiled call (``lstm_scan_compiled``, ``gru_scan_compiled``: the twins of the layers' loops over the reference
steps).

Notation (besides that of ``nnkit.primitives``):
    T          time steps
    D          input features per step
    U          units (size of the hidden state)
    xw         input projection of one step, ``x_t @ kernel (+ bias)``: (N, G*U), G = 4 (LSTM) or 3 (GRU)
    hr         recurrent projection of one step, ``h_{t-1} @ recurrent_kernel (+ bias)``: (N, G*U)
    mask       (N,) with 1 for a real step and 0 for a padded one, or None. A padded step carries the
               state over unchanged: ``h_t = h_{t-1}`` (and ``c_t = c_{t-1}``).

Outputs are written into the arrays passed as ``h``, ``c``, ``gates``... (slices of the layer's per-sequence
buffers), so a step allocates nothing on the GPU path.
"""
from .. import _cpu as cpu_kernels
from .. import backend
from ..cuda import recurrent as kernels


def _split(a, parts):
    if a is None:
        return [None] * parts
    units = a.shape[1] // parts
    return [a[:, k * units:(k + 1) * units] for k in range(parts)]


def _carry(new, old, mask):
    """``new`` where the step is real, ``old`` where it is padded."""
    if mask is None:
        return new
    return backend.get_array_module(new).where(mask[:, None] > 0, new, old)


def _is_fusable(array, activation, recurrent_activation):
    return (backend.is_device_array(array) and activation.name == "tanh"
            and recurrent_activation.name == "sigmoid")


def _is_compiled(arrays, activation, recurrent_activation):
    """The compiled CPU twin applies: float32 NumPy arrays, tanh and sigmoid."""
    return (activation.name == "tanh" and recurrent_activation.name == "sigmoid"
            and cpu_kernels.handles(*arrays))


# ==== LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000) ====
#   z = xw + hr = [z_i, z_f, z_c, z_o]          (Keras' gate order)
#   i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_c)
#   c_t = f * c_{t-1} + i * g;          h_t = o * tanh(c_t)
def lstm_step_reference(xw, hr, h_prev, c_prev, mask, h, c, gates, activation, recurrent_activation):
    """Writes ``h``, ``c`` (N, U) and the activated gates ``[i, f, g, o]`` into ``gates`` (N, 4U)."""
    z_i, z_f, z_g, z_o = _split(xw + hr, 4)
    i, f, g, o = _split(gates, 4)
    i[...] = recurrent_activation.forward(z_i)
    f[...] = recurrent_activation.forward(z_f)
    g[...] = activation.forward(z_g)
    o[...] = recurrent_activation.forward(z_o)
    c_new = f * c_prev + i * g
    h[...] = _carry(o * activation.forward(c_new), h_prev, mask)
    c[...] = _carry(c_new, c_prev, mask)


def lstm_step_backward_reference(dh, dc, xw, hr, c_prev, c, gates, mask, dz, dh_carry, dc_prev,
                                 activation, recurrent_activation):
    """From the gradients ``dh``, ``dc`` of ``h_t``, ``c_t``: writes ``dz`` (N, 4U), the gradient of the
    pre-activations, ``dc_prev`` and ``dh_carry`` (the part of ``dh_{t-1}`` that skips the recurrent
    kernel: nonzero only on padded steps). ``xw``, ``hr`` are read only by activations that need their input.
    """
    if mask is not None:
        m = mask[:, None]
        dh_carry[...] = dh * (1 - m)
        dc_carry = dc * (1 - m)
        dh, dc = dh * m, dc * m
    else:
        dh_carry[...] = 0
        dc_carry = 0
    i, f, g, o = _split(gates, 4)
    z_i, z_f, z_g, z_o = _split(xw + hr if activation.needs_input or recurrent_activation.needs_input
                                else None, 4)
    tanh_c = activation.forward(c)
    dc_total = dc + activation.backward(dh * o, c, tanh_c)
    dz_i, dz_f, dz_g, dz_o = _split(dz, 4)
    dz_i[...] = recurrent_activation.backward(dc_total * g, z_i, i)
    dz_f[...] = recurrent_activation.backward(dc_total * c_prev, z_f, f)
    dz_g[...] = activation.backward(dc_total * i, z_g, g)
    dz_o[...] = recurrent_activation.backward(dh * tanh_c, z_o, o)
    dc_prev[...] = dc_total * f + dc_carry


def lstm_step_gpu(xw, hr, h_prev, c_prev, mask, h, c, gates, activation, recurrent_activation):
    """``lstm_step_reference``'s signature on the fused CUDA kernel (tanh and sigmoid only; the activations are not read)."""
    kernels.lstm_step(xw, hr, h_prev, c_prev, mask, h, c, gates)


def lstm_step_backward_gpu(dh, dc, xw, hr, c_prev, c, gates, mask, dz, dh_carry, dc_prev,
                           activation, recurrent_activation):
    """``lstm_step_backward_reference``'s signature on the fused CUDA kernel (tanh and sigmoid only)."""
    kernels.lstm_step_backward(dh, dc, c_prev, c, gates, mask, dz, dh_carry, dc_prev)


def lstm_step_compiled(xw, hr, h_prev, c_prev, mask, h, c, gates, activation, recurrent_activation):
    """``lstm_step_reference``'s signature on the compiled CPU twin (float32; tanh and sigmoid only)."""
    cpu_kernels.lstm_step(xw, hr, h_prev, c_prev, mask, h, c, gates)


def lstm_step_backward_compiled(dh, dc, xw, hr, c_prev, c, gates, mask, dz, dh_carry, dc_prev,
                                activation, recurrent_activation):
    """``lstm_step_backward_reference``'s signature on the compiled CPU twin (float32; tanh and sigmoid only)."""
    cpu_kernels.lstm_step_backward(dh, dc, c_prev, c, gates, mask, dz, dh_carry, dc_prev)


def lstm_step(xw, hr, h_prev, c_prev, mask, h, c, gates, activation, recurrent_activation):
    """One LSTM step: the fused kernel for CuPy arrays with tanh/sigmoid, the compiled CPU twin for float32 NumPy
    arrays with tanh/sigmoid, else ``lstm_step_reference``."""
    if _is_fusable(xw, activation, recurrent_activation):
        step = lstm_step_gpu
    elif _is_compiled((xw, hr, h_prev, c_prev, h, c, gates), activation, recurrent_activation):
        step = lstm_step_compiled
    else:
        step = lstm_step_reference
    step(xw, hr, h_prev, c_prev, mask, h, c, gates, activation, recurrent_activation)


def lstm_step_backward(dh, dc, xw, hr, c_prev, c, gates, mask, dz, dh_carry, dc_prev,
                       activation, recurrent_activation):
    """One LSTM step backward: the fused kernel for CuPy arrays with tanh/sigmoid, the compiled CPU twin for float32
    NumPy arrays with tanh/sigmoid, else ``lstm_step_backward_reference``."""
    if _is_fusable(dh, activation, recurrent_activation):
        step = lstm_step_backward_gpu
    elif _is_compiled((dh, dc, c_prev, c, gates, dz, dh_carry, dc_prev), activation, recurrent_activation):
        step = lstm_step_backward_compiled
    else:
        step = lstm_step_backward_reference
    step(dh, dc, xw, hr, c_prev, c, gates, mask, dz, dh_carry, dc_prev, activation, recurrent_activation)


def scan_is_compiled(arrays, activation, recurrent_activation):
    """Whether ``lstm_scan_compiled`` or ``gru_scan_compiled`` runs a sequence: float32 NumPy arrays, tanh and
    sigmoid."""
    return _is_compiled(arrays, activation, recurrent_activation)


def lstm_scan_compiled(xw, recurrent_kernel, recurrent_mask, mask, H, C, gates):
    """Every step of an LSTM layer on the compiled CPU twin, the rows split over its threads once.

    ``xw (T, N, 4U)``; ``H``, ``C`` ``(T + 1, N, U)`` with the initial state at ``[0]``; ``gates (T, N, 4U)``;
    ``recurrent_mask (N, U)`` or None; ``mask (T, N)`` or None. Step t is ``lstm_step_reference`` with
    ``hr = (H[t] * recurrent_mask) @ recurrent_kernel``.
    """
    cpu_kernels.lstm_scan(xw, recurrent_kernel, recurrent_mask, mask, H, C, gates)


def lstm_scan_backward_compiled(dH, dc_last, recurrent_kernel, recurrent_mask, mask, C, gates, dz):
    """``lstm_scan_compiled`` backward from ``dH (T, N, U)`` and ``dc_last`` (or None): writes ``dz`` and returns
    ``(dh_0, dc_0)``."""
    return cpu_kernels.lstm_scan_backward(dH, dc_last, recurrent_kernel, recurrent_mask, mask, C, gates, dz)


# ==== GRU with the reset gate applied after the recurrent projection (Keras' reset_after=True) ====
#   xw = x_t @ kernel + bias[0] = [x_z, x_r, x_h];  hr = h_{t-1} @ recurrent_kernel + bias[1] = [r_z, r_r, r_h]
#   z = sigmoid(x_z + r_z);  r = sigmoid(x_r + r_r);  hh = tanh(x_h + r * r_h)
#   h_t = z * h_{t-1} + (1 - z) * hh
def gru_step_reference(xw, hr, h_prev, mask, h, gates, activation, recurrent_activation):
    """Writes ``h`` (N, U) and the activated gates ``[z, r, hh]`` into ``gates`` (N, 3U)."""
    x_z, x_r, x_h = _split(xw, 3)
    r_z, r_r, r_h = _split(hr, 3)
    z, r, hh = _split(gates, 3)
    z[...] = recurrent_activation.forward(x_z + r_z)
    r[...] = recurrent_activation.forward(x_r + r_r)
    hh[...] = activation.forward(x_h + r * r_h)
    h[...] = _carry(hh + z * (h_prev - hh), h_prev, mask)


def gru_step_backward_reference(dh, xw, hr, h_prev, gates, mask, dxw, dhr, dh_carry,
                                activation, recurrent_activation):
    """From the gradient ``dh`` of ``h_t``: writes ``dxw`` and ``dhr`` (N, 3U), the gradients of the two
    projections, and ``dh_carry``, the part of ``dh_{t-1}`` that skips the recurrent kernel."""
    if mask is not None:
        m = mask[:, None]
        carry = dh * (1 - m)
        dh = dh * m
    else:
        carry = 0
    z, r, hh = _split(gates, 3)
    x_z, x_r, x_h = _split(xw, 3)
    r_z, r_r, r_h = _split(hr, 3)
    needs = activation.needs_input or recurrent_activation.needs_input
    dx_z, dx_r, dx_h = _split(dxw, 3)
    dr_z, dr_r, dr_h = _split(dhr, 3)
    dx_h[...] = activation.backward(dh * (1 - z), x_h + r * r_h if needs else None, hh)
    dr_h[...] = dx_h * r
    dx_z[...] = recurrent_activation.backward(dh * (h_prev - hh), x_z + r_z if needs else None, z)
    dx_r[...] = recurrent_activation.backward(dx_h * r_h, x_r + r_r if needs else None, r)
    dr_z[...] = dx_z
    dr_r[...] = dx_r
    dh_carry[...] = dh * z + carry


def gru_step_gpu(xw, hr, h_prev, mask, h, gates, activation, recurrent_activation):
    """``gru_step_reference``'s signature on the fused CUDA kernel (tanh and sigmoid only; the activations are not read)."""
    kernels.gru_step(xw, hr, h_prev, mask, h, gates)


def gru_step_backward_gpu(dh, xw, hr, h_prev, gates, mask, dxw, dhr, dh_carry, activation, recurrent_activation):
    """``gru_step_backward_reference``'s signature on the fused CUDA kernel (tanh and sigmoid only)."""
    kernels.gru_step_backward(dh, hr, h_prev, gates, mask, dxw, dhr, dh_carry)


def gru_scan_compiled(xw, recurrent_kernel, recurrent_bias, recurrent_mask, mask, H, HR, gates):
    """Every step of a GRU layer (``reset_after=True``) on the compiled CPU twin, the rows split over its threads
    once. Step t is ``gru_step_reference`` with ``HR[t] = (H[t] * recurrent_mask) @ recurrent_kernel +
    recurrent_bias``; ``recurrent_bias``, ``recurrent_mask`` and ``mask`` may be None."""
    cpu_kernels.gru_scan(xw, recurrent_kernel, recurrent_bias, recurrent_mask, mask, H, HR, gates)


def gru_scan_backward_compiled(dH, recurrent_kernel, recurrent_mask, mask, H, HR, gates, dxw, dhr):
    """``gru_scan_compiled`` backward from ``dH (T, N, U)``: writes ``dxw`` and ``dhr``, returns ``dh_0``."""
    return cpu_kernels.gru_scan_backward(dH, recurrent_kernel, recurrent_mask, mask, H, HR, gates, dxw, dhr)


def gru_step(xw, hr, h_prev, mask, h, gates, activation, recurrent_activation):
    """One GRU step: the fused kernel for CuPy arrays with tanh/sigmoid, else ``gru_step_reference``."""
    step = gru_step_gpu if _is_fusable(xw, activation, recurrent_activation) else gru_step_reference
    step(xw, hr, h_prev, mask, h, gates, activation, recurrent_activation)


def gru_step_backward(dh, xw, hr, h_prev, gates, mask, dxw, dhr, dh_carry, activation, recurrent_activation):
    """One GRU step backward: the fused kernel for CuPy arrays with tanh/sigmoid, else ``gru_step_backward_reference``."""
    step = gru_step_backward_gpu if _is_fusable(dh, activation, recurrent_activation) \
        else gru_step_backward_reference
    step(dh, xw, hr, h_prev, gates, mask, dxw, dhr, dh_carry, activation, recurrent_activation)
