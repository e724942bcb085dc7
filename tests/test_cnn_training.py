"""Convolutional networks learn real digits; the CNN example runs; learning curves are plotted."""
import os
import pathlib
import re
import subprocess
import sys

import numpy
import pytest

import nnkit
from nnkit.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D

REPO = pathlib.Path(__file__).resolve().parent.parent


def digits():
    (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
    return (x_train[..., None] / 16.0, y_train), (x_test[..., None] / 16.0, y_test)


@pytest.mark.slow
def test_keras_mnist_cnn_reaches_95_percent_on_the_digits():
    """Keras' MNIST CNN recipe (dropout after the pooling and the dense layer), 'same' padding for 8x8 images."""
    (x_train, y_train), (x_test, y_test) = digits()
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([
        nnkit.Input(shape=(8, 8, 1)),
        Conv2D(32, (3, 3), padding="same", activation="relu"),
        MaxPooling2D((2, 2)),
        Dropout(0.25),
        Flatten(),
        Dense(128, activation="relu"),
        Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=40, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.95, (loss, accuracy)


def test_classic_cnn_learns_the_digits():
    """The README's CNN exactly (no dropout, 'valid' padding) on the 8x8 digits."""
    (x_train, y_train), (x_test, y_test) = digits()
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([nnkit.Input(shape=(8, 8, 1)), Conv2D(32, (3, 3), activation="relu"),
                              MaxPooling2D((2, 2)), Flatten(), Dense(128, activation="relu"),
                              Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert [layer.output_shape for layer in model.layers] == [(None, 6, 6, 32), (None, 3, 3, 32), (None, 288),
                                                               (None, 128), (None, 10)]
    history = model.fit(x_train, y_train, batch_size=64, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.2 < history.history["loss"][0]
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.9
    probabilities = model.predict(x_test[:5])
    numpy.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_mnist_cnn_example_runs_offline_and_saves_curves(tmp_path):
    plot = tmp_path / "curves.png"
    result = subprocess.run([sys.executable, str(REPO / "examples" / "mnist_cnn.py"), "--epochs", "2",
                             "--plot", str(plot)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO), "NNKIT_BACKEND": "cpu"})
    assert result.returncode == 0, result.stderr
    assert "Total params: 38,602" in result.stdout  # 320 + 36,992 + 1,290
    assert re.search(r"^Test accuracy: 0\.\d{4}$", result.stdout, re.MULTILINE)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "No plot: plot_history needs matplotlib" in result.stdout
    else:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_history_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    history = {"loss": [1.0, 0.5, 0.3], "accuracy": [0.5, 0.8, 0.9], "val_loss": [1.1, 0.7, 0.6],
               "val_accuracy": [0.4, 0.7, 0.8]}
    path = nnkit.utils.plot_history(history, tmp_path / "h.png", title="test")
    assert pathlib.Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no epochs to plot"):
        nnkit.utils.plot_history({"loss": []}, tmp_path / "empty.png")


def test_plot_history_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import matplotlib...` raise ImportError
    with pytest.raises(ImportError, match=r"pip install nnkit-keras\[plot\]"):
        nnkit.utils.plot_history({"loss": [1.0]}, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()
