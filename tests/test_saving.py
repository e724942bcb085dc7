"""Saving and loading: safetensors weights, whole-model files, exact resumption, atomic writes, bad files."""
import json
import os
import subprocess
import sys
import textwrap

import numpy
import pytest
import safetensors
import safetensors.numpy

import nnkit
from nnkit import backend, layers
from nnkit.models import WeightsFileError, load_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digits(count=256):
    (x, y), _ = nnkit.datasets.digits.load_data()
    return x.reshape(len(x), -1)[:count] / 16.0, y[:count]


def mlp(hidden=32, name=None):
    return nnkit.Sequential([nnkit.Input(shape=(64,)), layers.Dense(hidden, activation="relu"),
                             layers.Dropout(0.1), layers.Dense(10, activation="softmax")], name=name)


def trained(epochs=2, optimizer="adam"):
    x, y = digits()
    model = mlp()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def assert_same_weights(expected, actual):
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual):
        numpy.testing.assert_array_equal(e, a)


# ---- weights files ---------------------------------------------------------------------------------------
def test_weights_round_trip_into_a_fresh_model(tmp_path, backend_name):
    model = trained()
    model.save_weights(tmp_path / "w.weights.safetensors")
    fresh = mlp()
    fresh.load_weights(tmp_path / "w.weights.safetensors")
    assert_same_weights(model.get_weights(), fresh.get_weights())
    x, _ = digits(40)
    numpy.testing.assert_array_equal(model.predict(x, verbose=0), fresh.predict(x, verbose=0))


def test_weights_file_is_plain_safetensors_with_readable_stable_names(tmp_path):
    for _ in range(3):  # advance the automatic layer names: dense_6, dense_7... in the model below
        layers.Dense(2)
    model = trained(epochs=1)
    assert model.layers[0].name != "dense"
    model.save_weights(tmp_path / "w.weights.safetensors")
    tensors = safetensors.numpy.load_file(str(tmp_path / "w.weights.safetensors"))
    kernel, bias, kernel_1, bias_1 = model.get_weights()
    assert sorted(tensors) == ["dense/bias", "dense/kernel", "dense_1/bias", "dense_1/kernel"]
    numpy.testing.assert_array_equal(tensors["dense/kernel"], kernel)
    numpy.testing.assert_array_equal(tensors["dense_1/bias"], bias_1)
    with safetensors.safe_open(str(tmp_path / "w.weights.safetensors"), framework="np") as handle:
        assert handle.metadata()["format"] == "nnkit.weights"


def test_load_weights_reads_the_weights_of_a_model_file(tmp_path):
    model = trained(epochs=1)
    model.save(tmp_path / "m.nnkit")
    fresh = mlp()
    fresh.load_weights(tmp_path / "m.nnkit")
    assert_same_weights(model.get_weights(), fresh.get_weights())


def test_a_model_without_an_input_shape_cannot_save_or_load(tmp_path):
    model = nnkit.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="not built"):
        model.save_weights(tmp_path / "w.weights.safetensors")


# ---- whole models --------------------------------------------------------------------------------------
def test_model_file_restores_architecture_weights_compile_and_optimizer_state(tmp_path):
    model = trained(optimizer=nnkit.optimizers.Adam(learning_rate=0.003, beta_2=0.99))
    model.save(tmp_path / "m.nnkit")
    restored = load_model(tmp_path / "m.nnkit")

    assert [type(layer).__name__ for layer in restored.layers] == ["Dense", "Dropout", "Dense"]
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    assert restored.layers[0].activation.name == "relu" and restored.layers[1].rate == 0.1
    assert restored.input_shape == (None, 64)
    assert_same_weights(model.get_weights(), restored.get_weights())

    assert type(restored.optimizer) is nnkit.optimizers.Adam
    assert (restored.optimizer.learning_rate, restored.optimizer.beta_2) == (0.003, 0.99)
    assert restored.optimizer.iterations == model.optimizer.iterations == 16  # 2 epochs x 8 batches
    for slot in ("m", "v"):
        numpy.testing.assert_array_equal(backend.to_host(restored.optimizer.slots[slot]),
                                         backend.to_host(model.optimizer.slots[slot]))
    x, y = digits(64)
    assert restored.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert type(restored.compiled.losses[0]) is nnkit.losses.SparseCategoricalCrossentropy


def test_model_file_layout_is_documented_safetensors(tmp_path):
    trained(epochs=1, optimizer="adam").save(tmp_path / "m.nnkit")
    tensors = safetensors.numpy.load_file(str(tmp_path / "m.nnkit"))
    assert tensors["optimizer/m/dense/kernel"].shape == (64, 32)
    assert tensors["optimizer/v/dense_1/bias"].shape == (10,)
    with safetensors.safe_open(str(tmp_path / "m.nnkit"), framework="np") as handle:
        metadata = handle.metadata()
    config = json.loads(metadata["config"])
    assert metadata["format"] == "nnkit.model"
    first = config["model"]["config"]["layers"][0]
    assert first["class_name"] == "Dense"
    assert (first["config"]["units"], first["config"]["activation"]) == (32, "relu")
    assert config["model"]["config"]["build_input_shape"] == [None, 64]
    assert config["compile"]["optimizer"]["class_name"] == "Adam"
    assert config["compile"]["optimizer"]["iterations"] == 8


