// Layer normalization over the last axis (Ba et al. 2016), forward and backward: LayerNormalization's hot path.
//
// Layout: x, y, dy, dx are (rows, F) row-major and contiguous (an input whose normalized axes are its trailing
// ones, seen as rows of F features); gamma, beta are (F,) or NULL; mean, rstd are (rows,). Indices are 64-bit.
// The reference for all three entry points is nnkit/ops/layer_norm.py (layer_norm_reference,
// layer_norm_backward_reference).
//
// layer_norm_forward_<f32|f64>(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
//                              long long rows, long long F, T epsilon)
//     mean = x.mean(axis=1); rstd = 1 / sqrt(((x - mean[:, None]) ** 2).mean(axis=1) + epsilon)
//     y = (x - mean[:, None]) * rstd[:, None] * gamma + beta        (gamma / beta skipped when NULL)
//     Two passes over the row for the statistics (the mean, then the centred squares: no cancellation),
//     a third to write y.
//
// layer_norm_backward_<f32|f64>(const T* dy, const T* x, const T* mean, const T* rstd, const T* gamma, T* dx,
//                               long long rows, long long F)
//     g = dy * gamma (dy when gamma is NULL); x_hat = (x - mean[:, None]) * rstd[:, None]
//     dx = rstd[:, None] * (g - g.mean(axis=1, keepdims=True) - x_hat * (g * x_hat).mean(axis=1, keepdims=True))
//
//     Launch of both row kernels (nnkit.cuda.layer_norm.row_launch_shape): block (BX, BY), BX threads per row
//     (32: one warp; more, up to 1024, for long rows), BY = max(1, 256 / BX) rows per block; 1-D grid, the
//     blocks stride over the rows together. A row's sums go through warp shuffles, then (BX > 32) shared memory,
//     always in the same order: the results do not depend on timing.
//
// layer_norm_param_grads_<f32|f64>(const T* dy, const T* x, const T* mean, const T* rstd,
//                                  T* dgamma_partial, T* dbeta_partial, long long rows, long long F)
//     dgamma_partial[blockIdx.y, f] = sum over this grid row's rows r of dy[r, f] * x_hat[r, f]
//     dbeta_partial[blockIdx.y, f]  = sum over the same rows of dy[r, f]          (either may be NULL)
//     NumPy, once the partial rows are summed: dgamma = (dy * x_hat).sum(axis=0); dbeta = dy.sum(axis=0)
//     Launch: as bias_act_backward (nnkit.cuda.bias_act.backward_launch_shape): block (BX, BY) = BX columns by
//     256 / BX rows, grid (ceil(F / BX), GY). The GY partial rows are then summed in a fixed order by
//     column_sum in bias_act.cu, so the weight gradients are deterministic too.

__device__ __forceinline__ float sqrt_of(float v) { return sqrtf(v); }
__device__ __forceinline__ double sqrt_of(double v) { return sqrt(v); }

// The sum of v over the blockDim.x threads of this thread's row (threadIdx.y), returned to each of them.
// Every thread of the block must call it (it synchronises the block when a row spans several warps).
// shared: at least 32 * blockDim.y values.
template <typename T>
__device__ __forceinline__ T row_sum(T v, T* shared) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (blockDim.x == 32) return v;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    T* slots = shared + threadIdx.y * 32;
    __syncthreads();  // every thread has read the slots of the previous sum
    if (lane == 0) slots[warp] = v;
    __syncthreads();
    T total = T(0);
    for (int w = 0; w < warps; ++w) total += slots[w];
    return total;
}

template <typename T>
__device__ void forward_body(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                             T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd, long long rows,
                             long long F, T epsilon, T* shared) {
    const long long step = (long long)gridDim.x * blockDim.y;
    // The loop condition is the same for the whole block, so every thread reaches every row_sum.
    for (long long first = (long long)blockIdx.x * blockDim.y; first < rows; first += step) {
        const long long row = first + threadIdx.y;
        const bool active = row < rows;
        const T* xr = x + (active ? row : 0) * F;
        T sum = T(0);
        if (active)
            for (long long f = threadIdx.x; f < F; f += blockDim.x) sum += xr[f];
        const T mu = row_sum(sum, shared) / T(F);
        T squares = T(0);
        if (active)
            for (long long f = threadIdx.x; f < F; f += blockDim.x) {
                const T d = xr[f] - mu;
                squares += d * d;
            }
        const T r = T(1) / sqrt_of(row_sum(squares, shared) / T(F) + epsilon);
        if (!active) continue;
        if (threadIdx.x == 0) {
            mean[row] = mu;
            rstd[row] = r;
        }
        T* yr = y + row * F;
        for (long long f = threadIdx.x; f < F; f += blockDim.x) {
            T v = (xr[f] - mu) * r;
            if (gamma != nullptr) v *= gamma[f];
            if (beta != nullptr) v += beta[f];
            yr[f] = v;
        }
    }
}

