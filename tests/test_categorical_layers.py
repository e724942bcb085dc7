"""CategoryEncoding, Discretization, Hashing, IntegerLookup, StringLookup: Keras goldens (tests/data/make_keras_categorical.py), hand-computed cases,
shape and error tables, configs, no gradient, and use as the first layers of a model that trains."""
import json
import os

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Dense, Embedding, Flatten
from nnkit.layers._hash64 import fingerprint64, siphash64
from nnkit.layers.categorical import CategoryEncoding, Discretization, Hashing, IntegerLookup, StringLookup

from data.categorical_cases import HASHINGS, LOOKUP_INPUTS, LOOKUPS

GOLDEN = numpy.load(os.path.join(os.path.dirname(__file__), "data", "keras_categorical.npz"))
ENCODING_CASES = sorted(key[len("encoding_"):-2] for key in GOLDEN if key.startswith("encoding_") and key.endswith("_x"))
ADAPT_CASES = {"adapt_4_0p01": (4, 0.01), "adapt_5_0p1": (5, 0.1), "adapt_3_0p001": (3, 0.001),
               "adapt_7_0p05": (7, 0.05)}

#: The lookup classes the golden cases name.
LOOKUP_CLASSES = {"IntegerLookup": IntegerLookup, "StringLookup": StringLookup}


def run(layer, x, xp):
    return backend.to_host(layer(xp.asarray(x)))


# ---- Keras goldens ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ENCODING_CASES)
def test_category_encoding_matches_keras(xp, case):
    mode = case.rsplit("_", 1)[0]
    y = run(CategoryEncoding(6, output_mode=mode), GOLDEN[f"encoding_{case}_x"], xp)
    expected = GOLDEN[f"encoding_{case}_y"]
    assert y.dtype == expected.dtype and y.shape == expected.shape
    numpy.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_with_given_boundaries_matches_keras(xp, mode):
    layer = Discretization(bin_boundaries=[-0.5, 0.0, 0.5], output_mode=mode)
    y = run(layer, GOLDEN[f"discretization_{mode}_x"], xp)
    expected = GOLDEN[f"discretization_{mode}_y"]
    assert y.dtype == expected.dtype and y.shape == expected.shape
    numpy.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("case", sorted(ADAPT_CASES))
def test_adapted_discretization_matches_keras(xp, case):
    num_bins, epsilon = ADAPT_CASES[case]
    layer = Discretization(num_bins=num_bins, epsilon=epsilon)
    layer.adapt(xp.asarray(GOLDEN["adapt_sample"]))
    numpy.testing.assert_allclose(layer.bin_boundaries, GOLDEN[f"{case}_boundaries"], rtol=1e-6)
    numpy.testing.assert_array_equal(run(layer, GOLDEN["discretization_int_x"], xp), GOLDEN[f"{case}_y"])


def test_discretization_adapts_on_a_list_of_batches_as_keras(xp):
    sample = GOLDEN["adapt_sample"]
    layer = Discretization(num_bins=4, epsilon=0.05)
    layer.adapt([xp.asarray(sample[:100]), xp.asarray(sample[100:220]), xp.asarray(sample[220:])])
    numpy.testing.assert_allclose(layer.bin_boundaries, GOLDEN["adapt_batches_boundaries"], rtol=1e-6)


@pytest.mark.parametrize("case", sorted(HASHINGS))
def test_hashing_matches_keras(xp, case):
    key, kwargs = HASHINGS[case]
    x = GOLDEN[key]
    y = backend.to_host(Hashing(**kwargs)(x if x.dtype.kind == "U" else xp.asarray(x)))
    expected = GOLDEN[f"hashing_{case}_y"]
    assert y.dtype == expected.dtype and y.shape == expected.shape
    numpy.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("case", sorted(LOOKUPS))
