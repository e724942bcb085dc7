// Bias add + activation, fused: the epilogue of every Dense and Conv2D layer, and its backward.
//
// Layout: z, y, dy, dz are (rows, F) row-major and contiguous (a Dense output, or an NHWC convolution output
// seen as (N*OH*OW, F)); bias and db are (F,). `activation` codes (nnkit.cuda.bias_act.ACTIVATIONS):
//     0 linear   1 relu   2 leaky_relu (param = negative slope)   3 sigmoid   4 tanh   5 elu (param = alpha)
// Every backward here is written from the output y alone, so the forward may overwrite z.
//
// bias_act_forward_<f32|f64>(T* z, const T* bias, long long rows, long long F, int activation, T param)
//     In place: z = act(z + bias); bias may be NULL.
//     NumPy: z += bias; z[...] = act(z)            (nnkit.ops.bias_act.bias_activation)
//     Launch: 1-D grid-stride over float4 / double2 vectors of the flat array (scalar tail, and scalar
//     throughout when z is not 16-byte aligned); 256 threads, grid = grid_for(rows * F / VEC).
//
// bias_act_backward_<f32|f64>(const T* dy, const T* y, T* dz, T* db_partial, long long rows, int F,
//                             int activation, T param)
//     dz = dy * act'(y)   (not written when dz is NULL: linear activation, dz is dy itself)
//     db_partial[blockIdx.y, f] = sum over this block's rows of dz[:, f]   (skipped when db_partial is NULL)
//     NumPy: dz = dy * act'(y); db = dz.sum(axis=0)  (nnkit.ops.bias_act.bias_activation_backward)
//     Launch: block (BX, BY) with BX columns (a power of two <= 32) and BY = 256 / BX rows; grid
//     (ceil(F / BX), GY); the blocks of one grid column stride over the rows together. dy and y are read
//     once; the column sums come out of the same pass, one partial row per grid row GY.
//
// column_sum_<f32|f64>(const T* partials, T* out, int parts, int F)
//     out[f] = sum_j partials[j, f], in order j = 0, 1, ...   (NumPy: partials.sum(axis=0))
//     Launch: 1-D, one thread per column.

#define ACT_LINEAR 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_SIGMOID 3
#define ACT_TANH 4
#define ACT_ELU 5

