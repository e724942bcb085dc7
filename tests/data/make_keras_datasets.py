"""Writes keras_datasets.npz: what Keras 3's ``keras.datasets.<name>.load_data`` returns for the small files of
dataset_cases.py (its download replaced by the local file), for tests/test_datasets_keras.py. Sequences are stored
ragged: the concatenated words (``<case>/<split>_words``) and each sequence's length (``<case>/<split>_lengths``);
of the housing sets only the targets, which name the input rows.

    KERAS_BACKEND=torch python tests/data/make_keras_datasets.py
"""
import os
import sys
import tempfile

import numpy
from keras.src.datasets import boston_housing, california_housing, imdb, reuters

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dataset_cases import CASES, write_housing, write_imdb, write_reuters  # noqa: E402

MODULES = {"imdb": imdb, "reuters": reuters, "boston_housing": boston_housing,
           "california_housing": california_housing}


def main():
    folder = tempfile.mkdtemp()
    files = {"imdb": os.path.join(folder, "imdb.npz"), "reuters": os.path.join(folder, "reuters.npz"),
             "boston_housing": os.path.join(folder, "boston.npz"),
             "california_housing": os.path.join(folder, "california.npz")}
    write_imdb(files["imdb"])
    write_reuters(files["reuters"])
    write_housing(files["boston_housing"], rows=20, features=13)
    write_housing(files["california_housing"], rows=650, features=8)
    out = {}
    for case, (name, kwargs) in CASES.items():
        module = MODULES[name]
        module.get_file = lambda *args, _file=files[name], **kw: _file  # the local file instead of the download
        (x_train, y_train), (x_test, y_test) = module.load_data(**kwargs)
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if x.dtype == object:
                out[f"{case}/{split}_words"] = numpy.array([w for seq in x for w in seq], dtype=numpy.int64)
                out[f"{case}/{split}_lengths"] = numpy.array([len(seq) for seq in x], dtype=numpy.int64)
            else:  # the targets name the input rows (dataset_cases.write_housing): the test checks x by them
                assert numpy.array_equal(x, numpy.load(files[name])["x"][y.astype(int)])
            out[f"{case}/{split}_y"] = y
    numpy.savez_compressed(os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_datasets.npz"), **out)
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    main()
