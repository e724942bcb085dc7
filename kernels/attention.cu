// Scaled-dot-product attention's softmax, fused with its mask and its dropout: forward and backward.
//
// Layout: scores, probs, dropped are (B, H, Tq, Tk) row-major and contiguous, seen as rows = B * H * Tq rows of
// Tk keys; row r is (b, h, q) with q = r % Tq, h = (r / Tq) % H, b = r / (Tq * H). The backward's d_dropped,
// probs, d_scores are any (rows, Tk) alike. mask is NULL or bytes (0 = masked) read at
//     mask[b * mask_sb + h * mask_sh + q * mask_sq + j * mask_sk]        (stride 0 along a broadcast axis)
// Indices are 64-bit; Tk < 2^31. The reference is nnkit/ops/attention.py (attention_softmax_reference,
// attention_softmax_backward_reference, dropout_keep_mask).
//
// attention_softmax_forward_<variant>_<f32|f64>(const T* scores, const unsigned char* mask, long long mask_sb,
//         long long mask_sh, long long mask_sq, long long mask_sk, T* probs, T* dropped, long long rows,
//         long long H, long long Tq, int Tk, T scale, T masked_value, int causal, unsigned long long key,
//         unsigned long long threshold, T keep_scale)
//     attend  = mask[b, h, q, j] != 0 (true when mask is NULL) and, when causal, j <= q
//     z       = where(attend, scores * scale, masked_value)       (Keras: -1e9; it replaces the score)
//     probs   = where(attend, exp(z - max(z)) / sum(exp(z - max(z))), 0)      (a fully masked row: zeros)
//     dropped = probs * (keep(r * Tk + j) ? keep_scale : 0)        (not written when dropped is NULL)
//     The max keeps a NaN, as NumPy's does: a NaN score an unmasked key sees makes its row NaN.
//
// attention_softmax_backward_<variant>_<f32|f64>(const T* d_dropped, const T* probs, T* d_scores,
//         long long rows, int Tk, T scale, int dropout, unsigned long long key, unsigned long long threshold,
//         T keep_scale)
//     d_probs  = d_dropped * (keep(r * Tk + j) ? keep_scale : 0)   (d_dropped itself when dropout == 0)
//     d_scores = probs * (d_probs - sum(d_probs * probs, axis=-1)) * scale
//
// keep(i), the dropout mask, is a counter-based hash, so the backward recomputes it rather than storing it:
//     bits = mix(key + (i + 1) * 0x9E3779B97F4A7C15), the (i + 1)-th output of splitmix64 seeded with key
//            (Steele, Lea & Flood 2014); keep = (bits >> 32) >= threshold, threshold = ceil(rate * 2^32).
//     key is the first splitmix64 output of the user's seed, computed on the host.
//
// Launch (nnkit.cuda.attention.row_launch_shape): block (BX, BY), BX threads per row (32, doubled while a row
// has over 16 keys per thread, at most 512), BY = max(1, 256 / BX) rows per block; 1-D grid, the blocks stride
// over the rows together. The r<I> variants keep a row in registers, I values per thread (Tk <= BX * I): the
// scores are read once and probs, dropped written once. The loop variant (Tk > 8192) reads a row three times.
// Row maxima and sums go through warp shuffles, then (BX > 32) shared memory, in a fixed order: the results
// do not depend on timing.

typedef unsigned long long u64;

__device__ __forceinline__ float exp_of(float x) { return expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }

template <typename T> __device__ __forceinline__ T minus_infinity();
template <> __device__ __forceinline__ float minus_infinity<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double minus_infinity<double>() {
    return -__longlong_as_double(0x7ff0000000000000ll);
}

// The larger of a and b, or a NaN when either is one (as NumPy's max).
template <typename T>
__device__ __forceinline__ T max_nan(T a, T b) { return (b > a || b != b) ? b : a; }

// splitmix64's output function.
__device__ __forceinline__ u64 mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The dropout factor of flat index i: keep_scale where the hash keeps it, else 0.
template <typename T>
__device__ __forceinline__ T keep_factor(long long i, u64 key, u64 threshold, T keep_scale) {
    const u64 bits = mix64(key + (u64)(i + 1) * 0x9E3779B97F4A7C15ull);
    return (bits >> 32) >= threshold ? keep_scale : T(0);
}

