"""Attention's masked softmax with dropout (nnkit.primitives.attention): the forward against a float64 softmax over each
row's attended keys (loops) and Keras goldens, the dropout hash against splitmix64 written out here, the backward
against float64 central differences on both backends, argument errors; the kernel (kernels/attention.cu) against
the reference with NaN-poisoned outputs (GPU-marked)."""
import json
import os

import numpy
import pytest

from nnkit import backend, selftest
from nnkit.primitives import attention
from nnkit.utils import gradcheck

DATA = os.path.join(os.path.dirname(__file__), "data")
SHAPE = (2, 3, 4, 5)  # (B, H, Tq, Tk)
U64 = (1 << 64) - 1


def host(array):
    return backend.to_host(array)


# ---- float64 references -----------------------------------------------------------------------------------------
def softmax_by_rows(scores, attend, scale):
    """The softmax of each row's attended keys alone (scaled), 0 at the other keys and in rows with none."""
    probs = numpy.zeros(scores.shape)
    for index in numpy.ndindex(scores.shape[:-1]):
        keys = numpy.flatnonzero(attend[index])
        if keys.size:
            z = numpy.asarray(scores[index][keys], numpy.float64) * scale
            e = numpy.exp(z - z.max())
            probs[index + (keys,)] = e / e.sum()
    return probs


def lower_triangle(Tq, Tk):
    return numpy.array([[j <= i for j in range(Tk)] for i in range(Tq)])


