// im2col and col2im for NHWC convolution with stride, padding and dilation.
//
// Shapes (nnkit.ops Notation): x, dx (N, H, W, C); cols (N*OH*OW, KH*KW*C), row (n*OH + oh)*OW + ow,
// column (kh*KW + kw)*C + c; all contiguous, row-major. The input pixel seen by (oh, ow, kh, kw) is
//     ih = oh*SH - PH + kh*DH,   iw = ow*SW - PW + kw*DW      (zero when outside the image).
//
// im2col_<f32|f64>(const T* x, T* cols, int N, int H, int W, int C, int KH, int KW, int SH, int SW,
//                  int PH, int PW, int DH, int DW, int OH, int OW)
//     cols[(n*OH + oh)*OW + ow, (kh*KW + kw)*C + c] = x[n, ih, iw, c]   (0 in the padding)
//     NumPy: for each (kh, kw): cols[:, kh, kw, :] = x_padded[:, kh*DH : kh*DH + SH*OH : SH,
//                                                                kw*DW : kw*DW + SW*OW : SW, :]
//     Launch: one thread per element of cols (N*OH*OW*KH*KW*C, 64-bit), 1-D grid-stride, 256 threads.
//
// im2col_tiled_<f32|f64>(same arguments, int R)
//     The same result, faster: block b fills rows [b*R, b*R + R) of cols. The block first tabulates, in
//     dynamic shared memory, each of its rows' image offset and each column's (kh*DH, kw*DW, offset),
//     so an element costs one float multiply for its (row, column) instead of five integer divisions.
//     Launch: grid ceil(N*OH*OW / R), 256 threads, shared bytes 16*R + 8*KH*KW*C; needs
//     R*KH*KW*C < 2^24 (exact float quotient) and DH*(KH-1), DW*(KW-1) < 2^15 (the wrapper checks).
//
// col2im_<f32|f64>(const T* cols, T* dx, int N, int H, int W, int C, ...same...)
//     dx[n, h, w, c] = sum over (kh, kw, oh, ow) with ih == h, iw == w of cols[(n*OH + oh)*OW + ow,
//                      (kh*KW + kw)*C + c]
//     A gather: one thread per element of dx sums its own contributions (no atomics, deterministic).
//     NumPy: the transpose of im2col, e.g. numpy.add.at over the same index maps.
//     Launch: one thread per element of dx (N*H*W*C, 64-bit), 1-D grid-stride, 256 threads.
//
// Each kernel runs its index arithmetic in 32-bit when both arrays' element counts fit (the common case)
// and in 64-bit otherwise.

struct ConvGeometry {
    int N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
};

template <typename T, typename I>
__device__ void im2col_body(const T* __restrict__ x, T* __restrict__ cols, const ConvGeometry g, I total) {
    const I stride = (I)blockDim.x * gridDim.x;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        I rest = i;
        const int c = (int)(rest % g.C); rest /= g.C;
        const int kw = (int)(rest % g.KW); rest /= g.KW;
        const int kh = (int)(rest % g.KH); rest /= g.KH;
        const int ow = (int)(rest % g.OW); rest /= g.OW;
        const int oh = (int)(rest % g.OH);
        const I n = rest / g.OH;
        const int ih = oh * g.SH - g.PH + kh * g.DH;
        const int iw = ow * g.SW - g.PW + kw * g.DW;
        T value = T(0);
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) value = x[((n * g.H + ih) * g.W + iw) * g.C + c];
        cols[i] = value;
    }
}

