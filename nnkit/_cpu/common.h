/* What the translation units of nnkit's compiled CPU kernels share: the fork-join over rows, the buffer checks,
 * the compiler attributes, and the entry points that kernels.c's method table lists from the other files. */
#ifndef NNKIT_CPU_COMMON_H
#define NNKIT_CPU_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define MAX_THREADS 64

/* The arithmetic-bound loops (the LSTM gates and its recurrent products) are compiled twice on x86-64 with GCC:
 * for x86-64-v3 (AVX2 + FMA) and for the baseline; the loader picks the clone the CPU runs. The level is named,
 * not a CPU: "arch=haswell" is chosen only on Intel Haswell-family models, so AMD CPUs ran the baseline clone.
 * 2.3x faster per gate than the SSE2 clone on an AMD EPYC, measured. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

/* GCC does not inline a baseline-target helper into a target clone on its own (the clone then calls it once per
 * element, unvectorised), so the per-element helpers the clones use are forced inline. */
#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

/* ---- fork-join over [0, n) (kernels.c) ---- */
typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end, int part);

/* fn(ctx, begin, end, part) over contiguous parts of at least min_items items; part 0 runs on the calling thread. */
void parallel_for(int64_t n, int64_t min_items, range_fn fn, void *ctx);
/* How many items a thread must get before a second thread is started: items of `width` elements in a
 * memory-bound kernel (grain), of `work` multiply-adds in a compute-bound one (work_grain). */
int64_t grain(int64_t width);
int64_t work_grain(int64_t work);

/* ---- buffers (kernels.c) ---- */
/* Borrow the buffers of the first `count` items of the tuple `args` (writable where asked, C-contiguous) and check
 * their byte sizes; on failure nothing stays borrowed and a Python error is set. */
int get_buffers(PyObject *args, int count, Py_buffer *views, const int *writable, const int64_t *nbytes);
/* The same over a C array of objects, where Py_None stands for an absent buffer at the positions `optional` marks
 * (its view's buf is then NULL; None elsewhere is refused as a non-buffer). */
int get_optional_buffers(PyObject *const *objects, int count, Py_buffer *views, const int *writable,
                         const int *optional, const int64_t *nbytes);
void release_buffers(int count, Py_buffer *views);

/* ---- matrix product (matmul.c) ---- */
/* out (rows, M) = a @ b, or += where accumulate; b (K, M) with row step ldb, out with row step ldo, and a[r, k]
 * at a[r * a_row_step + k * a_k_step] (a transposed without a copy: a_row_step 1). `packed` is NULL or b's
 * pack_panels (its columns read contiguously, for products that read b from many row tiles). One thread. */
void matrix_product(const float *a, int64_t a_row_step, int64_t a_k_step, const float *b, int64_t ldb,
                    const float *packed, float *out, int64_t ldo, int64_t rows, int64_t K, int64_t M, int accumulate);
/* b's whole 16-column panels, each K x 16 and contiguous: packed_size(K, M) floats. */
int64_t packed_size(int64_t K, int64_t M);
void pack_panels(const float *b, int64_t ldb, int64_t K, int64_t M, float *packed);
PyObject *matmul_f32(PyObject *self, PyObject *args);

/* ---- entry points defined in recurrent.c ---- */
PyObject *lstm_step_f32(PyObject *self, PyObject *args);
PyObject *lstm_step_backward_f32(PyObject *self, PyObject *args);
PyObject *lstm_scan_f32(PyObject *self, PyObject *args);
PyObject *lstm_scan_backward_f32(PyObject *self, PyObject *args);
PyObject *gru_scan_f32(PyObject *self, PyObject *args);
PyObject *gru_scan_backward_f32(PyObject *self, PyObject *args);

#endif
