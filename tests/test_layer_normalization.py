"""LayerNormalization, GroupNormalization and UnitNormalization: forward against float64 loops, gradients (float64
central differences) on both backends, Keras goldens (outputs and one SGD step), weights, configs and errors; the
layer-norm kernel (kernels/layer_norm.cu) against the NumPy reference on odd shapes (GPU-marked)."""
import itertools
import os

import numpy
import pytest

import nnkit
from nnkit import backend, selftest
from nnkit.layers import Dense, Flatten
from nnkit.layers.layer_normalization import LayerNormalization
from nnkit.layers.normalization_more import GroupNormalization, UnitNormalization
from nnkit.primitives import layer_norm as ln_ops
from nnkit.utils import gradcheck

DATA = os.path.join(os.path.dirname(__file__), "data")


def host(array):
    return backend.to_host(array)


def built_float64(layer, shape, rng):
    """``layer`` built in float64 for inputs of ``shape``, with random (not the initial ones and zeros) weights."""
    previous = backend.floatx()
    backend.set_floatx("float64")
    try:
        layer.build_for((None,) + tuple(shape[1:]))
    finally:
        backend.set_floatx(previous)
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    return layer


# ---- float64 references, a sample (and a group) at a time -------------------------------------------------------
def normalize_by_loops(x, axes, epsilon, gamma=None, beta=None):
    """Each slice over ``axes`` (every index of the other axes fixed) normalized by its own mean and variance."""
    y = numpy.empty_like(x)
    others = [a for a in range(x.ndim) if a not in axes]
    for index in itertools.product(*(range(x.shape[a]) for a in others)):
        where = [slice(None)] * x.ndim
        for a, i in zip(others, index):
            where[a] = i
        piece = x[tuple(where)]
        y[tuple(where)] = (piece - piece.mean()) / numpy.sqrt(piece.var() + epsilon)
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y


def group_norm_by_loops(x, groups, epsilon, gamma, beta):
    """Channels last: per sample and group, the mean and variance over every position and the group's channels."""
    y = numpy.empty_like(x)
    size = x.shape[-1] // groups
    for n, g in itertools.product(range(x.shape[0]), range(groups)):
        piece = x[n, ..., g * size:(g + 1) * size]
        y[n, ..., g * size:(g + 1) * size] = (piece - piece.mean()) / numpy.sqrt(piece.var() + epsilon)
    return y * gamma + beta


# ---- LayerNormalization: forward ------------------------------------------------------------------------------
@pytest.mark.parametrize("axis, shape", [(-1, (4, 7)), (-1, (2, 3, 5)), ([1, 2], (2, 3, 5)), (1, (2, 3, 5)),
                                         ([1, 3], (2, 3, 4, 5)), ([-1, -2, -3], (2, 3, 4, 5)), (2, (3, 1, 4))])