def test_lookups_match_keras(xp, case):
    """Vocabulary and outputs; Keras gives its encoded modes as int64, nnkit as floatx (same values)."""
    class_name, kwargs, data, key = LOOKUPS[case]
    cls = LOOKUP_CLASSES[class_name]
    layer = cls(**kwargs)
    if data is not None:
        layer.adapt(LOOKUP_INPUTS[data] if cls is StringLookup else xp.asarray(LOOKUP_INPUTS[data]))
    assert layer.get_vocabulary() == GOLDEN[f"lookup_{case}_vocabulary"].tolist()
    assert layer.vocabulary_size() == len(GOLDEN[f"lookup_{case}_vocabulary"])
    x = LOOKUP_INPUTS[key]
    y = backend.to_host(layer(x if x.dtype.kind == "U" else xp.asarray(x)))
    expected = GOLDEN[f"lookup_{case}_y"]
    assert y.shape == expected.shape and y.dtype == (numpy.int64 if layer.output_mode == "int" else numpy.float32)
    numpy.testing.assert_array_equal(y, expected)


# ---- hand-computed cases --------------------------------------------------------------------------------------
def test_category_encoding_by_hand(xp):
    x = numpy.array([[0, 2, 2], [3, 1, 3]])
    numpy.testing.assert_array_equal(run(CategoryEncoding(4, output_mode="count"), x, xp),
                                     [[1, 0, 2, 0], [0, 1, 0, 2]])
    numpy.testing.assert_array_equal(run(CategoryEncoding(4, output_mode="binary"), x, xp),
                                     [[1, 0, 1, 0], [0, 1, 0, 1]])
    numpy.testing.assert_array_equal(run(CategoryEncoding(4, output_mode="one_hot"), numpy.array([[1], [3]]), xp),
                                     [[0, 1, 0, 0], [0, 0, 0, 1]])
    one_hot = run(CategoryEncoding(4, output_mode="one_hot"), x, xp)
    assert one_hot.shape == (2, 3, 4) and one_hot[1, 2, 3] == 1 and one_hot.sum() == 6


def test_discretization_by_hand_left_closed_bins(xp):
    x = numpy.array([[-1.0, 0.0, 0.5], [1.0, 1.5, 9.0]], dtype="float32")
    y = run(Discretization(bin_boundaries=[0.0, 1.0, 2.0]), x, xp)
    numpy.testing.assert_array_equal(y, [[0, 1, 1], [2, 2, 3]])
    assert y.dtype == numpy.int32


def test_adapt_on_evenly_spread_data_puts_boundaries_at_the_quartiles(xp):
    layer = Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(xp.arange(1, 101, dtype="float32").reshape(-1, 1))
    numpy.testing.assert_allclose(layer.bin_boundaries, [25.0, 50.0, 75.0], rtol=1e-5)  # float32 summary


def test_hashes_match_published_vectors():
    key = (int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little"))
    assert siphash64(key, b"") == 0x726FDB47DD0E0E31  # SipHash-2-4 paper, appendix A vectors
    assert siphash64(key, bytes(range(15))) == 0xA129CA6149BE45E5
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F  # farmhashna: the empty string hashes to k2


def test_hashing_cases_of_keras_own_tests():
    """Bins Keras' hashing_test.py asserts (A..E in 3 bins; masked; SipHash with salt [133, 137])."""
    letters = numpy.array([["A"], ["B"], ["C"], ["D"], ["E"]])
    numpy.testing.assert_array_equal(Hashing(3)(letters).ravel(), [1, 0, 1, 1, 2])
    numpy.testing.assert_array_equal(Hashing(3, mask_value="")(numpy.array(["A", "B", "", "C", "D"])),
                                     [1, 1, 0, 2, 2])
    names = [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]]
    numpy.testing.assert_array_equal(Hashing(2, salt=[133, 137])(names).ravel(), [0, 1, 0, 1, 0])
    numpy.testing.assert_array_equal(Hashing(3, salt=[133, 137])(numpy.arange(5)[:, None]).ravel(), [1, 1, 2, 0, 1])


