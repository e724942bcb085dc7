// Fused, numerically stable cross-entropies from logits: the loss and its gradient in one pass over a row.
//
// softmax_xent_<labels|dense>_<r1|r4|r8|r32|online>_<f32|f64>(
//         const T* z, const long long* labels | const T* targets, T* grad, T* partials,
//         long long N, long long K, T divisor)
//     z, grad, targets: (N, K) row-major, contiguous, K < 2^31; labels: (N,) int64.
//     Per row n (shifted = z[n] - max(z[n]), lse = log(sum(exp(shifted)))):
//         loss_n  = lse - shifted[label_n]                     (labels)
//                 = sum_k t[n, k] * (lse - shifted[k])          (dense / soft targets)
//         grad[n] = (exp(shifted) / sum(exp(shifted)) - onehot(label_n) or t[n]) / N
//     partials[blockIdx.x] = (sum of loss_n over this block's rows) / divisor
//     NumPy: nnkit.ops.cross_entropy.softmax_cross_entropy. A label outside [0, K) is never used as an
//     index: that row's loss and gradient are NaN, so the loss reports it (the Python wrappers and the
//     losses check labels before a step, with a clear error).
//     Launch: one warp per row, rows strided over all warps of the grid; blockDim.x a multiple of 32, at
//     most 256 (every entry is compiled for 256-thread blocks; the r32 rows need many registers). The r<I> entries keep the row in registers, I values per lane,
//     for K <= 32 * I: z is read once and grad written once. The online entry serves any K: one pass for
//     the running max and sum (rescaled as the max grows), one pass that writes the gradient.
//     With gridDim.x == 1 and divisor == N, partials[0] is the mean loss: one launch in all.
//     The v<I> entries are the r<I> rows with 16-byte accesses (float4 / double2, VW = 4 / 2 values each):
//     I vectors per lane, K <= 32 * VW * I; they need K % VW == 0 and 16-byte aligned z, grad (and targets),
//     which the Python wrapper checks. Fewer, wider memory instructions keep more bytes in flight per warp.
//
// sigmoid_xent_<f32|f64>(const T* z, const T* t, T* grad, T* partials, long long size, T divisor)
//     loss_i = max(z, 0) - z t + log(1 + exp(-|z|));  grad = (sigmoid(z) - t) / size
//     partials[blockIdx.x] = (sum of this block's loss_i) / divisor
//     NumPy: nnkit.ops.cross_entropy.sigmoid_binary_cross_entropy. Launch: 1-D grid-stride.
//
// sum_scaled_<f32|f64>(const T* partials, T* out, int parts, T divisor)
//     out[0] = sum(partials) / divisor, in a fixed order (deterministic). Launch: one block, <= 256 threads.

__device__ __forceinline__ float exp_of(float x) { return expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }
__device__ __forceinline__ float log_of(float x) { return logf(x); }
__device__ __forceinline__ double log_of(double x) { return log(x); }
// A soft target's share of the loss, t * (lse - shifted); a zero target adds nothing even where lse - shifted is
// inf (logits further apart than the dtype's range), instead of 0 * inf = NaN.
template <typename T>
__device__ __forceinline__ T soft_term(T t, T lse, T shifted) { return t != T(0) ? t * (lse - shifted) : T(0); }
__device__ __forceinline__ float log1p_of(float x) { return log1pf(x); }
__device__ __forceinline__ double log1p_of(double x) { return log1p(x); }

template <typename T> __device__ __forceinline__ T minus_infinity();
template <> __device__ __forceinline__ float minus_infinity<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double minus_infinity<double>() {
    return -__longlong_as_double(0x7ff0000000000000ll);
}
template <typename T> __device__ __forceinline__ T quiet_nan();
template <> __device__ __forceinline__ float quiet_nan<float>() { return __int_as_float(0x7fffffff); }
template <> __device__ __forceinline__ double quiet_nan<double>() { return __longlong_as_double(0x7fffffffffffffffll); }

template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

