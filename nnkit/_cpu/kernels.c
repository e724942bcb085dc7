/* nnkit's compiled CPU kernels: float32 twins of the NumPy references in nnkit/primitives.
 *
 * Each entry point takes C-contiguous buffers (the Python wrappers in nnkit/_cpu/__init__.py check dtype and
 * layout and allocate the outputs) and the shape letters of nnkit.primitives' "Notation" as integers. Work is
 * split over rows by a fork-join of pthreads (parallel_for): the threads exist only while a call runs, so
 * they never spin between calls and never compete with OpenBLAS' threads for the cores (libgomp's idle
 * threads busy-wait for a while after each parallel region, which on a 2-core machine taxed every GEMM that
 * followed). The GIL is released while a kernel runs.
 */
#include "common.h"

int num_threads = 1;
/* The least a thread's part gets (see grain and work_grain); tests lower both to make small arrays split. */
static int64_t min_part_elements = 4194304, min_part_work = 262144;

/* ---- fork-join over [0, n) ------------------------------------------------------------------------------- */

typedef struct {
    range_fn fn;
    void *ctx;
    int64_t begin, end;
    int part;
} range_task;

static void *run_range(void *arg)
{
    range_task *task = (range_task *)arg;
    task->fn(task->ctx, task->begin, task->end, task->part);
    return NULL;
}

/* How many parts parallel_for splits n items into when each part should hold at least min_items of them. */
static int parts_for(int64_t n, int64_t min_items)
{
    int64_t parts = min_items > 0 ? n / min_items : n;
    if (parts > num_threads) parts = num_threads;
    return parts < 1 ? 1 : (int)parts;
}

static int64_t items_for(int64_t least, int64_t width)
{
    width = width > 0 ? width : 1;
    return (least + width - 1) / width;
}

/* For the memory-bound kernels (copies, pooling, element-wise, optimizer steps): how many items of `width`
 * elements a thread must get before a second one is started. They run between BLAS products, whose threads
 * busy-wait on the cores for a while after returning: a second thread then competed with them, and splitting
 * below 4M elements (16 MB) made a Conv2D network's epoch 15-20 % slower on 2 cores (measured). */
int64_t grain(int64_t width)
{
    return items_for(min_part_elements, width);
}

/* For the compute-bound kernels (matrix products, the LSTM scan), which run on nnkit's threads alone: items of
 * `work` multiply-adds each; a part gets at least 256K of them (starting and joining a thread costs tens of
 * microseconds). */
int64_t work_grain(int64_t work)
{
    return items_for(min_part_work, work);
}

/* fn(ctx, begin, end, part) over parts_for(n, min_items) contiguous parts; part 0 runs on the calling thread. */
void parallel_for(int64_t n, int64_t min_items, range_fn fn, void *ctx)
{
    int parts = parts_for(n, min_items);
    range_task tasks[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int p = 0; p < parts; p++) {
        tasks[p] = (range_task){fn, ctx, n * p / parts, n * (p + 1) / parts, p};
    }
    for (int p = 1; p < parts; p++) {
        started[p] = pthread_create(&threads[p], NULL, run_range, &tasks[p]) == 0;
        if (!started[p]) run_range(&tasks[p]);  /* no thread to be had: do the part here */
    }
    run_range(&tasks[0]);
    for (int p = 1; p < parts; p++) {
        if (started[p]) pthread_join(threads[p], NULL);
    }
}

/* ---- window geometry shared by convolution and pooling -------------------------------------------------- */

typedef struct {
    int64_t N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
} geometry;

static int parse_geometry(PyObject *args, Py_ssize_t first, geometry *g)
{
    int64_t *fields[] = {&g->N, &g->H, &g->W, &g->C, &g->KH, &g->KW, &g->SH, &g->SW,
                         &g->PH, &g->PW, &g->DH, &g->DW, &g->OH, &g->OW};
    if (PyTuple_GET_SIZE(args) != first + 14) {
        PyErr_Format(PyExc_TypeError, "expected %zd arguments, got %zd", first + 14, PyTuple_GET_SIZE(args));
        return 0;
    }
    for (int i = 0; i < 14; i++) {
        *fields[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(args, first + i));
        if (*fields[i] == -1 && PyErr_Occurred()) return 0;
    }
    return 1;
}

