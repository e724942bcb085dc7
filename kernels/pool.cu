// Max pooling, NHWC, with stride and padding (padding counts as -inf).
//
// Shapes (nnkit.ops Notation): x, dx (N, H, W, C); y, dy, argmax (N, OH, OW, C); all contiguous, row-major.
// The window of output (oh, ow) covers ih = oh*SH - PH + kh, iw = ow*SW - PW + kw for kh < KH, kw < KW.
//
// max_pool2d_forward_<f32|f64>(const T* x, T* y, int* argmax, int N, int H, int W, int C, int KH, int KW,
//                              int SH, int SW, int PH, int PW, int OH, int OW)
//     y[n, oh, ow, c]      = max over the window of x[n, ih, iw, c]
//     argmax[n, oh, ow, c] = kh*KW + kw of the first maximum in row-major window order (a NaN counts as
//                            the maximum, as in numpy.argmax); -1 (and y = -inf) when the whole window is
//                            padding.
//     NumPy: windows = x_padded_with_-inf[:, oh*SH + kh, ow*SW + kw, :] stacked over kh*KW + kw;
//            y = windows.max(axis=window), argmax = windows.argmax(axis=window)
//     Launch: one thread per element of y (N*OH*OW*C, 64-bit), 1-D grid-stride, 256 threads.
//
// max_pool2d_backward_<f32|f64>(const T* dy, const int* argmax, T* dx, ...same geometry...)
//     dx[n, h, w, c] = sum of dy[n, oh, ow, c] over the windows whose argmax is (h, w)
//     A gather: one thread per element of dx visits only the windows that can contain it (no atomics).
//     NumPy: dx = 0; numpy.add.at(dx, (n, oh*SH - PH + argmax // KW, ow*SW - PW + argmax % KW, c), dy)
//     Launch: one thread per element of dx (N*H*W*C, 64-bit), 1-D grid-stride, 256 threads.

template <typename T> __device__ __forceinline__ T minus_infinity();
template <> __device__ __forceinline__ float minus_infinity<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double minus_infinity<double>() {
    return -__longlong_as_double(0x7ff0000000000000ll);
}

struct PoolGeometry {
    int N, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW;
};

template <typename T, typename I>
__device__ void forward_body(const T* __restrict__ x, T* __restrict__ y, int* __restrict__ argmax,
                             const PoolGeometry g, I total) {
    const I stride = (I)blockDim.x * gridDim.x;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        I rest = i;
        const int c = (int)(rest % g.C); rest /= g.C;
        const int ow = (int)(rest % g.OW); rest /= g.OW;
        const int oh = (int)(rest % g.OH);
        const I n = rest / g.OH;
        T best = minus_infinity<T>();
        int best_at = -1;
        for (int kh = 0; kh < g.KH; ++kh) {
            const int ih = oh * g.SH - g.PH + kh;
            if (ih < 0 || ih >= g.H) continue;
            for (int kw = 0; kw < g.KW; ++kw) {
                const int iw = ow * g.SW - g.PW + kw;
                if (iw < 0 || iw >= g.W) continue;
                const T v = x[((n * g.H + ih) * g.W + iw) * g.C + c];
                if (best_at < 0 || v > best || (v != v && best == best)) {
                    best = v;
                    best_at = kh * g.KW + kw;
                }
            }
        }
        y[i] = best;
        argmax[i] = best_at;
    }
}

template <typename T, typename I>
__device__ void backward_body(const T* __restrict__ dy, const int* __restrict__ argmax, T* __restrict__ dx,
                              const PoolGeometry g, I total) {
    const I stride = (I)blockDim.x * gridDim.x;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        I rest = i;
        const int c = (int)(rest % g.C); rest /= g.C;
        const int w = (int)(rest % g.W); rest /= g.W;
        const int h = (int)(rest % g.H);
        const I n = rest / g.H;
        // Windows containing row h: oh*SH - PH <= h <= oh*SH - PH + KH - 1.
        const int h_low = h + g.PH - g.KH + 1, w_low = w + g.PW - g.KW + 1;
        const int oh_first = h_low <= 0 ? 0 : (h_low + g.SH - 1) / g.SH;
        const int ow_first = w_low <= 0 ? 0 : (w_low + g.SW - 1) / g.SW;
        const int oh_last = min(g.OH - 1, (h + g.PH) / g.SH);
        const int ow_last = min(g.OW - 1, (w + g.PW) / g.SW);
        T sum = T(0);
        for (int oh = oh_first; oh <= oh_last; ++oh) {
            const int kh = h + g.PH - oh * g.SH;
            for (int ow = ow_first; ow <= ow_last; ++ow) {
                const int kw = w + g.PW - ow * g.SW;
                const I o = ((n * g.OH + oh) * g.OW + ow) * g.C + c;
                if (argmax[o] == kh * g.KW + kw) sum += dy[o];
            }
        }
        dx[i] = sum;
    }
}

#define NNKIT_POOL_PARAMS int N, int H, int W, int C, int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW
#define NNKIT_POOL_GEOMETRY {N, H, W, C, KH, KW, SH, SW, PH, PW, OH, OW}

#define NNKIT_POOL_ENTRIES(T, SUFFIX)                                                                         \
    extern "C" __global__ void max_pool2d_forward_##SUFFIX(const T* x, T* y, int* argmax, NNKIT_POOL_PARAMS) { \
        const PoolGeometry g = NNKIT_POOL_GEOMETRY;                                                           \
        const long long total = (long long)N * OH * OW * C, x_total = (long long)N * H * W * C;               \
        if (total <= 0x7fffffffll && x_total <= 0x7fffffffll) forward_body<T, int>(x, y, argmax, g, (int)total); \
        else forward_body<T, long long>(x, y, argmax, g, total);                                              \
    }                                                                                                         \
    extern "C" __global__ void max_pool2d_backward_##SUFFIX(const T* dy, const int* argmax, T* dx,            \
                                                            NNKIT_POOL_PARAMS) {                              \
        const PoolGeometry g = NNKIT_POOL_GEOMETRY;                                                           \
        const long long total = (long long)N * H * W * C, y_total = (long long)N * OH * OW * C;               \
        if (total <= 0x7fffffffll && y_total <= 0x7fffffffll) backward_body<T, int>(dy, argmax, dx, g, (int)total); \
        else backward_body<T, long long>(dy, argmax, dx, g, total);                                           \
    }

NNKIT_POOL_ENTRIES(float, f32)
NNKIT_POOL_ENTRIES(double, f64)
