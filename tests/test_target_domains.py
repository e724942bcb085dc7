"""Targets checked against the loss (and metrics) before training (issue 14, item 1): each error names the loss or
metric, the offending value and its sample, and says "validation" for validation data. The bad values are planted
by hand at known samples, so every expected message is known in advance."""
import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

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
    monkeypatch.setattr(targets, "check_targets",
                        lambda *args, **kwargs: calls.append(args[4]) or check(*args, **kwargs))
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


# ---- the checker against a plain-Python predicate, on drawn data --------------------------------------------
def _allowed(domain, rows, num_classes):
    """Whether ``rows`` (lists of floats) lie in ``domain``, and the sample of the first value that does not: the
    rule of each domain written out element by element."""
    values = [(sample, v) for sample, row in enumerate(rows) for v in row]
    if domain.class_indices:  # fractions are reported before labels out of range
        bad = [s for s, v in values if v != int(v)] or [s for s, v in values if not 0 <= v < num_classes]
        return not bad, bad[0] if bad else None
    bad = [s for s, v in values if not domain.low <= v <= domain.high]
    if bad:
        return False, bad[0]
    if domain.codings:
        fits = [all(v in coding for _, v in values) for coding in domain.codings]
        return any(fits), None
    if domain.distributions:
        sums = [sum(row) for row in rows]
        bad = [s for s, total in enumerate(sums) if total != 0 and abs(total - 1) > targets.DISTRIBUTION_TOLERANCE]
        return not bad, bad[0] if bad else None
    return True, None


_VALUE = st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(domain=st.sampled_from([targets.PROBABILITIES, targets.NON_NEGATIVE, targets.SIGNS, targets.DISTRIBUTIONS,
                               targets.CLASS_INDICES]),
       rows=st.integers(1, 3).flatmap(lambda k: st.lists(st.lists(_VALUE, min_size=k, max_size=k), min_size=1,
                                                           max_size=6)))
def test_the_checker_refuses_exactly_what_the_domain_excludes(domain, rows):
    num_classes = len(rows[0]) + 1  # so that a distribution over the last axis has more than one class
    array = numpy.array([row + [0.0] for row in rows])
    allowed, sample = _allowed(domain, array.tolist(), num_classes)
    if allowed:
        targets.check_targets(domain, array, num_classes, "loss 'probe'")
        return
    with pytest.raises(ValueError, match=r"'probe'") as error:
        targets.check_targets(domain, array, num_classes, "loss 'probe'")
    if sample is not None:
        assert f"at sample {sample}" in str(error.value)


@pytest.mark.parametrize("domain, good, bad", [
    (targets.PROBABILITIES, [0.0, 1.0], [0.0, 1.5]),
    (targets.NON_NEGATIVE, [0.0, 7.0], [-1.0, 2.0]),
    (targets.SIGNS, [-1.0, 1.0], [-1.0, 0.0]),
    (targets.DISTRIBUTIONS, [0.25, 0.75], [0.5, 0.25]),
    (targets.CLASS_INDICES, [0, 1], [0, 2]),
], ids=lambda v: v.expected.split()[0] if isinstance(v, targets.TargetDomain) else None)
def test_the_checks_run_where_the_targets_are(domain, good, bad, xp):
    rows = [good, good, bad, good]
    y = xp.asarray(rows, dtype="int64" if domain.class_indices else "float32")
    with pytest.raises(ValueError, match=r"at sample 2"):
        targets.check_targets(domain, y, 2, "loss 'probe'")
    targets.check_targets(domain, y[:2], 2, "loss 'probe'")