template <typename T>
__device__ __forceinline__ T warp_max(T value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const T other = __shfl_xor_sync(0xffffffffu, value, offset);
        value = other > value ? other : value;  // NaN in `value` stays; a NaN row gives a NaN loss anyway
    }
    return value;
}

// Sum `value` over the block (every thread contributes) and write partials[blockIdx.x] = total / divisor.
// `shared` holds one value per warp (at most 32).
template <typename T>
__device__ void block_sum_to(T value, T* partials, T divisor, T* shared) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    value = warp_sum(value);
    if (lane == 0) shared[warp] = value;
    __syncthreads();
    if (threadIdx.x == 0) {
        T total = T(0);
        for (int w = 0; w < warps; ++w) total += shared[w];
        partials[blockIdx.x] = total / divisor;
    }
}

// One row with its values cached in registers, ITEMS per lane (K <= 32 * ITEMS). Returns the row's loss
// in every lane. DENSE selects soft targets (`targets` row) over an integer label.
template <typename T, int ITEMS, bool DENSE>
__device__ T row_cached(const T* __restrict__ z, int label, const T* __restrict__ targets, T* __restrict__ grad,
                        int K, T n_rows, int lane) {
    T vals[ITEMS];
    T row_max = minus_infinity<T>();
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
        const int j = lane + 32 * it;
        vals[it] = j < K ? z[j] : minus_infinity<T>();
        row_max = vals[it] > row_max ? vals[it] : row_max;
    }
    row_max = warp_max(row_max);
    T sum_exp = T(0), picked = T(0);
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
        const int j = lane + 32 * it;
        if (j < K) {
            vals[it] -= row_max;
            const T e = exp_of(vals[it]);
            sum_exp += e;
            if (!DENSE) {
                if (j == label) picked = vals[it];
                vals[it] = e;  // labels need no shifted logit but the picked one: keep exp, not recompute it
            }
        }
    }
    sum_exp = warp_sum(sum_exp);
    const T lse = log_of(sum_exp);
    // Multiplications by reciprocals: two divisions per element would make the kernel compute-bound.
    const T inv_sum = T(1) / sum_exp, inv_n = T(1) / n_rows;
    T loss = T(0);
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
        const int j = lane + 32 * it;
        if (j < K) {
            if (DENSE) {
                const T t = targets[j];
                loss += soft_term(t, lse, vals[it]);
                grad[j] = (exp_of(vals[it]) * inv_sum - t) * inv_n;
            } else {
                const T p = vals[it] * inv_sum;
                grad[j] = (j == label ? p - T(1) : p) * inv_n;
            }
        }
    }
    return DENSE ? warp_sum(loss) : lse - warp_sum(picked);
}

template <typename T> struct Wide;
template <> struct Wide<float> { typedef float4 type; static const int width = 4; };
template <> struct Wide<double> { typedef double2 type; static const int width = 2; };