def splitmix64(state):
    """splitmix64 (Steele, Lea & Flood 2014), as in its reference C code, on Python integers."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & U64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
        yield z ^ (z >> 31)


# The masks MultiHeadAttention passes, and how each reaches (B, H, Tq, Tk): a missing axis goes before the last two.
MASKS = {
    "none": (None, None),
    "attention_mask (B, Tq, Tk)": ((2, 4, 5), lambda m: m[:, None]),
    "padding (B, 1, 1, Tk)": ((2, 1, 1, 5), lambda m: m),
    "shared (Tq, Tk)": ((4, 5), lambda m: m[None, None]),
    "per head (B, H, Tq, Tk)": (SHAPE, lambda m: m),
    "query (B, 1, Tq, 1)": ((2, 1, 4, 1), lambda m: m),
}


def random_mask(name, rng):
    mask_shape, expand = MASKS[name]
    if mask_shape is None:
        return None, numpy.ones(SHAPE, bool)
    mask = rng.random(mask_shape) > 0.3
    return mask, numpy.broadcast_to(expand(mask), SHAPE)


# ---- forward ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("scale", [1.0, 0.37])
def test_forward_matches_a_softmax_over_the_attended_keys(xp, rng, mask_name, causal, scale):
    scores = rng.standard_normal(SHAPE) * 3
    mask, attend = random_mask(mask_name, rng)
    if causal:
        attend = attend & lower_triangle(4, 5)
    probs, dropped = attention.attention_softmax(xp.asarray(scores), None if mask is None else xp.asarray(mask),
                                                 causal=causal, scale=scale)
    assert dropped is probs
    numpy.testing.assert_allclose(host(probs), softmax_by_rows(scores, attend, scale), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [numpy.float16, numpy.float32, numpy.float64])
def test_dtype_is_kept(xp, rng, dtype):
    scores = (rng.standard_normal(SHAPE)).astype(dtype)
    mask = rng.random((2, 4, 5)) > 0.3
    probs, dropped = attention.attention_softmax(xp.asarray(scores), xp.asarray(mask), scale=0.5, dropout_rate=0.5,
                                                 seed=3)
    assert probs.dtype == dropped.dtype == dtype
    tolerance = {numpy.float16: 2e-3, numpy.float32: 1e-6, numpy.float64: 1e-14}[dtype]
    numpy.testing.assert_allclose(host(probs), softmax_by_rows(scores, mask[:, None] | numpy.zeros(SHAPE, bool), 0.5),
                                  rtol=tolerance, atol=tolerance)


def test_numeric_masks_count_nonzero_as_attend(xp, rng):
    scores = rng.standard_normal(SHAPE)
    mask = rng.integers(0, 2, (2, 4, 5))
    weights = mask * 0.3  # nonzero = attend (MultiHeadAttention casts its mask to bool)
    want = host(attention.attention_softmax(xp.asarray(scores), xp.asarray(mask.astype(bool)))[0])
    for numeric in (mask, weights, mask.astype(numpy.float32)):
        numpy.testing.assert_array_equal(host(attention.attention_softmax(xp.asarray(scores), xp.asarray(numeric))[0]),
                                         want)


def test_fully_masked_rows_are_zero_and_pass_no_gradient(xp, rng):
    """As Keras' Softmax: a row without an attended key gives zeros (the softmax of the -1e9 row is uniform,
    then zeroed), not a uniform row and not NaN."""
    scores = rng.standard_normal(SHAPE)
    mask = rng.random((2, 4, 5)) > 0.3
    mask[1, 2] = False
    probs, dropped = attention.attention_softmax(xp.asarray(scores), xp.asarray(mask), dropout_rate=0.2, seed=5)
    assert not host(probs)[1, :, 2].any() and not host(dropped)[1, :, 2].any()
    numpy.testing.assert_allclose(host(probs).sum(axis=-1), numpy.broadcast_to(mask.any(axis=-1)[:, None], (2, 3, 4)))
    d_scores = attention.attention_softmax_backward(xp.asarray(rng.standard_normal(SHAPE)), probs, 1.0, 0.2, 5)
    assert not host(d_scores)[1, :, 2].any()
    assert not host(d_scores)[numpy.broadcast_to(~mask[:, None], SHAPE)].any()


@pytest.mark.parametrize("dtype, below", [(numpy.float32, -2e9), (numpy.float64, -2e9), (numpy.float16, -4e4)])
def test_masked_keys_take_the_value_keras_puts_there(xp, dtype, below):
    """Keras replaces a masked score by -1e9 (-3e4 in float16) before the softmax and zeroes the masked keys
    after it: unmasked keys scoring below that value get (almost) nothing, and a NaN at a masked key is dropped."""
    assert attention.large_negative(dtype) == (-3e4 if dtype == numpy.float16 else -1e9)
    scores = numpy.zeros((1, 1, 3, 4), dtype)
    scores[0, 0, 0, :2] = below
    scores[0, 0, 1, :2] = attention.large_negative(dtype) / 2
    scores[0, 0, 2] = [numpy.nan, 1.0, 2.0, 3.0]
    mask = numpy.array([[True, True, False, False], [True, True, False, False], [False, True, True, True]])
    probs = host(attention.attention_softmax(xp.asarray(scores), xp.asarray(mask))[0])[0, 0]
    numpy.testing.assert_array_equal(probs[0], [0, 0, 0, 0])  # the mass went to the masked keys, then was zeroed
    numpy.testing.assert_allclose(probs[1], [0.5, 0.5, 0, 0])
    numpy.testing.assert_allclose(probs[2], [0, *softmax_by_rows(numpy.array([1.0, 2.0, 3.0]), numpy.ones(3, bool),
                                                                 1.0)], rtol=1e-3 if dtype == numpy.float16 else 1e-6)


def test_a_nan_score_at_an_attended_key_makes_its_row_nan(rng):
    scores = rng.standard_normal((1, 1, 2, 4))
    scores[0, 0, 0, 1] = numpy.nan
    probs = attention.attention_softmax(scores, numpy.array([[[[True, True, True, False]]]]))[0][0, 0]
    assert numpy.isnan(probs[0, :3]).all() and probs[0, 3] == 0 and numpy.isfinite(probs[1]).all()


def keras_cases():
    data = numpy.load(os.path.join(DATA, "keras_attention_softmax.npz"))
    return [(i, case, data) for i, case in enumerate(json.loads(str(data["cases"])))]


@pytest.mark.parametrize("i, case, data", keras_cases(), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_forward_matches_keras_multi_head_attention(xp, i, case, data):
    """Keras' MultiHeadAttention._masked_softmax (its causal mask ANDed in) on the same scores and masks."""
    shape, dtype, mask_shape, causal, scale = case
    scores = data[f"{i}_scores"]
    mask = data[f"{i}_mask"] if mask_shape is not None else None
    probs, _ = attention.attention_softmax(xp.asarray(scores), None if mask is None else xp.asarray(mask),
                                           causal=causal, scale=scale)
    assert probs.dtype == numpy.dtype(dtype)
    tolerance = 1e-3 if dtype == "float16" else 1e-6
    numpy.testing.assert_allclose(host(probs), data[f"{i}_probs"], rtol=tolerance, atol=tolerance)