// The max (MAX) or sum of v over the blockDim.x threads of this thread's row (threadIdx.y), returned to each of
// them. Every thread of the block must call it (it synchronises the block when a row spans several warps).
// shared: at least 32 * blockDim.y values.
template <typename T, bool MAX>
__device__ __forceinline__ T row_reduce(T v, T* shared) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const T other = __shfl_xor_sync(0xffffffffu, v, offset);
        v = MAX ? max_nan(v, other) : v + other;
    }
    if (blockDim.x == 32) return v;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    T* slots = shared + threadIdx.y * 32;
    __syncthreads();  // every thread has read the slots of the previous reduction
    if (lane == 0) slots[warp] = v;
    __syncthreads();
    T total = slots[0];
    for (int w = 1; w < warps; ++w) total = MAX ? max_nan(total, slots[w]) : total + slots[w];
    return total;
}

// ITEMS > 0: the row cached in registers, ITEMS values per thread; ITEMS == 0: any Tk, three passes over memory.
template <typename T, int ITEMS>
__device__ void forward_body(const T* __restrict__ scores, const unsigned char* __restrict__ mask, long long mask_sb,
                             long long mask_sh, long long mask_sq, long long mask_sk, T* __restrict__ probs,
                             T* __restrict__ dropped, long long rows, long long H, long long Tq, int Tk, T scale,
                             T masked_value, int causal, u64 key, u64 threshold, T keep_scale, T* shared) {
    const long long step = (long long)gridDim.x * blockDim.y;
    // The loop condition is the same for the whole block, so every thread reaches every row_reduce.
    for (long long first = (long long)blockIdx.x * blockDim.y; first < rows; first += step) {
        const long long row = first + threadIdx.y;
        const bool active = row < rows;
        const long long r = active ? row : 0;
        const long long q = r % Tq, bh = r / Tq;
        const unsigned char* mask_row =
            mask == nullptr ? nullptr : mask + (bh / H) * mask_sb + (bh % H) * mask_sh + q * mask_sq;
        const long long last = causal ? q : (long long)Tk;  // keys after `last` are masked
        const T* s = scores + r * Tk;
        const long long base = r * Tk;
        auto attends = [&](int j) { return j <= last && (mask_row == nullptr || mask_row[j * mask_sk] != 0); };
        auto logit = [&](int j) { return attends(j) ? s[j] * scale : masked_value; };
        auto write = [&](int j, T p) {
            probs[base + j] = p;
            if (dropped != nullptr) dropped[base + j] = p * keep_factor(base + j, key, threshold, keep_scale);
        };
        if constexpr (ITEMS > 0) {
            T vals[ITEMS];
            unsigned attend_bits = 0;
            T row_max = minus_infinity<T>();
#pragma unroll
            for (int it = 0; it < ITEMS; ++it) {
                const int j = threadIdx.x + it * blockDim.x;
                vals[it] = minus_infinity<T>();
                if (active && j < Tk) {
                    const bool a = attends(j);
                    attend_bits |= (unsigned)a << it;
                    vals[it] = a ? s[j] * scale : masked_value;
                }
                row_max = max_nan(row_max, vals[it]);
            }
            row_max = row_reduce<T, true>(row_max, shared);
            T sum = T(0);
#pragma unroll
            for (int it = 0; it < ITEMS; ++it) {
                const int j = threadIdx.x + it * blockDim.x;
                if (active && j < Tk) {
                    vals[it] = exp_of(vals[it] - row_max);
                    sum += vals[it];
                }
            }
            sum = row_reduce<T, false>(sum, shared);
            if (!active) continue;
            const T inv_sum = T(1) / sum;
#pragma unroll
            for (int it = 0; it < ITEMS; ++it) {
                const int j = threadIdx.x + it * blockDim.x;
                if (j < Tk) write(j, (attend_bits >> it) & 1u ? vals[it] * inv_sum : T(0));
            }
        } else {
            T row_max = minus_infinity<T>();
            if (active)
                for (int j = threadIdx.x; j < Tk; j += blockDim.x) row_max = max_nan(row_max, logit(j));
            row_max = row_reduce<T, true>(row_max, shared);
            T sum = T(0);
            if (active)
                for (int j = threadIdx.x; j < Tk; j += blockDim.x) sum += exp_of(logit(j) - row_max);
            sum = row_reduce<T, false>(sum, shared);
            if (!active) continue;
            const T inv_sum = T(1) / sum;
            for (int j = threadIdx.x; j < Tk; j += blockDim.x)
                write(j, attends(j) ? exp_of(logit(j) - row_max) * inv_sum : T(0));
        }
    }
}

