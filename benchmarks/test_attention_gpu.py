"""Scaled-dot-product attention, forward + backward, on the GPU: nnkit's (two cuBLAS matmuls around the fused
masked-softmax-with-dropout kernel, and the four matmuls and the kernel's backward) against PyTorch's
``scaled_dot_product_attention`` with its math backend (the same decomposition, in ATen), and with whichever
fused backend torch picks by default, for reference.

    PYTHONPATH=$PWD python3 -m pytest benchmarks/test_attention_gpu.py --benchmark-columns=median,min,rounds

Both see the same q, k, v, upstream gradient and mask; the outputs and gradients are checked to agree (without
dropout, whose random masks differ) before anything is timed. Every benchmark skips without a GPU (and the torch
ones without torch).
"""
import contextlib
import math

import numpy
import pytest

from nnkit.primitives import attention as attention_ops

gpu = pytest.mark.gpu
F32 = numpy.float32
B, H, T, D = 8, 8, 512, 64       # batch, heads, sequence length, key_dim
SCALE = 1 / math.sqrt(D)
RATE = 0.1
# name: (padding mask or not, causal)
MASKINGS = {"padding mask": (True, False), "causal": (False, True)}


def inputs(xp_asarray):
    """q, k, v (B, H, T, D), the output's upstream gradient, and a padding mask (B, 1, 1, T) that hides the last
    quarter of the keys of every batch entry but the first; each through ``xp_asarray``."""
    rng = numpy.random.default_rng(0)
    q, k, v, d_out = (rng.standard_normal((B, H, T, D), dtype=F32) for _ in range(4))
    mask = numpy.ones((B, 1, 1, T), bool)
    mask[1:, ..., 3 * T // 4:] = False
    return [xp_asarray(a) for a in (q, k, v, d_out, mask)]


def nnkit_attention(q, k, v, d_out, mask, causal, rate, seed, forward, backward):
    """``(out, dq, dk, dv)`` of ``dropout(softmax(mask(q k^T * scale))) v`` with the given nnkit.primitives.attention
    forward and backward (the kernels or the reference twins)."""
    probs, dropped = forward(q @ k.swapaxes(-1, -2), mask, causal, SCALE, rate, seed)
    out = dropped @ v
    dv = dropped.swapaxes(-1, -2) @ d_out
    d_scores = backward(d_out @ v.swapaxes(-1, -2), probs, SCALE, rate, seed)
    return out, d_scores @ k, d_scores.swapaxes(-1, -2) @ q, dv


def torch_attention(torch, q, k, v, d_out, mask, causal, rate, math_backend=True):
    """The same with torch's F.scaled_dot_product_attention and autograd: ``(out, dq, dk, dv)``."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    for t in (q, k, v):
        t.grad = None
    with sdpa_kernel(SDPBackend.MATH) if math_backend else contextlib.nullcontext():
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=rate,
                                                               is_causal=causal, scale=SCALE)
        out.backward(d_out)
    return out, q.grad, k.grad, v.grad


def torch_inputs(torch, masked):
    q, k, v, d_out, mask = inputs(lambda a: torch.from_numpy(a).cuda())
    for t in (q, k, v):
        t.requires_grad_(True)
    return q, k, v, d_out, mask if masked else None


@gpu
@pytest.mark.parametrize("masking", list(MASKINGS))
def test_nnkit_agrees_with_torch_math_backend(cupy, torch_cuda, masking):
    torch = torch_cuda
    masked, causal = MASKINGS[masking]
    q, k, v, d_out, mask = inputs(cupy.asarray)
    got = nnkit_attention(q, k, v, d_out, mask if masked else None, causal, 0.0, None,
                          attention_ops.attention_softmax, attention_ops.attention_softmax_backward)
    want = torch_attention(torch, *torch_inputs(torch, masked), causal, 0.0)
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        b = b.detach().cpu().numpy()
        error = float(numpy.abs(cupy.asnumpy(a) - b).max() / numpy.abs(b).max())
        assert error < 1e-5, f"{masking} {name}: relative error {error:.2e}"


def group(masking):
    return f"scaled-dot-product attention fwd+bwd {B}x{H}x{T}x{D}, {masking}, dropout {RATE}, f32"


# nnkit's attention with each softmax pair: the fused kernel, and the CuPy composition of the reference twins.
SOFTMAXES = {
    "nnkit cuBLAS + fused softmax kernel": (attention_ops.attention_softmax, attention_ops.attention_softmax_backward),
    "cupy composition (the reference twins)": (attention_ops.attention_softmax_reference,
                                               attention_ops.attention_softmax_backward_reference),
}


@gpu
@pytest.mark.parametrize("masking", list(MASKINGS))
@pytest.mark.parametrize("variant", list(SOFTMAXES))
def test_sdpa_nnkit(benchmark, cupy, timed, masking, variant):
    benchmark.group = group(masking)
    masked, causal = MASKINGS[masking]
    q, k, v, d_out, mask = inputs(cupy.asarray)
    seeds = iter(range(1, 2**62))
    timed(lambda: nnkit_attention(q, k, v, d_out, mask if masked else None, causal, RATE, next(seeds),
                                  *SOFTMAXES[variant]), 0, variant=variant)


@gpu
@pytest.mark.parametrize("masking", list(MASKINGS))
@pytest.mark.parametrize("math_backend", [True, False], ids=["math", "default"])
def test_sdpa_torch(benchmark, torch_cuda, timed, masking, math_backend):
    torch = torch_cuda
    pytest.importorskip("torch.nn.attention")
    benchmark.group = group(masking)
    masked, causal = MASKINGS[masking]
    args = torch_inputs(torch, masked)

    def step():
        result = torch_attention(torch, *args, causal, RATE, math_backend)
        torch.cuda.synchronize()
        return result
    variant = "torch SDPA, math backend" if math_backend else "torch SDPA, default backend (fused)"
    timed(step, 0, variant=variant)