def test_layer_norm_matches_float64_loops(xp, rng, axis, shape):
    x = rng.standard_normal(shape) * 3 + 2
    layer = built_float64(LayerNormalization(axis=axis, epsilon=1e-4), shape, rng)
    gamma, beta = layer.get_weights()
    axes = sorted(a % len(shape) for a in (axis if isinstance(axis, list) else [axis]))
    assert gamma.shape == tuple(shape[a] for a in axes)
    y = layer(xp.asarray(x))
    numpy.testing.assert_allclose(host(y), normalize_by_loops(x, axes, 1e-4, gamma, beta), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("center, scale, names", [(True, True, ["gamma", "beta"]), (False, True, ["gamma"]),
                                                  (True, False, ["beta"]), (False, False, [])])
def test_center_and_scale_choose_the_weights(xp, rng, center, scale, names):
    layer = LayerNormalization(center=center, scale=scale)
    x = rng.standard_normal((3, 6))
    y = layer(xp.asarray(x, dtype=numpy.float32))
    assert [spec.name for spec in layer._weight_specs] == names
    assert layer.count_params() == 6 * len(names)
    numpy.testing.assert_allclose(host(y), normalize_by_loops(x, [1], 1e-3), rtol=1e-5, atol=1e-5)  # ones, zeros


def test_float32_input_of_a_large_offset_keeps_its_variance(xp, rng):
    """The statistics take two passes (mean, then centred squares): an offset of 1e3 does not cancel the spread."""
    x = (rng.standard_normal((5, 300)) + 1e3).astype(numpy.float32)
    y = host(LayerNormalization()(xp.asarray(x)))
    expected = normalize_by_loops(x.astype(numpy.float64), [1], 1e-3)
    numpy.testing.assert_allclose(y, expected, atol=2e-3)


# ---- gradients -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape", [
    (lambda: LayerNormalization(), (3, 7)),
    (lambda: LayerNormalization(axis=[1, 2]), (2, 3, 4)),
    (lambda: LayerNormalization(axis=1, epsilon=0.1), (3, 4, 2)),
    (lambda: LayerNormalization(axis=[1, 3], center=False), (2, 3, 2, 4)),
    (lambda: LayerNormalization(scale=False), (4, 5)),
    (lambda: LayerNormalization(center=False, scale=False), (4, 5)),
    (lambda: GroupNormalization(groups=2), (2, 3, 4, 6)),
    (lambda: GroupNormalization(groups=3, axis=1), (2, 6, 5)),
    (lambda: GroupNormalization(groups=-1, center=False), (3, 4, 5)),
    (lambda: GroupNormalization(groups=1, scale=False), (3, 6)),
    (lambda: GroupNormalization(groups=4), (5, 8)),
    (lambda: UnitNormalization(), (3, 5)),
    (lambda: UnitNormalization(axis=[1, 2]), (2, 3, 4)),
    (lambda: UnitNormalization(axis=0), (3, 4)),
], ids=lambda v: str(v) if isinstance(v, tuple) else None)
def test_gradients_match_central_differences(backend_name, rng, make, shape):
    layer = built_float64(make(), shape, rng)
    result = gradcheck(layer, rng.standard_normal(shape) * 2 + 1)
    assert result.max_relative_error < 1e-6, result


def test_unit_normalization_gradient_below_the_norm_floor(backend_name):
    """A vector shorter than 1e-12 is divided by the constant 1e-12: its gradient is ``dy / 1e-12``."""
    layer = UnitNormalization()
    x = backend.xp().asarray([[3e-13, 4e-13], [3.0, 4.0]])
    y = host(layer(x))
    numpy.testing.assert_allclose(y, [[0.3, 0.4], [0.6, 0.8]], rtol=1e-12)
    dx = host(layer.backward(backend.xp().asarray([[1.0, 2.0], [1.0, 0.0]])))
    numpy.testing.assert_allclose(dx[0], [1e12, 2e12], rtol=1e-12)
    numpy.testing.assert_allclose(dx[1], [0.64 / 5, -0.48 / 5], rtol=1e-12)  # (dy - y (dy . y)) / |x|


def test_backward_without_input_gradient_still_fills_weight_gradients(xp, rng):
    layer = built_float64(LayerNormalization(), (4, 5), rng)
    x, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    layer.forward(xp.asarray(x))
    layer.needs_input_gradient = False
    assert layer.backward(xp.asarray(dy)) is None
    x_hat = normalize_by_loops(x, [1], 1e-3)
    numpy.testing.assert_allclose(host(layer.grads["gamma"]), (dy * x_hat).sum(axis=0), rtol=1e-12)
    numpy.testing.assert_allclose(host(layer.grads["beta"]), dy.sum(axis=0), rtol=1e-12)


def test_frozen_layer_has_no_gradients_but_passes_the_input_gradient(xp, rng):
    layer = built_float64(LayerNormalization(), (4, 5), rng)
    layer.trainable = False
    layer.forward(xp.asarray(rng.standard_normal((4, 5))))
    assert layer.grads == {} and layer.backward(xp.asarray(rng.standard_normal((4, 5)))).shape == (4, 5)