static int borrow(PyObject *const *objects, int count, Py_buffer *views, const int *writable, const int *optional,
                  const int64_t *nbytes)
{
    for (int i = 0; i < count; i++) {
        if (optional && optional[i] && objects[i] == Py_None) {  /* absent: nothing borrowed, buf NULL */
            views[i].buf = NULL;
            views[i].obj = NULL;
            continue;
        }
        int flags = PyBUF_C_CONTIGUOUS | (writable[i] ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objects[i], &views[i], flags) != 0) {
            release_buffers(i, views);
            return 0;
        }
        if (views[i].len != nbytes[i]) {
            PyErr_Format(PyExc_ValueError, "buffer argument %d holds %zd bytes; the shapes given need %lld",
                         i, views[i].len, (long long)nbytes[i]);
            release_buffers(i + 1, views);
            return 0;
        }
    }
    return 1;
}

int get_buffers(PyObject *args, int count, Py_buffer *views, const int *writable, const int64_t *nbytes)
{
    return borrow(&PyTuple_GET_ITEM(args, 0), count, views, writable, NULL, nbytes);
}

int get_optional_buffers(PyObject *const *objects, int count, Py_buffer *views, const int *writable,
                         const int *optional, const int64_t *nbytes)
{
    return borrow(objects, count, views, writable, optional, nbytes);
}

void release_buffers(int count, Py_buffer *views)
{
    for (int i = 0; i < count; i++) {
        if (views[i].obj) PyBuffer_Release(&views[i]);
    }
}

/* ---- im2col: x (N, H, W, C) -> cols (N*OH*OW, KH*KW*C), rows-first, zeros in the padding ----------------- */

typedef struct {
    const float *x;
    float *cols;
    geometry g;
} im2col_args;

static void im2col_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const im2col_args *a = (const im2col_args *)ctx;
    const geometry g = a->g;
    (void)part;
    for (int64_t row = begin; row < end; row++) {
        int64_t n = row / (g.OH * g.OW), oh = row / g.OW % g.OH, ow = row % g.OW;
        float *out = a->cols + row * g.KH * g.KW * g.C;
        for (int64_t kh = 0; kh < g.KH; kh++) {
            int64_t h = oh * g.SH - g.PH + kh * g.DH;
            for (int64_t kw = 0; kw < g.KW; kw++, out += g.C) {
                int64_t w = ow * g.SW - g.PW + kw * g.DW;
                if (h < 0 || h >= g.H || w < 0 || w >= g.W) {
                    memset(out, 0, g.C * sizeof(float));
                    continue;
                }
                const float *in = a->x + ((n * g.H + h) * g.W + w) * g.C;
                for (int64_t c = 0; c < g.C; c++) out[c] = in[c];
            }
        }
    }
}

static PyObject *im2col_f32(PyObject *self, PyObject *args)
{
    im2col_args a;
    Py_buffer views[2];
    if (!parse_geometry(args, 2, &a.g)) return NULL;
    const geometry g = a.g;
    const int writable[] = {0, 1};
    const int64_t nbytes[] = {g.N * g.H * g.W * g.C * 4, g.N * g.OH * g.OW * g.KH * g.KW * g.C * 4};
    if (!get_buffers(args, 2, views, writable, nbytes)) return NULL;
    a.x = views[0].buf;
    a.cols = views[1].buf;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(g.N * g.OH * g.OW, grain(g.KH * g.KW * g.C), im2col_rows, &a);
    Py_END_ALLOW_THREADS
    release_buffers(2, views);
    Py_RETURN_NONE;
}

/* ---- col2im: the adjoint, a scatter-add of each window's row into its image, one image per thread ---------- */

typedef struct {
    const float *cols;
    float *dx;
    geometry g;
} col2im_args;

static inline void add_row(float *restrict out, const float *restrict in, int64_t n)
{
    for (int64_t c = 0; c < n; c++) out[c] += in[c];
}

/* The patch matrix is read once, in order (a stream the prefetcher follows), and each image's gradient (small
 * enough to stay in cache) takes the sums: 2.5x faster than gathering each pixel's entries from the windows that
 * read it, which fetched the patch matrix in 128-byte pieces (measured on a 15488 x 288 patch matrix). Threads
 * take whole images, so no two write the same pixel. */
