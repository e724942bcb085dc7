/* nnkit's own float32 matrix product, for the layers whose other work runs on nnkit's threads (the LSTM).
 *
 * OpenBLAS' threads busy-wait for a while after each product; where the machine has no core to spare they then
 * take the cores from the kernel that follows (the LSTM scan ran 2x slower right after an OpenBLAS product on 2
 * cores). Products on nnkit's fork-join threads leave nothing running behind them. The loop is a register tile
 * of 6 rows by 16 columns (12 accumulators: enough independent FMAs to hide their latency, and 15 of the 16 AVX
 * registers) over blocks of 256 of the summed dimension, which keeps the strip of b a tile reads in L2.
 */
#include "common.h"

#define K_BLOCK 256
#define M_BLOCK 256
/* b is packed when at least this many rows read each of its panels: packing is one single-threaded pass over b,
 * worth it when b is read by many row tiles (square products: 1.5x), not for a tall b read by a few (a weight
 * gradient a.T @ b). */
#define PACK_FROM_ROWS 128

/* Eight floats in GCC's vector extension: AVX registers in the x86-64-v3 clone, pairs of SSE registers in the
 * baseline one. Loads and stores go through memcpy (unaligned). */
typedef float float8 __attribute__((vector_size(32)));

#define TILE_ROWS 6

/* out[r, 0:16] (+)= sum_k a[r, k] b[k, 0:16] for R (at most TILE_ROWS) rows, the R x 2 accumulators in registers.
 * a[r, k] is a[r * a_row_step + k * a_k_step]: a is read as given or transposed without a copy. */
ALWAYS_INLINE static inline void product_tile(const float *a, int64_t a_row_step, int64_t a_k_step, const float *b,
                                              int64_t ldb, float *out, int64_t ldo, int64_t K, int R,
                                              int accumulate)
{
    float8 sum[TILE_ROWS][2];
    for (int r = 0; r < R; r++) {
        if (accumulate) {
            memcpy(&sum[r][0], out + r * ldo, sizeof sum[r][0]);
            memcpy(&sum[r][1], out + r * ldo + 8, sizeof sum[r][1]);
        } else {
            sum[r][0] = (float8){0};
            sum[r][1] = (float8){0};
        }
    }
    for (int64_t k = 0; k < K; k++) {
        float8 b0, b1;
        memcpy(&b0, b + k * ldb, sizeof b0);
        memcpy(&b1, b + k * ldb + 8, sizeof b1);
        for (int r = 0; r < R; r++) {
            const float s = a[r * a_row_step + k * a_k_step];
            sum[r][0] += s * b0;
            sum[r][1] += s * b1;
        }
    }
    for (int r = 0; r < R; r++) {
        memcpy(out + r * ldo, &sum[r][0], sizeof sum[r][0]);
        memcpy(out + r * ldo + 8, &sum[r][1], sizeof sum[r][1]);
    }
}

/* The whole tiles of out[:, j0:j1] for one block of the summed dimension; b_step(j) is where the block's columns
 * j..j+15 start and ldb their row step (b as given, or its packed panels). */
ALWAYS_INLINE static inline void product_block(const float *a, int64_t a_row_step, int64_t a_k_step, const float *b,
                                               int64_t ldb, int64_t panel_step, float *out, int64_t ldo,
                                               int64_t rows, int64_t depth, int64_t j0, int64_t j1, int add)
{
    for (int64_t r = 0; r < rows; r += TILE_ROWS) {
        const float *a_rows = a + r * a_row_step;
        float *out_rows = out + r * ldo;
        for (int64_t j = j0; j < j1; j += 16) {
            const float *b_tile = b + (j / 16) * panel_step;
            switch (rows - r < TILE_ROWS ? rows - r : TILE_ROWS) {  /* a constant R for each inlined tile */
            case 6: product_tile(a_rows, a_row_step, a_k_step, b_tile, ldb, out_rows + j, ldo, depth, 6, add); break;
            case 5: product_tile(a_rows, a_row_step, a_k_step, b_tile, ldb, out_rows + j, ldo, depth, 5, add); break;
            case 4: product_tile(a_rows, a_row_step, a_k_step, b_tile, ldb, out_rows + j, ldo, depth, 4, add); break;
            case 3: product_tile(a_rows, a_row_step, a_k_step, b_tile, ldb, out_rows + j, ldo, depth, 3, add); break;
            case 2: product_tile(a_rows, a_row_step, a_k_step, b_tile, ldb, out_rows + j, ldo, depth, 2, add); break;
            default: product_tile(a_rows, a_row_step, a_k_step, b_tile, ldb, out_rows + j, ldo, depth, 1, add);
            }
        }
    }
}

