"""The golden cases of make_keras_categorical.py, shared with tests/test_categorical_layers.py (plain data: the
test suite imports it without Keras)."""
import numpy

#: case: (input key, Hashing arguments)
HASHINGS = {
    "fast_strings": ("hash_strings", dict(num_bins=2**31 - 1)),
    "fast_strings_3": ("hash_strings", dict(num_bins=3)),
    "strong_strings": ("hash_strings", dict(num_bins=2**31 - 1, salt=[133, 137])),
    "strong_strings_int_salt": ("hash_strings", dict(num_bins=1000, salt=7)),
    "fast_ints": ("hash_ints", dict(num_bins=2**31 - 1)),
    "strong_ints": ("hash_ints", dict(num_bins=2**31 - 1, salt=[2**40, 5])),
    "fast_floats": ("hash_floats", dict(num_bins=97)),
    "mask_strings": ("hash_strings", dict(num_bins=5, mask_value="")),
    "mask_ints": ("hash_ints", dict(num_bins=5, mask_value=0)),
    "one_hot": ("hash_column", dict(num_bins=4, output_mode="one_hot")),
    "multi_hot": ("hash_strings", dict(num_bins=6, output_mode="multi_hot")),
    "count": ("hash_strings", dict(num_bins=6, output_mode="count", salt=3)),
}
INTS = numpy.array([[3, 7, 7, 1, 0], [9, 3, 3, 7, 0], [5, 5, 1, 1, 2]])
WORDS = numpy.array([["b", "c", "c", "a", ""], ["d", "b", "b", "c", ""], ["zz", "zz", "a", "a", "[UNK]"]])
#: case: (class name, arguments, adapt data key or None, call input key)
LOOKUPS = {
    "int_adapt": ("IntegerLookup", dict(), "ints", "ints_new"),
    "int_adapt_max": ("IntegerLookup", dict(max_tokens=4, mask_token=0), "ints", "ints_new"),
    "int_vocab": ("IntegerLookup", dict(vocabulary=[7, 3, 100]), None, "ints_new"),
    "int_vocab_special": ("IntegerLookup", dict(vocabulary=[0, -1, 7, 3], mask_token=0), None, "ints_new"),
    "int_oov2": ("IntegerLookup", dict(vocabulary=[7, 3], num_oov_indices=2, mask_token=0), None, "ints_new"),
    "int_oov0": ("IntegerLookup", dict(num_oov_indices=0), "ints", "ints"),
    "int_invert": ("IntegerLookup", dict(vocabulary=[7, 3, 100], mask_token=0, invert=True), None, "indices"),
    "int_multi_hot": ("IntegerLookup", dict(mask_token=0, output_mode="multi_hot"), "ints", "ints_new"),
    "int_count": ("IntegerLookup", dict(num_oov_indices=2, output_mode="count"), "ints", "ints_new"),
    "int_one_hot": ("IntegerLookup", dict(vocabulary=[7, 3, 100], output_mode="one_hot"), None, "ints_column"),
    "str_adapt": ("StringLookup", dict(), "words", "words_new"),
    "str_adapt_max": ("StringLookup", dict(max_tokens=5, mask_token=""), "words", "words_new"),
    "str_vocab_special": ("StringLookup", dict(vocabulary=["", "[UNK]", "c", "b"], mask_token=""), None,
                          "words_new"),
    "str_oov3": ("StringLookup", dict(vocabulary=["a", "b"], num_oov_indices=3), None, "words_new"),
    "str_multi_hot": ("StringLookup", dict(mask_token="", output_mode="multi_hot"), "words", "words_new"),
    "str_count": ("StringLookup", dict(output_mode="count", num_oov_indices=2), "words", "words_new"),
    "str_one_hot": ("StringLookup", dict(vocabulary=["a", "b"], output_mode="one_hot"), None, "words_column"),
}
LOOKUP_INPUTS = {
    "ints": INTS, "ints_new": numpy.array([[7, 1, 4, 0], [100, 3, -5, 9]]), "ints_column": numpy.array([[7], [4], [100]]),
    "words": WORDS, "words_new": numpy.array([["c", "zz", "q", ""], ["a", "new", "b", "[UNK]"]]),
    "words_column": numpy.array([["a"], ["x"], ["b"]]), "indices": numpy.array([[0, 1, 2, 3], [4, 5, 9, 2]]),
}