def test_adapt_orders_by_count_then_by_descending_token():
    layer = StringLookup()
    layer.adapt(numpy.array(["b", "a", "c", "a", "b", "d"]))  # a, b twice; c, d once
    assert layer.get_vocabulary() == ["[UNK]", "b", "a", "d", "c"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["b", "a", "d", "c"]
    numbers = IntegerLookup(max_tokens=3)
    numbers.adapt([numpy.array([5, 5, 2]), numpy.array([9, 2, 1])])  # a list of batches
    assert numbers.get_vocabulary() == [-1, 5, 2] and numbers.vocabulary_size() == 3


def test_string_lookup_inverts_by_hand():
    layer = StringLookup(vocabulary=["a", "b", "c"], mask_token="", invert=True)
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "c"]
    y = layer(numpy.array([[0, 1, 2, 3], [4, 5, 9, 2]]))
    numpy.testing.assert_array_equal(y, [["", "[UNK]", "a", "b"], ["c", "[UNK]", "[UNK]", "a"]])


def test_lookup_round_trip_through_invert(xp):
    vocabulary = [10, 20, 30]
    forward, inverse = IntegerLookup(vocabulary=vocabulary), IntegerLookup(vocabulary=vocabulary, invert=True)
    x = numpy.array([[30, 10, 99]])
    numpy.testing.assert_array_equal(run(inverse, run(forward, x, xp), xp), [[30, 10, -1]])


def test_float64_outputs_follow_floatx(xp):
    backend.set_floatx("float64")
    assert run(CategoryEncoding(3), numpy.array([[0, 1]]), xp).dtype == numpy.float64


# ---- shapes and errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, input_shape, output_shape", [
    (CategoryEncoding(5), (None, 3), (None, 5)),
    (CategoryEncoding(5, output_mode="one_hot"), (None, 1), (None, 5)),
    (CategoryEncoding(5, output_mode="one_hot"), (None, 3), (None, 3, 5)),
    (CategoryEncoding(5, output_mode="one_hot"), (None,), (None, 5)),
    (Discretization(bin_boundaries=[0.0, 1.0]), (None, 3, 2), (None, 3, 2)),
    (Discretization(bin_boundaries=[0.0, 1.0], output_mode="count"), (None, 4), (None, 3)),
    (Discretization(num_bins=6, output_mode="one_hot"), (None, 2), (None, 2, 6)),
    (Hashing(4), (None, 3), (None, 3)),
    (Hashing(4, output_mode="multi_hot"), (None, 3), (None, 4)),
    (StringLookup(vocabulary=["a", "b"]), (None, 3), (None, 3)),
    (StringLookup(vocabulary=["a", "b"], output_mode="count"), (None, 3), (None, 3)),
    (IntegerLookup(vocabulary=[4], mask_token=0, output_mode="one_hot"), (None, 1), (None, 2)),
], ids=str)
def test_output_shapes(layer, input_shape, output_shape):
    assert tuple(layer.compute_output_shape(input_shape)) == output_shape


