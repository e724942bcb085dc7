/* nnkit's compiled recurrent cells: float32 twins of nnkit.primitives.recurrent's LSTM step (forward and
 * backward), and the whole-sequence scans of the LSTM and the GRU (reset_after=True) that run every time step of
 * a layer in one call.
 *
 * A scan splits the batch rows over threads once for the whole sequence: rows never interact in a recurrent
 * layer, so each thread runs all T steps of its rows (the recurrent product with matmul.c's register-tiled loop,
 * then the cell) without a join per step. That removes the per-step Python dispatch and the per-step BLAS call,
 * and keeps the gate arithmetic on every core.
 */
#include "common.h"

/* ---- sigmoid and tanh ------------------------------------------------------------------------------------------ */

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

/* ---- LSTM rows (Keras' gate order i, f, c, o) ------------------------------------------------------------------ */

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

/* ---- element-wise helpers of the scans ------------------------------------------------------------------------ */

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

/* ---- GRU rows (Keras' reset_after=True; gates z, r, hh; sigmoid gates, tanh candidate) ---------------------- */

/* One row: z = sigmoid(x_z + r_z), r = sigmoid(x_r + r_r), hh = tanh(x_h + r * r_h), h = hh + z (h_prev - hh);
 * a padded step (real = 0) carries h_prev over. */
VECTOR_CLONES static void gru_cell(const float *restrict xw, const float *restrict hr, const float *restrict h_prev,
                                   int real, float *restrict h, float *restrict gate, int64_t U)
{
    for (int64_t u = 0; u < U; u++) {
        const float z = sigmoid_poly(xw[u] + hr[u]);
        const float r = sigmoid_poly(xw[U + u] + hr[U + u]);
        const float hh = tanh_poly(xw[2 * U + u] + r * hr[2 * U + u]);
        gate[u] = z;
        gate[U + u] = r;
        gate[2 * U + u] = hh;
        h[u] = real ? hh + z * (h_prev[u] - hh) : h_prev[u];
    }
}

/* One row backward (m: the row's mask, 1 for a real step): the gradients of the input projection (dxw), of the
 * recurrent projection (dhr), and the part of dh_{t-1} that skips the recurrent kernel (dh_carry). */
VECTOR_CLONES static void gru_cell_backward(const float *restrict dh_in, const float *restrict hr,
                                            const float *restrict h_prev, const float *restrict gate, float m,
                                            float *restrict dxw, float *restrict dhr, float *restrict dh_carry,
                                            int64_t U)
{
    const float skip = 1.0f - m;
    for (int64_t u = 0; u < U; u++) {
        const float z = gate[u], r = gate[U + u], hh = gate[2 * U + u], dh = dh_in[u] * m;
        const float dx_h = dh * (1.0f - z) * (1.0f - hh * hh);
        const float dx_z = dh * (h_prev[u] - hh) * z * (1.0f - z);
        const float dx_r = dx_h * hr[2 * U + u] * r * (1.0f - r);
        dxw[u] = dx_z;
        dxw[U + u] = dx_r;
        dxw[2 * U + u] = dx_h;
        dhr[u] = dx_z;
        dhr[U + u] = dx_r;
        dhr[2 * U + u] = dx_h * r;
        dh_carry[u] = dh * z + dh_in[u] * skip;
    }
}

/* ---- one LSTM step (nnkit.primitives.recurrent.lstm_step on float32 arrays; the layers use the scans) -------- */

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

/* A scan over T steps of a cell with G gates. Batch rows never interact, so each thread runs every step of its
 * rows: forward, the recurrent product of its rows of h_t (times the recurrent dropout mask) into `products`,
 * then the cell's `step`; backward, the cell's `step_backward`, which writes the gradient of that product into
 * `d_products`, then dh_{t-1} = d_products @ kernel^T (times the mask) plus the carry it wrote. */