def test_model_saved_in_float64_loads_in_float64(tmp_path):
    backend.set_floatx("float64")
    model = trained(epochs=1)
    model.save(tmp_path / "m.nnkit")
    backend.set_floatx("float32")
    restored = load_model(tmp_path / "m.nnkit")
    assert restored.get_weights()[0].dtype == numpy.float64
    assert backend.floatx() == numpy.float32
    assert_same_weights(model.get_weights(), restored.get_weights())


def test_uncompiled_models_save_without_an_optimizer(tmp_path):
    model = mlp()
    model.save(tmp_path / "m.nnkit")
    restored = load_model(tmp_path / "m.nnkit")
    assert restored.loss is None and restored.optimizer is None
    assert_same_weights(model.get_weights(), restored.get_weights())


def test_a_callable_learning_rate_cannot_be_saved(tmp_path):
    model = mlp()
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=lambda step: 0.1), loss="mse")
    with pytest.raises(TypeError, match="learning rate is a callable"):
        model.save(tmp_path / "m.nnkit")
    assert not os.path.exists(tmp_path / "m.nnkit")


def test_a_learning_rate_schedule_is_saved_with_its_step_count(tmp_path):
    schedules = pytest.importorskip("nnkit.optimizers.schedules")
    x, y = digits(64)
    model = mlp()
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.01, 10, 0.5)),
                  loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    model.save(tmp_path / "m.nnkit")
    restored = load_model(tmp_path / "m.nnkit")
    assert restored.optimizer.iterations == 6
    assert restored.optimizer.current_learning_rate() == pytest.approx(0.01 * 0.5 ** (6 / 10))


def test_unknown_layer_classes_are_named_and_custom_objects_resolve_them(tmp_path):
    class Scale(layers.Layer):
        def forward(self, x, training=False):
            return 2 * x

        def backward(self, dy):
            return 2 * dy

    model = nnkit.Sequential([nnkit.Input(shape=(3,)), layers.Dense(2), Scale()])
    model.save(tmp_path / "m.nnkit")
    with pytest.raises(WeightsFileError, match="Unknown layer class 'Scale'"):
        load_model(tmp_path / "m.nnkit")
    restored = load_model(tmp_path / "m.nnkit", custom_objects={"Scale": Scale})
    x = numpy.ones((2, 3), dtype="float32")
    numpy.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- resuming ------------------------------------------------------------------------------------------