__device__ __forceinline__ float exp_of(float x) { return expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }
__device__ __forceinline__ float expm1_of(float x) { return expm1f(x); }
__device__ __forceinline__ double expm1_of(double x) { return expm1(x); }
__device__ __forceinline__ float tanh_of(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh_of(double x) { return tanh(x); }

template <typename T, int ACT>
__device__ __forceinline__ T act_forward(T x, T param) {
    if (ACT == ACT_RELU) return x < T(0) ? T(0) : x;  // NaN passes through, as numpy.maximum does
    if (ACT == ACT_LEAKY_RELU) return x > T(0) ? x : x * param;
    if (ACT == ACT_SIGMOID) {
        // Two branches so that exp() never overflows.
        T e = exp_of(-fabs(x));
        return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
    }
    if (ACT == ACT_TANH) return tanh_of(x);
    if (ACT == ACT_ELU) return x > T(0) ? x : param * expm1_of(x < T(0) ? x : T(0));
    return x;
}

template <typename T>
__device__ __forceinline__ T act_backward(int act, T dy, T y, T param) {
    switch (act) {
        case ACT_RELU: return y > T(0) ? dy : T(0) * dy;
        case ACT_LEAKY_RELU: return y > T(0) ? dy : dy * param;
        case ACT_SIGMOID: return dy * y * (T(1) - y);
        case ACT_TANH: return dy * (T(1) - y * y);
        case ACT_ELU: return y > T(0) ? dy : dy * (y + param);
        default: return dy;
    }
}

template <typename T> struct Vec;
template <> struct Vec<float> { typedef float4 type; static const int width = 4; };
template <> struct Vec<double> { typedef double2 type; static const int width = 2; };

template <typename T, int ACT>
__device__ void forward_body(T* __restrict__ z, const T* __restrict__ bias, long long rows, long long F, T param) {
    typedef typename Vec<T>::type V;
    const int width = Vec<T>::width;
    const long long n = rows * F;
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long n_vec = (reinterpret_cast<unsigned long long>(z) & 15ull) == 0 ? n / width : 0;

    for (long long i = start; i < n_vec; i += stride) {
        V zi = reinterpret_cast<V*>(z)[i];
        T* lanes = reinterpret_cast<T*>(&zi);
        // 32-bit remainder when the array allows it: a 64-bit one per vector costs more than the loads.
        long long f = n <= 0xffffffffll ? (long long)((unsigned)(i * width) % (unsigned)F) : (i * width) % F;
#pragma unroll
        for (int k = 0; k < width; ++k) {
            T x = lanes[k];
            if (bias != nullptr) x += bias[f];
            lanes[k] = act_forward<T, ACT>(x, param);
            f = (f + 1 == F) ? 0 : f + 1;
        }
        reinterpret_cast<V*>(z)[i] = zi;
    }
    for (long long i = n_vec * width + start; i < n; i += stride) {
        T x = z[i];
        if (bias != nullptr) x += bias[i % F];
        z[i] = act_forward<T, ACT>(x, param);
    }
}

template <typename T>
__device__ void forward_dispatch(T* z, const T* bias, long long rows, long long F, int activation, T param) {
    switch (activation) {
        case ACT_RELU: forward_body<T, ACT_RELU>(z, bias, rows, F, param); break;
        case ACT_LEAKY_RELU: forward_body<T, ACT_LEAKY_RELU>(z, bias, rows, F, param); break;
        case ACT_SIGMOID: forward_body<T, ACT_SIGMOID>(z, bias, rows, F, param); break;
        case ACT_TANH: forward_body<T, ACT_TANH>(z, bias, rows, F, param); break;
        case ACT_ELU: forward_body<T, ACT_ELU>(z, bias, rows, F, param); break;
        default: forward_body<T, ACT_LINEAR>(z, bias, rows, F, param); break;
    }
}

// Shared memory for the column partial sums of one block: BX * BY values (BX * BY = 256).
template <typename T>
__device__ void backward_body(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dz,
                              T* __restrict__ db_partial, long long rows, int F, int activation, T param,
                              T* shared) {
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int f = blockIdx.x * blockDim.x + tx;
    T sum = T(0);
    if (f < F) {
        // UNROLL rows per iteration, their loads issued together: more bytes in flight per thread.
        const int UNROLL = 4;
        const long long row_stride = (long long)blockDim.y * gridDim.y;
        for (long long r = (long long)blockIdx.y * blockDim.y + ty; r < rows; r += UNROLL * row_stride) {
            T d[UNROLL];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const long long i = (r + u * row_stride) * F + f;
                if (r + u * row_stride < rows)
                    d[u] = activation == ACT_LINEAR ? dy[i] : act_backward<T>(activation, dy[i], y[i], param);
            }
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                if (r + u * row_stride < rows) {
                    if (dz != nullptr) dz[(r + u * row_stride) * F + f] = d[u];
                    sum += d[u];
                }
            }
        }
    }
    if (db_partial == nullptr) return;
    shared[ty * blockDim.x + tx] = sum;
    __syncthreads();
    if (ty == 0 && f < F) {
        T total = T(0);
        for (int j = 0; j < (int)blockDim.y; ++j) total += shared[j * blockDim.x + tx];
        db_partial[(long long)blockIdx.y * F + f] = total;
    }
}

template <typename T>
__device__ void column_sum_body(const T* __restrict__ partials, T* __restrict__ out, int parts, int F) {
    for (int f = blockIdx.x * blockDim.x + threadIdx.x; f < F; f += blockDim.x * gridDim.x) {
        T total = T(0);
        for (int j = 0; j < parts; ++j) total += partials[(long long)j * F + f];
        out[f] = total;
    }
}

#define NNKIT_BIAS_ACT_ENTRIES(T, SUFFIX)                                                                     \
    extern "C" __global__ void bias_act_forward_##SUFFIX(T* z, const T* bias, long long rows, long long F,     \
                                                         int activation, T param) {                           \
        forward_dispatch<T>(z, bias, rows, F, activation, param);                                             \
    }                                                                                                         \
    extern "C" __global__ void bias_act_backward_##SUFFIX(const T* dy, const T* y, T* dz, T* db_partial,      \
                                                          long long rows, int F, int activation, T param) {   \
        __shared__ T shared[256];                                                                             \
        backward_body<T>(dy, y, dz, db_partial, rows, F, activation, param, shared);                          \
    }                                                                                                         \
    extern "C" __global__ void column_sum_##SUFFIX(const T* partials, T* out, int parts, int F) {             \
        column_sum_body<T>(partials, out, parts, F);                                                          \
    }

NNKIT_BIAS_ACT_ENTRIES(float, f32)
NNKIT_BIAS_ACT_ENTRIES(double, f64)