template <typename T>
__device__ void im2col_tiled_body(const T* __restrict__ x, T* __restrict__ cols, const ConvGeometry g, int R,
                                  long long* shared) {
    const int KK = g.KH * g.KW * g.C;
    const long long rows = (long long)g.N * g.OH * g.OW;
    const long long first_row = (long long)blockIdx.x * R;
    const int tile_rows = (int)(rows - first_row < R ? rows - first_row : R);
    long long* row_base = shared;                                // image offset of (n, ih0, iw0), may be < 0
    int* row_ih0 = reinterpret_cast<int*>(row_base + R);         // oh*SH - PH
    int* row_iw0 = row_ih0 + R;                                  // ow*SW - PW
    int* col_delta = row_iw0 + R;                                // ((kh*DH)*W + kw*DW)*C + c
    int* col_taps = col_delta + KK;                              // (kh*DH) << 16 | kw*DW
    for (int r = threadIdx.x; r < tile_rows; r += blockDim.x) {
        const long long row = first_row + r;
        const int ow = (int)(row % g.OW);
        const long long rest = row / g.OW;
        const int oh = (int)(rest % g.OH);
        const long long n = rest / g.OH;
        row_ih0[r] = oh * g.SH - g.PH;
        row_iw0[r] = ow * g.SW - g.PW;
        row_base[r] = ((n * g.H + row_ih0[r]) * g.W + row_iw0[r]) * g.C;
    }
    for (int col = threadIdx.x; col < KK; col += blockDim.x) {
        const int c = col % g.C, tap = col / g.C;
        const int dh = (tap / g.KW) * g.DH, dw = (tap % g.KW) * g.DW;
        col_delta[col] = (dh * g.W + dw) * g.C + c;
        col_taps[col] = (dh << 16) | dw;
    }
    __syncthreads();
    const float inverse_kk = 1.0f / (float)KK;
    const int tile = tile_rows * KK;
    T* out = cols + first_row * KK;
    for (int j = threadIdx.x; j < tile; j += blockDim.x) {
        int r = (int)((float)j * inverse_kk);
        int col = j - r * KK;
        if (col < 0) { --r; col += KK; } else if (col >= KK) { ++r; col -= KK; }
        const int ih = row_ih0[r] + (col_taps[col] >> 16);
        const int iw = row_iw0[r] + (col_taps[col] & 0xffff);
        T value = T(0);
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) value = x[row_base[r] + col_delta[col]];
        out[j] = value;
    }
}

template <typename T, typename I>
__device__ void col2im_body(const T* __restrict__ cols, T* __restrict__ dx, const ConvGeometry g, I total) {
    const I stride = (I)blockDim.x * gridDim.x;
    const int patch = g.KH * g.KW * g.C;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        I rest = i;
        const int c = (int)(rest % g.C); rest /= g.C;
        const int w = (int)(rest % g.W); rest /= g.W;
        const int h = (int)(rest % g.H);
        const I n = rest / g.H;
        T sum = T(0);
        for (int kh = 0; kh < g.KH; ++kh) {
            const int oh_stride = h + g.PH - kh * g.DH;  // = oh * SH
            if (oh_stride < 0 || oh_stride % g.SH != 0) continue;
            const int oh = oh_stride / g.SH;
            if (oh >= g.OH) continue;
            for (int kw = 0; kw < g.KW; ++kw) {
                const int ow_stride = w + g.PW - kw * g.DW;  // = ow * SW
                if (ow_stride < 0 || ow_stride % g.SW != 0) continue;
                const int ow = ow_stride / g.SW;
                if (ow >= g.OW) continue;
                sum += cols[((n * g.OH + oh) * g.OW + ow) * patch + (kh * g.KW + kw) * g.C + c];
            }
        }
        dx[i] = sum;
    }
}

#define NNKIT_GEOMETRY_PARAMS \
    int N, int H, int W, int C, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW, int OH, int OW
#define NNKIT_GEOMETRY {N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW}

#define NNKIT_IM2COL_ENTRIES(T, SUFFIX)                                                                       \
    extern "C" __global__ void im2col_##SUFFIX(const T* x, T* cols, NNKIT_GEOMETRY_PARAMS) {                  \
        const ConvGeometry g = NNKIT_GEOMETRY;                                                                \
        const long long total = (long long)N * OH * OW * KH * KW * C;                                         \
        const long long x_total = (long long)N * H * W * C;                                                   \
        if (total <= 0x7fffffffll && x_total <= 0x7fffffffll) im2col_body<T, int>(x, cols, g, (int)total);    \
        else im2col_body<T, long long>(x, cols, g, total);                                                    \
    }                                                                                                         \
    extern "C" __global__ void im2col_tiled_##SUFFIX(const T* x, T* cols, NNKIT_GEOMETRY_PARAMS, int R) {      \
        extern __shared__ long long shared[];                                                                 \
        im2col_tiled_body<T>(x, cols, NNKIT_GEOMETRY, R, shared);                                             \
    }                                                                                                         \
    extern "C" __global__ void col2im_##SUFFIX(const T* cols, T* dx, NNKIT_GEOMETRY_PARAMS) {                 \
        const ConvGeometry g = NNKIT_GEOMETRY;                                                                \
        const long long total = (long long)N * H * W * C;                                                     \
        const long long cols_total = (long long)N * OH * OW * KH * KW * C;                                    \
        if (cols_total <= 0x7fffffffll && total <= 0x7fffffffll) col2im_body<T, int>(cols, dx, g, (int)total); \
        else col2im_body<T, long long>(cols, dx, g, total);                                                   \
    }

NNKIT_IM2COL_ENTRIES(float, f32)
NNKIT_IM2COL_ENTRIES(double, f64)
