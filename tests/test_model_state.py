"""Review findings on Sequential: writes that must be all-or-nothing, batch logs a callback can read, and
argument checks; each against hand-computed values."""
import numpy
import pytest

import nnkit
from nnkit import layers
from nnkit.callbacks import LambdaCallback
from nnkit.optimizers import SGD


def _two_layer_model():
    nnkit.utils.set_random_seed(3)
    model = nnkit.models.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile(optimizer=SGD(learning_rate=0.0), loss="mse")
    return model


@pytest.mark.parametrize("bad_value", [numpy.array(["a", "b"]), numpy.array([1 + 2j, 3]), numpy.array([None, 1.0])])
def test_set_weights_with_a_bad_dtype_late_in_the_list_changes_nothing(bad_value):
    model = _two_layer_model()
    before = model.get_weights()
    new = [w + 1 for w in before]
    new[-1] = bad_value  # the last layer's bias: the first layer would be written before it fails
    with pytest.raises(TypeError, match=r"Layer 'dense.*bias.*real numbers"):
        model.set_weights(new)
    for old, now in zip(before, model.get_weights()):
        numpy.testing.assert_array_equal(old, now)


def test_batch_logs_read_like_a_dict_in_a_callback():
    # One linear unit, weights set by hand, learning rate 0: each batch's running loss is known in float64.
    model = nnkit.models.Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer=SGD(learning_rate=0.0), loss="mse")
    model.set_weights([numpy.array([[1.0], [-2.0]]), numpy.array([0.5])])
    x = numpy.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 1.0]])
    y = numpy.array([[1.0], [0.0], [0.0], [1.0]])
    errors = (x @ numpy.array([[1.0], [-2.0]]) + 0.5 - y)[:, 0] ** 2   # 0.25, 2.25, 0.25, 2.25
    seen = []
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(("loss" in logs, list(logs.values()), repr(logs),
                                                            logs.copy())))])
    expected = [errors[:2].mean(), errors.mean()]
    for (contains, values, text, copy), loss in zip(seen, expected):
        assert contains
        assert values == pytest.approx([loss], rel=1e-6)
        assert "loss" in text
        assert copy == pytest.approx({"loss": loss}, rel=1e-6)


def test_evaluate_and_predict_refuse_a_zero_batch_size():
    model = _two_layer_model()
    x, y = numpy.zeros((4, 3)), numpy.zeros((4, 2))
    with pytest.raises(ValueError, match="batch_size must be a positive integer. Received: batch_size=0"):
        model.evaluate(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer. Received: batch_size=0"):
        model.predict(x, batch_size=0)


def test_default_callbacks_run_after_the_users_as_in_keras(capsys):
    # Keras appends History and the progress bar after the user's callbacks: the epoch line shows the
    # learning_rate ReduceLROnPlateau logs, and a History passed in is the one fit returns.
    model = _two_layer_model()
    mine = nnkit.callbacks.History()
    returned = model.fit(numpy.zeros((4, 3)), numpy.zeros((4, 2)), epochs=2, verbose=2,
                         callbacks=[nnkit.callbacks.ReduceLROnPlateau(monitor="loss"), mine])
    assert returned is mine and model.history is mine
    assert mine.history["learning_rate"] == [0.0, 0.0]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("1/1")]
    assert len(lines) == 2 and all("learning_rate: 0.0000" in line for line in lines)