typedef struct recurrent_scan recurrent_scan;
struct recurrent_scan {
    int64_t T, N, U, G;
    const float *kernel, *packed_kernel;  /* (U, GU) forward, its transpose (GU, U) backward; packed or NULL */
    const float *recurrent_bias;          /* (GU,) added to each product (the GRU's), or NULL */
    const float *recurrent_mask, *mask;   /* (N, U) recurrent dropout, (T, N) padding: NULL when absent */
    float *H;                             /* (T + 1, N, U): H[0] the initial state */
    float *products;                      /* forward: where step t's product goes, t * product_step further on */
    int64_t product_step;                 /* 0 for a scratch (N, GU) reused each step, N * GU to keep them all */
    const float *dH;                      /* backward: (T, N, U), the gradient reaching each h_t from outside */
    float *d_products, *dh, *dh_carry, *masked;  /* (T, N, GU); (N, U) dh_0; (N, U) and (N, U) scratch */
    int carry_always;                     /* the cell's carry is nonzero without padding too (GRU) */
    void (*step)(const recurrent_scan *s, int64_t t, int64_t begin, int64_t rows, const float *product);
    void (*step_backward)(const recurrent_scan *s, int64_t t, int64_t begin, int64_t rows, const float *dh);
    void *cell;                           /* the cell's own buffers */
};

/* Work per batch row of a scan, in multiply-adds: what the thread split weighs against a thread's start-up. */
static int64_t scan_row_work(const recurrent_scan *s)
{
    return s->T * s->G * s->U * (s->U + 8);
}

static const float *step_mask(const recurrent_scan *s, int64_t t, int64_t begin)
{
    return s->mask ? s->mask + t * s->N + begin : NULL;
}

static void scan_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const recurrent_scan *s = ctx;
    const int64_t N = s->N, U = s->U, GU = s->G * s->U, rows = end - begin;
    for (int64_t t = 0; t < s->T; t++) {
        const float *h_in = s->H + (t * N + begin) * U;
        if (s->recurrent_mask) {
            multiply(h_in, s->recurrent_mask + begin * U, s->masked + begin * U, rows * U);
            h_in = s->masked + begin * U;
        }
        float *product = s->products + t * s->product_step + begin * GU;
        matrix_product(h_in, U, 1, s->kernel, GU, s->packed_kernel, product, GU, rows, U, GU, 0);
        if (s->recurrent_bias) {
            for (int64_t n = 0; n < rows; n++) add_to(product + n * GU, s->recurrent_bias, GU);
        }
        s->step(s, t, begin, rows, product);
    }
}

static void scan_backward_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const recurrent_scan *s = ctx;
    const int64_t N = s->N, U = s->U, GU = s->G * s->U, rows = end - begin;
    float *dh = s->dh + begin * U, *dh_carry = s->dh_carry + begin * U;
    memset(dh, 0, rows * U * sizeof(float));
    for (int64_t t = s->T - 1; t >= 0; t--) {
        add_to(dh, s->dH + (t * N + begin) * U, rows * U);
        s->step_backward(s, t, begin, rows, dh);
        const float *d_product = s->d_products + (t * N + begin) * GU;
        matrix_product(d_product, GU, 1, s->kernel, U, s->packed_kernel, dh, U, rows, GU, U, 0);
        if (s->recurrent_mask) multiply_into(dh, s->recurrent_mask + begin * U, rows * U);
        if (s->carry_always || s->mask) add_to(dh, dh_carry, rows * U);  /* an LSTM's carry is zero unpadded */
    }
}

/* Runs the scan forward or backward with the kernel packed and the scratch allocated here; 0 and a Python error
 * when memory runs out. The caller holds the GIL; it is released while the threads run. */
static int run_scan(recurrent_scan *s, int backward)
{
    const int64_t rows_in_b = backward ? s->G * s->U : s->U, columns = backward ? s->U : s->G * s->U;
    const int64_t packed = packed_size(rows_in_b, columns), state = s->N * s->U;
    const int64_t scratch_product = s->product_step == 0 && !backward ? s->N * s->G * s->U : 0;
    float *scratch = PyMem_RawMalloc((size_t)(packed + 2 * state + scratch_product) * sizeof(float) + 1);
    if (!scratch) {
        PyErr_NoMemory();
        return 0;
    }
    s->packed_kernel = packed ? scratch : NULL;
    s->masked = scratch + packed;
    s->dh_carry = scratch + packed + state;
    if (scratch_product) s->products = scratch + packed + 2 * state;
    Py_BEGIN_ALLOW_THREADS
    if (packed) pack_panels(s->kernel, columns, rows_in_b, columns, scratch);
    parallel_for(s->N, work_grain(scan_row_work(s)), backward ? scan_backward_rows : scan_rows, s);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scratch);
    return 1;
}