int64_t packed_size(int64_t K, int64_t M)
{
    return K * (M - M % 16);
}

void pack_panels(const float *b, int64_t ldb, int64_t K, int64_t M, float *packed)
{
    const int64_t panels = M / 16;
    for (int64_t p = 0; p < panels; p++) {
        for (int64_t k = 0; k < K; k++) memcpy(packed + (p * K + k) * 16, b + k * ldb + p * 16, 16 * sizeof(float));
    }
}

VECTOR_CLONES void matrix_product(const float *a, int64_t a_row_step, int64_t a_k_step, const float *b, int64_t ldb,
                                  const float *packed, float *out, int64_t ldo, int64_t rows, int64_t K, int64_t M,
                                  int accumulate)
{
    const int64_t tiled = M - M % 16;
    for (int64_t k0 = 0; k0 < K; k0 += K_BLOCK) {
        const int64_t depth = K - k0 < K_BLOCK ? K - k0 : K_BLOCK;
        const int add = accumulate || k0 > 0;
        const float *a_block = a + k0 * a_k_step, *b_block = b + k0 * ldb;
        for (int64_t j0 = 0; j0 < tiled; j0 += M_BLOCK) {  /* b's block of K_BLOCK x M_BLOCK stays in L2 */
            const int64_t j1 = tiled - j0 < M_BLOCK ? tiled : j0 + M_BLOCK;
            if (packed) {
                product_block(a_block, a_row_step, a_k_step, packed + k0 * 16, 16, K * 16, out, ldo, rows, depth,
                              j0, j1, add);
            } else {
                product_block(a_block, a_row_step, a_k_step, b_block, ldb, 16, out, ldo, rows, depth, j0, j1, add);
            }
        }
        for (int64_t r = 0; r < rows; r++) {  /* the columns past the last whole tile */
            for (int64_t j = tiled; j < M; j++) {
                float sum = add ? out[r * ldo + j] : 0.0f;
                for (int64_t k = 0; k < depth; k++) {
                    sum += a_block[r * a_row_step + k * a_k_step] * b_block[k * ldb + j];
                }
                out[r * ldo + j] = sum;
            }
        }
    }
}

typedef struct {
    const float *a, *b, *packed;
    float *out;
    int64_t a_row_step, a_k_step, rows, K, M;
    int accumulate;
} product_args;

static void product_row_tiles(void *ctx, int64_t begin, int64_t end, int part)
{
    const product_args *p = ctx;
    const int64_t first = begin * TILE_ROWS, last = end * TILE_ROWS < p->rows ? end * TILE_ROWS : p->rows;
    matrix_product(p->a + first * p->a_row_step, p->a_row_step, p->a_k_step, p->b, p->M, p->packed,
                   p->out + first * p->M, p->M, last - first, p->K, p->M, p->accumulate);
}

/* matmul_f32(a, b, out, rows, K, M, transpose_a, accumulate): out (rows, M) (+)= a @ b with b (K, M) and a
 * (rows, K), or a (K, rows) read transposed; the rows are split over the threads in whole tiles. b is first
 * packed into panels when enough row tiles read it. */
PyObject *matmul_f32(PyObject *self, PyObject *args)
{
    PyObject *arrays_checked_below;
    long long rows, K, M;
    int transpose_a, accumulate;
    if (!PyArg_ParseTuple(args, "OOOLLLpp", &arrays_checked_below, &arrays_checked_below, &arrays_checked_below,
                          &rows, &K, &M, &transpose_a, &accumulate)) return NULL;
    Py_buffer views[3];
    const int writable[] = {0, 0, 1};
    const int64_t nbytes[] = {rows * K * 4, K * M * 4, rows * M * 4};
    if (!get_buffers(args, 3, views, writable, nbytes)) return NULL;
    float *packed = NULL;
    if (rows >= PACK_FROM_ROWS && packed_size(K, M) > 0) {
        packed = PyMem_RawMalloc(packed_size(K, M) * sizeof(float));
        if (!packed) {
            release_buffers(3, views);
            return PyErr_NoMemory();
        }
    }
    product_args p = {views[0].buf, views[1].buf, packed, views[2].buf, transpose_a ? 1 : K, transpose_a ? rows : 1,
                      rows, K, M, accumulate};
    Py_BEGIN_ALLOW_THREADS
    if (packed) pack_panels(p.b, M, K, M, packed);
    parallel_for((rows + TILE_ROWS - 1) / TILE_ROWS, work_grain(TILE_ROWS * K * M), product_row_tiles, &p);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(packed);
    release_buffers(3, views);
    Py_RETURN_NONE;
}
