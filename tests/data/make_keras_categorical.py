"""Writes the Keras-made fixtures for tests/test_categorical_layers.py. Run it where Keras 3 is installed:

    pip install keras torch tensorflow-cpu
    KERAS_BACKEND=torch python tests/data/make_keras_categorical.py

(Keras' Hashing runs TensorFlow's string hashes whatever the backend, so TensorFlow is needed.)

``keras_categorical.npz``: Keras' outputs for fixed inputs of CategoryEncoding (each output mode, rank 1 and 2)
and Discretization (given boundaries, each output mode; adapted on a fixed sample for several ``num_bins`` and
``epsilon``, with the boundaries ``adapt`` found). Keys: ``<case>_x`` inputs, ``<case>_y`` outputs,
``<case>_boundaries`` adapted boundaries, ``adapt_sample`` the data every ``adapt_*`` case adapted on (whole, or
``adapt_batches`` in three batches: rows 0-99, 100-219, 220-299), whose ``_y`` are outputs for
``discretization_int_x``; Hashing (FarmHash and SipHash, strings of every length class of FarmHash, integers,
floats, mask values, each output mode): ``hashing_<case>_y`` for the inputs ``hash_strings`` / ``hash_ints`` /
``hash_floats`` named in HASHINGS; IntegerLookup and StringLookup (LOOKUPS: adapted or given vocabularies,
masks, OOV buckets, IntegerLookup's invert, each output mode; StringLookup's invert fails in Keras on the torch
backend, so it has none): ``lookup_<case>_y`` outputs for ``lookup_<case>_x``, and
``lookup_<case>_vocabulary`` (``get_vocabulary()``).

nnkit does not depend on Keras; only this file's output is committed.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
L = keras.layers
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


def as_text(array):
    """A vocabulary (strs or ints) as an array."""
    return numpy.asarray(array)


def adapt(layer, batches):
    """What Discretization.adapt does for arrays and lists of batches (its isinstance check on tf.data needs
    TensorFlow, absent from a torch-only install)."""
    layer.reset_state()
    for batch in batches:
        layer.update_state(batch)
    layer.finalize_state()


def main():
    out = {}
    rng = numpy.random.default_rng(0)
    tokens = rng.integers(0, 6, size=(5, 4))
    for mode in ("multi_hot", "one_hot", "count"):
        for rank, x in (("r2", tokens), ("r1", tokens[0]), ("col", tokens[:, :1])):
            case = f"encoding_{mode}_{rank}"
            out[case + "_x"] = x
            out[case + "_y"] = keras.ops.convert_to_numpy(L.CategoryEncoding(6, output_mode=mode)(x))
    values = rng.normal(size=(6, 3)).astype("float32")
    values[0, :3] = [-0.5, 0.0, 0.5]  # exactly on the boundaries
    for mode in ("int", "one_hot", "multi_hot", "count"):
        case = f"discretization_{mode}"
        out[case + "_x"] = values
        layer = L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5], output_mode=mode)
        out[case + "_y"] = keras.ops.convert_to_numpy(layer(values))
    sample = rng.gamma(2.0, size=(300, 1)).astype("float32")
    for num_bins, epsilon in ((4, 0.01), (5, 0.1), (3, 0.001), (7, 0.05)):
        case = f"adapt_{num_bins}_{str(epsilon).replace('.', 'p')}"
        layer = L.Discretization(num_bins=num_bins, epsilon=epsilon)
        adapt(layer, [sample])
        out[case + "_boundaries"] = numpy.array(layer.bin_boundaries)
        out[case + "_y"] = keras.ops.convert_to_numpy(layer(values))
    layer = L.Discretization(num_bins=4, epsilon=0.05)
    adapt(layer, [sample[:100], sample[100:220], sample[220:]])
    out["adapt_sample"] = sample
    out["adapt_batches_boundaries"] = numpy.array(layer.bin_boundaries)
    words = ["", "a", "ab", "abc", "abcd", "héllo", "12345678", "twelve chars", "sixteen chars!!!",
             "seventeen chars!!", "x" * 32, "y" * 33, "a slightly longer string of 48 characters......",
             "z" * 64, "w" * 65, "a string of more than one hundred and twenty eight bytes, " * 3, "omar",
             "stringer", "marlo", "wire"]
    out["hash_strings"] = numpy.array(words).reshape(5, 4)
    out["hash_ints"] = numpy.array([[0, 1, 2, -1], [7, 42, -123456789, 2**40], [10**15, 3, 99, 100]])
    out["hash_floats"] = numpy.array([[0.0, 1.7, -2.5], [3.9, 42.0, 100.2]], dtype="float32")
    out["hash_column"] = numpy.array([["A"], ["B"], ["C"], ["D"], ["E"]])
    for case, (key, kwargs) in HASHINGS.items():
        out[f"hashing_{case}_y"] = keras.ops.convert_to_numpy(L.Hashing(**kwargs)(out[key]))
    for case, (cls, kwargs, data, x) in LOOKUPS.items():
        layer = getattr(L, cls)(**kwargs)
        if data is not None:
            layer.adapt(LOOKUP_INPUTS[data])
        out[f"lookup_{case}_vocabulary"] = as_text(layer.get_vocabulary())
        out[f"lookup_{case}_y"] = keras.ops.convert_to_numpy(layer(LOOKUP_INPUTS[x]))
    numpy.savez_compressed(os.path.join(HERE, "keras_categorical.npz"), **out)


if __name__ == "__main__":
    main()
