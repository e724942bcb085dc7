"""Write tests/data/legacy.nnkit and tests/data/legacy.weights.safetensors: files in the layout nnkit wrote
before its files carried a SHA-256 digest (commit 5bc9f21), which must keep loading.

Run once, from the repository root, on a checkout of that commit (NNKIT_BACKEND=cpu):
    git worktree add /tmp/nnkit-5bc9f21 5bc9f21
    PYTHONPATH=/tmp/nnkit-5bc9f21 python tests/data/make_nnkit_legacy_files.py

The weights are set to values the test recomputes by formula (legacy_weight(shape, offset)); the optimizer
state comes from one Adam step on fixed data, so the test reads it back with safetensors' own reader.
"""
import os

import numpy

import nnkit
from nnkit import layers

HERE = os.path.dirname(os.path.abspath(__file__))


def legacy_weight(shape, offset):
    """Small dyadic values, exact in float32: (offset + 0, 1, 2, ...) / 8 - 1."""
    return ((numpy.arange(numpy.prod(shape)) + offset) / 8.0 - 1.0).reshape(shape).astype("float32")


def main():
    nnkit.utils.set_random_seed(0)
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = numpy.arange(12, dtype="float32").reshape(4, 3) / 10.0
    model.fit(x, numpy.ones((4, 2), "float32"), batch_size=4, epochs=1, verbose=0)
    model.set_weights([legacy_weight(w.shape, 10 * index) for index, w in enumerate(model.get_weights())])
    model.save(os.path.join(HERE, "legacy.nnkit"))
    model.save_weights(os.path.join(HERE, "legacy.weights.safetensors"))


if __name__ == "__main__":
    main()
