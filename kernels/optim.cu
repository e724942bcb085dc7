// Optimizer steps over the whole flat parameter buffer, in place, in one launch.
//
// adam_step_<f32|f64>(T* p, const T* g, T* m, T* v, long long n,
//                     T alpha, T one_minus_beta_1, T one_minus_beta_2, T epsilon, T keep)
//     Adam (Kingma & Ba 2015) as Keras applies it, with AdamW's decoupled decay folded into `keep`:
//         p *= keep                                  (keep = 1 - learning_rate * weight_decay; 1 for Adam)
//         m += (1 - beta_1) * (g - m)
//         v += (1 - beta_2) * (g * g - v)
//         p -= alpha * m / (sqrt(v) + epsilon)       (alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t))
//     NumPy: nnkit.ops.optim.adam_step (the same four lines on whole arrays).
//
// sgd_step_<f32|f64>(T* p, const T* g, long long n, T learning_rate)
//     p -= learning_rate * g
// sgd_momentum_step_<f32|f64>(T* p, const T* g, T* velocity, long long n, T learning_rate, T momentum,
//                             int nesterov)
//     velocity = momentum * velocity - learning_rate * g
//     p += nesterov ? momentum * velocity - learning_rate * g : velocity
//     NumPy: nnkit.ops.optim.sgd_step.
//
// Layout: 1-D contiguous buffers of n elements. Launch: 1-D grid-stride, any grid and block (256 threads,
// grid = nnkit.cuda.grid_for(n / VEC)). When every pointer is 16-byte aligned the body moves float4 /
// double2 vectors; the last n % VEC elements (or all of them, when a pointer is not aligned) go through
// the scalar path.

template <typename T> struct Vec;
template <> struct Vec<float> { typedef float4 type; static const int width = 4; };
template <> struct Vec<double> { typedef double2 type; static const int width = 2; };

__device__ __forceinline__ float square_root(float x) { return sqrtf(x); }
__device__ __forceinline__ double square_root(double x) { return sqrt(x); }

__device__ __forceinline__ bool aligned16(const void* a, const void* b, const void* c, const void* d) {
    return ((reinterpret_cast<unsigned long long>(a) | reinterpret_cast<unsigned long long>(b) |
             reinterpret_cast<unsigned long long>(c) | reinterpret_cast<unsigned long long>(d)) & 15ull) == 0;
}

// The per-element formulas, shared by the vector and scalar paths.
template <typename T>
__device__ __forceinline__ void adam_element(T& p, T g, T& m, T& v, T alpha, T b1c, T b2c, T eps, T keep) {
    p *= keep;
    m += b1c * (g - m);
    v += b2c * (g * g - v);
    p -= alpha * (m / (square_root(v) + eps));
}

template <typename T>
__device__ __forceinline__ void momentum_element(T& p, T g, T& vel, T lr, T mu, int nesterov) {
    vel = mu * vel - lr * g;
    p += nesterov ? mu * vel - lr * g : vel;
}

template <typename T>
__device__ void adam_body(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                          long long n, T alpha, T b1c, T b2c, T eps, T keep) {
    typedef typename Vec<T>::type V;
    const int width = Vec<T>::width;
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long n_vec = aligned16(p, g, m, v) ? n / width : 0;

    V* pv = reinterpret_cast<V*>(p);
    const V* gv = reinterpret_cast<const V*>(g);
    V* mv = reinterpret_cast<V*>(m);
    V* vv = reinterpret_cast<V*>(v);
    for (long long i = start; i < n_vec; i += stride) {
        V pi = pv[i], gi = gv[i], mi = mv[i], vi = vv[i];
        T* pl = reinterpret_cast<T*>(&pi);
        const T* gl = reinterpret_cast<const T*>(&gi);
        T* ml = reinterpret_cast<T*>(&mi);
        T* vl = reinterpret_cast<T*>(&vi);
#pragma unroll
        for (int k = 0; k < width; ++k) adam_element<T>(pl[k], gl[k], ml[k], vl[k], alpha, b1c, b2c, eps, keep);
        pv[i] = pi;
        mv[i] = mi;
        vv[i] = vi;
    }
    for (long long i = n_vec * width + start; i < n; i += stride) {
        T pi = p[i], mi = m[i], vi = v[i];
        adam_element<T>(pi, g[i], mi, vi, alpha, b1c, b2c, eps, keep);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

template <typename T>
__device__ void sgd_body(T* __restrict__ p, const T* __restrict__ g, long long n, T lr) {
    typedef typename Vec<T>::type V;
    const int width = Vec<T>::width;
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long n_vec = aligned16(p, g, p, g) ? n / width : 0;

    for (long long i = start; i < n_vec; i += stride) {
        V pi = reinterpret_cast<V*>(p)[i];
        V gi = reinterpret_cast<const V*>(g)[i];
        T* pl = reinterpret_cast<T*>(&pi);
        const T* gl = reinterpret_cast<const T*>(&gi);
#pragma unroll
        for (int k = 0; k < width; ++k) pl[k] -= lr * gl[k];
        reinterpret_cast<V*>(p)[i] = pi;
    }
    for (long long i = n_vec * width + start; i < n; i += stride) p[i] -= lr * g[i];
}

template <typename T>
__device__ void sgd_momentum_body(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ vel, long long n,
                                  T lr, T mu, int nesterov) {
    typedef typename Vec<T>::type V;
    const int width = Vec<T>::width;
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long n_vec = aligned16(p, g, vel, p) ? n / width : 0;

    for (long long i = start; i < n_vec; i += stride) {
        V pi = reinterpret_cast<V*>(p)[i];
        V gi = reinterpret_cast<const V*>(g)[i];
        V vi = reinterpret_cast<V*>(vel)[i];
        T* pl = reinterpret_cast<T*>(&pi);
        const T* gl = reinterpret_cast<const T*>(&gi);
        T* vl = reinterpret_cast<T*>(&vi);
#pragma unroll
        for (int k = 0; k < width; ++k) momentum_element<T>(pl[k], gl[k], vl[k], lr, mu, nesterov);
        reinterpret_cast<V*>(p)[i] = pi;
        reinterpret_cast<V*>(vel)[i] = vi;
    }
    for (long long i = n_vec * width + start; i < n; i += stride) {
        T pi = p[i], vi = vel[i];
        momentum_element<T>(pi, g[i], vi, lr, mu, nesterov);
        p[i] = pi;
        vel[i] = vi;
    }
}

#define NNKIT_OPTIM_ENTRIES(T, SUFFIX)                                                                        \
    extern "C" __global__ void adam_step_##SUFFIX(T* p, const T* g, T* m, T* v, long long n, T alpha,         \
                                                  T one_minus_beta_1, T one_minus_beta_2, T epsilon, T keep) {  \
        adam_body<T>(p, g, m, v, n, alpha, one_minus_beta_1, one_minus_beta_2, epsilon, keep);                \
    }                                                                                                         \
    extern "C" __global__ void sgd_step_##SUFFIX(T* p, const T* g, long long n, T learning_rate) {             \
        sgd_body<T>(p, g, n, learning_rate);                                                                  \
    }                                                                                                         \
    extern "C" __global__ void sgd_momentum_step_##SUFFIX(T* p, const T* g, T* velocity, long long n,          \
                                                          T learning_rate, T momentum, int nesterov) {        \
        sgd_momentum_body<T>(p, g, velocity, n, learning_rate, momentum, nesterov);                           \
    }

NNKIT_OPTIM_ENTRIES(float, f32)
NNKIT_OPTIM_ENTRIES(double, f64)
