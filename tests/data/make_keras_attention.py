"""Writes the Keras-made fixtures for tests/test_attention_layers.py. Run it where Keras 3 is installed:

    pip install keras torch
    KERAS_BACKEND=torch python tests/data/make_keras_attention.py

It writes ``keras_attention.npz`` (a few tens of KB). For every case of ``LAYER_CASES`` (a class name, its
keyword arguments and call options; kept in the file as JSON under ``cases``): the inputs ``<i>_query``,
``<i>_value``, ``<i>_key`` (where given), the masks ``<i>_attention_mask`` / ``<i>_query_mask`` /
``<i>_value_mask`` (where given), the weights ``<i>_w<j>`` (random; biases non-zero), and Keras' outputs
``<i>_y`` (and ``<i>_scores`` where the case returns the attention scores).

For the Transformer encoder block of ``transformer()`` (Embedding, MultiHeadAttention self-attention with a
causal mask, residual Add, LayerNormalization, feed-forward, GlobalAveragePooling1D, softmax): the token ids
``transformer_x``, labels ``transformer_labels``, starting weights ``transformer_start_<i>``, predictions
``transformer_y``, the loss of one ``train_on_batch`` with SGD(learning_rate=0.1) and sparse categorical
cross-entropy ``transformer_loss``, and the weights after it ``transformer_after_<i>`` (``get_weights`` order).

nnkit does not depend on Keras; only this file's output is committed.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CAUSAL = {"use_causal_mask": True}
SCORES = {"return_attention_scores": True}
# (class name, keyword arguments, call options, {input name: shape without the batch axis}, mask names)
LAYER_CASES = [
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, {}, {"query": (5, 8), "value": (5, 8)}, []),
    ("MultiHeadAttention", {"num_heads": 3, "key_dim": 2, "value_dim": 4, "output_shape": 6}, SCORES,
     {"query": (4, 5), "value": (6, 7), "key": (6, 3)}, []),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "use_bias": False}, {**CAUSAL, **SCORES},
     {"query": (5, 6), "value": (5, 6)}, []),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, {}, {"query": (4, 6), "value": (5, 6)},
     ["attention_mask"]),
    ("MultiHeadAttention", {"num_heads": 1, "key_dim": 5}, CAUSAL, {"query": (5, 4), "value": (5, 4)},
     ["query_mask", "value_mask"]),
    ("Attention", {}, {}, {"query": (4, 3), "value": (5, 3)}, []),
    ("Attention", {"use_scale": True}, {**CAUSAL, **SCORES}, {"query": (5, 3), "value": (5, 2), "key": (5, 3)}, []),
    ("Attention", {"use_scale": True, "score_mode": "concat"}, SCORES, {"query": (4, 3), "value": (5, 3)},
     ["query_mask", "value_mask"]),
    ("Attention", {"score_mode": "concat"}, {}, {"query": (4, 3), "value": (5, 3)}, []),
    ("AdditiveAttention", {}, SCORES, {"query": (4, 3), "value": (5, 2), "key": (5, 3)}, ["value_mask"]),
    ("AdditiveAttention", {"use_scale": False}, CAUSAL, {"query": (5, 3), "value": (5, 3)}, []),
]

MASKS = {"query_mask": lambda shapes, rng: rng.random((2, shapes["query"][0])) > 0.3,
         "value_mask": lambda shapes, rng: numpy.array([[True] * 3 + [False] * (shapes["value"][0] - 3),
                                                        [True] * shapes["value"][0]]),
         "attention_mask": lambda shapes, rng: rng.random((2, shapes["query"][0], shapes["value"][0])) > 0.4}


def perturbed(weights, rng):
    """Non-zero biases (and scales away from 1), so a weight in the wrong place shows."""
    return [w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in weights]


def write_layers(rng, arrays):
    arrays["cases"] = json.dumps([[name, kwargs, options, {k: list(v) for k, v in shapes.items()}, masks]
                                  for name, kwargs, options, shapes, masks in LAYER_CASES])
    for i, (name, kwargs, options, shapes, masks) in enumerate(LAYER_CASES):
        layer = getattr(keras.layers, name)(**kwargs)
        inputs = {key: rng.normal(size=(2,) + shape).astype("float32") for key, shape in shapes.items()}
        mask_values = {key: MASKS[key](shapes, rng) for key in masks}
        if name == "MultiHeadAttention":
            layer(**inputs, **{k: v for k, v in mask_values.items() if k == "attention_mask"})  # builds
        else:
            layer([inputs["query"], inputs["value"]] + ([inputs["key"]] if "key" in inputs else []))
        layer.set_weights(perturbed(layer.get_weights(), rng))
        if name == "MultiHeadAttention":
            result = layer(**inputs, **mask_values, **options)
        else:
            listed = [inputs["query"], inputs["value"]] + ([inputs["key"]] if "key" in inputs else [])
            mask = [mask_values.get("query_mask"), mask_values.get("value_mask")] if mask_values else None
            result = layer(listed, mask=mask, **options)
        outputs = result if options.get("return_attention_scores") else (result,)
        for key, value in {**inputs, **mask_values}.items():
            arrays[f"{i}_{key}"] = value
        for j, w in enumerate(layer.get_weights()):
            arrays[f"{i}_w{j}"] = w
        arrays[f"{i}_y"] = keras.ops.convert_to_numpy(outputs[0])
        if len(outputs) > 1:
            arrays[f"{i}_scores"] = keras.ops.convert_to_numpy(outputs[1])


def transformer():
    layers = keras.layers
    tokens = keras.Input(shape=(6,), dtype="int32")
    x = layers.Embedding(20, 8)(tokens)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x, use_causal_mask=True)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, attended]))
    feed_forward = layers.Dense(8)(layers.Dense(16, activation="relu")(x))
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, feed_forward]))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, layers.Dense(3, activation="softmax")(x))


def write_transformer(rng, arrays):
    model = transformer()
    model.set_weights(perturbed(model.get_weights(), rng))
    x = rng.integers(0, 20, size=(4, 6)).astype("int32")
    labels = rng.integers(0, 3, size=(4,))
    arrays["transformer_x"], arrays["transformer_labels"] = x, labels
    for i, w in enumerate(model.get_weights()):
        arrays[f"transformer_start_{i}"] = w
    arrays["transformer_y"] = model.predict(x, verbose=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    arrays["transformer_loss"] = numpy.float32(model.train_on_batch(x, labels))
    for i, w in enumerate(model.get_weights()):
        arrays[f"transformer_after_{i}"] = w


def main():
    keras.utils.set_random_seed(0)
    rng = numpy.random.default_rng(0)
    arrays = {}
    write_layers(rng, arrays)
    write_transformer(rng, arrays)
    numpy.savez_compressed(os.path.join(HERE, "keras_attention.npz"), **arrays)


if __name__ == "__main__":
    main()
