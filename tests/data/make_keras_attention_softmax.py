"""Writes the Keras-made fixture for tests/test_attention_softmax.py. Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_attention_softmax.py

It writes ``keras_attention_softmax.npz`` (a few KB): for every case of ``CASES`` (kept in the file as JSON
under ``cases``: the scores' shape and dtype, the mask's shape or None, causal, scale) the scores
``<i>_scores``, the mask ``<i>_mask`` (where given) and Keras' probabilities ``<i>_probs``, made the way
``MultiHeadAttention._compute_attention`` makes them: the causal mask of ``_compute_causal_mask`` ANDed into the
attention mask, then ``_masked_softmax`` (which expands a (B, Tq, Tk) mask at the heads' axis) of the scaled
scores.

nnkit does not depend on Keras; only this file's output is committed.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
from keras import ops  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# (scores shape (B, H, Tq, Tk), dtype, mask shape or None, causal, scale)
CASES = [
    ((2, 3, 4, 5), "float32", (2, 4, 5), False, 0.5),
    ((2, 2, 4, 6), "float32", None, True, 1.0),
    ((2, 2, 4, 6), "float32", (2, 4, 6), True, 0.35),
    ((2, 3, 3, 7), "float32", (2, 1, 1, 7), False, 1.0),
    ((1, 2, 5, 5), "float32", (5, 5), False, 1.0),
    ((1, 2, 3, 4), "float32", (1, 2, 3, 4), False, 1.0),   # with scores far below -1e9 at unmasked keys
    ((1, 2, 3, 4), "float16", (1, 3, 4), False, 1.0),      # -3e4 for float16
]


def masked_softmax(scores, mask, causal, dtype):
    """Keras' probabilities for ``scores`` (already scaled) through MultiHeadAttention's own methods."""
    B, H, Tq, Tk = scores.shape
    layer = keras.layers.MultiHeadAttention(num_heads=H, key_dim=2, dtype=dtype)
    layer._build_attention(rank=4)
    attention_mask = None if mask is None else ops.convert_to_tensor(mask)
    if causal:
        causal_mask = layer._compute_causal_mask(numpy.zeros((B, Tq, 1)), numpy.zeros((B, Tk, 1)))
        attention_mask = causal_mask if attention_mask is None else ops.logical_and(attention_mask, causal_mask)
    probs = layer._masked_softmax(ops.convert_to_tensor(scores), attention_mask)
    return ops.convert_to_numpy(probs)


def main():
    rng = numpy.random.default_rng(0)
    arrays = {"cases": json.dumps(CASES)}
    for i, (shape, dtype, mask_shape, causal, scale) in enumerate(CASES):
        scores = (rng.normal(size=shape) * 3).astype(dtype)
        mask = None if mask_shape is None else rng.random(mask_shape) > 0.35
        if mask is not None and mask.ndim >= 2 and mask.shape[-2] == shape[2]:
            mask[(0,) * (mask.ndim - 2)][1] = False  # a fully masked row
        if i in (5, 6):  # unmasked keys below Keras' -1e9 (float16: -3e4): the masked ones take the mass, then 0
            mask[(0,) * (mask.ndim - 2)][0] = [True, True, False, False]
            scores[0, :, 0, :2] = -2e9 if dtype == "float32" else -4e4
        arrays[f"{i}_scores"] = scores
        if mask is not None:
            arrays[f"{i}_mask"] = mask
        scaled = (scores * numpy.asarray(scale, dtype)).astype(dtype)
        arrays[f"{i}_probs"] = masked_softmax(scaled, mask, causal, dtype)
    path = os.path.join(HERE, "keras_attention_softmax.npz")
    numpy.savez_compressed(path, **arrays)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