template <typename T, int ITEMS>
__device__ void backward_body(const T* __restrict__ d_dropped, const T* __restrict__ probs, T* __restrict__ d_scores,
                              long long rows, int Tk, T scale, int dropout, u64 key, u64 threshold, T keep_scale,
                              T* shared) {
    const long long step = (long long)gridDim.x * blockDim.y;
    for (long long first = (long long)blockIdx.x * blockDim.y; first < rows; first += step) {
        const long long row = first + threadIdx.y;
        const bool active = row < rows;
        const long long base = (active ? row : 0) * Tk;
        auto d_prob = [&](int j) {
            const T d = d_dropped[base + j];
            return dropout ? d * keep_factor(base + j, key, threshold, keep_scale) : d;
        };
        if constexpr (ITEMS > 0) {
            T dp[ITEMS], p[ITEMS];
            T dot = T(0);
#pragma unroll
            for (int it = 0; it < ITEMS; ++it) {
                const int j = threadIdx.x + it * blockDim.x;
                dp[it] = p[it] = T(0);
                if (active && j < Tk) {
                    dp[it] = d_prob(j);
                    p[it] = probs[base + j];
                    dot += dp[it] * p[it];
                }
            }
            dot = row_reduce<T, false>(dot, shared);
            if (!active) continue;
#pragma unroll
            for (int it = 0; it < ITEMS; ++it) {
                const int j = threadIdx.x + it * blockDim.x;
                if (j < Tk) d_scores[base + j] = p[it] * (dp[it] - dot) * scale;
            }
        } else {
            T dot = T(0);
            if (active)
                for (int j = threadIdx.x; j < Tk; j += blockDim.x) dot += d_prob(j) * probs[base + j];
            dot = row_reduce<T, false>(dot, shared);
            if (!active) continue;
            for (int j = threadIdx.x; j < Tk; j += blockDim.x)
                d_scores[base + j] = probs[base + j] * (d_prob(j) - dot) * scale;
        }
    }
}

// Blocks of up to 512 threads (BX = 512, BY = 1); shared memory for 32 partial values per row of the block.
#define NNKIT_ATTENTION_ENTRY(T, SUFFIX, NAME, ITEMS)                                                               \
    extern "C" __global__ void __launch_bounds__(512) attention_softmax_forward_##NAME##_##SUFFIX(                  \
        const T* scores, const unsigned char* mask, long long mask_sb, long long mask_sh, long long mask_sq,       \
        long long mask_sk, T* probs, T* dropped, long long rows, long long H, long long Tq, int Tk, T scale,       \
        T masked_value, int causal, u64 key, u64 threshold, T keep_scale) {                                        \
        __shared__ T shared[256];                                                                                   \
        forward_body<T, ITEMS>(scores, mask, mask_sb, mask_sh, mask_sq, mask_sk, probs, dropped, rows, H, Tq, Tk,  \
                               scale, masked_value, causal, key, threshold, keep_scale, shared);                   \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(512) attention_softmax_backward_##NAME##_##SUFFIX(                 \
        const T* d_dropped, const T* probs, T* d_scores, long long rows, int Tk, T scale, int dropout, u64 key,    \
        u64 threshold, T keep_scale) {                                                                              \
        __shared__ T shared[256];                                                                                   \
        backward_body<T, ITEMS>(d_dropped, probs, d_scores, rows, Tk, scale, dropout, key, threshold, keep_scale,  \
                                shared);                                                                            \
    }

#define NNKIT_ATTENTION_ENTRIES(T, SUFFIX)                                                                          \
    NNKIT_ATTENTION_ENTRY(T, SUFFIX, r1, 1)                                                                         \
    NNKIT_ATTENTION_ENTRY(T, SUFFIX, r2, 2)                                                                         \
    NNKIT_ATTENTION_ENTRY(T, SUFFIX, r4, 4)                                                                         \
    NNKIT_ATTENTION_ENTRY(T, SUFFIX, r8, 8)                                                                         \
    NNKIT_ATTENTION_ENTRY(T, SUFFIX, r16, 16)                                                                       \
    NNKIT_ATTENTION_ENTRY(T, SUFFIX, loop, 0)

NNKIT_ATTENTION_ENTRIES(float, f32)
NNKIT_ATTENTION_ENTRIES(double, f64)
