"""A multi-layer perceptron on the handwritten digits bundled with nnkit (no download needed).

    python examples/mlp.py [--epochs 30] [--batch-size 32]

Runs on the GPU when CuPy finds one, else on NumPy; prints the test accuracy at the end.
"""
import argparse

import nnkit
from nnkit.layers import Dense, Dropout, Flatten


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    nnkit.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
    x_train, x_test = x_train / 16.0, x_test / 16.0  # pixels are 0..16

    model = nnkit.Sequential([
        nnkit.Input(shape=(8, 8)),
        Flatten(),
        Dense(256, activation="relu"),
        Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    print(f"Backend: {nnkit.backend.name()}")
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1)

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