RESUME_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import nnkit
    from nnkit import layers

    stage, path = sys.argv[1], sys.argv[2]
    (x, y), _ = nnkit.datasets.digits.load_data()
    x, y = x.reshape(len(x), -1)[:256] / 16.0, y[:256]
    if stage == "first-half":
        nnkit.utils.set_random_seed(7)
        model = nnkit.Sequential([nnkit.Input(shape=(64,)), layers.Dense(32, activation="relu"),
                                  layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
        model.save(path)
        os.kill(os.getpid(), signal.SIGKILL)  # the process dies right after the checkpoint
    else:
        model = nnkit.models.load_model(path)
        model.fit(x, y, epochs=4, initial_epoch=2, batch_size=32, shuffle=False, verbose=0)
        model.save_weights(path + ".final.weights.safetensors")
""")


def run_python(script, *args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO, NNKIT_BACKEND="cpu")
    return subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_save_kill_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    path = str(tmp_path / "ckpt.nnkit")
    first = run_python(RESUME_SCRIPT, "first-half", path, cwd=tmp_path)
    assert first.returncode == -9, first.stderr  # killed, as intended
    second = run_python(RESUME_SCRIPT, "second-half", path, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    resumed = safetensors.numpy.load_file(path + ".final.weights.safetensors")

    with backend.use("cpu"):
        nnkit.utils.set_random_seed(7)
        x, y = digits()
        model = nnkit.Sequential([nnkit.Input(shape=(64,)), layers.Dense(32, activation="relu"),
                                  layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=4, batch_size=32, shuffle=False, verbose=0)
    kernel, bias, kernel_1, bias_1 = model.get_weights()
    numpy.testing.assert_array_equal(resumed["dense/kernel"], kernel)
    numpy.testing.assert_array_equal(resumed["dense/bias"], bias)
    numpy.testing.assert_array_equal(resumed["dense_1/kernel"], kernel_1)
    numpy.testing.assert_array_equal(resumed["dense_1/bias"], bias_1)

    # The optimizer state matters: weights alone, with a fresh Adam, end elsewhere.
    with backend.use("cpu"):
        restarted = load_model(path, compile=False)
        restarted.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        restarted.fit(x, y, epochs=4, initial_epoch=2, batch_size=32, shuffle=False, verbose=0)
    assert not numpy.array_equal(restarted.get_weights()[0], kernel)


# ---- atomic writes -------------------------------------------------------------------------------------
CRASH_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import nnkit
    from nnkit import layers

    path = sys.argv[1]
    model = nnkit.Sequential([nnkit.Input(shape=(4,)), layers.Dense(3, kernel_initializer="ones")])
    model.save_weights(path)
    model.layers[0].set_weights([model.layers[0].kernel * 0 + 5, model.layers[0].bias + 1])

    def crash(descriptor):
        os.kill(os.getpid(), signal.SIGKILL)  # power cut after the new bytes were written, before the rename
    os.fsync = crash
    model.save_weights(path)
""")


def test_a_crash_in_the_middle_of_a_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "w.weights.safetensors"
    result = run_python(CRASH_SCRIPT, str(path), cwd=tmp_path)
    assert result.returncode == -9, result.stderr
    tensors = safetensors.numpy.load_file(str(path))
    numpy.testing.assert_array_equal(tensors["dense/kernel"], numpy.ones((4, 3), dtype="float32"))
    numpy.testing.assert_array_equal(tensors["dense/bias"], numpy.zeros(3, dtype="float32"))


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary_behind(tmp_path, monkeypatch):
    model = trained(epochs=1)
    path = tmp_path / "m.nnkit"
    model.save(path)
    before = path.read_bytes()

    def failing_replace(source, target):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", failing_replace)
    model.fit(*digits(32), epochs=1, verbose=0)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.nnkit"]


# ---- bad files -----------------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    model = trained(epochs=1)
    path = tmp_path / "w.weights.safetensors"
    model.save_weights(path)
    return model, path


def test_a_truncated_file_is_reported_as_truncated(saved, tmp_path):
    model, path = saved
    data = path.read_bytes()
    for keep, message in ((len(data) - 100, "truncated: its header declares"), (20, "truncated"),
                          (5, "too short")):
        cut = tmp_path / f"cut{keep}.safetensors"
        cut.write_bytes(data[:keep])
        with pytest.raises(WeightsFileError, match=message):
            mlp().load_weights(cut)


def test_a_foreign_file_is_reported_as_not_a_weights_file(tmp_path):
    for name, content in (("notes.txt", b"these are not weights, just a text file\n"),
                          ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(64))):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(WeightsFileError, match="is not a safetensors file"):
            mlp().load_weights(tmp_path / name)
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(WeightsFileError, match="zip archive"):
        mlp().load_weights(tmp_path / "model.keras")
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        mlp().load_weights(tmp_path / "missing.safetensors")


def test_weights_of_another_architecture_name_every_difference_and_change_nothing(saved):
    _, path = saved
    other = nnkit.Sequential([nnkit.Input(shape=(64,)), layers.Dense(16, activation="relu"),
                              layers.Dense(10), layers.Dense(10)])
    before = other.get_weights()
    with pytest.raises(WeightsFileError) as error:
        other.load_weights(path)
    message = str(error.value)
    assert "dense/kernel is (64, 32) in the file, (64, 16) in the model" in message
    assert "dense_1/kernel is (32, 10) in the file, (16, 10) in the model" in message
    assert "missing from the file: dense_2/kernel (10, 10), dense_2/bias (10,)" in message
    assert_same_weights(before, other.get_weights())


def test_a_conv_file_into_a_dense_model_names_the_unexpected_tensors(tmp_path):
    safetensors.numpy.save_file({"conv2d/kernel": numpy.zeros((3, 3, 1, 4), "float32")}, str(tmp_path / "c.st"))
    with pytest.raises(WeightsFileError, match=r"in the file but not in the model: conv2d/kernel \(3, 3, 1, 4\)"):
        mlp().load_weights(tmp_path / "c.st")


def test_load_model_refuses_weights_only_and_foreign_safetensors(saved, tmp_path):
    _, path = saved
    with pytest.raises(WeightsFileError, match="holds only weights"):
        load_model(path)
    safetensors.numpy.save_file({"w": numpy.zeros(2, "float32")}, str(tmp_path / "torch.safetensors"))
    with pytest.raises(WeightsFileError, match="not an nnkit model file"):
        load_model(tmp_path / "torch.safetensors")


# ---- across backends -----------------------------------------------------------------------------------
@pytest.mark.gpu
def test_a_model_saved_on_the_gpu_loads_on_the_cpu_and_back(tmp_path):
    x, _ = digits(40)
    with backend.use("gpu"):
        model = trained(epochs=1)
        expected = model.predict(x, verbose=0)
        model.save(tmp_path / "gpu.nnkit")
    with backend.use("cpu"):
        on_cpu = load_model(tmp_path / "gpu.nnkit")
        assert isinstance(on_cpu.optimizer.slots["m"], numpy.ndarray)
        numpy.testing.assert_allclose(on_cpu.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-6)
        on_cpu.save(tmp_path / "cpu.nnkit")
    with backend.use("gpu"):
        back = load_model(tmp_path / "cpu.nnkit")
        assert backend.is_device_array(back.optimizer.slots["m"])
        numpy.testing.assert_allclose(back.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-6)