# ---- dropout ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1234567, -5, 2**64 + 3, 2**63 - 1])
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_keep_mask_is_splitmix64_of_the_flat_index(seed, rate):
    key = next(splitmix64(seed & U64))
    stream = splitmix64(key)
    bits = numpy.array([next(stream) for _ in range(3 * 4 * 7)], dtype=object)
    expected = numpy.array([(b >> 32) / 2**32 >= rate for b in bits]).reshape(3, 4, 7)
    numpy.testing.assert_array_equal(attention.dropout_keep_mask((3, 4, 7), seed, rate), expected)


def test_splitmix64_here_is_the_published_one():
    # The first outputs of splitmix64 seeded with 1234567, from its reference implementation's test vector.
    stream = splitmix64(1234567)
    assert [next(stream) for _ in range(3)] == [6457827717110365317, 3203168211198807973, 9817491932198370423]
    assert attention.dropout_key(1234567) == 6457827717110365317


def test_keep_mask_is_the_same_on_both_backends_and_for_one_seed(xp):
    mask = host(attention.dropout_keep_mask((5, 6, 7), 42, 0.3, xp))
    numpy.testing.assert_array_equal(mask, attention.dropout_keep_mask((5, 6, 7), 42, 0.3))
    assert mask.dtype == bool and mask.shape == (5, 6, 7)
    assert (attention.dropout_keep_mask((5, 6, 7), 43, 0.3) != mask).any()


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.5, 0.8])
def test_keep_rate_statistics(rate):
    n = 400_000
    for seed in (0, 7, 2**62):
        keep = attention.dropout_keep_mask((n,), seed, rate)
        sigma = numpy.sqrt(rate * (1 - rate) / n)
        assert abs(keep.mean() - (1 - rate)) < 5 * sigma
        # no pattern along the flat index: every residue class mod 64 (a warp's lanes, a row's keys) keeps as often
        by_lane = keep.reshape(-1, 64).mean(axis=0)
        assert numpy.abs(by_lane - (1 - rate)).max() < 5 * numpy.sqrt(rate * (1 - rate) / (n // 64))
        # neighbours are independent: P(keep[i] and keep[i + 1]) = (1 - rate)^2
        assert abs((keep[1:] & keep[:-1]).mean() - (1 - rate) ** 2) < 5 * sigma
    other = attention.dropout_keep_mask((n,), 1, rate)  # independent of the mask of seed 0 too
    assert abs((other & attention.dropout_keep_mask((n,), 0, rate)).mean() - (1 - rate) ** 2) < 5 * sigma


def test_dropped_is_probs_times_keep_over_one_minus_rate(xp, rng):
    scores = rng.standard_normal(SHAPE)
    mask = rng.random((2, 4, 5)) > 0.3
    probs, dropped = attention.attention_softmax(xp.asarray(scores), xp.asarray(mask), scale=0.8, dropout_rate=0.25,
                                                 seed=11)
    keep = attention.dropout_keep_mask(SHAPE, 11, 0.25)
    numpy.testing.assert_allclose(host(dropped), host(probs) * keep / 0.75, rtol=1e-15)
    again = attention.attention_softmax(xp.asarray(scores), xp.asarray(mask), scale=0.8, dropout_rate=0.25, seed=11)
    numpy.testing.assert_array_equal(host(again[1]), host(dropped))
    for rate, seed in ((0.0, 11), (0.25, None)):
        probs, dropped = attention.attention_softmax(xp.asarray(scores), dropout_rate=rate, seed=seed)
        assert dropped is probs


# ---- backward ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_name, causal, scale, rate", [
    ("none", False, 1.0, 0.0), ("attention_mask (B, Tq, Tk)", False, 0.5, 0.0), ("none", True, 0.7, 0.3),
    ("padding (B, 1, 1, Tk)", True, 1.3, 0.5), ("per head (B, H, Tq, Tk)", False, 1.0, 0.2),
    ("query (B, 1, Tq, 1)", False, 0.4, 0.0)])