static void col2im_images(void *ctx, int64_t begin, int64_t end, int part)
{
    const col2im_args *a = (const col2im_args *)ctx;
    const geometry g = a->g;
    const int64_t row_length = g.KH * g.KW * g.C;
    (void)part;
    for (int64_t n = begin; n < end; n++) {
        float *image = a->dx + n * g.H * g.W * g.C;
        memset(image, 0, g.H * g.W * g.C * sizeof(float));
        for (int64_t oh = 0; oh < g.OH; oh++) {
            for (int64_t ow = 0; ow < g.OW; ow++) {
                const float *row = a->cols + ((n * g.OH + oh) * g.OW + ow) * row_length;
                for (int64_t kh = 0; kh < g.KH; kh++) {
                    const int64_t h = oh * g.SH - g.PH + kh * g.DH;
                    if (h < 0 || h >= g.H) continue;
                    for (int64_t kw = 0; kw < g.KW; kw++) {
                        const int64_t w = ow * g.SW - g.PW + kw * g.DW;
                        if (w < 0 || w >= g.W) continue;
                        add_row(image + (h * g.W + w) * g.C, row + (kh * g.KW + kw) * g.C, g.C);
                    }
                }
            }
        }
    }
}

static PyObject *col2im_f32(PyObject *self, PyObject *args)
{
    col2im_args a;
    Py_buffer views[2];
    if (!parse_geometry(args, 2, &a.g)) return NULL;
    const geometry g = a.g;
    const int writable[] = {0, 1};
    const int64_t nbytes[] = {g.N * g.OH * g.OW * g.KH * g.KW * g.C * 4, g.N * g.H * g.W * g.C * 4};
    if (!get_buffers(args, 2, views, writable, nbytes)) return NULL;
    a.cols = views[0].buf;
    a.dx = views[1].buf;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(g.N, grain(g.OH * g.OW * g.KH * g.KW * g.C), col2im_images, &a);
    Py_END_ALLOW_THREADS
    release_buffers(2, views);
    Py_RETURN_NONE;
}

/* ---- max pooling: y (N, OH, OW, C) and the row-major tap of each window's first maximum (uint8) ---------- */

/* window[i * K + k]: the output index o with o*S - P + k == i, or -1 when no window reads pixel i through tap k.
 * Filled once per call for every pixel i < I (the divisions per pixel and tap had been a third of the backward). */
static void fill_windows(int64_t *window, int64_t I, int64_t K, int64_t S, int64_t P, int64_t O)
{
    for (int64_t i = 0; i < I; i++) {
        for (int64_t k = 0; k < K; k++) {
            const int64_t t = i + P - k;
            window[i * K + k] = (t < 0 || t % S != 0 || t / S >= O) ? -1 : t / S;
        }
    }
}

typedef struct {
    const float *x, *dy;
    const uint8_t *first_in;
    float *y, *dx;
    uint8_t *first;
    const int64_t *row_window, *column_window;  /* backward: fill_windows over (H, KH) and (W, KW) */
    geometry g;  /* DH = DW = 1 */
} pool_args;

static void max_pool_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const pool_args *a = (const pool_args *)ctx;
    const geometry g = a->g;
    (void)part;
    for (int64_t noh = begin; noh < end; noh++) {  /* one output row (n, oh) */
        int64_t n = noh / g.OH, oh = noh % g.OH;
        for (int64_t ow = 0; ow < g.OW; ow++) {
            float *restrict best = a->y + (noh * g.OW + ow) * g.C;
            uint8_t *restrict first = a->first + (noh * g.OW + ow) * g.C;
            for (int64_t c = 0; c < g.C; c++) best[c] = -INFINITY;
            /* pass 1: the maxima (padding is -inf; a NaN spreads, as in numpy.maximum) */
            for (int64_t kh = 0; kh < g.KH; kh++) {
                int64_t h = oh * g.SH - g.PH + kh;
                for (int64_t kw = 0; kw < g.KW; kw++) {
                    int64_t w = ow * g.SW - g.PW + kw;
                    if (h < 0 || h >= g.H || w < 0 || w >= g.W) {
                        continue;
                    }
                    const float *restrict in = a->x + ((n * g.H + h) * g.W + w) * g.C;
                    for (int64_t c = 0; c < g.C; c++) best[c] = (in[c] > best[c] || in[c] != in[c]) ? in[c] : best[c];
                }
            }
            /* pass 2: the first tap (row-major) holding the maximum, found by walking the taps backwards */
            for (int64_t c = 0; c < g.C; c++) first[c] = 0;
            for (int64_t kh = g.KH - 1; kh >= 0; kh--) {
                int64_t h = oh * g.SH - g.PH + kh;
                for (int64_t kw = g.KW - 1; kw >= 0; kw--) {
                    int64_t w = ow * g.SW - g.PW + kw;
                    const uint8_t tap = (uint8_t)(kh * g.KW + kw);
                    if (h < 0 || h >= g.H || w < 0 || w >= g.W) {
                        for (int64_t c = 0; c < g.C; c++) first[c] = best[c] == -INFINITY ? tap : first[c];
                        continue;
                    }
                    const float *restrict in = a->x + ((n * g.H + h) * g.W + w) * g.C;
                    for (int64_t c = 0; c < g.C; c++) first[c] = in[c] == best[c] ? tap : first[c];
                }
            }
        }
    }
}

