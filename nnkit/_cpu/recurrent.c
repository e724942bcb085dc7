/* nnkit's compiled LSTM: float32 twins of nnkit.primitives.recurrent's LSTM step (forward and backward), and the
 * whole-sequence scans that run every time step of a layer in one call.
 *
 * A scan splits the batch rows over threads once for the whole sequence: rows never interact in an LSTM, so each
 * thread runs all T steps of its rows (the recurrent product with nnkit's own register-tiled loop, then the gates)
 * without a join per step. That removes the per-step Python dispatch and the per-step BLAS call, and keeps the
 * gate arithmetic on every core.
 */
#include "common.h"

/* exp, sigmoid and tanh written as plain arithmetic so that the loops vectorise (glibc's expf/tanhf do not):
 * Cephes' expf (range reduction by ln 2, degree-6 polynomial, 2^k from the exponent bits; < 2 ulp over the
 * clamped range) and Cephes' tanhf polynomial below |x| = 0.625, where 1 - 2 / (1 + e^2x) would cancel. */
ALWAYS_INLINE static inline float exp_poly(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const int32_t k = (int32_t)(x * 1.44269504088896341f + 128.5f) - 128;  /* round(x / ln 2), via a positive floor */
    const float kf = (float)k;
    const float r = (x - kf * 0.693359375f) + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

ALWAYS_INLINE static inline float sigmoid_poly(float x)
{
    return 1.0f / (1.0f + exp_poly(-x));
}

ALWAYS_INLINE static inline float tanh_poly(float x)
{
    const float z = x * x;
    float small = -5.70498872745e-3f;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * x + x;
    const float large = 1.0f - 2.0f / (1.0f + exp_poly(2.0f * x));
    return fabsf(x) < 0.625f ? small : large;
}

/* One row of the LSTM step, each loop simple enough to vectorise. */
VECTOR_CLONES static void sigmoid_of_sum(const float *restrict x, const float *restrict r, float *restrict out,
                                        int64_t n)
{
    for (int64_t u = 0; u < n; u++) out[u] = sigmoid_poly(x[u] + r[u]);
}

VECTOR_CLONES static void tanh_of_sum(const float *restrict x, const float *restrict r, float *restrict out,
                                     int64_t n)
{
    for (int64_t u = 0; u < n; u++) out[u] = tanh_poly(x[u] + r[u]);
}

/* c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t), from the activated gates [i, f, g, o] of one row. */
VECTOR_CLONES static void lstm_cell(const float *restrict gate, const float *restrict c_in,
                                    float *restrict c_out, float *restrict h_out, int64_t U)
{
    for (int64_t u = 0; u < U; u++) {
        const float c_new = gate[U + u] * c_in[u] + gate[u] * gate[2 * U + u];
        c_out[u] = c_new;
        h_out[u] = gate[3 * U + u] * tanh_poly(c_new);
    }
}

/* One row backward; m is the row's mask (1 for a real step): the share 1 - m of dh and dc skips the step. */
VECTOR_CLONES static void lstm_cell_backward(const float *restrict dh, const float *restrict dc,
                                             const float *restrict c_in, const float *restrict c,
                                             const float *restrict gate, float m, float *restrict dz,
                                             float *restrict dh_carry, float *restrict dc_prev, int64_t U)
{
    const float skip = 1.0f - m;
    for (int64_t u = 0; u < U; u++) {
        const float i = gate[u], f = gate[U + u], g = gate[2 * U + u], o = gate[3 * U + u];
        const float dh_real = dh[u] * m, tanh_c = tanh_poly(c[u]);
        const float dc_total = dc[u] * m + dh_real * o * (1.0f - tanh_c * tanh_c);
        dz[u] = dc_total * g * i * (1.0f - i);
        dz[U + u] = dc_total * c_in[u] * f * (1.0f - f);
        dz[2 * U + u] = dc_total * i * (1.0f - g * g);
        dz[3 * U + u] = dh_real * tanh_c * o * (1.0f - o);
        dh_carry[u] = dh[u] * skip;
        dc_prev[u] = dc_total * f + dc[u] * skip;
    }
}

/* The LSTM step over `rows` rows; every pointer is at the first row. mask may be NULL (every step real). */
static void lstm_forward_rows(const float *xw, const float *hr, const float *h_prev, const float *c_prev,
                              const float *mask, float *h, float *c, float *gates, int64_t rows, int64_t U)
{
    for (int64_t n = 0; n < rows; n++) {
        const int64_t wide_row = n * 4 * U, row = n * U;
        sigmoid_of_sum(xw + wide_row, hr + wide_row, gates + wide_row, 2 * U);  /* i, f */
        tanh_of_sum(xw + wide_row + 2 * U, hr + wide_row + 2 * U, gates + wide_row + 2 * U, U);  /* g */
        sigmoid_of_sum(xw + wide_row + 3 * U, hr + wide_row + 3 * U, gates + wide_row + 3 * U, U);  /* o */
        lstm_cell(gates + wide_row, c_prev + row, c + row, h + row, U);
        if (mask && !(mask[n] > 0.0f)) {  /* a padded step carries the state over */
            memcpy(c + row, c_prev + row, U * sizeof(float));
            memcpy(h + row, h_prev + row, U * sizeof(float));
        }
    }
}

static void lstm_backward_rows(const float *dh, const float *dc, const float *c_prev, const float *c,
                               const float *gates, const float *mask, float *dz, float *dh_carry, float *dc_prev,
                               int64_t rows, int64_t U)
{
    for (int64_t n = 0; n < rows; n++) {
        const int64_t wide_row = n * 4 * U, row = n * U;
        lstm_cell_backward(dh + row, dc + row, c_prev + row, c + row, gates + wide_row, mask ? mask[n] : 1.0f,
                           dz + wide_row, dh_carry + row, dc_prev + row, U);
    }
}

VECTOR_CLONES static void multiply(const float *restrict a, const float *restrict b, float *restrict out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

VECTOR_CLONES static void multiply_into(float *restrict target, const float *restrict by, int64_t n)
{
    for (int64_t i = 0; i < n; i++) target[i] *= by[i];
}

VECTOR_CLONES static void add_to(float *restrict target, const float *restrict values, int64_t n)
{
    for (int64_t i = 0; i < n; i++) target[i] += values[i];
}

/* ---- one step ------------------------------------------------------------------------------------------------ */

/* lstm_step_f32(xw, hr, h_prev, c_prev, mask_or_None, h, c, gates, N, U): the twin of lstm_step_reference. */
PyObject *lstm_step_f32(PyObject *self, PyObject *args)
{
    PyObject *objects[8];
    long long N, U;
    if (!PyArg_ParseTuple(args, "OOOOOOOOLL", &objects[0], &objects[1], &objects[2], &objects[3], &objects[4],
                          &objects[5], &objects[6], &objects[7], &N, &U)) return NULL;
    Py_buffer views[8];
    const int writable[] = {0, 0, 0, 0, 0, 1, 1, 1}, optional[] = {0, 0, 0, 0, 1, 0, 0, 0};
    const int64_t state = N * U * 4, wide = 4 * N * U * 4;
    const int64_t nbytes[] = {wide, wide, state, state, N * 4, state, state, wide};
    if (!get_optional_buffers(objects, 8, views, writable, optional, nbytes)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    lstm_forward_rows(views[0].buf, views[1].buf, views[2].buf, views[3].buf, views[4].buf, views[5].buf,
                      views[6].buf, views[7].buf, N, U);
    Py_END_ALLOW_THREADS
    release_buffers(8, views);
    Py_RETURN_NONE;
}

/* lstm_step_backward_f32(dh, dc, c_prev, c, gates, mask_or_None, dz, dh_carry, dc_prev, N, U):
 * the twin of lstm_step_backward_reference (a padded step, mask 0, passes dh and dc on unchanged). */
PyObject *lstm_step_backward_f32(PyObject *self, PyObject *args)
{
    PyObject *objects[9];
    long long N, U;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOLL", &objects[0], &objects[1], &objects[2], &objects[3], &objects[4],
                          &objects[5], &objects[6], &objects[7], &objects[8], &N, &U)) return NULL;
    Py_buffer views[9];
    const int writable[] = {0, 0, 0, 0, 0, 0, 1, 1, 1}, optional[] = {0, 0, 0, 0, 0, 1, 0, 0, 0};
    const int64_t state = N * U * 4, wide = 4 * N * U * 4;
    const int64_t nbytes[] = {state, state, state, state, wide, N * 4, wide, state, state};
    if (!get_optional_buffers(objects, 9, views, writable, optional, nbytes)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    lstm_backward_rows(views[0].buf, views[1].buf, views[2].buf, views[3].buf, views[4].buf, views[5].buf,
                       views[6].buf, views[7].buf, views[8].buf, N, U);
    Py_END_ALLOW_THREADS
    release_buffers(9, views);
    Py_RETURN_NONE;
}

/* ---- every step of a sequence: rows split over threads once ------------------------------------------------ */

/* Work per batch row of a scan, in multiply-adds: what the thread split weighs against a thread's start-up. */
static int64_t scan_row_work(int64_t T, int64_t U)
{
    return T * 4 * U * (U + 8);
}

typedef struct {
    const float *xw, *kernel, *recurrent_mask, *mask;   /* xw (T, N, 4U), kernel (U, 4U), masks (N, U), (T, N) */
    float *H, *C, *gates;                               /* (T + 1, N, U) twice, (T, N, 4U) */
    float *hr, *masked_h;                               /* scratch: (N, 4U), (N, U) */
    const float *packed_kernel;                         /* pack_panels(kernel), or NULL */
    int64_t T, N, U;
} scan_args;

static void scan_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const scan_args *a = ctx;
    const int64_t T = a->T, N = a->N, U = a->U, rows = end - begin;
    float *hr = a->hr + begin * 4 * U, *masked_h = a->masked_h + begin * U;
    for (int64_t t = 0; t < T; t++) {
        const int64_t state = (t * N + begin) * U, next = ((t + 1) * N + begin) * U, wide = (t * N + begin) * 4 * U;
        const float *h_in = a->H + state;
        if (a->recurrent_mask) {
            multiply(h_in, a->recurrent_mask + begin * U, masked_h, rows * U);
            h_in = masked_h;
        }
        matrix_product(h_in, U, 1, a->kernel, 4 * U, a->packed_kernel, hr, 4 * U, rows, U, 4 * U, 0);
        lstm_forward_rows(a->xw + wide, hr, a->H + state, a->C + state, a->mask ? a->mask + t * N + begin : NULL,
                          a->H + next, a->C + next, a->gates + wide, rows, U);
    }
}

/* lstm_scan_f32(xw, recurrent_kernel, recurrent_mask_or_None, mask_or_None, H, C, gates, T, N, U): every step of
 * lstm_step_reference with hr = (H[t] * recurrent_mask) @ recurrent_kernel; H[0], C[0] hold the initial state. */
PyObject *lstm_scan_f32(PyObject *self, PyObject *args)
{
    PyObject *objects[7];
    long long T, N, U;
    if (!PyArg_ParseTuple(args, "OOOOOOOLLL", &objects[0], &objects[1], &objects[2], &objects[3], &objects[4],
                          &objects[5], &objects[6], &T, &N, &U)) return NULL;
    Py_buffer views[7];
    const int writable[] = {0, 0, 0, 0, 1, 1, 1}, optional[] = {0, 0, 1, 1, 0, 0, 0};
    const int64_t states = (T + 1) * N * U * 4, wide = T * N * 4 * U * 4;
    const int64_t nbytes[] = {wide, U * 4 * U * 4, N * U * 4, T * N * 4, states, states, wide};
    if (!get_optional_buffers(objects, 7, views, writable, optional, nbytes)) return NULL;
    const int64_t packed = packed_size(U, 4 * U);
    float *scratch = PyMem_RawMalloc((size_t)(N * 5 * U + packed) * sizeof(float) + 1);
    if (!scratch) {
        release_buffers(7, views);
        return PyErr_NoMemory();
    }
    scan_args a = {views[0].buf, views[1].buf, views[2].buf, views[3].buf, views[4].buf, views[5].buf,
                   views[6].buf, scratch, scratch + N * 4 * U, packed ? scratch + N * 5 * U : NULL, T, N, U};
    Py_BEGIN_ALLOW_THREADS
    if (packed) pack_panels(a.kernel, 4 * U, U, 4 * U, scratch + N * 5 * U);
    parallel_for(N, work_grain(scan_row_work(T, U)), scan_rows, &a);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scratch);
    release_buffers(7, views);
    Py_RETURN_NONE;
}