def test_backward_matches_central_differences(backend_name, rng, mask_name, causal, scale, rate):
    mask, _ = random_mask(mask_name, rng)
    seed = 99 if rate else None

    def fn(scores):
        probs, dropped = attention.attention_softmax(scores, mask, causal, scale, rate, seed)
        return dropped, lambda d: (attention.attention_softmax_backward(d, probs, scale, rate, seed),)
    result = gradcheck(fn, rng.standard_normal(SHAPE) * 2, max_checks=SHAPE[0] * SHAPE[1] * SHAPE[2] * SHAPE[3])
    assert result.max_relative_error < 1e-6, result


def test_backward_by_the_jacobian(rng):
    """Each row's gradient is J^T d_probs with the softmax Jacobian J = diag(p) - p p^T, times scale."""
    probs = attention.attention_softmax(rng.standard_normal(SHAPE), causal=True)[0]
    d = rng.standard_normal(SHAPE)
    got = attention.attention_softmax_backward(d, probs, 0.3)
    for index in numpy.ndindex(SHAPE[:-1]):
        p = probs[index]
        numpy.testing.assert_allclose(got[index], 0.3 * (numpy.diag(p) - numpy.outer(p, p)) @ d[index], atol=1e-15)


def test_backward_gives_probs_dtype(rng):
    probs = attention.attention_softmax(rng.standard_normal(SHAPE).astype(numpy.float32))[0]
    assert attention.attention_softmax_backward(rng.standard_normal(SHAPE), probs).dtype == numpy.float32


# ---- argument errors --------------------------------------------------------------------------------------------
GOOD = numpy.zeros(SHAPE)
ERRORS = [
    (dict(scores=numpy.zeros((2, 4, 5))), ValueError, r"scores.*\(B, H, Tq, Tk\).*\(2, 4, 5\)"),
    (dict(scores=numpy.zeros(SHAPE, int)), TypeError, "floating-point"),
    (dict(mask=numpy.ones(5, bool)), ValueError, r"mask.shape=\(5,\)"),
    (dict(mask=numpy.ones((2, 4, 6), bool)), ValueError, "broadcastable"),
    (dict(mask=numpy.ones((3, 4, 5), bool)), ValueError, "broadcastable"),
    (dict(mask=numpy.ones((2, 2, 4, 5), bool)), ValueError, "broadcastable"),
    (dict(mask=numpy.ones((1, 2, 3, 4, 5), bool)), ValueError, "mask"),
    (dict(causal="yes"), TypeError, "causal"),
    (dict(scale=float("nan")), ValueError, "scale"),
    (dict(scale="1"), ValueError, "scale"),
    (dict(dropout_rate=1.0), ValueError, r"dropout_rate.*\[0, 1\)"),
    (dict(dropout_rate=-0.1), ValueError, "dropout_rate"),
    (dict(seed=1.5, dropout_rate=0.1), TypeError, "seed"),
]


@pytest.mark.parametrize("kwargs, error, match", ERRORS)
def test_forward_argument_errors(kwargs, error, match):
    kwargs = {"scores": GOOD, **kwargs}
    with pytest.raises(error, match=match):
        attention.attention_softmax(**kwargs)


def test_backward_argument_errors():
    with pytest.raises(ValueError, match="shape of `probs`"):
        attention.attention_softmax_backward(numpy.zeros((2, 3)), numpy.zeros((2, 4)))
    with pytest.raises(TypeError, match="floating-point"):
        attention.attention_softmax_backward(numpy.zeros(3, int), numpy.zeros(3, int))
    with pytest.raises(ValueError, match="dropout_rate"):
        attention.attention_softmax_backward(GOOD, GOOD, 1.0, 1.5, 3)


def test_empty_inputs(xp):
    probs, dropped = attention.attention_softmax(xp.zeros((2, 3, 0, 5)), dropout_rate=0.5, seed=1)
    assert probs.shape == dropped.shape == (2, 3, 0, 5)
    assert attention.attention_softmax(xp.zeros((1, 1, 2, 0)))[0].shape == (1, 1, 2, 0)