// row_cached with 16-byte loads and stores: lane `lane` holds vectors lane, lane + 32, ... of the row.
template <typename T, int ITEMS, bool DENSE>
__device__ T row_cached_vec(const T* __restrict__ z, int label, const T* __restrict__ targets,
                            T* __restrict__ grad, int K, T n_rows, int lane) {
    typedef typename Wide<T>::type V;
    const int VW = Wide<T>::width;
    const int KV = K / VW;
    T vals[ITEMS][Wide<T>::width];
    T row_max = minus_infinity<T>();
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
        const int jv = lane + 32 * it;
        V x;
        if (jv < KV) x = reinterpret_cast<const V*>(z)[jv];
        const T* xs = reinterpret_cast<const T*>(&x);
#pragma unroll
        for (int w = 0; w < VW; ++w) {
            vals[it][w] = jv < KV ? xs[w] : minus_infinity<T>();
            row_max = vals[it][w] > row_max ? vals[it][w] : row_max;
        }
    }
    row_max = warp_max(row_max);
    T sum_exp = T(0), picked = T(0);
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
        const int jv = lane + 32 * it;
        if (jv < KV) {
#pragma unroll
            for (int w = 0; w < VW; ++w) {
                vals[it][w] -= row_max;
                const T e = exp_of(vals[it][w]);
                sum_exp += e;
                if (!DENSE) {
                    if (jv * VW + w == label) picked = vals[it][w];
                    vals[it][w] = e;
                }
            }
        }
    }
    sum_exp = warp_sum(sum_exp);
    const T lse = log_of(sum_exp);
    const T inv_sum = T(1) / sum_exp, inv_n = T(1) / n_rows;
    T loss = T(0);
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
        const int jv = lane + 32 * it;
        if (jv < KV) {
            V out, t;
            T* os = reinterpret_cast<T*>(&out);
            const T* ts = reinterpret_cast<const T*>(&t);
            if (DENSE) t = reinterpret_cast<const V*>(targets)[jv];
#pragma unroll
            for (int w = 0; w < VW; ++w) {
                if (DENSE) {
                    loss += soft_term(ts[w], lse, vals[it][w]);
                    os[w] = (exp_of(vals[it][w]) * inv_sum - ts[w]) * inv_n;
                } else {
                    const T p = vals[it][w] * inv_sum;
                    os[w] = (jv * VW + w == label ? p - T(1) : p) * inv_n;
                }
            }
            reinterpret_cast<V*>(grad)[jv] = out;
        }
    }
    return DENSE ? warp_sum(loss) : lse - warp_sum(picked);
}

// One row of any length: a running (max, sum) pass, then a pass that writes the gradient.
template <typename T, bool DENSE>
__device__ T row_online(const T* __restrict__ z, int label, const T* __restrict__ targets, T* __restrict__ grad,
                        int K, T n_rows, int lane) {
    T run_max = minus_infinity<T>(), run_sum = T(0);
    for (int j = lane; j < K; j += 32) {
        const T x = z[j];
        if (x > run_max) {
            run_sum = (run_max == minus_infinity<T>() ? T(0) : run_sum * exp_of(run_max - x)) + T(1);
            run_max = x;
        } else if (x == x) {
            run_sum += exp_of(x - run_max);
        } else {
            run_max = x;  // NaN: poison the row, as the reference does
            run_sum = x;
        }
    }
    const T row_max = warp_max(run_max);
    run_sum = run_max == minus_infinity<T>() ? T(0) : run_sum * exp_of(run_max - row_max);
    const T sum_exp = warp_sum(run_sum);
    const T lse = log_of(sum_exp);
    const T inv_sum = T(1) / sum_exp, inv_n = T(1) / n_rows;
    T loss = T(0), picked = T(0);
    for (int j = lane; j < K; j += 32) {
        const T shifted = z[j] - row_max;
        const T p = exp_of(shifted) * inv_sum;
        if (DENSE) {
            const T t = targets[j];
            loss += soft_term(t, lse, shifted);
            grad[j] = (p - t) * inv_n;
        } else {
            if (j == label) picked = shifted;
            grad[j] = (j == label ? p - T(1) : p) * inv_n;
        }
    }
    return DENSE ? warp_sum(loss) : lse - warp_sum(picked);
}

// ITEMS == 0 selects the online row; VECTOR the 16-byte cached row.
template <typename T, int ITEMS, bool DENSE, bool VECTOR>
__device__ void softmax_xent_body(const T* __restrict__ z, const long long* __restrict__ labels,
                                  const T* __restrict__ targets, T* __restrict__ grad, T* __restrict__ partials,
                                  long long N, long long K, T divisor, T* shared) {
    const int lane = threadIdx.x & 31;
    const long long warps = ((long long)blockDim.x * gridDim.x) >> 5;
    const T n_rows = T(N);
    T block_loss = T(0);
    for (long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < N; row += warps) {
        const T* z_row = z + row * K;
        T* grad_row = grad + row * K;
        long long label = -1;
        const T* t_row = nullptr;
        if (DENSE) {
            t_row = targets + row * K;
        } else {
            label = labels[row];
            if (label < 0 || label >= K) {  // never index with it: flag the row with NaN
                for (long long j = lane; j < K; j += 32) grad_row[j] = quiet_nan<T>();
                if (lane == 0) block_loss += quiet_nan<T>();
                continue;
            }
        }
        T loss;
        if constexpr (ITEMS == 0) {
            loss = row_online<T, DENSE>(z_row, (int)label, t_row, grad_row, (int)K, n_rows, lane);
        } else if constexpr (VECTOR) {
            loss = row_cached_vec<T, ITEMS, DENSE>(z_row, (int)label, t_row, grad_row, (int)K, n_rows, lane);
        } else {
            loss = row_cached<T, ITEMS, DENSE>(z_row, (int)label, t_row, grad_row, (int)K, n_rows, lane);
        }
        if (lane == 0) block_loss += loss;
    }
    block_sum_to<T>(block_loss, partials, divisor, shared);
}