# ---- GroupNormalization and UnitNormalization: forward ------------------------------------------------------
@pytest.mark.parametrize("groups, shape", [(3, (2, 4, 5, 6)), (1, (3, 8)), (-1, (2, 5, 4)), (2, (2, 3, 4))])
def test_group_norm_matches_float64_loops(xp, rng, groups, shape):
    x = rng.standard_normal(shape) * 2 + 1
    layer = built_float64(GroupNormalization(groups=groups, epsilon=1e-5), shape, rng)
    gamma, beta = layer.get_weights()
    y = host(layer(xp.asarray(x)))
    expected = group_norm_by_loops(x, shape[-1] if groups == -1 else groups, 1e-5, gamma, beta)
    numpy.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_group_norm_on_a_channels_first_axis_equals_channels_last_transposed(xp, rng):
    x = rng.standard_normal((2, 6, 3, 4))
    first = built_float64(GroupNormalization(groups=3, axis=1), x.shape, rng)
    last = built_float64(GroupNormalization(groups=3), (2, 3, 4, 6), rng)
    last.set_weights(first.get_weights())
    y_first = host(first(xp.asarray(x)))
    y_last = host(last(xp.asarray(x.transpose(0, 2, 3, 1).copy())))
    numpy.testing.assert_allclose(y_first, y_last.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)


def test_unit_normalization_by_hand(xp):
    layer = UnitNormalization(axis=[1, 2])
    x = xp.asarray(numpy.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]]))
    numpy.testing.assert_allclose(host(layer(x)), [[[0.2, 0.4], [0.4, 0.8]], numpy.zeros((2, 2))], rtol=1e-12)