# ---- the kernel's source and launch shapes (CPU) ----------------------------------------------------------------
def test_kernel_source_is_compiled_with_the_others_and_has_every_entry():
    from nnkit import cuda
    path = cuda.kernel_dir() / "attention.cu"
    assert path in cuda.kernel_files()  # so selftest compiles it, and CI runs nvcc on it
    source = path.read_text()
    for entry in ("attention_softmax_forward", "attention_softmax_backward"):
        assert f"void __launch_bounds__(512) {entry}_##NAME##_##SUFFIX(" in source
    for variant in ("r1", "r2", "r4", "r8", "r16", "loop"):
        assert f"NNKIT_ATTENTION_ENTRY(T, SUFFIX, {variant}," in source
    assert "NNKIT_ATTENTION_ENTRIES(float, f32)" in source and "NNKIT_ATTENTION_ENTRIES(double, f64)" in source
    assert "#include" not in source
    for constant in ("0x9E3779B97F4A7C15", "0xBF58476D1CE4E5B9", "0x94D049BB133111EB"):
        assert constant in source


@pytest.mark.parametrize("rows, Tk, expected", [
    (10, 1, ("r1", (2,), (32, 8))), (10, 32, ("r1", (2,), (32, 8))), (10, 33, ("r2", (2,), (32, 8))),
    (10, 512, ("r16", (2,), (32, 8))), (10, 513, ("r16", (3,), (64, 4))), (3, 4096, ("r16", (3,), (256, 1))),
    (3, 8192, ("r16", (3,), (512, 1))), (3, 8193, ("loop", (3,), (512, 1))),
    (10**9, 64, ("r2", (65535 * 32,), (32, 8)))])
def test_row_launch_shape(rows, Tk, expected):
    from nnkit.cuda import attention as kernels
    assert kernels.row_launch_shape(rows, Tk) == expected


def test_broadcast_strides():
    from nnkit.cuda import attention as kernels
    assert kernels.broadcast_strides((2, 1, 4, 5)) == (20, 0, 5, 1)
    assert kernels.broadcast_strides((1, 1, 1, 7)) == (0, 0, 0, 1)
    assert kernels.broadcast_strides((2, 3, 4, 1)) == (12, 4, 1, 0)


def test_selftest_cpu_path_checks_the_reference():
    runner = selftest.Runner(device=False, seed=5)
    with backend.use("cpu"):
        for dtype in (numpy.float32, numpy.float64):
            runner.check_attention_softmax(numpy.dtype(dtype))
    assert runner.results and all(r.passed for r in runner.results), [r for r in runner.results if not r.passed]


def test_selftest_reference_by_hand():
    probs, dropped = selftest.reference_attention_softmax(numpy.array([[0.0, numpy.log(3.0), 5.0]]),
                                                          numpy.array([True, True, False]), 1.0,
                                                          numpy.array([[True, False, True]]), 0.5)
    numpy.testing.assert_allclose(probs, [[0.25, 0.75, 0.0]])
    numpy.testing.assert_allclose(dropped, [[0.5, 0.0, 0.0]])