template <typename T>
__device__ void sigmoid_xent_body(const T* __restrict__ z, const T* __restrict__ t, T* __restrict__ grad,
                                  T* __restrict__ partials, long long size, T divisor, T* shared) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    const T count = T(size);
    T loss = T(0);
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < size; i += stride) {
        const T x = z[i], target = t[i];
        const T e = exp_of(-fabs(x));
        loss += (x > T(0) ? x : T(0)) - x * target + log1p_of(e);
        const T sigmoid = x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
        grad[i] = (sigmoid - target) / count;
    }
    block_sum_to<T>(loss, partials, divisor, shared);
}

template <typename T>
__device__ void sum_scaled_body(const T* __restrict__ partials, T* __restrict__ out, int parts, T divisor,
                                T* shared) {
    T total = T(0);
    for (int i = threadIdx.x; i < parts; i += blockDim.x) total += partials[i];
    if (blockIdx.x == 0) block_sum_to<T>(total, out, divisor, shared);
}

#define NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, NAME, ITEMS, VECTOR)                                                      \
    extern "C" __global__ void __launch_bounds__(256) softmax_xent_labels_##NAME##_##SUFFIX(const T* z, const long long* labels,     \
                                                                     T* grad, T* partials, long long N,        \
                                                                     long long K, T divisor) {                 \
        __shared__ T shared[32];                                                                              \
        softmax_xent_body<T, ITEMS, false, VECTOR>(z, labels, nullptr, grad, partials, N, K, divisor, shared);         \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) softmax_xent_dense_##NAME##_##SUFFIX(const T* z, const T* targets, T* grad,     \
                                                                    T* partials, long long N, long long K,     \
                                                                    T divisor) {                               \
        __shared__ T shared[32];                                                                              \
        softmax_xent_body<T, ITEMS, true, VECTOR>(z, nullptr, targets, grad, partials, N, K, divisor, shared);         \
    }

#define NNKIT_XENT_ENTRIES(T, SUFFIX)                                                                         \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, r1, 1, false)                                                         \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, r4, 4, false)                                                         \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, r8, 8, false)                                                         \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, r32, 32, false)                                                       \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, v1, 1, true)                                                          \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, v2, 2, true)                                                          \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, v8, 8, true)                                                          \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, v16, 16, true)                                                        \
    NNKIT_SOFTMAX_XENT_ENTRY(T, SUFFIX, online, 0, false)                                                     \
    extern "C" __global__ void __launch_bounds__(256) sigmoid_xent_##SUFFIX(const T* z, const T* t, T* grad, T* partials,            \
                                                     long long size, T divisor) {                             \
        __shared__ T shared[32];                                                                              \
        sigmoid_xent_body<T>(z, t, grad, partials, size, divisor, shared);                                    \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) sum_scaled_##SUFFIX(const T* partials, T* out, int parts, T divisor) {         \
        __shared__ T shared[32];                                                                              \
        sum_scaled_body<T>(partials, out, parts, divisor, shared);                                            \
    }

NNKIT_XENT_ENTRIES(float, f32)
NNKIT_XENT_ENTRIES(double, f64)
