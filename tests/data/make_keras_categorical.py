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
from categorical_cases import HASHINGS, INTS, LOOKUP_INPUTS, LOOKUPS, WORDS  # noqa: E402


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
