"""The golden cases of make_keras_text_vectorization.py, shared with tests/test_text_vectorization.py (plain data:
the test suite imports it without Keras)."""
import numpy

#: What the adapted cases learn from: ASCII and non-ASCII capitals, ASCII and Unicode punctuation, every ASCII
#: whitespace and some that are not ASCII (no-break and ideographic spaces), the OOV token, an empty text, ties.
TEXTS = numpy.array([
    "The quick brown fox jumps over the lazy dog.",
    "THE DOG barks; the fox runs!",
    "Héllo, WÖRLD: naïve café—résumé? İstanbul",
    "don't stop-believing... (it's 2024) #hashtag @user a+b=c",
    "  tabs\tand\nnewlines\r\vand\fspaces  ",
    "a\u00a0b ideographic\u3000space x_y [UNK] “quoted” ¿qué?",
    "",
    "the the the fox, dog",
])
#: What the cases are called on.
NEW = numpy.array([
    "the fox and the CAT!",
    "unknown words only",
    "Héllo wörld, the dog's résumé",
    "",
    "a b c d e f g h i j k l m n o p q the",
])
#: An explicit vocabulary (and idf weights for it).
VOCAB = ["the", "fox", "dog", "cat", "and", "résumé"]
IDF = [0.25, 1.5, 1.25, 2.0, 0.75, 3.0]
#: The lines of a vocabulary file; the first ends with "\r\n", which TensorFlow reads as "\n".
VOCAB_FILE = "the\r\nfox\ndog\nhéllo\n"


def standardize(texts):
    """A callable ``standardize``: it receives a NumPy array of str (Keras on a non-TensorFlow backend, and
    nnkit), keeps the case and turns commas into spaces."""
    return numpy.char.replace(texts, ",", " ")


#: case: (TextVectorization arguments, adapt data key or None, call input key). The adapt data of "batches"
#: and "batches_steps" are TEXTS in the batches BATCHES, given as an iterator (the latter with steps=2); the
#: "split_callable" case splits on commas (a callable, written for each library by its user).
CASES = {
    "default": (dict(), "texts", "new"),
    "column": (dict(), "texts_column", "new_column"),
    "sequence_pad": (dict(output_sequence_length=22), "texts", "new"),
    "sequence_truncate": (dict(output_sequence_length=3), "texts", "new"),
    "max_tokens": (dict(max_tokens=8), "texts", "new"),
    "lower": (dict(standardize="lower"), "texts", "new"),
    "strip_punctuation": (dict(standardize="strip_punctuation"), "texts", "new"),
    "no_standardize": (dict(standardize=None), "texts", "new"),
    "standardize_callable": (dict(standardize=standardize), "texts", "new"),
    "character": (dict(split="character", output_sequence_length=12), "texts", "new"),
    "no_split": (dict(split=None), "texts", "new_column"),
    "no_split_flat": (dict(split=None), "texts", "new"),
    "split_callable": (dict(standardize="lower"), "texts", "new"),
    "ngrams_2": (dict(ngrams=2), "texts", "new"),
    "ngrams_123": (dict(ngrams=(1, 2, 3), output_sequence_length=30), "texts", "new"),
    "ngrams_23_count": (dict(ngrams=(2, 3), output_mode="count", max_tokens=20), "texts", "new"),
    "multi_hot": (dict(output_mode="multi_hot"), "texts", "new"),
    "multi_hot_max": (dict(output_mode="multi_hot", max_tokens=5), "texts", "new"),
    "count": (dict(output_mode="count"), "texts", "new"),
    "count_pad": (dict(output_mode="count", max_tokens=60, pad_to_max_tokens=True), "texts", "new"),
    "tf_idf": (dict(output_mode="tf_idf"), "texts", "new"),
    "tf_idf_pad": (dict(output_mode="tf_idf", max_tokens=60, pad_to_max_tokens=True), "texts", "new"),
    "tf_idf_max_ngrams": (dict(output_mode="tf_idf", max_tokens=6, ngrams=2), "texts", "new"),
    "batches": (dict(output_mode="tf_idf"), "batches", "new"),
    "batches_steps": (dict(output_mode="count"), "batches", "new"),
    "vocab": (dict(vocabulary=VOCAB, output_sequence_length=6), None, "new"),
    "vocab_special": (dict(vocabulary=["", "[UNK]"] + VOCAB), None, "new"),
    "vocab_array": (dict(vocabulary=numpy.array(VOCAB), output_mode="count"), None, "new"),
    "vocab_multi_hot": (dict(vocabulary=VOCAB, output_mode="multi_hot"), None, "new"),
    "vocab_tf_idf": (dict(vocabulary=VOCAB, idf_weights=IDF, output_mode="tf_idf"), None, "new"),
    "vocab_tf_idf_special": (dict(vocabulary=["[UNK]"] + VOCAB, idf_weights=[0.5] + IDF, output_mode="tf_idf"),
                             None, "new"),
    "vocab_tf_idf_pad": (dict(vocabulary=VOCAB, idf_weights=IDF, output_mode="tf_idf", max_tokens=10,
                              pad_to_max_tokens=True), None, "new"),
    "vocab_file": (dict(), None, "new"),
}
BATCHES = [slice(0, 3), slice(3, 5), slice(5, 8)]
INPUTS = {"texts": TEXTS, "texts_column": TEXTS[:, None], "new": NEW, "new_column": NEW[:, None]}
#: The cases whose get_config() the golden file keeps (without name, dtype and callables).
CONFIG_CASES = ("default", "vocab_tf_idf_pad", "ngrams_123")