@pytest.mark.parametrize("make, error, match", [
    (lambda: CategoryEncoding(), ValueError, "`num_tokens` must be set"),
    (lambda: CategoryEncoding(0), ValueError, "positive integer for `num_tokens`. Received: num_tokens=0"),
    (lambda: CategoryEncoding(3, output_mode="int"), ValueError, "`output_mode` to be one of"),
    (lambda: CategoryEncoding(3, sparse=True), ValueError, "sparse=True` is not supported"),
    (lambda: CategoryEncoding(3, count_weights=[1.0]), TypeError, "count_weights"),
    (lambda: Discretization(), ValueError, "Received neither"),
    (lambda: Discretization(bin_boundaries=[0.0], num_bins=2), ValueError, "not both"),
    (lambda: Discretization(num_bins=0), ValueError, "num_bins=0"),
    (lambda: Discretization(bin_boundaries=[1.0, 0.0]), ValueError, "sorted"),
    (lambda: Discretization(num_bins=2, epsilon=0.0), ValueError, "epsilon"),
    (lambda: Discretization(num_bins=2, output_mode="tf_idf"), ValueError, "output_mode"),
    (lambda: Discretization(num_bins=2, sparse=True), ValueError, "sparse=True"),
    (lambda: Hashing(0), ValueError, "positive integer for `num_bins`"),
    (lambda: Hashing(3, salt="pepper"), ValueError, "integer or a pair of integers. Received: salt='pepper'"),
    (lambda: Hashing(3, salt=[1, 2, 3]), ValueError, "pair of integers"),
    (lambda: Hashing(3, output_mode="tf_idf"), ValueError, "output_mode"),
    (lambda: Hashing(3, sparse=True), ValueError, "sparse=True"),
    (lambda: IntegerLookup(max_tokens=1), ValueError, "greater than 1. Received: max_tokens=1"),
    (lambda: IntegerLookup(num_oov_indices=-1), ValueError, "non-negative integer for `num_oov_indices`"),
    (lambda: IntegerLookup(output_mode="tf_idf"), ValueError, "output_mode"),
    (lambda: IntegerLookup(invert=True, output_mode="count"), ValueError, "invert=True` needs output_mode='int'"),
    (lambda: IntegerLookup(vocabulary=[1, 2, 1]), ValueError, r"unique tokens; repeated: \[1\]"),
    (lambda: IntegerLookup(vocabulary=[1, 0], mask_token=0), ValueError, "mask_token=0 must not appear"),
    (lambda: StringLookup(vocabulary=["a", "[UNK]"], invert=True), ValueError, "oov_token='\\[UNK\\]'"),
    (lambda: StringLookup(vocabulary=["a", "b", "c"], max_tokens=3), ValueError, "4 entries .* max_tokens=3"),
    (lambda: StringLookup(vocabulary=[]), ValueError, "non-empty `vocabulary`"),
    (lambda: StringLookup(pad_to_max_tokens=True), TypeError, "pad_to_max_tokens"),
])
def test_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_call_errors():
    with pytest.raises(ValueError, match=r"inputs in \[0, 3\).*from -1 to 3"):
        CategoryEncoding(3)(numpy.array([[-1, 3]]))
    with pytest.raises(ValueError, match="integer inputs"):
        CategoryEncoding(3)(numpy.array([[0.5]]))
    with pytest.raises(ValueError, match="rank 1 or 2"):
        CategoryEncoding(3, output_mode="count")(numpy.zeros((2, 2, 2), dtype=int))
    with pytest.raises(ValueError, match="call adapt"):
        Discretization(num_bins=3)(numpy.zeros((2, 1)))
    with pytest.raises(ValueError, match="cannot adapt"):
        Discretization(bin_boundaries=[0.0]).adapt(numpy.zeros((2, 1)))
    with pytest.raises(TypeError, match="strings or numbers"):
        Hashing(3)(numpy.array([[True, False]]))
    with pytest.raises(ValueError, match="no vocabulary"):
        StringLookup()(numpy.array([["a"]]))
    with pytest.raises(ValueError, match=r"num_oov_indices=0 every input must be in the vocabulary; found \[5\]"):
        IntegerLookup(vocabulary=[1], num_oov_indices=0)(numpy.array([[1, 5]]))
    with pytest.raises(ValueError, match="cannot adapt"):
        IntegerLookup(vocabulary=[1]).adapt(numpy.array([1]))
    with pytest.raises(TypeError, match="expects strings"):
        StringLookup().adapt(numpy.array([1, 2]))
    with pytest.raises(TypeError, match="expects integers"):
        IntegerLookup().adapt(numpy.array([1.5]))


def test_backward_has_no_gradient(xp):
    for layer in (CategoryEncoding(3), Discretization(bin_boundaries=[0.0]), Hashing(3),
                  IntegerLookup(vocabulary=[0, 1])):
        layer(xp.zeros((2, 2), dtype="int64"))
        layer.needs_input_gradient = False
        assert layer.backward(xp.ones((2, 3))) is None
        layer.needs_input_gradient = True
        with pytest.raises(NotImplementedError, match=type(layer).__name__):
            layer.backward(xp.ones((2, 3)))


