"""TextVectorization: Keras goldens (tests/data/make_keras_text_vectorization.py) for each output mode, standardize
and split option, ngrams, sequence lengths, max_tokens, tf_idf, given vocabularies and adapting on batches;
hand-computed cases, shape and error tables, configs, no gradient, and a text classifier that trains."""
import json
import os

import numpy
import pytest

import nnkit
from nnkit import backend
from nnkit.layers import Dense, Embedding, GlobalAveragePooling1D
from nnkit.layers.text_vectorization import TextVectorization

from data.text_vectorization_cases import BATCHES, CASES, CONFIG_CASES, INPUTS, NEW, TEXTS, VOCAB, VOCAB_FILE

HERE = os.path.join(os.path.dirname(__file__), "data")
GOLDEN = numpy.load(os.path.join(HERE, "keras_text_vectorization.npz"))
with open(os.path.join(HERE, "keras_text_vectorization_config.json")) as _file:
    KERAS_CONFIGS = json.load(_file)


def split_on_commas(texts):
    """The "split_callable" case's split, as an nnkit user writes it (Keras' takes and returns TF tensors)."""
    return [text.split(",") for text in texts]


def make_case(case, folder):
    """The layer of a golden case, adapted as the golden script adapted Keras'."""
    kwargs, data, _ = CASES[case]
    if case == "vocab_file":
        path = os.path.join(folder, "vocabulary.txt")
        with open(path, "w", encoding="utf-8", newline="") as file:
            file.write(VOCAB_FILE)
        kwargs = dict(kwargs, vocabulary=path)
    if case == "split_callable":
        kwargs = dict(kwargs, split=split_on_commas)
    layer = TextVectorization(**kwargs)
    if data == "batches":
        layer.adapt(iter([TEXTS[part] for part in BATCHES]), steps=2 if case == "batches_steps" else None)
    elif data is not None:
        layer.adapt(INPUTS[data])
    return layer


def ids(layer, texts):
    return backend.to_host(layer(texts))


# ---- Keras goldens ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_keras(xp, case, tmp_path):
    """Vocabulary and outputs; Keras gives multi_hot and count as int64, nnkit as floatx (same values)."""
    layer = make_case(case, tmp_path)
    expected_vocabulary = GOLDEN[f"{case}_vocabulary"].tolist()
    assert layer.get_vocabulary() == expected_vocabulary
    assert layer.vocabulary_size() == len(expected_vocabulary)
    y = ids(layer, INPUTS[CASES[case][2]])
    expected = GOLDEN[f"{case}_y"]
    assert y.shape == expected.shape and y.dtype == (numpy.int64 if layer.output_mode == "int" else numpy.float32)
    numpy.testing.assert_allclose(y, expected, rtol=1e-6, atol=0)
    shape = layer.compute_output_shape((None,) + INPUTS[CASES[case][2]].shape[1:])  # None: the longest sequence
    assert len(shape) == y.ndim and all(s in (None, n) for s, n in zip(shape[1:], y.shape[1:]))


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_config_matches_keras(case, tmp_path):
    config = json.loads(json.dumps(make_case(case, tmp_path).get_config()))
    del config["name"]
    assert config == KERAS_CONFIGS[case]


@pytest.mark.parametrize("texts", [
    numpy.char.encode(NEW, "utf-8"), NEW.astype(object), list(NEW), numpy.char.encode(NEW, "utf-8").astype(object),
], ids=["bytes", "object_str", "list", "object_bytes"])
def test_bytes_objects_and_lists_are_texts_too(texts):
    layer = TextVectorization()
    layer.adapt(list(TEXTS))
    numpy.testing.assert_array_equal(ids(layer, texts), GOLDEN["default_y"])