# ---- GPU: the kernel against the reference ----------------------------------------------------------------------
DTYPES = [numpy.float32, numpy.float64]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("Tk", [1, 31, 32, 33, 100, 200, 512, 513, 1000, 4099, 8192, 8193, 10000])
@pytest.mark.parametrize("mask_shape", [None, "B1QK", "B11K", "11QK", "BHQK", "B1Q1"])
def test_kernel_agrees_with_the_reference_with_poisoned_outputs(cupy, dtype, Tk, mask_shape, rng):
    from nnkit.cuda import attention as kernels
    B, H, Tq = 2, 3, 5
    shape = (B, H, Tq, Tk)
    sizes = {"B": B, "H": H, "Q": Tq, "K": Tk, "1": 1}
    mask = None if mask_shape is None else rng.random(tuple(sizes[c] for c in mask_shape)) > 0.3
    scores = (rng.standard_normal(shape) * 3).astype(dtype)
    scores[0, 1, 2, Tk // 2] = numpy.nan  # a NaN row (unless masked there)
    d_dropped = rng.standard_normal(shape).astype(dtype)
    for causal, rate, seed in ((False, 0.0, None), (True, 0.3, 17), (False, 0.1, 2**63 + 5)):
        want_probs, want_dropped = attention.attention_softmax_reference(scores, mask, causal, 0.6, rate, seed)
        dropout = (attention.dropout_key(seed), attention.keep_threshold(rate), 1 / (1 - rate)) if seed else None
        probs, dropped = kernels.attention_softmax(
            cupy.asarray(scores), None if mask is None else cupy.asarray(mask), causal, 0.6, -1e9, dropout=dropout,
            probs=cupy.full(shape, numpy.nan, dtype), dropped=cupy.full(shape, numpy.nan, dtype) if seed else None)
        tolerance = selftest.TOLERANCE[numpy.dtype(dtype)]["reduction"]
        assert selftest.relative_error(probs, want_probs) <= tolerance
        if seed:
            assert selftest.relative_error(dropped, want_dropped) <= tolerance
            numpy.testing.assert_array_equal(host(dropped) == 0, want_dropped == 0)  # the same keep mask
        d_scores = kernels.attention_softmax_backward(cupy.asarray(d_dropped), cupy.asarray(want_probs), 0.6,
                                                      dropout=dropout, d_scores=cupy.full(shape, numpy.nan, dtype))
        want = attention.attention_softmax_backward_reference(d_dropped, want_probs, 0.6, rate, seed)
        assert selftest.relative_error(d_scores, want) <= tolerance


@pytest.mark.gpu
def test_dispatcher_uses_the_kernel_for_float32_and_float64_only(cupy, rng, monkeypatch):
    from nnkit.cuda import attention as kernels
    calls = []
    original = kernels.attention_softmax
    monkeypatch.setattr(kernels, "attention_softmax", lambda *a, **k: calls.append(1) or original(*a, **k))
    mask = cupy.asarray(rng.random((2, 4, 5)) > 0.3)
    for dtype, on_kernel in ((numpy.float32, True), (numpy.float64, True), (numpy.float16, False)):
        calls.clear()
        scores = cupy.asarray(rng.standard_normal(SHAPE).astype(dtype))
        probs, dropped = attention.attention_softmax(scores, mask, True, 0.5, 0.2, 8)
        assert bool(calls) == on_kernel and probs.dtype == dtype
        want = attention.attention_softmax_reference(scores, mask, True, 0.5, 0.2, 8)
        assert selftest.relative_error(dropped, host(want[1])) <= 1e-3
        d_scores = attention.attention_softmax_backward(cupy.asarray(rng.standard_normal(SHAPE)), probs, 0.5, 0.2, 8)
        assert d_scores.dtype == dtype and isinstance(d_scores, cupy.ndarray)


@pytest.mark.gpu
def test_kernel_results_are_deterministic(cupy, rng):
    scores = cupy.asarray(rng.standard_normal((4, 8, 64, 1000)).astype(numpy.float32))
    d = cupy.asarray(rng.standard_normal(scores.shape).astype(numpy.float32))
    runs = []
    for _ in range(2):
        probs, dropped = attention.attention_softmax(scores, None, True, 0.125, 0.1, 3)
        runs.append([host(a) for a in (probs, dropped, attention.attention_softmax_backward(d, probs, 0.125, 0.1, 3))])
    for a, b in zip(*runs):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.gpu
def test_wrappers_refuse_strided_views_and_wrong_arguments(cupy):
    from nnkit.cuda import attention as kernels
    scores = cupy.zeros(SHAPE, numpy.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.attention_softmax(cupy.zeros((2, 3, 4, 10), numpy.float32)[..., ::2], None, False, 1.0, -1e9)
    with pytest.raises(ValueError, match="4-D"):
        kernels.attention_softmax(scores[0], None, False, 1.0, -1e9)
    with pytest.raises(TypeError, match="dtype bool"):
        kernels.attention_softmax(scores, cupy.ones(SHAPE, numpy.uint8), False, 1.0, -1e9)
    with pytest.raises(ValueError, match="'mask' must be 4-D"):
        kernels.attention_softmax(scores, cupy.ones((2, 1, 4, 4), bool), False, 1.0, -1e9)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.attention_softmax(scores.astype(numpy.float16), None, False, 1.0, -1e9)
    with pytest.raises(TypeError, match="'d_dropped' must have dtype float32"):
        kernels.attention_softmax_backward(scores.astype(numpy.float64), scores, 1.0)
    with pytest.raises(ValueError, match="'probs' must have shape"):
        kernels.attention_softmax(scores, None, False, 1.0, -1e9, probs=cupy.empty((2, 3, 4, 4), numpy.float32))