/* ---- LSTM scans ---------------------------------------------------------------------------------------------- */

typedef struct {
    const float *xw;      /* (T, N, 4U) */
    float *C, *gates;     /* (T + 1, N, U), (T, N, 4U) */
    const float *dc_last; /* backward: the gradient of c_T, or NULL */
    float *dc, *dc_prev;  /* backward: (N, U) dc_0 and (N, U) scratch */
} lstm_buffers;

static void lstm_step_rows(const recurrent_scan *s, int64_t t, int64_t begin, int64_t rows, const float *product)
{
    const lstm_buffers *b = s->cell;
    const int64_t N = s->N, U = s->U, state = (t * N + begin) * U, next = ((t + 1) * N + begin) * U;
    const int64_t wide = (t * N + begin) * 4 * U;
    lstm_forward_rows(b->xw + wide, product, s->H + state, b->C + state, step_mask(s, t, begin), s->H + next,
                      b->C + next, b->gates + wide, rows, U);
}

static void lstm_step_backward_rows(const recurrent_scan *s, int64_t t, int64_t begin, int64_t rows,
                                    const float *dh)
{
    const lstm_buffers *b = s->cell;
    const int64_t N = s->N, U = s->U, state = (t * N + begin) * U, next = ((t + 1) * N + begin) * U;
    const int64_t wide = (t * N + begin) * 4 * U, first = begin * U;
    float *dc = b->dc + first, *dc_prev = b->dc_prev + first;
    if (t == s->T - 1) {
        if (b->dc_last) memcpy(dc, b->dc_last + first, rows * U * sizeof(float));
        else memset(dc, 0, rows * U * sizeof(float));
    }
    lstm_backward_rows(dh, dc, b->C + state, b->C + next, b->gates + wide, step_mask(s, t, begin),
                       s->d_products + wide, s->dh_carry + first, dc_prev, rows, U);
    memcpy(dc, dc_prev, rows * U * sizeof(float));
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
    lstm_buffers cell = {.xw = views[0].buf, .C = views[5].buf, .gates = views[6].buf};
    recurrent_scan s = {.T = T, .N = N, .U = U, .G = 4, .kernel = views[1].buf, .recurrent_mask = views[2].buf,
                        .mask = views[3].buf, .H = views[4].buf, .step = lstm_step_rows, .cell = &cell};
    const int ok = run_scan(&s, 0);
    release_buffers(7, views);
    if (!ok) return NULL;
    Py_RETURN_NONE;
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
    float *dc_prev = PyMem_RawMalloc((size_t)(N * U) * sizeof(float) + 1);
    if (!dc_prev) {
        release_buffers(10, views);
        return PyErr_NoMemory();
    }
    lstm_buffers cell = {.C = views[5].buf, .gates = views[6].buf, .dc_last = views[1].buf, .dc = views[9].buf,
                         .dc_prev = dc_prev};
    recurrent_scan s = {.T = T, .N = N, .U = U, .G = 4, .kernel = views[2].buf, .recurrent_mask = views[3].buf,
                        .mask = views[4].buf, .dH = views[0].buf, .d_products = views[7].buf, .dh = views[8].buf,
                        .step_backward = lstm_step_backward_rows, .cell = &cell};
    const int ok = run_scan(&s, 1);
    PyMem_RawFree(dc_prev);
    release_buffers(10, views);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* ---- GRU scans (reset_after=True) ---------------------------------------------------------------------------- */

typedef struct {
    const float *xw;  /* (T, N, 3U) */
    float *gates;     /* (T, N, 3U): z, r, hh */
    const float *hr;  /* backward: (T, N, 3U), the forward's products (recurrent bias included) */
    float *dxw;       /* backward: (T, N, 3U) */
} gru_buffers;

static void gru_step_rows(const recurrent_scan *s, int64_t t, int64_t begin, int64_t rows, const float *product)
{
    const gru_buffers *b = s->cell;
    const int64_t N = s->N, U = s->U, wide = (t * N + begin) * 3 * U;
    const float *mask = step_mask(s, t, begin), *h_prev = s->H + (t * N + begin) * U;
    float *h = s->H + ((t + 1) * N + begin) * U;
    for (int64_t n = 0; n < rows; n++) {
        gru_cell(b->xw + wide + n * 3 * U, product + n * 3 * U, h_prev + n * U, !mask || mask[n] > 0.0f, h + n * U,
                 b->gates + wide + n * 3 * U, U);
    }
}

static void gru_step_backward_rows(const recurrent_scan *s, int64_t t, int64_t begin, int64_t rows,
                                   const float *dh)
{
    const gru_buffers *b = s->cell;
    const int64_t N = s->N, U = s->U, wide = (t * N + begin) * 3 * U;
    const float *mask = step_mask(s, t, begin), *h_prev = s->H + (t * N + begin) * U;
    for (int64_t n = 0; n < rows; n++) {
        const int64_t at = wide + n * 3 * U;
        gru_cell_backward(dh + n * U, b->hr + at, h_prev + n * U, b->gates + at, mask ? mask[n] : 1.0f,
                          b->dxw + at, s->d_products + at, s->dh_carry + (begin + n) * U, U);
    }
}

/* gru_scan_f32(xw, recurrent_kernel, recurrent_bias_or_None, recurrent_mask_or_None, mask_or_None, H, HR, gates,
 * T, N, U): every step of gru_step_reference with HR[t] = (H[t] * recurrent_mask) @ recurrent_kernel + bias. */
PyObject *gru_scan_f32(PyObject *self, PyObject *args)
{
    PyObject *objects[8];
    long long T, N, U;
    if (!PyArg_ParseTuple(args, "OOOOOOOOLLL", &objects[0], &objects[1], &objects[2], &objects[3], &objects[4],
                          &objects[5], &objects[6], &objects[7], &T, &N, &U)) return NULL;
    Py_buffer views[8];
    const int writable[] = {0, 0, 0, 0, 0, 1, 1, 1}, optional[] = {0, 0, 1, 1, 1, 0, 0, 0};
    const int64_t wide = T * N * 3 * U * 4;
    const int64_t nbytes[] = {wide, U * 3 * U * 4, 3 * U * 4, N * U * 4, T * N * 4, (T + 1) * N * U * 4, wide,
                              wide};
    if (!get_optional_buffers(objects, 8, views, writable, optional, nbytes)) return NULL;
    gru_buffers cell = {.xw = views[0].buf, .gates = views[7].buf};
    recurrent_scan s = {.T = T, .N = N, .U = U, .G = 3, .kernel = views[1].buf, .recurrent_bias = views[2].buf,
                        .recurrent_mask = views[3].buf, .mask = views[4].buf, .H = views[5].buf,
                        .products = views[6].buf, .product_step = N * 3 * U, .step = gru_step_rows, .cell = &cell};
    const int ok = run_scan(&s, 0);
    release_buffers(8, views);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* gru_scan_backward_f32(dH, recurrent_kernel_t, recurrent_mask_or_None, mask_or_None, H, HR, gates, dxw, dhr, dh0,
 * T, N, U): gru_scan_f32's steps backward: writes dxw, dhr (T, N, 3U) and dh0, the gradient of the initial state. */
PyObject *gru_scan_backward_f32(PyObject *self, PyObject *args)
{
    PyObject *objects[10];
    long long T, N, U;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOLLL", &objects[0], &objects[1], &objects[2], &objects[3], &objects[4],
                          &objects[5], &objects[6], &objects[7], &objects[8], &objects[9], &T, &N, &U)) return NULL;
    Py_buffer views[10];
    const int writable[] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, optional[] = {0, 0, 1, 1, 0, 0, 0, 0, 0, 0};
    const int64_t state = N * U * 4, wide = T * N * 3 * U * 4;
    const int64_t nbytes[] = {T * state, 3 * U * U * 4, state, T * N * 4, (T + 1) * state, wide, wide, wide, wide,
                              state};
    if (!get_optional_buffers(objects, 10, views, writable, optional, nbytes)) return NULL;
    gru_buffers cell = {.hr = views[5].buf, .gates = views[6].buf, .dxw = views[7].buf};
    recurrent_scan s = {.T = T, .N = N, .U = U, .G = 3, .kernel = views[1].buf, .recurrent_mask = views[2].buf,
                        .mask = views[3].buf, .H = views[4].buf, .dH = views[0].buf, .d_products = views[8].buf,
                        .dh = views[9].buf, .carry_always = 1, .step_backward = gru_step_backward_rows,
                        .cell = &cell};
    const int ok = run_scan(&s, 1);
    release_buffers(10, views);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}