static PyObject *max_pool2d_f32(PyObject *self, PyObject *args)
{
    pool_args a;
    Py_buffer views[3];
    if (!parse_geometry(args, 3, &a.g)) return NULL;
    const geometry g = a.g;
    const int writable[] = {0, 1, 1};
    const int64_t out = g.N * g.OH * g.OW * g.C;
    const int64_t nbytes[] = {g.N * g.H * g.W * g.C * 4, out * 4, out};
    if (!get_buffers(args, 3, views, writable, nbytes)) return NULL;
    a.x = views[0].buf;
    a.y = views[1].buf;
    a.first = views[2].buf;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(g.N * g.OH, grain(g.OW * g.KH * g.KW * g.C), max_pool_rows, &a);
    Py_END_ALLOW_THREADS
    release_buffers(3, views);
    Py_RETURN_NONE;
}

/* dx (N, H, W, C): each input pixel gathers dy of the windows whose first maximum it was (no scatter). */
static void max_pool_backward_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const pool_args *a = (const pool_args *)ctx;
    const geometry g = a->g;
    (void)part;
    for (int64_t nh = begin; nh < end; nh++) {
        const int64_t n = nh / g.H, h = nh % g.H;
        const int64_t *oh_of = a->row_window + h * g.KH;
        for (int64_t w = 0; w < g.W; w++) {
            float *restrict out = a->dx + (nh * g.W + w) * g.C;
            const int64_t *ow_of = a->column_window + w * g.KW;
            memset(out, 0, g.C * sizeof(float));
            for (int64_t kh = 0; kh < g.KH; kh++) {
                const int64_t oh = oh_of[kh];
                if (oh < 0) continue;
                for (int64_t kw = 0; kw < g.KW; kw++) {
                    const int64_t ow = ow_of[kw];
                    if (ow < 0) continue;
                    const uint8_t tap = (uint8_t)(kh * g.KW + kw);
                    const int64_t at = ((n * g.OH + oh) * g.OW + ow) * g.C;
                    const float *restrict dy = a->dy + at;
                    const uint8_t *restrict first = a->first_in + at;
                    for (int64_t c = 0; c < g.C; c++) out[c] += dy[c] * (float)(first[c] == tap);
                }
            }
        }
    }
}

static PyObject *max_pool2d_backward_f32(PyObject *self, PyObject *args)
{
    pool_args a;
    Py_buffer views[3];
    if (!parse_geometry(args, 3, &a.g)) return NULL;
    const geometry g = a.g;
    const int writable[] = {0, 0, 1};
    const int64_t out = g.N * g.OH * g.OW * g.C;
    const int64_t nbytes[] = {out * 4, out, g.N * g.H * g.W * g.C * 4};
    if (!get_buffers(args, 3, views, writable, nbytes)) return NULL;
    int64_t *windows = PyMem_RawMalloc((size_t)(g.H * g.KH + g.W * g.KW) * sizeof(int64_t) + 1);
    if (!windows) {
        release_buffers(3, views);
        return PyErr_NoMemory();
    }
    fill_windows(windows, g.H, g.KH, g.SH, g.PH, g.OH);
    fill_windows(windows + g.H * g.KH, g.W, g.KW, g.SW, g.PW, g.OW);
    a.dy = views[0].buf;
    a.first_in = views[1].buf;
    a.dx = views[2].buf;
    a.row_window = windows;
    a.column_window = windows + g.H * g.KH;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(g.N * g.H, grain(g.W * g.C), max_pool_backward_rows, &a);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(windows);
    release_buffers(3, views);
    Py_RETURN_NONE;
}