# ---- configs and models -------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    CategoryEncoding(7, output_mode="count"), Discretization(bin_boundaries=[0.0, 2.5], output_mode="one_hot"),
    Discretization(num_bins=3, epsilon=0.05), Hashing(9, mask_value="", salt=[1, 2], output_mode="count"),
    IntegerLookup(vocabulary=[3, 5], mask_token=0, num_oov_indices=2, output_mode="multi_hot", max_tokens=9),
    StringLookup(vocabulary=["x", "y"], oov_token="?", invert=True),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trips_through_json(layer):
    config = json.loads(json.dumps(layer.get_config()))
    assert type(layer).from_config(config).get_config() == layer.get_config()


def test_adapted_boundaries_survive_the_config():
    layer = Discretization(num_bins=3)
    layer.adapt(numpy.arange(9.0).reshape(-1, 1))
    twin = Discretization.from_config(json.loads(json.dumps(layer.get_config())))
    assert twin.bin_boundaries == layer.bin_boundaries and twin.num_bins == 3


def test_discretization_before_an_embedding_trains(rng):
    """The bucket of x decides y (the outer buckets): Discretization -> Embedding -> Dense learns it."""
    x = rng.uniform(-3, 3, size=(256, 1)).astype("float32")
    y = ((x < -2) | (x >= 2)).astype("float32")
    model = nnkit.Sequential([nnkit.Input((1,)), Discretization(bin_boundaries=[-2, -1, 0, 1, 2]),
                              Embedding(6, 4), Flatten(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] == 1.0


def test_category_encoding_before_a_dense_trains(rng):
    """y counts token 2 in each row: CategoryEncoding(count) -> Dense learns the weight 1 on slot 2."""
    x = rng.integers(0, 4, size=(128, 5))
    y = (x == 2).sum(axis=1, keepdims=True).astype("float32")
    model = nnkit.Sequential([nnkit.Input((5,)), CategoryEncoding(4, output_mode="count"), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=100, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 1e-3


def test_hashing_before_an_embedding_trains(rng):
    """y is a function of the hashed id; with enough bins the ids do not collide and Hashing -> Embedding
    learns it."""
    ids = rng.integers(0, 8, size=(256, 1))
    bins = Hashing(1000)(numpy.arange(8)[:, None]).ravel()
    assert len(set(bins.tolist())) == 8  # no collisions among the 8 ids
    y = (ids % 2).astype("float32")
    model = nnkit.Sequential([nnkit.Input((1,)), Hashing(1000), Embedding(1000, 4), Flatten(),
                              Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(ids, y, epochs=40, batch_size=32, verbose=0)
    assert model.evaluate(ids, y, verbose=0)[1] == 1.0


def test_string_lookup_before_an_embedding_trains():
    """Words -> StringLookup -> Embedding -> Dense learns which words are fruit; strings stay on the host."""
    words = numpy.array(["apple", "pear", "car", "bus", "plum", "train"] * 20)[:, None]
    y = numpy.isin(words, ["apple", "pear", "plum"]).astype("float32")
    lookup = StringLookup()
    lookup.adapt(words)
    model = nnkit.Sequential([Embedding(lookup.vocabulary_size(), 4), Flatten(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    ids = backend.to_host(lookup(words))
    model.fit(ids, y, epochs=60, batch_size=20, verbose=0)
    assert model.evaluate(ids, y, verbose=0)[1] == 1.0


def test_integer_lookup_inside_a_sequential_before_a_dense_trains(rng):
    """IntegerLookup(multi_hot) as the first layer of a Sequential; y counts the presence of id 70."""
    x = rng.choice([10, 40, 70, 99], size=(128, 3))
    y = (x == 70).any(axis=1, keepdims=True).astype("float32")
    model = nnkit.Sequential([nnkit.Input((3,)), IntegerLookup(vocabulary=[10, 40, 70], output_mode="multi_hot"),
                              Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=150, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 1e-3
