"""Each hand-written kernel against the plain CuPy composition it replaces, the NumPy path, and PyTorch's
equivalent when torch is importable; plus whole training steps of the MNIST CNN against PyTorch eager mode.

Run on a GPU (see benchmarks/gpu_run.sh):
    PYTHONPATH=$PWD python3 -m pytest benchmarks/test_kernels.py --benchmark-json=out.json
    python3 benchmarks/report.py out.json
Every timed call ends with a device synchronisation; ``extra_info['bytes']`` is the least memory traffic a
call needs, from which report.py derives GB/s and the fraction of the measured copy bandwidth.
"""
import math

import numpy
import pytest

from nnkit import activations, backend, primitives
from nnkit.primitives import (attention as attention_ops, bias_act as bias_act_ops, cross_entropy as cross_entropy_ops,
                       layer_norm as layer_norm_ops, optim as optim_ops)

from training_step import one_step

gpu = pytest.mark.gpu
F32 = numpy.float32

COPY_ELEMENTS = 64 * 2**20          # 256 MiB of float32 each way
ADAM_PARAMS = 10_000_000            # 28 bytes per float32 parameter per step
CE_SHAPES = [(4096, 1000), (64, 10), (32768, 1000), (65536, 1000)]   # the last moves 262 MB each way, as the copy
BIAS_SHAPE = (262144, 256)          # a GEMM output: 67M float32, as much traffic as the copy
CONV = dict(N=64, H=28, W=28, C=32, F=64, K=3)   # 'same' 3x3, stride 1
POOL_SHAPE = (64, 28, 28, 64)       # 2x2 windows, stride 2
LN_SHAPE = (16384, 1024)            # rows of 1024 features: a transformer's activations, 64 MiB of float32
ATTN_SHAPE = (8, 8, 512, 512)       # (B, H, Tq, Tk) attention scores: 16M float32, 64 MiB


# ==== plain CuPy compositions of im2col, col2im and pooling (for Adam, cross-entropy and bias+activation the ===
# ==== baseline is nnkit.primitives' own *_reference twin, run on CuPy arrays) ==========================================
def composed_im2col(xp, x, KH, KW, PH, PW, OH, OW):
    """Stride 1, dilation 1: one strided copy per tap into a (N, OH, OW, KH, KW, C) array."""
    N, H, W, C = x.shape
    padded = xp.zeros((N, H + 2 * PH, W + 2 * PW, C), x.dtype)
    padded[:, PH:PH + H, PW:PW + W] = x
    cols = xp.empty((N, OH, OW, KH, KW, C), x.dtype)
    for kh in range(KH):
        for kw in range(KW):
            cols[:, :, :, kh, kw] = padded[:, kh:kh + OH, kw:kw + OW]
    return cols.reshape(N * OH * OW, KH * KW * C)


def composed_col2im(xp, cols, x_shape, KH, KW, PH, PW, OH, OW):
    N, H, W, C = x_shape
    taps = cols.reshape(N, OH, OW, KH, KW, C)
    padded = xp.zeros((N, H + 2 * PH, W + 2 * PW, C), cols.dtype)
    for kh in range(KH):
        for kw in range(KW):
            padded[:, kh:kh + OH, kw:kw + OW] += taps[:, :, :, kh, kw]
    return padded[:, PH:PH + H, PW:PW + W]