/* ---- bias + ReLU (or identity): z (rows, F) in place; backward dz and the bias gradient in one pass ------- */

typedef struct {
    float *z, *dz;
    const float *bias, *dy, *y;
    double *partials;  /* (parts, F) column sums, one row per part */
    int64_t F;
    int relu;
} bias_act_args;

static void bias_act_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const bias_act_args *a = (const bias_act_args *)ctx;
    (void)part;
    for (int64_t r = begin; r < end; r++) {
        float *z = a->z + r * a->F;
        if (a->bias) {
            for (int64_t f = 0; f < a->F; f++) z[f] += a->bias[f];
        }
        if (a->relu) {
            for (int64_t f = 0; f < a->F; f++) z[f] = z[f] < 0.0f ? 0.0f : z[f];  /* NaN stays NaN */
        }
    }
}

static PyObject *bias_activation_f32(PyObject *self, PyObject *args)
{
    bias_act_args a = {0};
    Py_buffer views[2];
    long long rows, F;
    int relu;
    PyObject *z_obj, *bias_obj;
    if (!PyArg_ParseTuple(args, "OOLLp", &z_obj, &bias_obj, &rows, &F, &relu)) return NULL;
    const int writable[] = {1, 0}, optional[] = {0, 1};
    const int64_t nbytes[] = {rows * F * 4, F * 4};
    if (!get_optional_buffers(&PyTuple_GET_ITEM(args, 0), 2, views, writable, optional, nbytes)) return NULL;
    a.z = views[0].buf;
    a.bias = views[1].buf;
    a.F = F;
    a.relu = relu;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(rows, grain(F), bias_act_rows, &a);
    Py_END_ALLOW_THREADS
    release_buffers(2, views);
    Py_RETURN_NONE;
}

static void bias_act_backward_rows(void *ctx, int64_t begin, int64_t end, int part)
{
    const bias_act_args *a = (const bias_act_args *)ctx;
    double *sums = a->partials ? a->partials + part * a->F : NULL;
    float block[256];  /* column sums of up to 64 rows in float, folded into the double sums per block */
    for (int64_t f0 = 0; f0 < a->F; f0 += 256) {
        int64_t width = a->F - f0 < 256 ? a->F - f0 : 256;
        for (int64_t r0 = begin; r0 < end; r0 += 64) {
            int64_t r1 = r0 + 64 < end ? r0 + 64 : end;
            memset(block, 0, sizeof(block));
            for (int64_t r = r0; r < r1; r++) {
                const float *restrict dy = a->dy + r * a->F + f0;
                float *dz = a->dz + r * a->F + f0;
                if (a->relu) {
                    const float *restrict y = a->y + r * a->F + f0;
                    float *restrict relu_dz = dz;  /* its own buffer: the wrapper never passes dy as dz here */
                    for (int64_t f = 0; f < width; f++) relu_dz[f] = dy[f] * (float)(y[f] > 0.0f);
                } else if (dz != dy) {
                    memcpy(dz, dy, width * sizeof(float));
                }
                for (int64_t f = 0; f < width; f++) block[f] += dz[f];
            }
            if (sums) {
                for (int64_t f = 0; f < width; f++) sums[f0 + f] += block[f];
            }
        }
    }
}