# ---- hand-computed cases --------------------------------------------------------------------------------------
def test_standardize_by_hand():
    """ASCII letters only are lowercased (TensorFlow's tf.strings.lower) and ASCII punctuation only is stripped."""
    text = "HÉllo, W-O_R.L'D! [ok] (x+y=z) “É” ¿Ö? café—au\tlait"
    expected = {"lower_and_strip_punctuation": "hÉllo world ok xyz “É” ¿Ö café—au\tlait",
                "lower": "hÉllo, w-o_r.l'd! [ok] (x+y=z) “É” ¿Ö? café—au\tlait",
                "strip_punctuation": "HÉllo WORLD ok xyz “É” ¿Ö café—au\tlait", None: text}
    for standardize, standardized in expected.items():
        layer = TextVectorization(standardize=standardize, split=None)
        layer.adapt([text])
        assert layer.get_vocabulary(include_special_tokens=False) == [standardized]


def test_split_by_hand():
    layer = TextVectorization(standardize=None)
    layer.adapt(["  a\tb\nc\r\vd\fe  f\u00a0g\u3000h "])
    assert sorted(layer.get_vocabulary(include_special_tokens=False)) == ["a", "b", "c", "d", "e", "f\u00a0g\u3000h"]
    characters = TextVectorization(split="character", standardize=None)
    characters.adapt(["héé ", "é"])
    assert characters.get_vocabulary() == ["", "[UNK]", "é", "h", " "]


def test_ngrams_by_hand():
    """Width by width, in order of position (Keras' own output for these texts)."""
    layer = TextVectorization(ngrams=(1, 2, 3))
    layer.adapt(["a b c d"])
    assert layer.get_vocabulary() == ["", "[UNK]", "d", "c d", "c", "b c d", "b c", "b", "a b c", "a b", "a"]
    numpy.testing.assert_array_equal(ids(layer, ["a b c d", "d c"]), [[10, 7, 4, 2, 9, 6, 3, 8, 5], [2, 4, 1, 0, 0, 0,
                                                                                                    0, 0, 0]])
    bigrams = TextVectorization(ngrams=2, output_mode="count")
    bigrams.adapt(["x y x y"])  # x, y and "x y" twice (ties by descending token), "y x" once
    assert bigrams.get_vocabulary() == ["[UNK]", "y", "x y", "x", "y x"]


def test_tf_idf_by_hand():
    """idf = log(1 + documents / (1 + documents with the token)), the OOV slot the mean; output count * idf."""
    layer = TextVectorization(output_mode="tf_idf")
    layer.adapt(["a b a", "c a", ""])  # three documents: a in 2, b in 1, c in 1
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b"]
    idf = numpy.log(1 + 3 / (1 + numpy.array([2.0, 1.0, 1.0])))
    oov = idf.mean()
    numpy.testing.assert_allclose(ids(layer, ["a b a q", "C!"]), [[oov, 2 * idf[0], 0, idf[2]], [0, 0, idf[1], 0]],
                                  rtol=1e-6)


def test_sequence_length_and_max_tokens_by_hand():
    layer = TextVectorization(max_tokens=4, output_sequence_length=3)
    layer.adapt(["z z z y y x w"])
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y"]
    numpy.testing.assert_array_equal(ids(layer, ["x y z w", "z", ""]), [[1, 3, 2], [2, 0, 0], [0, 0, 0]])
    padded = TextVectorization(max_tokens=6, pad_to_max_tokens=True, output_mode="multi_hot")
    padded.adapt(["z z y"])
    numpy.testing.assert_array_equal(ids(padded, ["y q y"]), [[1, 0, 1, 0, 0, 0]])


def test_adapt_reads_iterables_of_batches():
    def batches():
        yield numpy.array(["a b", "b"])
        yield ["c b"]
        yield numpy.array([["d d d d"]])
    layer = TextVectorization()
    layer.adapt(batches())
    assert layer.get_vocabulary() == ["", "[UNK]", "d", "b", "c", "a"]
    layer.adapt(batches(), steps=2)  # adapting again starts afresh
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "c", "a"]
    layer.adapt(numpy.array([["q r"], ["r"]]), batch_size=1)
    assert layer.get_vocabulary() == ["", "[UNK]", "r", "q"]


def test_special_tokens_stay_out_of_the_vocabulary_but_look_alikes_stay_in():
    layer = TextVectorization(standardize=None)
    layer.adapt(["[UNK] [UN [UN ab"])
    assert layer.get_vocabulary() == ["", "[UNK]", "[UN", "ab"]


