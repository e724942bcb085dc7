// One time step of the LSTM and GRU layers, fused: every gate non-linearity and the state update in one
// launch. The GEMMs (input and recurrent projections) run before, in cuBLAS; these kernels do the rest.
//
// Layout: row-major, N rows (batch) by U units; gate matrices are (N, G*U) with the gates side by side in
// Keras' order (LSTM: i, f, c, o; GRU: z, r, h). One thread per (n, u) element: it reads the G gates of
// unit u of row n, so a grid-stride loop over N*U covers the step. Indices are 64-bit.
//
// mask: (N,) with 1 for a real step, 0 for a padded one (the state is carried over); read only when
// has_mask != 0 (else any pointer may be passed).
//
// NumPy references: nnkit/ops/recurrent.py (lstm_step_reference, lstm_step_backward_reference,
// gru_step_reference, gru_step_backward_reference), with tanh and sigmoid as the activations.
// Launch: grid = grid_for(N*U), block = 256.

template <typename T>
__device__ __forceinline__ T sigmoid(T x) {
    // Two branches so exp() never overflows.
    T e = exp(-fabs(x));
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// ---- LSTM forward ------------------------------------------------------------------------------------
//   z = xw + hr;  i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_c)
//   c = f * c_prev + i * g;  h = o * tanh(c)          (h = h_prev, c = c_prev on a padded step)
template <typename T>
__device__ void lstm_step(const T* __restrict__ xw, const T* __restrict__ hr, const T* __restrict__ h_prev,
                          const T* __restrict__ c_prev, const T* __restrict__ mask, int has_mask,
                          T* __restrict__ h, T* __restrict__ c, T* __restrict__ gates, long long N, long long U) {
    const long long n_elements = N * U;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n_elements;
         k += (long long)gridDim.x * blockDim.x) {
        const long long n = k / U, u = k - n * U;
        const long long row = n * 4 * U;
        const T i = sigmoid(xw[row + u] + hr[row + u]);
        const T f = sigmoid(xw[row + U + u] + hr[row + U + u]);
        const T g = tanh(xw[row + 2 * U + u] + hr[row + 2 * U + u]);
        const T o = sigmoid(xw[row + 3 * U + u] + hr[row + 3 * U + u]);
        gates[row + u] = i;
        gates[row + U + u] = f;
        gates[row + 2 * U + u] = g;
        gates[row + 3 * U + u] = o;
        const T c_new = f * c_prev[k] + i * g;
        const bool real = !has_mask || mask[n] > T(0);
        c[k] = real ? c_new : c_prev[k];
        h[k] = real ? o * tanh(c_new) : h_prev[k];
    }
}

// ---- LSTM backward -----------------------------------------------------------------------------------
// In: dh, dc (gradients of h_t, c_t), c_prev, c, gates (activated i, f, g, o).
// Out: dz (N, 4U) gradient of the pre-activations; dh_carry = dh on padded steps (else 0), the part of
// dh_{t-1} that does not pass through the recurrent kernel; dc_prev.
template <typename T>
__device__ void lstm_step_backward(const T* __restrict__ dh, const T* __restrict__ dc,
                                   const T* __restrict__ c_prev, const T* __restrict__ c,
                                   const T* __restrict__ gates, const T* __restrict__ mask, int has_mask,
                                   T* __restrict__ dz, T* __restrict__ dh_carry, T* __restrict__ dc_prev,
                                   long long N, long long U) {
    const long long n_elements = N * U;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n_elements;
         k += (long long)gridDim.x * blockDim.x) {
        const long long n = k / U, u = k - n * U;
        const long long row = n * 4 * U;
        const T m = has_mask ? (mask[n] > T(0) ? T(1) : T(0)) : T(1);
        const T dh_new = dh[k] * m, dc_new = dc[k] * m;
        const T i = gates[row + u], f = gates[row + U + u], g = gates[row + 2 * U + u], o = gates[row + 3 * U + u];
        const T tanh_c = tanh(c[k]);
        const T dc_total = dc_new + dh_new * o * (T(1) - tanh_c * tanh_c);
        dz[row + u] = dc_total * g * i * (T(1) - i);
        dz[row + U + u] = dc_total * c_prev[k] * f * (T(1) - f);
        dz[row + 2 * U + u] = dc_total * i * (T(1) - g * g);
        dz[row + 3 * U + u] = dh_new * tanh_c * o * (T(1) - o);
        dh_carry[k] = dh[k] * (T(1) - m);
        dc_prev[k] = dc_total * f + dc[k] * (T(1) - m);
    }
}

