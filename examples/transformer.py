"""A Transformer encoder block (Vaswani et al. 2017) on a generated sequence task that needs attention.

Each sequence holds 12 tokens drawn from 16; the label says whether the first token appears again later in the
sequence. Bag-of-tokens models cannot tell which token is the first one, and a model that guesses the majority
class scores about 51%: a position-aware comparison of every step with step 0 is what attention provides.

The block is the keras-io "Text classification with Transformer" one: multi-head self-attention and a
feed-forward network, each with a residual Add and LayerNormalization. The classifier reads the first step's
output (as BERT reads its [CLS] token): there, attention compares the first token with every other one. The
position embedding is a small custom layer with its own backward pass (nnkit's way to write one until autodiff
lands).

    python examples/transformer.py             # about 30 s on a 2-core CPU
    python examples/transformer.py --epochs 3  # quicker
"""
import argparse
import time

import numpy

import nnkit
from nnkit import backend, layers

STEPS, VOCABULARY, WIDTH = 12, 16, 32


def first_token_repeats(n, rng):
    tokens = rng.integers(0, VOCABULARY, size=(n, STEPS))
    labels = (tokens[:, 1:] == tokens[:, :1]).any(axis=1).astype("float32")
    return tokens, labels


class PositionEmbedding(layers.Layer):
    """Adds a learned vector per position to a ``(batch, steps, features)`` input."""

    def build(self, input_shape):
        self.add_weight(name="embeddings", shape=tuple(input_shape[1:]), initializer="glorot_uniform")

    def forward(self, x, training=False):
        return x + self.embeddings

    def backward(self, dy):
        if "embeddings" in self.grads:
            self.grads["embeddings"][...] = dy.sum(axis=0)
        return dy


def transformer_block(x, heads=2, key_dim=16, hidden=64, dropout=0.0):
    attended = layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim, dropout=dropout)(x, x)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, layers.Dropout(dropout)(attended)]))
    feed_forward = layers.Dense(WIDTH)(layers.Dense(hidden, activation="relu")(x))
    return layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, layers.Dropout(dropout)(feed_forward)]))


def build_model():
    tokens = layers.Input(shape=(STEPS,), dtype="int32")
    x = PositionEmbedding()(layers.Embedding(VOCABULARY, WIDTH)(tokens))
    x = transformer_block(x)
    x = layers.Flatten()(layers.Cropping1D((0, STEPS - 1))(x))  # the first step's output, as a [CLS] token
    x = layers.Dense(32, activation="relu")(x)
    return nnkit.Model(tokens, layers.Dense(1, activation="sigmoid")(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    nnkit.utils.set_random_seed(0)
    rng = numpy.random.default_rng(0)
    x_train, y_train = first_token_repeats(6000, rng)
    x_test, y_test = first_token_repeats(2000, rng)
    print(f"backend: {backend.name()}; {len(x_train)} training sequences of {STEPS} tokens; "
          f"majority class: {max(y_test.mean(), 1 - y_test.mean()):.3f} of the test set")
    model = build_model()
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.003), loss="binary_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, validation_split=0.1, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Trained {args.epochs} epochs in {seconds:.1f} s")
    print(f"Test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