def test_set_vocabulary_replaces_the_vocabulary():
    layer = TextVectorization(output_mode="tf_idf")
    layer.set_vocabulary(["b", "a"], idf_weights=[2.0, 4.0])
    numpy.testing.assert_allclose(ids(layer, ["a a q"]), [[3.0, 0.0, 8.0]])
    assert layer.get_config()["vocabulary"] == ["b", "a"] and layer.get_config()["idf_weights"] == [2.0, 4.0]
    with pytest.raises(ValueError, match="one weight per vocabulary entry"):
        layer.set_vocabulary(["c"], idf_weights=[1.0, 2.0])
    assert layer.get_vocabulary() == ["[UNK]", "b", "a"]  # unchanged by the failed call
    layer.set_vocabulary(numpy.array(["[UNK]", "a"]), idf_weights=numpy.array([0.5, 1.0]))
    numpy.testing.assert_allclose(ids(layer, ["a q"]), [[0.5, 1.0]])


def test_float64_outputs_follow_floatx():
    backend.set_floatx("float64")
    layer = TextVectorization(vocabulary=VOCAB, output_mode="count")
    assert ids(layer, ["the fox"]).dtype == numpy.float64


# ---- shapes and errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, input_shape, output_shape", [
    (TextVectorization(vocabulary=VOCAB), (None,), (None, None)),
    (TextVectorization(vocabulary=VOCAB, output_sequence_length=7), (None, 1), (None, 7)),
    (TextVectorization(vocabulary=VOCAB, split=None), (None, 1), (None, 1)),
    (TextVectorization(vocabulary=VOCAB, split=None, output_sequence_length=3), (None, 1), (None, 3)),
    (TextVectorization(vocabulary=VOCAB, output_mode="multi_hot"), (None,), (None, 7)),
    (TextVectorization(vocabulary=VOCAB, output_mode="count", max_tokens=20, pad_to_max_tokens=True), (None, 1),
     (None, 20)),
    (TextVectorization(output_mode="count"), (None,), (None, None)),  # not adapted yet
    (TextVectorization(output_mode="count", vocabulary_size=9), (None,), (None, 9)),  # from a config
], ids=str)
def test_output_shapes(layer, input_shape, output_shape):
    assert tuple(layer.compute_output_shape(input_shape)) == output_shape


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(standardize="upper"), ValueError, "`standardize` to be None, one of .*Received: standardize='upper'"),
    (dict(split="comma"), ValueError, "`split` to be None, one of .*Received: split='comma'"),
    (dict(output_mode="one_hot"), ValueError, "`output_mode` to be one of 'int', 'multi_hot', 'count', 'tf_idf'"),
    (dict(output_mode="bag"), ValueError, "Received: output_mode='bag'"),
    (dict(sparse=True), ValueError, "sparse=True` is not supported"),
    (dict(ragged=True), ValueError, "ragged=True` is not supported"),
    (dict(ngrams=0), ValueError, "`ngrams` must be None, a positive integer or a tuple"),
    (dict(ngrams=(1, "2")), ValueError, "Received: ngrams=\\(1, '2'\\)"),
    (dict(ngrams=2, split=None), ValueError, "`ngrams` needs a `split`"),
    (dict(output_mode="count", output_sequence_length=4), ValueError, "must not be set if `output_mode` is not"),
    (dict(output_sequence_length=0), ValueError, "positive integer for `output_sequence_length`"),
    (dict(max_tokens=1), ValueError, "None or greater than 1. Received: max_tokens=1"),
    (dict(output_mode="count", pad_to_max_tokens=True), ValueError, "pad_to_max_tokens=True` needs `max_tokens`"),
    (dict(idf_weights=[1.0]), ValueError, "`idf_weights` should only be set if output_mode is 'tf_idf'"),
    (dict(vocabulary=["a"], output_mode="tf_idf"), ValueError, "`idf_weights` must be given too"),
    (dict(vocabulary=["a", "b"], idf_weights=[1.0], output_mode="tf_idf"), ValueError, "one weight per vocabulary"),
    (dict(vocabulary=["a", "b", "a"]), ValueError, r"unique tokens; repeated: \['a'\]"),
    (dict(vocabulary=["a", "b"], max_tokens=3), ValueError, "4 entries .* max_tokens=3"),
    (dict(vocabulary="/no/such/vocabulary.txt"), ValueError, "vocabulary file '/no/such/vocabulary.txt' does not"),
    (dict(pad_to_max_token=True), TypeError, "pad_to_max_token"),
])
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        TextVectorization(**kwargs)