typedef struct {
    const float *dH, *dc_last, *kernel_t, *recurrent_mask, *mask;  /* (T, N, U), (N, U), (4U, U), (N, U), (T, N) */
    const float *C, *gates;                                        /* (T + 1, N, U), (T, N, 4U) */
    float *dz, *dh, *dc;                                           /* (T, N, 4U); (N, U) twice: dh_0, dc_0 */
    float *dh_carry, *dc_prev;                                     /* scratch: (N, U) twice */
    const float *packed_kernel_t;                                  /* pack_panels(kernel_t), or NULL */
    int64_t T, N, U;
} scan_backward_args;

static void scan_backward_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const scan_backward_args *a = ctx;
    const int64_t T = a->T, N = a->N, U = a->U, rows = end - begin, first = begin * U;
    float *dh = a->dh + first, *dc = a->dc + first, *dh_carry = a->dh_carry + first, *dc_prev = a->dc_prev + first;
    memset(dh, 0, rows * U * sizeof(float));
    if (a->dc_last) memcpy(dc, a->dc_last + first, rows * U * sizeof(float));
    else memset(dc, 0, rows * U * sizeof(float));
    for (int64_t t = T - 1; t >= 0; t--) {
        const int64_t state = (t * N + begin) * U, next = ((t + 1) * N + begin) * U, wide = (t * N + begin) * 4 * U;
        const float *mask = a->mask ? a->mask + t * N + begin : NULL;
        add_to(dh, a->dH + state, rows * U);
        lstm_backward_rows(dh, dc, a->C + state, a->C + next, a->gates + wide, mask, a->dz + wide, dh_carry,
                           dc_prev, rows, U);
        matrix_product(a->dz + wide, 4 * U, 1, a->kernel_t, U, a->packed_kernel_t, dh, U, rows, 4 * U, U, 0);
        if (a->recurrent_mask) multiply_into(dh, a->recurrent_mask + first, rows * U);
        if (mask) add_to(dh, dh_carry, rows * U);  /* without a mask the carry is zero */
        memcpy(dc, dc_prev, rows * U * sizeof(float));
    }
}