template <typename T>
__device__ void backward_body(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ mean,
                              const T* __restrict__ rstd, const T* __restrict__ gamma, T* __restrict__ dx,
                              long long rows, long long F, T* shared) {
    const long long step = (long long)gridDim.x * blockDim.y;
    for (long long first = (long long)blockIdx.x * blockDim.y; first < rows; first += step) {
        const long long row = first + threadIdx.y;
        const bool active = row < rows;
        const long long base = (active ? row : 0) * F;
        const T mu = active ? mean[row] : T(0);
        const T r = active ? rstd[row] : T(0);
        T sum_g = T(0), sum_g_x_hat = T(0);
        if (active)
            for (long long f = threadIdx.x; f < F; f += blockDim.x) {
                const T g = gamma != nullptr ? dy[base + f] * gamma[f] : dy[base + f];
                sum_g += g;
                sum_g_x_hat += g * (x[base + f] - mu) * r;
            }
        const T mean_g = row_sum(sum_g, shared) / T(F);
        const T mean_g_x_hat = row_sum(sum_g_x_hat, shared) / T(F);
        if (!active) continue;
        for (long long f = threadIdx.x; f < F; f += blockDim.x) {
            const T g = gamma != nullptr ? dy[base + f] * gamma[f] : dy[base + f];
            const T x_hat = (x[base + f] - mu) * r;
            dx[base + f] = r * (g - mean_g - x_hat * mean_g_x_hat);
        }
    }
}

// Shared memory: two arrays of BX * BY (= 256) values, for the column partial sums of one block.
template <typename T>
__device__ void param_grads_body(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ mean,
                                 const T* __restrict__ rstd, T* __restrict__ dgamma_partial,
                                 T* __restrict__ dbeta_partial, long long rows, long long F, T* shared_gamma,
                                 T* shared_beta) {
    const int tx = threadIdx.x, ty = threadIdx.y;
    const long long f = (long long)blockIdx.x * blockDim.x + tx;
    T sum_gamma = T(0), sum_beta = T(0);
    if (f < F) {
        const long long row_stride = (long long)blockDim.y * gridDim.y;
        for (long long r = (long long)blockIdx.y * blockDim.y + ty; r < rows; r += row_stride) {
            const long long i = r * F + f;
            const T d = dy[i];
            sum_gamma += d * (x[i] - mean[r]) * rstd[r];
            sum_beta += d;
        }
    }
    shared_gamma[ty * blockDim.x + tx] = sum_gamma;
    shared_beta[ty * blockDim.x + tx] = sum_beta;
    __syncthreads();
    if (ty != 0 || f >= F) return;
    T total_gamma = T(0), total_beta = T(0);
    for (int j = 0; j < (int)blockDim.y; ++j) {
        total_gamma += shared_gamma[j * blockDim.x + tx];
        total_beta += shared_beta[j * blockDim.x + tx];
    }
    const long long out = (long long)blockIdx.y * F + f;
    if (dgamma_partial != nullptr) dgamma_partial[out] = total_gamma;
    if (dbeta_partial != nullptr) dbeta_partial[out] = total_beta;
}

#define NNKIT_LAYER_NORM_ENTRIES(T, SUFFIX)                                                                   \
    extern "C" __global__ void layer_norm_forward_##SUFFIX(const T* x, const T* gamma, const T* beta, T* y,   \
                                                           T* mean, T* rstd, long long rows, long long F,     \
                                                           T epsilon) {                                       \
        __shared__ T shared[256];                                                                             \
        forward_body<T>(x, gamma, beta, y, mean, rstd, rows, F, epsilon, shared);                             \
    }                                                                                                         \
    extern "C" __global__ void layer_norm_backward_##SUFFIX(const T* dy, const T* x, const T* mean,           \
                                                            const T* rstd, const T* gamma, T* dx,             \
                                                            long long rows, long long F) {                    \
        __shared__ T shared[256];                                                                             \
        backward_body<T>(dy, x, mean, rstd, gamma, dx, rows, F, shared);                                      \
    }                                                                                                         \
    extern "C" __global__ void layer_norm_param_grads_##SUFFIX(const T* dy, const T* x, const T* mean,        \
                                                               const T* rstd, T* dgamma_partial,              \
                                                               T* dbeta_partial, long long rows,              \
                                                               long long F) {                                 \
        __shared__ T shared_gamma[256];                                                                       \
        __shared__ T shared_beta[256];                                                                        \
        param_grads_body<T>(dy, x, mean, rstd, dgamma_partial, dbeta_partial, rows, F, shared_gamma,          \
                            shared_beta);                                                                     \
    }

NNKIT_LAYER_NORM_ENTRIES(float, f32)
NNKIT_LAYER_NORM_ENTRIES(double, f64)
