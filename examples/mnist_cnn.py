"""The classic Keras MNIST convolutional network, with ``keras`` replaced by ``nnkit``.

    python examples/mnist_cnn.py                            # the bundled 8x8 digits: offline, seconds on a CPU
    python examples/mnist_cnn.py --dataset mnist            # full MNIST (downloaded once, ~11 MB)
    python examples/mnist_cnn.py --dataset fashion_mnist --epochs 10

Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) -> Dense(10, softmax), Adam,
sparse categorical cross-entropy, batches of 64. Runs on the GPU when CuPy finds one, else on NumPy.
Prints the test accuracy and, when matplotlib is installed, saves the learning curves as a PNG.
"""
import argparse

import nnkit
from nnkit.layers import Conv2D, Dense, Flatten, MaxPooling2D

# Pixel range of each data set (the digits are 0..16, the MNIST files 0..255) and epochs by default.
DATASETS = {"digits": (16.0, 20), "mnist": (255.0, 5), "fashion_mnist": (255.0, 5)}


def load(name, data_dir):
    if name == "digits":
        return nnkit.datasets.digits.load_data()
    return getattr(nnkit.datasets, name).load_data(path=data_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    parser.add_argument("--data", metavar="DIR", help="directory of the four IDX .gz files (mnist, fashion_mnist)")
    parser.add_argument("--epochs", type=int, help="default: 20 on the digits, 5 on (fashion) MNIST")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--plot", metavar="PNG", help="where to save the learning curves "
                        "(default: <dataset>_cnn_history.png)")
    args = parser.parse_args()
    scale, default_epochs = DATASETS[args.dataset]

    nnkit.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load(args.dataset, args.data)
    # (N, H, W) uint8 -> (N, H, W, 1) floats in [0, 1]: Conv2D takes channels-last images.
    x_train = x_train[..., None].astype("float32") / scale
    x_test = x_test[..., None].astype("float32") / scale
    print(f"{args.dataset}: {len(x_train)} training and {len(x_test)} test images of {x_train.shape[1:]}")

    model = nnkit.Sequential([
        nnkit.Input(shape=x_train.shape[1:]),
        Conv2D(32, kernel_size=(3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Flatten(),
        Dense(128, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    print(f"Backend: {nnkit.backend.name()}")
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs or default_epochs,
                        validation_split=0.1)

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {accuracy:.4f}")

    plot = args.plot or f"{args.dataset}_cnn_history.png"
    try:
        nnkit.utils.plot_history(history, plot, title=f"nnkit CNN on {args.dataset}")
        print(f"Learning curves saved to {plot}")
    except ImportError as error:
        print(f"No plot: {error}")


if __name__ == "__main__":
    main()