def test_vocabulary_file_errors(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("a\n\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has an empty line \\(line 2\\)"):
        TextVectorization(vocabulary=path)
    path.write_text("a\nb\n", encoding="utf-8")
    assert TextVectorization(vocabulary=path).get_vocabulary() == ["", "[UNK]", "a", "b"]
    with pytest.raises(ValueError, match="'tf_idf' does not support loading a vocabulary from a file"):
        TextVectorization(vocabulary=str(path), idf_weights=[1.0, 1.0], output_mode="tf_idf")


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count", "tf_idf"])
def test_calling_before_adapt_is_an_error(mode):
    with pytest.raises(ValueError, match="no vocabulary: pass `vocabulary` or call adapt"):
        TextVectorization(output_mode=mode)(["a b"])


def test_call_and_adapt_errors():
    layer = TextVectorization(vocabulary=VOCAB)
    with pytest.raises(TypeError, match="expects strings. Received dtype int64"):
        layer(numpy.array([[1], [2]]))
    with pytest.raises(ValueError, match=r"rank 1, or of rank 2 with a last axis of 1. .* shape \(2, 2\)"):
        layer(numpy.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="expects a batch of texts"):
        layer.forward(numpy.array("the fox"))
    with pytest.raises(ValueError, match="was given a vocabulary; it cannot adapt"):
        layer.adapt(["the fox"])
    with pytest.raises(TypeError, match="Received a single str"):
        TextVectorization().adapt("the fox")
    with pytest.raises(ValueError, match="returned 1 token lists for 2 texts"):
        TextVectorization(split=lambda texts: [["a"]]).adapt(["a", "b"])


def test_backward_has_no_gradient():
    layer = TextVectorization(vocabulary=VOCAB)
    layer(["the fox"])
    layer.needs_input_gradient = False
    assert layer.backward(numpy.ones((1, 2))) is None
    layer.needs_input_gradient = True
    with pytest.raises(NotImplementedError, match="TextVectorization"):
        layer.backward(numpy.ones((1, 2)))


# ---- configs and models -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(), dict(max_tokens=50, standardize="lower", split="character", output_sequence_length=9),
    dict(ngrams=(1, 3), output_mode="count", max_tokens=30, pad_to_max_tokens=True, standardize=None),
    dict(vocabulary=VOCAB, idf_weights=list(range(1, 7)), output_mode="tf_idf", name="words"),
    dict(vocabulary=["", "[UNK]", "a"], split=None, encoding="latin-1"),
], ids=str)
def test_config_round_trips_through_json(kwargs):
    layer = TextVectorization(**kwargs)
    config = json.loads(json.dumps(layer.get_config()))
    twin = TextVectorization.from_config(config)
    assert json.loads(json.dumps(twin.get_config())) == config
    assert twin.get_vocabulary() == layer.get_vocabulary()


def test_adapted_vocabulary_stays_out_of_the_config_as_in_keras():
    layer = TextVectorization(output_mode="multi_hot")
    layer.adapt(["a b c"])
    config = layer.get_config()
    assert config["vocabulary"] is None and config["vocabulary_size"] == 4
    twin = TextVectorization.from_config(json.loads(json.dumps(config)))
    assert twin.get_config() == config and twin.compute_output_shape((None,)) == (None, 4)


POSITIVE = ["What a great movie!", "I loved it, great acting.", "Wonderful and moving.", "A great, lovely film.",
            "Loved the wonderful music.", "Great fun, loved it."]
NEGATIVE = ["What a terrible movie.", "I hated it; awful acting!", "Boring and awful.", "A terrible, boring film.",
            "Hated the awful music.", "Awful, I hated it."]