/* bias_activation_backward_f32(dy, y, dz, bias_grad_or_None, rows, F, relu): dz = dy * (y > 0) (or dy). */
static PyObject *bias_activation_backward_f32(PyObject *self, PyObject *args)
{
    bias_act_args a = {0};
    Py_buffer views[4];
    PyObject *dy_obj, *y_obj, *dz_obj, *grad_obj;
    long long rows, F;
    int relu;
    if (!PyArg_ParseTuple(args, "OOOOLLp", &dy_obj, &y_obj, &dz_obj, &grad_obj, &rows, &F, &relu)) return NULL;
    const int has_grad = grad_obj != Py_None;
    PyObject *objects[] = {dy_obj, relu ? y_obj : Py_None, dz_obj, grad_obj};  /* y is read for ReLU only */
    const int writable[] = {0, 0, 1, 1}, optional[] = {0, 1, 0, 1};
    const int64_t nbytes[] = {rows * F * 4, rows * F * 4, rows * F * 4, F * 4};
    if (!get_optional_buffers(objects, 4, views, writable, optional, nbytes)) return NULL;
    a.dy = views[0].buf;
    a.y = views[1].buf;
    a.dz = views[2].buf;
    a.F = F;
    a.relu = relu;
    int parts = parts_for(rows, grain(F));
    if (has_grad) {
        a.partials = PyMem_RawCalloc((size_t)(parts * F), sizeof(double));
        if (!a.partials) {
            release_buffers(4, views);
            return PyErr_NoMemory();
        }
    }
    Py_BEGIN_ALLOW_THREADS
    parallel_for(rows, grain(F), bias_act_backward_rows, &a);
    if (has_grad) {
        float *grad = views[3].buf;
        for (int64_t f = 0; f < F; f++) {
            double total = 0.0;
            for (int p = 0; p < parts; p++) total += a.partials[p * F + f];
            grad[f] = (float)total;
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(a.partials);
    release_buffers(4, views);
    Py_RETURN_NONE;
}

/* ---- optimizer steps: one pass over the flat buffers ---------------------------------------------------- */

typedef struct {
    float *p, *m, *v;
    const float *g;
    /* 1 - beta and 1 - decay are taken in double before rounding (1.0f - 0.999f is 4.7e-5 off 0.001) */
    float alpha, beta_1, beta_2, one_minus_beta_1, one_minus_beta_2, epsilon, keep, learning_rate, momentum;
    int nesterov;
} optim_args;

/* The buffers as restrict locals, so that the loop vectorises (through the struct GCC assumed they may overlap). */
VECTOR_CLONES static void adam_elements(const optim_args *a, float *restrict p, float *restrict m_,
                                        float *restrict v_, const float *restrict g_, int64_t n)
{
    const float keep = a->keep, b1 = a->beta_1, b2 = a->beta_2, c1 = a->one_minus_beta_1, c2 = a->one_minus_beta_2;
    const float alpha = a->alpha, epsilon = a->epsilon;
    for (int64_t i = 0; i < n; i++) {
        const float g = g_[i];
        const float m = m_[i] * b1 + g * c1;
        const float v = v_[i] * b2 + g * g * c2;
        m_[i] = m;
        v_[i] = v;
        p[i] = p[i] * keep - alpha * (m / (sqrtf(v) + epsilon));
    }
}

static void adam_range(void *ctx, int64_t begin, int64_t end, int part)
{
    const optim_args *a = (const optim_args *)ctx;
    (void)part;
    adam_elements(a, a->p + begin, a->m + begin, a->v + begin, a->g + begin, end - begin);
}

static void sgd_range(void *ctx, int64_t begin, int64_t end, int part)
{
    const optim_args *a = (const optim_args *)ctx;
    const float lr = a->learning_rate, mu = a->momentum;
    (void)part;
    if (!a->m) {
        for (int64_t i = begin; i < end; i++) a->p[i] -= lr * a->g[i];
        return;
    }
    for (int64_t i = begin; i < end; i++) {
        float g = a->g[i];
        float velocity = mu * a->m[i] - lr * g;
        a->m[i] = velocity;
        a->p[i] += a->nesterov ? mu * velocity - lr * g : velocity;
    }
}

/* The byte size of the flat buffer `obj` (the optimizer's parameters: every other buffer must hold as many). */
static int flat_bytes(PyObject *obj, int64_t *size)
{
    Py_buffer probe;
    if (PyObject_GetBuffer(obj, &probe, PyBUF_C_CONTIGUOUS) != 0) return 0;
    *size = probe.len;
    PyBuffer_Release(&probe);
    return 1;
}

/* adam_step_f32(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay) */
static PyObject *adam_step_f32(PyObject *self, PyObject *args)
{
    optim_args a = {0};
    Py_buffer views[4];
    PyObject *p_obj, *g_obj, *m_obj, *v_obj;
    double alpha, beta_1, beta_2, epsilon, decay;
    if (!PyArg_ParseTuple(args, "OOOOddddd", &p_obj, &g_obj, &m_obj, &v_obj, &alpha, &beta_1, &beta_2, &epsilon,
                          &decay)) return NULL;
    a.alpha = (float)alpha;
    a.beta_1 = (float)beta_1;
    a.beta_2 = (float)beta_2;
    a.one_minus_beta_1 = (float)(1.0 - beta_1);
    a.one_minus_beta_2 = (float)(1.0 - beta_2);
    a.epsilon = (float)epsilon;
    a.keep = (float)(1.0 - decay);
    int64_t size;
    if (!flat_bytes(p_obj, &size)) return NULL;
    const int writable[] = {1, 0, 1, 1};
    const int64_t nbytes[] = {size, size, size, size};
    if (!get_buffers(args, 4, views, writable, nbytes)) return NULL;
    a.p = views[0].buf;
    a.g = views[1].buf;
    a.m = views[2].buf;
    a.v = views[3].buf;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(size / 4, grain(1), adam_range, &a);
    Py_END_ALLOW_THREADS
    release_buffers(4, views);
    Py_RETURN_NONE;
}

/* sgd_step_f32(p, g, velocity_or_None, learning_rate, momentum, nesterov) */
static PyObject *sgd_step_f32(PyObject *self, PyObject *args)
{
    optim_args a = {0};
    Py_buffer views[3];
    PyObject *p_obj, *g_obj, *velocity_obj;
    if (!PyArg_ParseTuple(args, "OOOffp", &p_obj, &g_obj, &velocity_obj, &a.learning_rate, &a.momentum,
                          &a.nesterov)) return NULL;
    int64_t size;
    if (!flat_bytes(p_obj, &size)) return NULL;
    const int writable[] = {1, 0, 1}, optional[] = {0, 0, 1};
    const int64_t nbytes[] = {size, size, size};
    if (!get_optional_buffers(&PyTuple_GET_ITEM(args, 0), 3, views, writable, optional, nbytes)) return NULL;
    a.p = views[0].buf;
    a.g = views[1].buf;
    a.m = views[2].buf;  /* NULL without momentum */
    Py_BEGIN_ALLOW_THREADS
    parallel_for(size / 4, grain(1), sgd_range, &a);
    Py_END_ALLOW_THREADS
    release_buffers(3, views);
    Py_RETURN_NONE;
}

/* ---- scatter-add of rows: target[indices[i]] += values[i] (an embedding's gradient) ----------------------- */

/* scatter_add_rows_f32(target, indices, values, rows, D, V): int64 indices in [0, V), checked before any write;
 * one thread in index order, so repeated indices sum in the same order as numpy.add.at. */
static PyObject *scatter_add_rows_f32(PyObject *self, PyObject *args)
{
    PyObject *target_obj, *indices_obj, *values_obj;
    long long rows, D, V;
    if (!PyArg_ParseTuple(args, "OOOLLL", &target_obj, &indices_obj, &values_obj, &rows, &D, &V)) return NULL;
    Py_buffer views[3];
    const int writable[] = {1, 0, 0};
    const int64_t nbytes[] = {V * D * 4, rows * 8, rows * D * 4};
    if (!get_buffers(args, 3, views, writable, nbytes)) return NULL;
    float *target = views[0].buf;
    const int64_t *indices = views[1].buf;
    const float *values = views[2].buf;
    for (int64_t i = 0; i < rows; i++) {
        if (indices[i] < 0 || indices[i] >= V) {
            PyErr_Format(PyExc_IndexError, "index %lld at position %lld is out of range for %lld rows",
                         (long long)indices[i], (long long)i, V);
            release_buffers(3, views);
            return NULL;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (int64_t i = 0; i < rows; i++) {
        float *restrict out = target + indices[i] * D;
        const float *restrict in = values + i * D;
        for (int64_t d = 0; d < D; d++) out[d] += in[d];
    }
    Py_END_ALLOW_THREADS
    release_buffers(3, views);
    Py_RETURN_NONE;
}

/* ---- threads -------------------------------------------------------------------------------------------- */

static PyObject *set_num_threads(PyObject *self, PyObject *args)
{
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    if (n < 1 || n > MAX_THREADS) {
        PyErr_Format(PyExc_ValueError, "the number of threads must be in 1..%d. Received: %d", MAX_THREADS, n);
        return NULL;
    }
    num_threads = n;
    Py_RETURN_NONE;
}

static PyObject *set_min_part_sizes(PyObject *self, PyObject *args)
{
    long long elements, work;
    if (!PyArg_ParseTuple(args, "LL", &elements, &work)) return NULL;
    if (elements < 1 || work < 1) {
        PyErr_Format(PyExc_ValueError, "the part sizes must be positive. Received: %lld, %lld", elements, work);
        return NULL;
    }
    PyObject *before = Py_BuildValue("(LL)", (long long)min_part_elements, (long long)min_part_work);
    if (before) {
        min_part_elements = elements;
        min_part_work = work;
    }
    return before;
}

static PyObject *get_num_threads(PyObject *self, PyObject *args)
{
    return PyLong_FromLong(num_threads);
}

static PyMethodDef methods[] = {
    {"im2col_f32", im2col_f32, METH_VARARGS, "im2col_f32(x, cols, N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)"},
    {"col2im_f32", col2im_f32, METH_VARARGS, "col2im_f32(cols, dx, N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)"},
    {"max_pool2d_f32", max_pool2d_f32, METH_VARARGS,
     "max_pool2d_f32(x, y, first, N, H, W, C, KH, KW, SH, SW, PH, PW, 1, 1, OH, OW)"},
    {"max_pool2d_backward_f32", max_pool2d_backward_f32, METH_VARARGS,
     "max_pool2d_backward_f32(dy, first, dx, N, H, W, C, KH, KW, SH, SW, PH, PW, 1, 1, OH, OW)"},
    {"bias_activation_f32", bias_activation_f32, METH_VARARGS, "bias_activation_f32(z, bias_or_None, rows, F, relu)"},
    {"bias_activation_backward_f32", bias_activation_backward_f32, METH_VARARGS,
     "bias_activation_backward_f32(dy, y, dz, bias_grad_or_None, rows, F, relu)"},
    {"adam_step_f32", adam_step_f32, METH_VARARGS, "adam_step_f32(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay)"},
    {"sgd_step_f32", sgd_step_f32, METH_VARARGS, "sgd_step_f32(p, g, velocity_or_None, learning_rate, momentum, nesterov)"},
    {"lstm_step_f32", lstm_step_f32, METH_VARARGS,
     "lstm_step_f32(xw, hr, h_prev, c_prev, mask_or_None, h, c, gates, N, U)"},
    {"lstm_step_backward_f32", lstm_step_backward_f32, METH_VARARGS,
     "lstm_step_backward_f32(dh, dc, c_prev, c, gates, mask_or_None, dz, dh_carry, dc_prev, N, U)"},
    {"matmul_f32", matmul_f32, METH_VARARGS, "matmul_f32(a, b, out, rows, K, M, transpose_a, accumulate)"},
    {"lstm_scan_f32", lstm_scan_f32, METH_VARARGS,
     "lstm_scan_f32(xw, recurrent_kernel, recurrent_mask_or_None, mask_or_None, H, C, gates, T, N, U)"},
    {"lstm_scan_backward_f32", lstm_scan_backward_f32, METH_VARARGS,
     "lstm_scan_backward_f32(dH, dc_last_or_None, recurrent_kernel_t, recurrent_mask_or_None, mask_or_None, C, "
     "gates, dz, dh0, dc0, T, N, U)"},
    {"gru_scan_f32", gru_scan_f32, METH_VARARGS,
     "gru_scan_f32(xw, recurrent_kernel, recurrent_bias_or_None, recurrent_mask_or_None, mask_or_None, H, HR, "
     "gates, T, N, U)"},
    {"gru_scan_backward_f32", gru_scan_backward_f32, METH_VARARGS,
     "gru_scan_backward_f32(dH, recurrent_kernel_t, recurrent_mask_or_None, mask_or_None, H, HR, gates, dxw, dhr, "
     "dh0, T, N, U)"},
    {"scatter_add_rows_f32", scatter_add_rows_f32, METH_VARARGS,
     "scatter_add_rows_f32(target, indices, values, rows, D, V)"},
    {"set_num_threads", set_num_threads, METH_VARARGS, "set_num_threads(n)"},
    {"set_min_part_sizes", set_min_part_sizes, METH_VARARGS,
     "set_min_part_sizes(elements, work) -> the previous pair: the least a thread's part gets in the memory-bound "
     "kernels (elements) and in the compute-bound ones (multiply-adds)"},
    {"get_num_threads", get_num_threads, METH_NOARGS, "get_num_threads()"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "nnkit's compiled float32 CPU kernels", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