# ---- Keras goldens -----------------------------------------------------------------------------------------------
#: The cases of tests/data/make_keras_normalization.py, built here from the same arguments.
GOLDEN_CASES = {
    "ln_last": lambda: LayerNormalization(),
    "ln_axes": lambda: LayerNormalization(axis=[1, 2]),
    "ln_apart": lambda: LayerNormalization(axis=[1, 3], epsilon=1e-5),
    "ln_plain": lambda: LayerNormalization(center=False, scale=False),
    "ln_scale_only": lambda: LayerNormalization(axis=[2, 1], center=False),
    "gn": lambda: GroupNormalization(groups=3),
    "gn_axis1": lambda: GroupNormalization(groups=2, axis=1),
    "gn_instance": lambda: GroupNormalization(groups=-1, center=False),
    "un": lambda: UnitNormalization(),
    "un_axes": lambda: UnitNormalization(axis=[1, 2]),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_keras_outputs_for_perturbed_weights(backend_name, case):
    io = numpy.load(os.path.join(DATA, "keras_normalization.npz"))
    layer = GOLDEN_CASES[case]()
    x = io[f"{case}_x"]
    layer(x)
    weights = [io[f"{case}_w{i}"] for i in range(len(layer.weights))]
    assert f"{case}_w{len(weights)}" not in io
    layer.set_weights(weights)
    numpy.testing.assert_allclose(host(layer(x)), io[f"{case}_y"], rtol=1e-5, atol=2e-6)


def golden_model(name):
    if name == "ln":
        return nnkit.Sequential([nnkit.Input(shape=(5,)), Dense(6), LayerNormalization(), Dense(3)])
    return nnkit.Sequential([nnkit.Input(shape=(4, 6)), Dense(6), LayerNormalization(axis=[1, 2]),
                             GroupNormalization(groups=3), UnitNormalization(), Flatten(), Dense(2)])


@pytest.mark.parametrize("name", ["ln", "norms"])
def test_one_sgd_step_matches_keras(backend_name, name):
    io = numpy.load(os.path.join(DATA, "keras_normalization_sgd.npz"))
    model = golden_model(name)
    count = len(model.get_weights())
    model.set_weights([io[f"{name}_start_{i}"] for i in range(count)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    loss = model.train_on_batch(io[f"{name}_x"], io[f"{name}_t"])
    assert float(loss) == pytest.approx(float(io[f"{name}_loss"]), rel=1e-5)
    for i, weight in enumerate(model.get_weights()):
        numpy.testing.assert_allclose(weight, io[f"{name}_after_{i}"], rtol=1e-4, atol=1e-6, err_msg=f"weight {i}")


# ---- configs, saving, errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    LayerNormalization(axis=[1, 2], epsilon=1e-5, center=False, gamma_initializer="glorot_uniform",
                       beta_regularizer="l2"),
    GroupNormalization(groups=-1, axis=1, scale=False, gamma_regularizer="l1"),
    UnitNormalization(axis=[1, -1]),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trips(layer):
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == {**config, "name": again.name}


def test_a_model_with_the_normalizations_saves_and_loads(tmp_path, rng):
    model = golden_model("norms")
    model.compile(optimizer="adam", loss="mse")
    x, t = rng.standard_normal((8, 4, 6)), rng.standard_normal((8, 2))
    model.fit(x, t, epochs=1, verbose=0)
    model.save(tmp_path / "m.nnkit")
    loaded = nnkit.models.load_model(tmp_path / "m.nnkit")
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("make, error, message", [
    (lambda: LayerNormalization(axis="last"), TypeError, r"LayerNormalization: expected an int or a non-empty"),
    (lambda: LayerNormalization(axis=[]), TypeError, r"Received: axis=\[\]"),
    (lambda: LayerNormalization(axis=[1, True]), TypeError, r"axis=\[1, True\]"),
    (lambda: LayerNormalization(epsilon=0), ValueError, r"finite number > 0 for `epsilon`. Received: epsilon=0"),
    (lambda: GroupNormalization(groups=0), ValueError, r"positive integer for `groups` \(or -1"),
    (lambda: GroupNormalization(groups=2.0), ValueError, r"Received: groups=2.0"),
    (lambda: GroupNormalization(axis=[1]), ValueError, r"GroupNormalization: expected an integer for `axis`"),
    (lambda: GroupNormalization(epsilon=-1.0), ValueError, r"epsilon=-1.0"),
    (lambda: UnitNormalization(axis=None), TypeError, r"UnitNormalization: expected an int or"),
    (lambda: LayerNormalization(gamma_constraint="non_neg"), ValueError,
     r"LayerNormalization: nnkit has no weight constraints; expected gamma_constraint=None"),
    (lambda: GroupNormalization(beta_constraint="non_neg"), ValueError, r"GroupNormalization: .*beta_constraint=None"),
])
def test_bad_arguments_name_the_layer(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("layer, shape, message", [
    (LayerNormalization(axis=3, name="ln"), (None, 4, 5), r"'ln' \(LayerNormalization\): axis=3 is out of range"),
    (LayerNormalization(axis=0, name="ln"), (None, 4), r"axis=0 includes the batch axis"),
    (LayerNormalization(axis=[1, -2], name="ln"), (None, 4, 5), r"names an axis twice"),
    (LayerNormalization(name="ln"), (None, 4, None), r"needs the normalized axes -1 of its input to be known"),
    (GroupNormalization(groups=4, name="gn"), (None, 6), r"the 6 channels on axis -1 cannot be split into 4"),
    (GroupNormalization(groups=8, name="gn"), (None, 6), r"cannot be split into 8 groups"),
    (GroupNormalization(groups=2, name="gn"), (None, None), r"needs axis -1 of its input to be known"),
    (GroupNormalization(groups=2, name="gn"), (None,), r"expects an input of rank >= 2"),
    (UnitNormalization(axis=2, name="un"), (None, 4), r"'un' \(UnitNormalization\): axis=2 is out of range"),
])
def test_bad_input_shapes_are_refused_at_build(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer.build_for(shape)


@pytest.mark.parametrize("layer, built, given, message", [
    (LayerNormalization(name="ln"), (None, 4), (2, 5), r"normalizes axes -1 of size \(4,\), but received input of "
                                                       r"shape \(2, 5\)"),
    (LayerNormalization(axis=1, name="ln"), (None, 4), (2, 4, 1), r"received input of shape \(2, 4, 1\)"),
    (GroupNormalization(groups=2, name="gn"), (None, 4), (3, 6), r"expects 4 channels on axis -1"),
    (UnitNormalization(name="un"), (None, 4), (3, 2, 4), r"built for rank-2 inputs"),
])
def test_inputs_of_other_shapes_are_refused_at_forward(xp, layer, built, given, message):
    layer.build_for(built)
    with pytest.raises(ValueError, match=message):
        layer.forward(xp.ones(given, dtype=numpy.float32))


# ---- nnkit.primitives.layer_norm: the reference, and which path runs -----------------------------------------------------
@pytest.mark.parametrize("shape, axes, fits", [((4, 5), (1,), True), ((2, 3, 4), (1, 2), True),
                                               ((2, 3, 4), (1,), False), ((2, 3, 4, 5), (1, 3), False),
                                               ((0, 5), (1,), False)])
def test_kernel_takes_trailing_axes_only(shape, axes, fits):
    assert ln_ops.kernel_fits(numpy.zeros(shape), axes) is fits
    assert ln_ops.kernel_fits(numpy.zeros(shape, numpy.float16), axes) is False


def test_reference_backward_skips_what_is_not_asked(rng):
    x, dy = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    y, mean, inv_std = ln_ops.layer_norm_reference(x, None, None, (1,), 1e-3)
    dbeta = numpy.zeros(4)
    assert ln_ops.layer_norm_backward_reference(dy, x, mean, inv_std, None, (1,), None, dbeta,
                                                input_gradient=False) is None
    numpy.testing.assert_allclose(dbeta, dy.sum(axis=0), rtol=1e-12)


def test_selftest_reference_backward_matches_central_differences(rng):
    """selftest's staged-chain-rule backward, which the kernel is checked against, is itself right."""
    x, gamma, dy = rng.standard_normal((3, 6)) * 2 + 1, rng.standard_normal(6), rng.standard_normal((3, 6))
    dx, dgamma, dbeta = selftest.reference_layer_norm_backward(dy, x, gamma, 1e-3)
    step = 1e-6
    numeric = numpy.zeros_like(x)
    for index in numpy.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = ((selftest.reference_layer_norm(plus, gamma, None, 1e-3)[0]
                           - selftest.reference_layer_norm(minus, gamma, None, 1e-3)[0]) * dy).sum() / (2 * step)
    numpy.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)
    x_hat = selftest.reference_layer_norm(x, None, None, 1e-3)[0]
    numpy.testing.assert_allclose(dgamma, (dy * x_hat).sum(axis=0), rtol=1e-12)
    numpy.testing.assert_allclose(dbeta, dy.sum(axis=0), rtol=1e-12)


def test_selftest_cpu_path_checks_the_reference():
    runner = selftest.Runner(device=False, seed=7)
    with backend.use("cpu"):
        for dtype in (numpy.float32, numpy.float64):
            runner.check_layer_norm(numpy.dtype(dtype))
    assert runner.results and all(r.passed for r in runner.results), [r for r in runner.results if not r.passed]


def test_kernel_source_is_compiled_with_the_others_and_has_an_entry_per_dtype():
    from nnkit import cuda
    path = cuda.kernel_dir() / "layer_norm.cu"
    assert path in cuda.kernel_files()  # so selftest compiles it, and CI runs nvcc on it
    source = path.read_text()
    for entry in ("layer_norm_forward", "layer_norm_backward", "layer_norm_param_grads"):
        assert f'extern "C" __global__ void {entry}_##SUFFIX(' in source
    assert "NNKIT_LAYER_NORM_ENTRIES(float, f32)" in source and "NNKIT_LAYER_NORM_ENTRIES(double, f64)" in source
    assert "#include" not in source


def test_row_launch_shape_covers_long_rows_with_more_threads():
    from nnkit.cuda import layer_norm as kernels
    assert kernels.row_launch_shape(10, 64) == ((2,), (32, 8))
    assert kernels.row_launch_shape(10, 1024) == ((2,), (32, 8))
    assert kernels.row_launch_shape(10, 1025) == ((3,), (64, 4))
    assert kernels.row_launch_shape(3, 4096) == ((2,), (128, 2))
    assert kernels.row_launch_shape(3, 10 ** 6) == ((3,), (1024, 1))


# ---- GPU: the kernel against the reference ---------------------------------------------------------------------
DTYPES = [numpy.float32, numpy.float64]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axes", [((1, 1), (1,)), ((7, 33), (1,)), ((3, 5, 31), (2,)), ((2, 3, 4, 7), (2, 3)),
                                         ((1, 1025), (1,)), ((3, 4099), (1,)), ((40000, 3), (1,)),
                                         ((2, 70001), (1,))])
def test_kernel_agrees_with_the_reference_on_odd_shapes(cupy, dtype, shape, axes, rng):
    kind = "reduction"
    x = cupy.asarray((rng.standard_normal(shape) * 2 + 3).astype(dtype))
    param_shape = tuple(shape[a] for a in axes)
    gamma, beta = (cupy.asarray(rng.standard_normal(param_shape).astype(dtype)) for _ in range(2))
    dy = cupy.asarray(rng.standard_normal(shape).astype(dtype))
    got = ln_ops.layer_norm_gpu(x, gamma, beta, axes, 1e-3)
    want = ln_ops.layer_norm_reference(x, gamma, beta, axes, 1e-3)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        assert selftest.relative_error(a, b) <= selftest.TOLERANCE[numpy.dtype(dtype)][kind]
    grads = [cupy.full(param_shape, numpy.nan, dtype) for _ in range(4)]
    dx = ln_ops.layer_norm_backward_gpu(dy, x, got[1], got[2], gamma, axes, grads[0], grads[1])
    dx_ref = ln_ops.layer_norm_backward_reference(dy, x, want[1], want[2], gamma, axes, grads[2], grads[3])
    for a, b in ((dx, dx_ref), (grads[0], grads[2]), (grads[1], grads[3])):
        assert selftest.relative_error(a, b) <= selftest.TOLERANCE[numpy.dtype(dtype)][kind]


@pytest.mark.gpu
def test_kernel_results_are_deterministic(cupy, rng):
    x, dy = (cupy.asarray(rng.standard_normal((5000, 77)).astype(numpy.float32)) for _ in range(2))
    runs = []
    for _ in range(2):
        y, mean, rstd = ln_ops.layer_norm_gpu(x, None, None, (1,), 1e-3)
        dgamma, dbeta = cupy.empty(77, numpy.float32), cupy.empty(77, numpy.float32)
        dx = ln_ops.layer_norm_backward_gpu(dy, x, mean, rstd, None, (1,), dgamma, dbeta)
        runs.append([host(a) for a in (y, dx, dgamma, dbeta)])
    for a, b in zip(*runs):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.gpu
def test_gradient_views_of_another_dtype_or_layout_are_filled(cupy, rng):
    x, dy = (cupy.asarray(rng.standard_normal((9, 6))) for _ in range(2))
    y, mean, rstd = ln_ops.layer_norm_gpu(x, None, None, (1,), 1e-3)
    strided = cupy.zeros(12)[::2]
    single = cupy.zeros(6, numpy.float32)
    ln_ops.layer_norm_backward_gpu(dy, x, mean, rstd, None, (1,), strided, single)
    numpy.testing.assert_allclose(host(single), host(dy.sum(axis=0)), rtol=1e-6)
    x_hat = host((x - mean) * rstd)
    numpy.testing.assert_allclose(host(strided), (host(dy) * x_hat).sum(axis=0), rtol=1e-12)


@pytest.mark.gpu
def test_wrappers_refuse_strided_views_and_wrong_dtypes(cupy):
    from nnkit.cuda import layer_norm as kernels
    x = cupy.ones((4, 6), numpy.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.layer_norm(x[:, ::2], None, None, 1e-3)
    with pytest.raises(TypeError, match="'gamma' must have dtype float32"):
        kernels.layer_norm(x, cupy.ones(6), None, 1e-3)
    with pytest.raises(ValueError, match=r"'beta' must have shape \(6,\)"):
        kernels.layer_norm(x, None, cupy.ones(5, numpy.float32), 1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("make, shape", [(lambda: LayerNormalization(), (6, 37)),
                                         (lambda: LayerNormalization(axis=[1, 2]), (3, 4, 5)),
                                         (lambda: GroupNormalization(groups=3), (4, 9))])
def test_layers_on_the_gpu_agree_with_numpy(make, shape, rng):
    x, dy = rng.standard_normal(shape).astype(numpy.float32), rng.standard_normal(shape).astype(numpy.float32)
    weights = None
    results = []
    for name in ("cpu", "gpu"):
        with backend.use(name):
            layer = make()
            layer(x)
            weights = weights or [rng.standard_normal(w.shape).astype(numpy.float32) for w in layer.get_weights()]
            layer.set_weights(weights)
            y = layer(x)
            dx = layer.backward(backend.to_device(dy))
            results.append([host(a) for a in (y, dx, *layer.grads.values())])
    for cpu, gpu in zip(*results):
        numpy.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)