/* lstm_scan_backward_f32(dH, dc_last_or_None, recurrent_kernel_t, recurrent_mask_or_None, mask_or_None, C, gates,
 * dz, dh0, dc0, T, N, U): lstm_scan_f32's steps backward, from dH (the gradient reaching each h_t from outside)
 * and dc_last (that of c_T): writes dz (T, N, 4U) and the gradients dh0, dc0 of the initial state. */
PyObject *lstm_scan_backward_f32(PyObject *self, PyObject *args)
{
    PyObject *objects[10];
    long long T, N, U;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOLLL", &objects[0], &objects[1], &objects[2], &objects[3], &objects[4],
                          &objects[5], &objects[6], &objects[7], &objects[8], &objects[9], &T, &N, &U)) return NULL;
    Py_buffer views[10];
    const int writable[] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, optional[] = {0, 1, 0, 1, 1, 0, 0, 0, 0, 0};
    const int64_t state = N * U * 4, wide = T * N * 4 * U * 4;
    const int64_t nbytes[] = {T * state, state, 4 * U * U * 4, state, T * N * 4, (T + 1) * state, wide, wide,
                              state, state};
    if (!get_optional_buffers(objects, 10, views, writable, optional, nbytes)) return NULL;
    const int64_t packed = packed_size(4 * U, U);
    float *scratch = PyMem_RawMalloc((size_t)(2 * N * U + packed) * sizeof(float) + 1);
    if (!scratch) {
        release_buffers(10, views);
        return PyErr_NoMemory();
    }
    scan_backward_args a = {views[0].buf, views[1].buf, views[2].buf, views[3].buf, views[4].buf, views[5].buf,
                            views[6].buf, views[7].buf, views[8].buf, views[9].buf, scratch, scratch + N * U,
                            packed ? scratch + 2 * N * U : NULL, T, N, U};
    Py_BEGIN_ALLOW_THREADS
    if (packed) pack_panels(a.kernel_t, U, 4 * U, U, scratch + 2 * N * U);
    parallel_for(N, work_grain(scan_row_work(T, U)), scan_backward_rows, &a);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scratch);
    release_buffers(10, views);
    Py_RETURN_NONE;
}