def composed_max_pool_2x2(xp, x, dy_seed):
    """Forward (max and argmax over the 4 taps of each window) and backward (one-hot scatter)."""
    N, H, W, C = x.shape
    windows = x.reshape(N, H // 2, 2, W // 2, 2, C).transpose(0, 1, 3, 5, 2, 4).reshape(N, H // 2, W // 2, C, 4)
    first = windows.argmax(axis=-1)
    y = xp.take_along_axis(windows, first[..., None], axis=-1)[..., 0]
    dx = (first[..., None] == xp.arange(4)) * dy_seed[..., None]
    dx = dx.reshape(N, H // 2, W // 2, C, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(N, H, W, C)
    return y, dx


def synced(torch, function):
    """``function`` followed by torch's own device synchronisation (its stream is not CuPy's)."""
    def call():
        result = function()
        torch.cuda.synchronize()
        return result
    return call


def conv_geometry():
    c = CONV
    OH, OW, PH, PW = primitives.conv_output_geometry(c["H"], c["W"], c["K"], c["K"], 1, 1, 1, 1, "same")
    return (c["K"], c["K"], 1, 1, PH, PW, 1, 1, OH, OW)


# ==== copy bandwidth: the yardstick ============================================================================
@gpu
def test_copy_bandwidth(benchmark, cupy, timed):
    benchmark.group = "copy (256 MiB device to device)"
    src = cupy.ones(COPY_ELEMENTS, F32)
    dst = cupy.empty_like(src)
    timed(lambda: dst.__setitem__(Ellipsis, src), 2 * src.nbytes, variant="cupy copy", reference="copy")


# ==== Adam over the flat parameter buffer =====================================================================
def adam_arrays(xp, n):
    rng = numpy.random.default_rng(0)
    p, g = (xp.asarray(rng.standard_normal(n, dtype=F32)) for _ in range(2))
    return p, g, xp.zeros_like(p), xp.zeros_like(p)


ADAM_ARGS = (1e-3 * math.sqrt(1 - 0.999) / (1 - 0.9), 0.9, 0.999, 1e-7)


@gpu
def test_adam_nnkit(benchmark, cupy, timed):
    benchmark.group = "adam 10M f32"
    p, g, m, v = adam_arrays(cupy, ADAM_PARAMS)
    timed(lambda: primitives.adam_step(p, g, m, v, *ADAM_ARGS), 28 * ADAM_PARAMS, variant="nnkit kernel")


@gpu
def test_adam_cupy_composition(benchmark, cupy, timed):
    benchmark.group = "adam 10M f32"
    p, g, m, v = adam_arrays(cupy, ADAM_PARAMS)
    timed(lambda: optim_ops.adam_step_reference(p, g, m, v, *ADAM_ARGS), 28 * ADAM_PARAMS, variant="cupy composition")


def test_adam_numpy(benchmark, timed):
    benchmark.group = "adam 10M f32"
    p, g, m, v = adam_arrays(numpy, ADAM_PARAMS)
    timed(lambda: primitives.adam_step(p, g, m, v, *ADAM_ARGS), 28 * ADAM_PARAMS, variant="numpy")


@gpu
def test_adam_torch_fused(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = "adam 10M f32"
    p = torch.nn.Parameter(torch.randn(ADAM_PARAMS, device="cuda"))
    p.grad = torch.randn(ADAM_PARAMS, device="cuda")
    optimizer = torch.optim.Adam([p], lr=1e-3, eps=1e-7, fused=True)
    timed(synced(torch, optimizer.step), 28 * ADAM_PARAMS, variant="torch Adam(fused=True)")


# ==== softmax cross-entropy, forward + backward ===============================================================
def ce_arrays(xp, N, K):
    rng = numpy.random.default_rng(0)
    return xp.asarray(rng.standard_normal((N, K), dtype=F32) * 3), xp.asarray(rng.integers(0, K, N))


def ce_bytes(N, K):
    return 2 * 4 * N * K + 8 * N   # logits read once, gradient written once, labels


@gpu
@pytest.mark.parametrize("shape", CE_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_softmax_cross_entropy_nnkit(benchmark, cupy, timed, shape):
    benchmark.group = f"softmax cross-entropy fwd+bwd {shape[0]}x{shape[1]} f32"
    logits, labels = ce_arrays(cupy, *shape)
    timed(lambda: primitives.softmax_cross_entropy(logits, labels), ce_bytes(*shape), variant="nnkit kernel")


@gpu
@pytest.mark.parametrize("shape", CE_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_softmax_cross_entropy_cupy_composition(benchmark, cupy, timed, shape):
    benchmark.group = f"softmax cross-entropy fwd+bwd {shape[0]}x{shape[1]} f32"
    logits, labels = ce_arrays(cupy, *shape)
    timed(lambda: cross_entropy_ops.softmax_cross_entropy_reference(logits, labels), ce_bytes(*shape), variant="cupy composition")


@pytest.mark.parametrize("shape", CE_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_softmax_cross_entropy_numpy(benchmark, timed, shape):
    benchmark.group = f"softmax cross-entropy fwd+bwd {shape[0]}x{shape[1]} f32"
    logits, labels = ce_arrays(numpy, *shape)
    timed(lambda: primitives.softmax_cross_entropy(logits, labels), ce_bytes(*shape), variant="numpy")


@gpu
@pytest.mark.parametrize("shape", CE_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_softmax_cross_entropy_torch(benchmark, torch_cuda, timed, shape):
    torch = torch_cuda
    benchmark.group = f"softmax cross-entropy fwd+bwd {shape[0]}x{shape[1]} f32"
    logits = torch.randn(shape, device="cuda", requires_grad=True)
    labels = torch.randint(0, shape[1], (shape[0],), device="cuda")

    def forward_backward():
        logits.grad = None
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        return loss
    timed(synced(torch, forward_backward), ce_bytes(*shape), variant="torch F.cross_entropy + backward")


# ==== bias + ReLU, forward (in place) and backward (mask + bias gradient) =====================================
def bias_arrays(xp):
    rng = numpy.random.default_rng(0)
    return (xp.asarray(rng.standard_normal(BIAS_SHAPE, dtype=F32)), xp.asarray(rng.standard_normal(BIAS_SHAPE[1],
                                                                                                    dtype=F32)))


BIAS_GROUP = f"bias+relu forward {BIAS_SHAPE[0]}x{BIAS_SHAPE[1]} f32"
BIAS_BACKWARD_GROUP = f"bias+relu backward (dz, db) {BIAS_SHAPE[0]}x{BIAS_SHAPE[1]} f32"
BIAS_ELEMENTS = BIAS_SHAPE[0] * BIAS_SHAPE[1]


@gpu
def test_bias_relu_nnkit(benchmark, cupy, timed):
    benchmark.group = BIAS_GROUP
    z, bias = bias_arrays(cupy)
    timed(lambda: primitives.bias_activation(z, bias, activations.relu), 8 * BIAS_ELEMENTS, variant="nnkit kernel")


@gpu
def test_bias_relu_cupy_composition(benchmark, cupy, timed):
    benchmark.group = BIAS_GROUP
    z, bias = bias_arrays(cupy)
    timed(lambda: bias_act_ops.bias_activation_reference(z, bias, activations.relu), 8 * BIAS_ELEMENTS, variant="cupy composition")


def test_bias_relu_numpy(benchmark, timed):
    benchmark.group = BIAS_GROUP
    z, bias = bias_arrays(numpy)
    timed(lambda: primitives.bias_activation(z, bias, activations.relu), 8 * BIAS_ELEMENTS, variant="numpy")


@gpu
def test_bias_relu_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = BIAS_GROUP
    z, bias = torch.randn(BIAS_SHAPE, device="cuda"), torch.randn(BIAS_SHAPE[1], device="cuda")
    timed(synced(torch, lambda: torch.relu_(z.add_(bias))), 8 * BIAS_ELEMENTS, variant="torch add_ + relu_")


@gpu
def test_bias_relu_backward_nnkit(benchmark, cupy, timed):
    benchmark.group = BIAS_BACKWARD_GROUP
    dy, bias = bias_arrays(cupy)
    y = cupy.maximum(dy[::-1], 0)
    timed(lambda: primitives.bias_activation_backward(dy, None, y, activations.relu, bias), 12 * BIAS_ELEMENTS,
          variant="nnkit kernel")


@gpu
def test_bias_relu_backward_cupy_composition(benchmark, cupy, timed):
    benchmark.group = BIAS_BACKWARD_GROUP
    dy, bias = bias_arrays(cupy)
    y = cupy.maximum(dy[::-1], 0)
    timed(lambda: bias_act_ops.bias_activation_backward_reference(dy, None, y, activations.relu, bias), 12 * BIAS_ELEMENTS, variant="cupy composition")


def test_bias_relu_backward_numpy(benchmark, timed):
    benchmark.group = BIAS_BACKWARD_GROUP
    dy, bias = bias_arrays(numpy)
    y = numpy.maximum(dy[::-1], 0)
    timed(lambda: primitives.bias_activation_backward(dy, None, y, activations.relu, bias), 12 * BIAS_ELEMENTS,
          variant="numpy")


@gpu
def test_bias_relu_backward_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = BIAS_BACKWARD_GROUP
    dy, y = torch.randn(BIAS_SHAPE, device="cuda"), torch.relu(torch.randn(BIAS_SHAPE, device="cuda"))

    def backward():
        dz = torch.where(y > 0, dy, 0)
        return dz, dz.sum(dim=0)
    timed(synced(torch, backward), 12 * BIAS_ELEMENTS, variant="torch where + sum")


# ==== convolution: im2col, col2im, and the whole forward against cuDNN ========================================
def conv_input(xp):
    c = CONV
    rng = numpy.random.default_rng(0)
    return xp.asarray(rng.standard_normal((c["N"], c["H"], c["W"], c["C"]), dtype=F32))


def cols_bytes():
    KH, KW, _, _, _, _, _, _, OH, OW = conv_geometry()
    c = CONV
    return 4 * (c["N"] * OH * OW * KH * KW * c["C"] + c["N"] * c["H"] * c["W"] * c["C"])


IM2COL_GROUP = "im2col 64x28x28x32, 3x3 same, f32"
COL2IM_GROUP = "col2im 64x28x28x32, 3x3 same, f32"


@gpu
def test_im2col_nnkit(benchmark, cupy, timed):
    benchmark.group = IM2COL_GROUP
    from nnkit.cuda import conv as conv_kernels
    x = conv_input(cupy)
    timed(lambda: conv_kernels.im2col(x, *conv_geometry()), cols_bytes(), variant="nnkit kernel")


@gpu
def test_im2col_cupy_composition(benchmark, cupy, timed):
    benchmark.group = IM2COL_GROUP
    KH, KW, _, _, PH, PW, _, _, OH, OW = conv_geometry()
    x = conv_input(cupy)
    timed(lambda: composed_im2col(cupy, x, KH, KW, PH, PW, OH, OW), cols_bytes(), variant="cupy composition")


def test_im2col_numpy(benchmark, timed):
    benchmark.group = IM2COL_GROUP
    from nnkit.primitives import conv as conv_ops
    x = conv_input(numpy)
    timed(lambda: numpy.ascontiguousarray(conv_ops.im2col(x, *conv_geometry())), cols_bytes(), variant="numpy")


def dcols_for(xp):
    KH, KW, _, _, _, _, _, _, OH, OW = conv_geometry()
    rng = numpy.random.default_rng(1)
    return xp.asarray(rng.standard_normal((CONV["N"] * OH * OW, KH * KW * CONV["C"]), dtype=F32))


@gpu
def test_col2im_nnkit(benchmark, cupy, timed):
    benchmark.group = COL2IM_GROUP
    from nnkit.cuda import conv as conv_kernels
    dcols, shape = dcols_for(cupy), conv_input(numpy).shape
    timed(lambda: conv_kernels.col2im(dcols, shape, *conv_geometry()), cols_bytes(), variant="nnkit kernel")


@gpu
def test_col2im_cupy_composition(benchmark, cupy, timed):
    benchmark.group = COL2IM_GROUP
    KH, KW, _, _, PH, PW, _, _, OH, OW = conv_geometry()
    dcols, shape = dcols_for(cupy), conv_input(numpy).shape
    timed(lambda: composed_col2im(cupy, dcols, shape, KH, KW, PH, PW, OH, OW), cols_bytes(), variant="cupy composition")


def test_col2im_numpy(benchmark, timed):
    benchmark.group = COL2IM_GROUP
    from nnkit.primitives import conv as conv_ops
    dcols, shape = dcols_for(numpy), conv_input(numpy).shape
    timed(lambda: conv_ops.col2im(dcols, shape, *conv_geometry()), cols_bytes(), variant="numpy")


CONV_GROUP = "conv2d forward + bias + relu 64x28x28x32 -> 64 filters, 3x3 same, f32"


def conv_bytes():
    c = CONV
    return 4 * (c["N"] * c["H"] * c["W"] * (c["C"] + c["F"]) + c["K"] ** 2 * c["C"] * c["F"])


@gpu
def test_conv2d_forward_nnkit(benchmark, cupy, timed):
    benchmark.group = CONV_GROUP
    from nnkit.cuda import conv as conv_kernels
    c = CONV
    x = conv_input(cupy)
    kernel = cupy.asarray(numpy.random.default_rng(2).standard_normal((c["K"] ** 2 * c["C"], c["F"]), dtype=F32))
    bias = cupy.zeros(c["F"], F32)

    def forward():
        z = conv_kernels.im2col(x, *conv_geometry()) @ kernel
        return primitives.bias_activation(z, bias, activations.relu)
    timed(forward, conv_bytes(), variant="nnkit im2col + cuBLAS + bias_act")


@gpu
def test_conv2d_forward_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = CONV_GROUP
    c = CONV
    x = torch.randn(c["N"], c["C"], c["H"], c["W"], device="cuda")
    weight = torch.randn(c["F"], c["C"], c["K"], c["K"], device="cuda")
    bias = torch.zeros(c["F"], device="cuda")
    with torch.no_grad():
        timed(synced(torch, lambda: torch.relu_(torch.nn.functional.conv2d(x, weight, bias, padding=c["K"] // 2))),
              conv_bytes(),
              variant="torch F.conv2d (cuDNN) + relu_")


# ==== max pooling 2x2, forward + backward =====================================================================
POOL_GROUP = f"max pool 2x2 fwd+bwd {'x'.join(map(str, POOL_SHAPE))} f32"


def pool_bytes():
    x = math.prod(POOL_SHAPE) * 4
    return x + x // 4 + x // 4 + x // 4 + x // 4 + x   # x, y, argmax; dy, argmax, dx


def pool_arrays(xp):
    rng = numpy.random.default_rng(0)
    x = xp.asarray(rng.standard_normal(POOL_SHAPE, dtype=F32))
    N, H, W, C = POOL_SHAPE
    return x, xp.asarray(rng.standard_normal((N, H // 2, W // 2, C), dtype=F32))


POOL_ARGS = (2, 2, 2, 2, 0, 0, POOL_SHAPE[1] // 2, POOL_SHAPE[2] // 2)


@gpu
def test_max_pool_nnkit(benchmark, cupy, timed):
    benchmark.group = POOL_GROUP
    from nnkit.cuda import pool as pool_kernels
    x, dy = pool_arrays(cupy)

    def forward_backward():
        y, saved = pool_kernels.max_pool2d(x, *POOL_ARGS)
        return pool_kernels.max_pool2d_backward(dy, saved, x.shape, *POOL_ARGS)
    timed(forward_backward, pool_bytes(), variant="nnkit kernel")


@gpu
def test_max_pool_cupy_composition(benchmark, cupy, timed):
    benchmark.group = POOL_GROUP
    x, dy = pool_arrays(cupy)
    timed(lambda: composed_max_pool_2x2(cupy, x, dy), pool_bytes(), variant="cupy composition")


def test_max_pool_numpy(benchmark, timed):
    benchmark.group = POOL_GROUP
    from nnkit.primitives import pool as pool_ops
    x, dy = pool_arrays(numpy)

    def forward_backward():
        y, saved = pool_ops.max_pool2d(x, *POOL_ARGS)
        return pool_ops.max_pool2d_backward(dy, saved, x.shape, *POOL_ARGS)
    timed(forward_backward, pool_bytes(), variant="numpy")


@gpu
def test_max_pool_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = POOL_GROUP
    N, H, W, C = POOL_SHAPE
    x = torch.randn(N, C, H, W, device="cuda", requires_grad=True)
    dy = torch.randn(N, C, H // 2, W // 2, device="cuda")

    def forward_backward():
        x.grad = None
        torch.nn.functional.max_pool2d(x, 2).backward(dy)
    timed(synced(torch, forward_backward), pool_bytes(), variant="torch F.max_pool2d + backward")


# ==== layer normalization over the last axis: forward, and forward + backward (dx, dgamma, dbeta) ===============
LN_GROUP = f"layer norm forward {LN_SHAPE[0]}x{LN_SHAPE[1]} f32"
LN_STEP_GROUP = f"layer norm fwd+bwd (dx, dgamma, dbeta) {LN_SHAPE[0]}x{LN_SHAPE[1]} f32"
LN_ELEMENTS = LN_SHAPE[0] * LN_SHAPE[1]
LN_FORWARD_BYTES = 8 * LN_ELEMENTS                      # x read, y written
LN_STEP_BYTES = LN_FORWARD_BYTES + 12 * LN_ELEMENTS     # then dy and x read, dx written


def ln_arrays(xp):
    rng = numpy.random.default_rng(0)
    x, dy = (xp.asarray(rng.standard_normal(LN_SHAPE, dtype=F32)) for _ in range(2))
    gamma, beta = (xp.asarray(rng.standard_normal(LN_SHAPE[1], dtype=F32)) for _ in range(2))
    return x, dy, gamma, beta


def ln_step(forward, backward, x, dy, gamma, beta):
    """A function running ``forward`` then ``backward`` (an nnkit.primitives.layer_norm pair) over the last axis."""
    xp = backend.get_array_module(x)
    dgamma, dbeta = xp.empty_like(gamma), xp.empty_like(beta)

    def step():
        y, mean, inv_std = forward(x, gamma, beta, (1,), 1e-3)
        return backward(dy, x, mean, inv_std, gamma, (1,), dgamma, dbeta)
    return step


@gpu
def test_layer_norm_nnkit(benchmark, cupy, timed):
    benchmark.group = LN_GROUP
    x, _, gamma, beta = ln_arrays(cupy)
    timed(lambda: layer_norm_ops.layer_norm_gpu(x, gamma, beta, (1,), 1e-3), LN_FORWARD_BYTES, variant="nnkit kernel")


@gpu
def test_layer_norm_cupy_composition(benchmark, cupy, timed):
    benchmark.group = LN_GROUP
    x, _, gamma, beta = ln_arrays(cupy)
    timed(lambda: layer_norm_ops.layer_norm_reference(x, gamma, beta, (1,), 1e-3), LN_FORWARD_BYTES,
          variant="cupy composition")


def test_layer_norm_numpy(benchmark, timed):
    benchmark.group = LN_GROUP
    x, _, gamma, beta = ln_arrays(numpy)
    timed(lambda: layer_norm_ops.layer_norm(x, gamma, beta, (1,), 1e-3), LN_FORWARD_BYTES, variant="numpy")


@gpu
def test_layer_norm_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = LN_GROUP
    x = torch.randn(LN_SHAPE, device="cuda")
    gamma, beta = torch.randn(LN_SHAPE[1], device="cuda"), torch.randn(LN_SHAPE[1], device="cuda")
    with torch.no_grad():
        timed(synced(torch, lambda: torch.nn.functional.layer_norm(x, LN_SHAPE[1:], gamma, beta, 1e-3)),
              LN_FORWARD_BYTES, variant="torch F.layer_norm")


@gpu
def test_layer_norm_step_nnkit(benchmark, cupy, timed):
    benchmark.group = LN_STEP_GROUP
    timed(ln_step(layer_norm_ops.layer_norm_gpu, layer_norm_ops.layer_norm_backward_gpu, *ln_arrays(cupy)),
          LN_STEP_BYTES, variant="nnkit kernel")


@gpu
def test_layer_norm_step_cupy_composition(benchmark, cupy, timed):
    benchmark.group = LN_STEP_GROUP
    timed(ln_step(layer_norm_ops.layer_norm_reference, layer_norm_ops.layer_norm_backward_reference,
                  *ln_arrays(cupy)), LN_STEP_BYTES, variant="cupy composition")


def test_layer_norm_step_numpy(benchmark, timed):
    benchmark.group = LN_STEP_GROUP
    timed(ln_step(layer_norm_ops.layer_norm, layer_norm_ops.layer_norm_backward, *ln_arrays(numpy)), LN_STEP_BYTES,
          variant="numpy")


@gpu
def test_layer_norm_step_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = LN_STEP_GROUP
    x = torch.randn(LN_SHAPE, device="cuda", requires_grad=True)
    dy = torch.randn(LN_SHAPE, device="cuda")
    gamma = torch.randn(LN_SHAPE[1], device="cuda", requires_grad=True)
    beta = torch.randn(LN_SHAPE[1], device="cuda", requires_grad=True)

    def forward_backward():
        x.grad = gamma.grad = beta.grad = None
        torch.nn.functional.layer_norm(x, LN_SHAPE[1:], gamma, beta, 1e-3).backward(dy)
    timed(synced(torch, forward_backward), LN_STEP_BYTES, variant="torch F.layer_norm + backward")


# ==== attention's masked softmax with dropout, forward + backward ==============================================
ATTN_GROUP = f"attention softmax fwd+bwd {'x'.join(map(str, ATTN_SHAPE))}, padding mask, dropout 0.1, f32"
# forward: scores read, probs and dropped written; backward: d_dropped and probs read, d_scores written
ATTN_BYTES = 24 * math.prod(ATTN_SHAPE)
ATTN_SCALE, ATTN_RATE = 1 / 8, 0.1


def attention_arrays(xp):
    """Scores, their upstream gradient and a padding mask (B, 1, 1, Tk) hiding the last quarter of each batch
    entry's keys but for the first one."""
    rng = numpy.random.default_rng(0)
    B, H, Tq, Tk = ATTN_SHAPE
    scores, d_dropped = (xp.asarray(rng.standard_normal(ATTN_SHAPE, dtype=F32) * 3) for _ in range(2))
    mask = numpy.ones((B, 1, 1, Tk), bool)
    mask[1:, ..., 3 * Tk // 4:] = False
    return scores, d_dropped, xp.asarray(mask)


def attention_step(forward, backward, scores, d_dropped, mask):
    """A function running ``forward`` then ``backward`` (an nnkit.primitives.attention pair), a new seed each call."""
    seeds = iter(range(1, 2**62))

    def step():
        seed = next(seeds)
        probs, dropped = forward(scores, mask, False, ATTN_SCALE, ATTN_RATE, seed)
        return backward(d_dropped, probs, ATTN_SCALE, ATTN_RATE, seed)
    return step


@gpu
def test_attention_softmax_nnkit(benchmark, cupy, timed):
    benchmark.group = ATTN_GROUP
    timed(attention_step(attention_ops.attention_softmax_gpu, attention_ops.attention_softmax_backward_gpu,
                         *attention_arrays(cupy)), ATTN_BYTES, variant="nnkit kernel")


@gpu
def test_attention_softmax_cupy_composition(benchmark, cupy, timed):
    benchmark.group = ATTN_GROUP
    timed(attention_step(attention_ops.attention_softmax_reference, attention_ops.attention_softmax_backward_reference,
                         *attention_arrays(cupy)), ATTN_BYTES, variant="cupy composition")


def test_attention_softmax_numpy(benchmark, timed):
    benchmark.group = ATTN_GROUP
    timed(attention_step(attention_ops.attention_softmax, attention_ops.attention_softmax_backward,
                         *attention_arrays(numpy)), ATTN_BYTES, variant="numpy")


@gpu
def test_attention_softmax_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = ATTN_GROUP
    scores, d_dropped, mask = (torch.from_numpy(numpy.asarray(a)).cuda() for a in attention_arrays(numpy))
    scores.requires_grad_(True)

    def forward_backward():
        scores.grad = None
        z = torch.where(mask, scores * ATTN_SCALE, -1e9)
        dropped = torch.nn.functional.dropout(torch.softmax(z, dim=-1), ATTN_RATE)
        dropped.backward(d_dropped)
    timed(synced(torch, forward_backward), ATTN_BYTES, variant="torch where + softmax + dropout + backward")


# ==== the MNIST CNN: one whole training step at batch 64 ======================================================
CNN_GROUP = "MNIST CNN training step, batch 64, f32"
BATCH = 64


def nnkit_cnn():
    """Keras' MNIST convnet example; None when the convolution layers are not importable."""
    try:
        from nnkit.layers import Conv2D, MaxPooling2D
    except ImportError:
        return None
    import nnkit
    from nnkit.layers import Dense, Dropout, Flatten
    model = nnkit.Sequential([nnkit.Input(shape=(28, 28, 1)), Conv2D(32, (3, 3), activation="relu"), MaxPooling2D(2),
                              Conv2D(64, (3, 3), activation="relu"), MaxPooling2D(2), Flatten(), Dropout(0.5),
                              Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mnist_like_batch():
    rng = numpy.random.default_rng(0)
    return rng.random((BATCH, 28, 28, 1), dtype=F32), rng.integers(0, 10, BATCH)


def cnn_step(model, x, y):
    """One training step as fit runs it, after one fit call (which compiles the kernels and warms up)."""
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    return one_step(model, x, y)


@gpu
def test_mnist_cnn_step_nnkit_gpu(benchmark, cupy, timed):
    benchmark.group = CNN_GROUP
    model = nnkit_cnn()
    if model is None:
        pytest.skip("nnkit.layers.Conv2D / MaxPooling2D are not importable")
    timed(cnn_step(model, *mnist_like_batch()), 0, variant="nnkit gpu")


def test_mnist_cnn_step_nnkit_numpy(benchmark, timed):
    benchmark.group = CNN_GROUP
    with backend.use("cpu"):
        model = nnkit_cnn()
        if model is None:
            pytest.skip("nnkit.layers.Conv2D / MaxPooling2D are not importable")
        timed(cnn_step(model, *mnist_like_batch()), 0, variant="nnkit numpy")


@gpu
def test_mnist_cnn_step_torch(benchmark, torch_cuda, timed):
    torch = torch_cuda
    benchmark.group = CNN_GROUP
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10)).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x, y = mnist_like_batch()
    x = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().cuda()
    y = torch.from_numpy(y).cuda()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    timed(synced(torch, step), 0, variant="torch eager + cuDNN, Adam (foreach)")
