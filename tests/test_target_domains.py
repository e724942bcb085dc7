"""Targets checked against the loss (and metrics) before training (issue 14, item 1): each error names the loss or
metric, the offending value and its sample, and says "validation" for validation data. The bad values are planted
by hand at known samples, so every expected message is known in advance."""
import numpy
import pytest

import nnkit
from nnkit import losses, metrics, targets
from nnkit.layers import Dense, Input


def _model(units, activation, loss, metric_names=None):
    model = nnkit.Sequential([Input(shape=(4,)), Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss, metrics=metric_names)
    return model


@pytest.fixture
def x(rng):
    return rng.standard_normal((10, 4)).astype("float32")


def _unchanged(model, before):
    return all(numpy.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_binary_labels_coded_1_2_are_refused_before_any_update(x):
    # Labels 1/2 trained before: a negative loss and a good-looking accuracy.
    model = _model(1, "sigmoid", "binary_crossentropy", ["accuracy"])
    model.predict(x, verbose=0)
    before = model.get_weights()
    y = numpy.ones(10)
    y[3] = 2.0
    with pytest.raises(ValueError, match=r"loss 'binary_crossentropy' expects probabilities in \[0, 1\].*y holds 2\.0 "
                                         r"at sample 3\."):
        model.fit(x, y, verbose=0)
    assert _unchanged(model, before)


def test_validation_targets_say_validation(x):
    model = _model(1, "sigmoid", "binary_crossentropy")
    y = numpy.zeros(10)
    y_val = y.copy()
    y_val[6] = -1.0
    with pytest.raises(ValueError, match=r"'binary_crossentropy'.*validation y holds -1\.0 at sample 6"):
        model.fit(x, y, validation_data=(x, y_val), verbose=0)
    y[8:] = 3.0  # validation_split takes the last 2 samples: sample 8 is the validation data's sample 0
    with pytest.raises(ValueError, match=r"validation y holds 3\.0 at sample 0"):
        model.fit(x, y, validation_split=0.2, verbose=0)


def test_a_metric_with_its_own_domain_checks_the_targets_too(x):
    # mse takes any target, but binary_accuracy reads 2 as a positive label.
    model = _model(1, "sigmoid", "mse", ["binary_accuracy"])
    y = numpy.zeros(10)
    y[5] = 2.0
    with pytest.raises(ValueError, match=r"metric 'binary_accuracy' expects probabilities.*y holds 2\.0 at sample 5"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"metric 'binary_accuracy'"):
        metrics.BinaryAccuracy()(numpy.array([0.0, 2.0]), numpy.array([0.2, 0.9]))
    with pytest.raises(ValueError, match=r"metric 'precision'.*y_true holds 2\.0 at sample 1"):
        metrics.Precision()(numpy.array([0.0, 2.0]), numpy.array([0.2, 0.9]))


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_hinge_targets_keep_to_one_coding(loss, x):
    model = _model(1, None, loss)
    signs = numpy.where(numpy.arange(10) % 2, 1.0, -1.0)
    model.fit(x, signs, verbose=0)
    model.fit(x, (signs + 1) / 2, verbose=0)  # 0/1, which Keras maps to -1/1
    mixed = signs.copy()
    mixed[7] = 0.0  # -1/1 labels with one 0: Keras would use the 0 as it is (a target on the margin)
    with pytest.raises(ValueError, match=rf"loss '{loss}' expects -1/1 labels.*y holds 0\.0 at sample 7 while the "
                                         rf"rest of y is coded -1/1"):
        model.fit(x, mixed, verbose=0)
    with pytest.raises(ValueError, match=r"y holds 2\.0 at sample 4"):
        model.fit(x, numpy.where(numpy.arange(10) == 4, 2.0, 1.0), verbose=0)


def test_categorical_targets_must_be_distributions(x):
    model = _model(3, "softmax", "categorical_crossentropy")
    one_hot = numpy.eye(3)[numpy.arange(10) % 3]
    model.fit(x, one_hot, verbose=0)
    counts = one_hot.copy()
    counts[2] = [1, 1, 0]  # multi-hot: a row summing to 2
    with pytest.raises(ValueError, match=r"'categorical_crossentropy' expects distributions.*a row of y at sample 2 "
                                         r"sums to 2\b.*multi-hot.*binary_crossentropy"):
        model.fit(x, counts, verbose=0)
    negative = one_hot.copy()
    negative[9] = [1.5, -0.5, 0]  # sums to 1, but is not a distribution: 1.5 is the first value out of [0, 1]
    with pytest.raises(ValueError, match=r"y holds 1\.5 at sample 9"):
        model.fit(x, negative, verbose=0)
    padded = one_hot.copy()
    padded[4] = 0  # an all-zero row: padding (as in Keras' seq2seq example), adds nothing to the loss
    model.fit(x, padded, verbose=0)


def test_categorical_sequence_targets_name_the_sample_not_the_row(rng):
    model = nnkit.Sequential([Input(shape=(5, 4)), Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    y = numpy.eye(3)[rng.integers(0, 3, (6, 5))]
    y[4, 2] = [0.5, 0.4, 0.0]  # row 4 * 5 + 2 = 22 of the flattened targets belongs to sample 4
    with pytest.raises(ValueError, match=r"a row of y at sample 4 sums to 0\.9"):
        model.fit(rng.standard_normal((6, 5, 4)), y, verbose=0)


def test_categorical_crossentropy_on_one_unit_is_refused(x):
    model = _model(1, "sigmoid", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"one unit.*binary_crossentropy"):
        model.fit(x, numpy.ones((10, 1)), verbose=0)


def test_sparse_labels_name_their_sample(x):
    model = _model(3, "softmax", "sparse_categorical_crossentropy")
    y = numpy.zeros(10, dtype=int)
    y[6] = 5
    with pytest.raises(ValueError, match=r"label 5 is out of range; the model has 3 outputs, so labels must lie in "
                                         r"\[0, 2\] \(y holds 5 at sample 6\)"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"non-integer values.*y holds 1\.5 at sample 2"):
        model.fit(x, numpy.where(numpy.arange(10) == 2, 1.5, 1.0), verbose=0)


@pytest.mark.parametrize("loss, units, activation", [("kl_divergence", 3, "softmax"), ("poisson", 1, "softplus")])
def test_negative_targets_of_kld_and_poisson(loss, units, activation, x):
    model = _model(units, activation, loss)
    y = numpy.full((10, units), 1.0 / units)
    y[1, 0] = -0.25
    with pytest.raises(ValueError, match=rf"loss '{loss}' expects .*y holds -0\.25 at sample 1"):
        model.fit(x, y, verbose=0)


def test_a_kld_target_above_one_is_refused(x):
    with pytest.raises(ValueError, match=r"'kl_divergence' expects probabilities.*y_true holds 3\.0 at sample 0"):
        losses.KLDivergence()(numpy.array([[3.0, 0.0]]), numpy.array([[0.5, 0.5]]))


def test_calling_a_loss_checks_its_targets():
    with pytest.raises(ValueError, match=r"'binary_crossentropy'.*y_true holds 2\.0 at sample 1"):
        losses.BinaryCrossentropy()(numpy.array([[0.0], [2.0]]), numpy.array([[0.3], [0.6]]))


def test_losses_without_a_domain_take_any_real_target(x):
    model = _model(2, None, "mse")
    model.fit(x, numpy.full((10, 2), -1e3), verbose=0)
    custom = _model(2, None, lambda y_true, y_pred: nnkit.ops.mean((y_true - y_pred) ** 2, axis=-1))
    custom.fit(x, numpy.full((10, 2), -7.0), verbose=0)


def test_generator_batches_are_checked_one_by_one(x):
    model = _model(1, "sigmoid", "binary_crossentropy")

    def batches():
        yield x[:5], numpy.zeros(5)
        yield x[5:], numpy.array([0.0, 1.0, 4.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"batch 1:.*'binary_crossentropy'.*y holds 4\.0 at sample 2"):
        model.fit(batches(), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data, batch 1:.*y holds 4\.0"):
        model.fit(x, numpy.zeros(10), validation_data=batches(), verbose=0)


def test_array_targets_are_checked_once_per_data_set_not_per_batch(x, monkeypatch):
    calls = []
    check = targets.check_targets
    monkeypatch.setattr(targets, "check_targets", lambda *args, **kwargs: calls.append(args[4]) or check(*args, **kwargs))
    model = _model(1, "sigmoid", "binary_crossentropy", ["accuracy"])
    model.fit(x, numpy.zeros(10), batch_size=2, epochs=3, validation_data=(x, numpy.ones(10)), verbose=0)
    assert sorted(calls) == ["validation y", "y"]  # binary_accuracy shares the loss's domain: checked once


def test_each_loss_declares_its_domain():
    assert losses.BinaryCrossentropy.target_domain is targets.PROBABILITIES
    assert losses.CategoricalCrossentropy.target_domain is targets.DISTRIBUTIONS
    assert losses.SparseCategoricalCrossentropy.target_domain is targets.CLASS_INDICES
    assert losses.Hinge.target_domain is losses.SquaredHinge.target_domain is losses.CategoricalHinge.target_domain \
        is targets.SIGNS
    assert losses.Poisson.target_domain is targets.NON_NEGATIVE
    assert losses.MeanSquaredError.target_domain is targets.REAL