def test_text_classifier_trains_and_runs_on_raw_texts():
    """TextVectorization in the data pipeline -> Embedding -> GlobalAveragePooling1D -> Dense learns the sentiment
    of a handful of sentences; then the same layers with the TextVectorization first (Sequential, and functional
    from a string Input) take the raw texts and give the same predictions."""
    texts = numpy.array(POSITIVE + NEGATIVE)
    y = numpy.array([1.0] * len(POSITIVE) + [0.0] * len(NEGATIVE))[:, None]
    vectorize = TextVectorization(max_tokens=40, output_sequence_length=6)
    vectorize.adapt(texts)
    sequences = ids(vectorize, texts)
    classifier = nnkit.Sequential([nnkit.Input((6,)), Embedding(vectorize.vocabulary_size(), 8),
                                   GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    classifier.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy",
                       metrics=["accuracy"])
    history = classifier.fit(sequences, y, epochs=40, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] == 1.0
    expected = classifier.predict(sequences, verbose=0)
    end_to_end = nnkit.Sequential([vectorize, classifier])
    numpy.testing.assert_allclose(backend.to_host(end_to_end(texts)), expected, rtol=1e-6)
    inputs = nnkit.Input(shape=(1,), dtype="string")
    functional = nnkit.Model(inputs, classifier(vectorize(inputs)))
    numpy.testing.assert_allclose(backend.to_host(functional(texts[:, None])), expected, rtol=1e-6)


def test_fit_evaluate_and_predict_take_raw_strings_for_a_model_that_starts_with_text_vectorization():
    texts = numpy.array(["good movie", "bad movie", "great film", "awful film", "good fun", "bad plot"] * 4)
    labels = numpy.array([1, 0, 1, 0, 1, 0] * 4, "float32")
    vectorizer = TextVectorization(output_sequence_length=3)
    vectorizer.adapt(texts)
    model = nnkit.Sequential([nnkit.Input((1,), dtype="string"), vectorizer, nnkit.layers.Embedding(20, 8),
                              nnkit.layers.GlobalAveragePooling1D(), nnkit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=nnkit.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(texts[:, None], labels, epochs=15, batch_size=6, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(texts[:, None], labels, verbose=0)[1] == 1.0
    predictions = model.predict(texts[:6, None], verbose=0).ravel()
    assert numpy.array_equal(predictions > 0.5, labels[:6] == 1)


def test_an_adapted_vocabulary_and_its_idf_weights_survive_save_and_load(tmp_path):
    from nnkit.layers import IntegerLookup, StringLookup
    texts = numpy.array(["the cat sat", "the dog ran", "a cat ran", "the end"])
    vectorizer = TextVectorization(output_mode="tf_idf")
    vectorizer.adapt(texts)
    words = StringLookup(output_mode="multi_hot")
    words.adapt(numpy.array(["b", "a", "b", "c"]))
    numbers = IntegerLookup()
    numbers.adapt(numpy.array([7, 7, 3, 9, 9, 9]))
    text_input, word_input, number_input = (nnkit.Input((), dtype="string"), nnkit.Input((1,), dtype="string"),
                                            nnkit.Input((2,), dtype="int64"))
    model = nnkit.Model([text_input, word_input, number_input],
                        [vectorizer(text_input), words(word_input), numbers(number_input)])
    data = [texts, numpy.array([["a"], ["c"], ["z"], ["b"]]), numpy.array([[9, 3], [7, 1], [3, 3], [9, 9]])]
    expected = model.predict(data, verbose=0)
    model.save(tmp_path / "text.nnkit")
    loaded = nnkit.models.load_model(tmp_path / "text.nnkit")
    assert loaded.layers[3].get_vocabulary() == vectorizer.get_vocabulary()
    for got, want in zip(loaded.predict(data, verbose=0), expected):
        numpy.testing.assert_array_equal(got, want)
    # hand-checked: "the" is in 3 of 4 texts, so its idf is log(1 + 4 / (1 + 3))
    the = vectorizer.get_vocabulary().index("the")
    assert expected[0][0, the] == pytest.approx(numpy.log(2.0), rel=1e-6)