// ---- GRU forward (reset gate after the recurrent projection: Keras' reset_after=True) -----------------
//   xw = x W + b[0] = [x_z, x_r, x_h];  hr = h_prev R + b[1] = [r_z, r_r, r_h]
//   z = sigmoid(x_z + r_z);  r = sigmoid(x_r + r_r);  hh = tanh(x_h + r * r_h);  h = z * h_prev + (1 - z) * hh
template <typename T>
__device__ void gru_step(const T* __restrict__ xw, const T* __restrict__ hr, const T* __restrict__ h_prev,
                         const T* __restrict__ mask, int has_mask, T* __restrict__ h, T* __restrict__ gates,
                         long long N, long long U) {
    const long long n_elements = N * U;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n_elements;
         k += (long long)gridDim.x * blockDim.x) {
        const long long n = k / U, u = k - n * U;
        const long long row = n * 3 * U;
        const T z = sigmoid(xw[row + u] + hr[row + u]);
        const T r = sigmoid(xw[row + U + u] + hr[row + U + u]);
        const T hh = tanh(xw[row + 2 * U + u] + r * hr[row + 2 * U + u]);
        gates[row + u] = z;
        gates[row + U + u] = r;
        gates[row + 2 * U + u] = hh;
        const bool real = !has_mask || mask[n] > T(0);
        h[k] = real ? hh + z * (h_prev[k] - hh) : h_prev[k];
    }
}

// ---- GRU backward ------------------------------------------------------------------------------------
// In: dh (gradient of h_t), hr, h_prev, gates (activated z, r, hh).
// Out: dxw, dhr (N, 3U) gradients of the two projections; dh_carry = dh * z on real steps (dh on padded
// ones), the part of dh_{t-1} that does not pass through the recurrent kernel.
template <typename T>
__device__ void gru_step_backward(const T* __restrict__ dh, const T* __restrict__ hr,
                                  const T* __restrict__ h_prev, const T* __restrict__ gates,
                                  const T* __restrict__ mask, int has_mask, T* __restrict__ dxw,
                                  T* __restrict__ dhr, T* __restrict__ dh_carry, long long N, long long U) {
    const long long n_elements = N * U;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n_elements;
         k += (long long)gridDim.x * blockDim.x) {
        const long long n = k / U, u = k - n * U;
        const long long row = n * 3 * U;
        const T m = has_mask ? (mask[n] > T(0) ? T(1) : T(0)) : T(1);
        const T dh_new = dh[k] * m;
        const T z = gates[row + u], r = gates[row + U + u], hh = gates[row + 2 * U + u];
        const T d_pre_h = dh_new * (T(1) - z) * (T(1) - hh * hh);
        const T d_pre_z = dh_new * (h_prev[k] - hh) * z * (T(1) - z);
        const T d_pre_r = d_pre_h * hr[row + 2 * U + u] * r * (T(1) - r);
        dxw[row + u] = d_pre_z;
        dxw[row + U + u] = d_pre_r;
        dxw[row + 2 * U + u] = d_pre_h;
        dhr[row + u] = d_pre_z;
        dhr[row + U + u] = d_pre_r;
        dhr[row + 2 * U + u] = d_pre_h * r;
        dh_carry[k] = dh_new * z + dh[k] * (T(1) - m);
    }
}

#define NNKIT_RECURRENT_ENTRY_POINTS(T, SUFFIX)                                                                \
    extern "C" __global__ void lstm_step_##SUFFIX(const T* xw, const T* hr, const T* h_prev, const T* c_prev,    \
                                                  const T* mask, int has_mask, T* h, T* c, T* gates,             \
                                                  long long N, long long U) {                                    \
        lstm_step<T>(xw, hr, h_prev, c_prev, mask, has_mask, h, c, gates, N, U);                                 \
    }                                                                                                            \
    extern "C" __global__ void lstm_step_backward_##SUFFIX(const T* dh, const T* dc, const T* c_prev, const T* c, \
                                                           const T* gates, const T* mask, int has_mask, T* dz,   \
                                                           T* dh_carry, T* dc_prev, long long N, long long U) {  \
        lstm_step_backward<T>(dh, dc, c_prev, c, gates, mask, has_mask, dz, dh_carry, dc_prev, N, U);            \
    }                                                                                                            \
    extern "C" __global__ void gru_step_##SUFFIX(const T* xw, const T* hr, const T* h_prev, const T* mask,       \
                                                 int has_mask, T* h, T* gates, long long N, long long U) {       \
        gru_step<T>(xw, hr, h_prev, mask, has_mask, h, gates, N, U);                                             \
    }                                                                                                            \
    extern "C" __global__ void gru_step_backward_##SUFFIX(const T* dh, const T* hr, const T* h_prev,             \
                                                          const T* gates, const T* mask, int has_mask, T* dxw,   \
                                                          T* dhr, T* dh_carry, long long N, long long U) {       \
        gru_step_backward<T>(dh, hr, h_prev, gates, mask, has_mask, dxw, dhr, dh_carry, N, U);                   \
    }

NNKIT_RECURRENT_ENTRY_POINTS(float, f32)
NNKIT_RECURRENT_ENTRY_POINTS(double, f64)
