"""Data checked as the model will see it (issue 14, item 2): values beyond floatx's range, integer indices kept exact,
empty data, and common slips that get an error naming the argument rather than a NumPy or Python internal."""
import numpy
import pytest

import nnkit
from nnkit.layers import Dense, Embedding, Flatten, Input

BIG_INDEX = 2 ** 24 + 1  # the first integer float32 cannot hold: it reads as 2 ** 24


def _regression_model():
    model = nnkit.Sequential([Input(shape=(4,)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.fixture
def data(rng):
    return rng.standard_normal((10, 4)), rng.standard_normal((10, 2))


# ---- values beyond float32's range ------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["x", "y"])
def test_float64_beyond_float32_is_refused_as_such(where, data):
    x, y = data
    (x if where == "x" else y)[6, 1] = 1e39  # finite in float64, Inf in float32: it used to train, then "diverge"
    model = _regression_model()
    model.predict(x[:1] * 0, verbose=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=rf"{where} holds 1e\+39 at sample 6, beyond the range of float32 .*"
                                         rf"set_floatx\('float64'\)"):
        model.fit(x, y, verbose=0)
    assert all(numpy.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_validation_data_beyond_float32_says_validation(data):
    x, y = data
    x_val = x.copy()
    x_val[2, 0] = -4e38
    with pytest.raises(ValueError, match=r"validation x holds -4e\+38 at sample 2, beyond the range of float32"):
        _regression_model().fit(x, y, validation_data=(x_val, y), verbose=0)


def test_float64_models_take_float64_values(data):
    nnkit.backend.set_floatx("float64")
    x, y = data
    x[0, 0] = 1e39
    model = _regression_model()
    assert numpy.isfinite(model.predict(x, verbose=0)).all()


def test_a_nan_beside_an_overflow_is_still_reported_as_nan(data):
    x, y = data
    x[1, 0] = numpy.nan
    x[4, 0] = 1e39
    with pytest.raises(ValueError, match=r"x contains NaN or Inf \(first at sample 1, 2 samples affected\)"):
        _regression_model().fit(x, y, verbose=0)


# ---- integer indices ----------------------------------------------------------------------------------------
def _embedding_model(input_dtype=None):
    inputs = Input(shape=(1,), dtype=input_dtype)
    model = nnkit.Model(inputs, Flatten()(Embedding(BIG_INDEX + 1, 1, embeddings_initializer="zeros")(inputs)))
    table = numpy.zeros((BIG_INDEX + 1, 1), dtype="float32")
    table[BIG_INDEX] = 1.0  # only the last row is 1: reading row 2 ** 24 instead gives 0
    model.set_weights([table])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("input_dtype", [None, "int64"], ids=["untyped", "int64_input"])
def test_embedding_indices_above_2_to_the_24_stay_exact(input_dtype):
    model = _embedding_model(input_dtype)
    indices = numpy.array([[BIG_INDEX], [BIG_INDEX - 1]])
    numpy.testing.assert_array_equal(model.predict(indices, verbose=0), [[1.0], [0.0]])
    assert model.evaluate(indices, numpy.array([[1.0], [0.0]]), verbose=0) == 0.0


@pytest.mark.parametrize("input_dtype", [None, "int32"])
def test_integers_for_a_layer_that_is_not_an_index_layer_become_floats(input_dtype):
    inputs = Input(shape=(3,), dtype=input_dtype)
    model = nnkit.Model(inputs, Dense(1, kernel_initializer="ones")(inputs))
    x = numpy.array([[BIG_INDEX, 0, 0]], dtype="int32")
    assert model.predict(x, verbose=0).dtype == numpy.float32  # computed in floatx, as Keras' Dense casts to


# ---- empty data -------------------------------------------------------------------------------------------------
def test_predict_on_no_samples_returns_an_empty_array_of_the_output_shape():
    model = nnkit.Sequential([Input(shape=(4,)), Dense(3)])
    out = model.predict(numpy.zeros((0, 4)), verbose=0)
    assert out.shape == (0, 3) and out.dtype == numpy.float32
    assert model.predict_on_batch(numpy.zeros((0, 4))).shape == (0, 3)


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch"])
def test_fit_and_evaluate_on_no_samples_say_so(method):
    model = _regression_model()
    with pytest.raises(ValueError, match="x holds 0 samples: fit and evaluate need at least one"):
        getattr(model, method)(numpy.zeros((0, 4)), numpy.zeros((0, 2)), **({} if method == "train_on_batch"
                                                                             else {"verbose": 0}))


def test_empty_validation_data_says_validation(data):
    x, y = data
    with pytest.raises(ValueError, match="validation x holds 0 samples"):
        _regression_model().fit(x, y, validation_data=(x[:0], y[:0]), verbose=0)


# ---- common slips --------------------------------------------------------------------------------------------
def test_x_and_y_passed_together_as_x(data):
    x, y = data
    with pytest.raises(ValueError, match=r"x is a tuple that cannot be read as one array.*fit\(x, y\), not "
                                         r"fit\(\(x, y\)\)"):
        _regression_model().fit((x, y), verbose=0)


def test_metrics_as_a_bare_string_or_object_fail_at_compile():
    model = nnkit.Sequential([Input(shape=(4,)), Dense(1)])
    with pytest.raises(TypeError, match=r"compile\(metrics=...\) expects a list.*metrics=\['accuracy'\]"):
        model.compile(optimizer="sgd", loss="mse", metrics="accuracy")
    with pytest.raises(TypeError, match=r"compile\(metrics=...\) expects a list.*metrics=\[AUC\(\)\]"):
        model.compile(optimizer="sgd", loss="mse", metrics=nnkit.metrics.AUC())


def test_loss_and_metric_classes_stand_for_their_default_instances(data):
    # Keras' losses.get and metrics.get instantiate a class given in place of an instance.
    x, _ = data
    model = nnkit.Sequential([Input(shape=(4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=nnkit.losses.BinaryCrossentropy, metrics=[nnkit.metrics.BinaryAccuracy])
    history = model.fit(x, (x[:, 0] > 0).astype(float), verbose=0)
    assert set(history.history) == {"loss", "binary_accuracy"}


def test_validation_steps_that_is_not_a_positive_integer(data):
    x, y = data
    with pytest.raises(ValueError, match=r"validation_steps must be a positive integer. Received: "
                                         r"validation_steps='2'"):
        _regression_model().fit(x, y, validation_data=(x, y), validation_steps="2", verbose=0)


def test_fit_without_y_names_the_output():
    model = _regression_model()
    with pytest.raises(ValueError, match=r"y is missing: output '.*' has a loss"):
        model.fit(numpy.zeros((3, 4)), verbose=0)


@pytest.mark.parametrize("argument, value, message", [
    ("initial_epoch", "1", r"initial_epoch must be a non-negative integer. Received: initial_epoch='1'"),
    ("initial_epoch", -1, r"initial_epoch must be a non-negative integer"),
    ("validation_split", "0.2", r"validation_split must be in \[0, 1\). Received: validation_split='0.2'"),
])
def test_fit_arguments_of_the_wrong_type_are_named(argument, value, message, data):
    x, y = data
    with pytest.raises(ValueError, match=message):
        _regression_model().fit(x, y, verbose=0, **{argument: value})


@pytest.mark.parametrize("loss_weights", ["a", [float("nan")], {"dense": "heavy"}])
def test_loss_weights_that_are_not_finite_numbers_fail_at_compile(loss_weights):
    model = nnkit.Sequential([Input(shape=(4,)), Dense(1, name="dense")])
    with pytest.raises(ValueError, match=r"compile\(loss_weights=...\) must hold finite numbers"):
        model.compile(optimizer="sgd", loss="mse", loss_weights=loss_weights)


def test_the_usual_label_slips_get_a_hint(data):
    x, _ = data
    labels = numpy.arange(10) % 3
    model = nnkit.Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"do not match.*Integer class labels go with sparse_categorical_crossentropy"):
        model.fit(x, labels, verbose=0)
    model = nnkit.Sequential([Input(shape=(4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"label 1 is out of range.*For 0/1 labels and one sigmoid unit use "
                                         r"binary_crossentropy"):
        model.fit(x, labels % 2, verbose=0)


@pytest.mark.parametrize("class_weight, message", [
    ({0: 1.0, 1: float("nan")}, "class_weight values must be finite numbers. Received nan for class 1"),
    ({0: 1.0, 1: "2"}, "class_weight values must be finite numbers"),
    ({"cat": 1.0}, "class_weight keys must be non-negative class indices. Received key 'cat'"),
])
def test_class_weight_is_checked_before_training(class_weight, message):
    model = nnkit.Sequential([nnkit.Input(shape=(2,)), nnkit.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=message):
        model.fit(numpy.zeros((4, 2), "float32"), numpy.array([0, 1, 0, 1]), class_weight=class_weight, verbose=0)


def test_a_validation_size_mismatch_names_the_validation_data():
    model = nnkit.Sequential([nnkit.Input(shape=(2,)), nnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = numpy.zeros((4, 2), "float32"), numpy.zeros((4, 1), "float32")
    with pytest.raises(ValueError, match="validation x and validation y must have the same number of samples: "
                                         "validation x has 3, validation y has 2"):
        model.fit(x, y, validation_data=(x[:3], y[:2]), verbose=0)
