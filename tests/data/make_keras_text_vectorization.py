"""Writes the Keras-made fixtures for tests/test_text_vectorization.py. Run it where Keras 3 and TensorFlow are
installed (Keras' TextVectorization runs TensorFlow's string ops whatever the backend):

    pip install keras torch tensorflow-cpu
    KERAS_BACKEND=torch python tests/data/make_keras_text_vectorization.py

``keras_text_vectorization.npz``: for each case of text_vectorization_cases.CASES, ``<case>_vocabulary``
(``get_vocabulary()``) and ``<case>_y`` (the layer's output for the case's input). The "vocab_file" case reads its
vocabulary from a file holding VOCAB_FILE; the "split_callable" case splits on commas.
``keras_text_vectorization_config.json``: ``get_config()`` of the CONFIG_CASES, without name and dtype.

nnkit does not depend on Keras; only this file's output is committed.
"""
import json
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
from text_vectorization_cases import BATCHES, CASES, CONFIG_CASES, INPUTS, TEXTS, VOCAB_FILE  # noqa: E402


def make_layer(case, kwargs, folder):
    if case == "vocab_file":
        path = os.path.join(folder, "vocabulary.txt")
        with open(path, "w", encoding="utf-8", newline="") as file:
            file.write(VOCAB_FILE)
        kwargs = dict(kwargs, vocabulary=path)
    if case == "split_callable":
        kwargs = dict(kwargs, split=lambda texts: tf.strings.split(texts, sep=","))
    return keras.layers.TextVectorization(**kwargs)


def main():
    out, configs = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for case, (kwargs, data, x) in CASES.items():
            layer = make_layer(case, kwargs, folder)
            if data == "batches":
                layer.adapt(iter([TEXTS[part] for part in BATCHES]), steps=2 if case == "batches_steps" else None)
            elif data is not None:
                layer.adapt(INPUTS[data])
            out[f"{case}_vocabulary"] = numpy.array(layer.get_vocabulary(), dtype=str)
            out[f"{case}_y"] = keras.ops.convert_to_numpy(layer(INPUTS[x]))
            if case in CONFIG_CASES:
                config = layer.get_config()
                del config["name"], config["dtype"]
                configs[case] = config
    numpy.savez_compressed(os.path.join(HERE, "keras_text_vectorization.npz"), **out)
    with open(os.path.join(HERE, "keras_text_vectorization_config.json"), "w") as file:
        json.dump(configs, file, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
