"""The MNIST convolutional network trained data-parallel: the same script on 1, 2 or N processes.

    python examples/distributed_mnist.py                          # one process
    mpiexec -n 2 python examples/distributed_mnist.py             # two processes (CPU: pip install "nnkit-keras[distributed]")
    python -m nnkit.distribution.launch -n 2 examples/distributed_mnist.py   # the same, without typing mpiexec
    python examples/distributed_mnist.py --dataset mnist          # full MNIST (downloaded once, ~11 MB)

Only the ``set_distribution`` line differs from a single-process Keras script. ``batch_size`` is the global
batch, split over the processes; N processes compute the same steps as one, so the printed accuracy is the same
(to float32 round-off) for any N. Rank 0 prints and writes ``--save``; the others stay quiet.
"""
import argparse

import nnkit
from nnkit.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D


def load(name, data_dir):
    if name == "digits":
        (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
        return (x_train / 16.0, y_train), (x_test / 16.0, y_test)
    (x_train, y_train), (x_test, y_test) = getattr(nnkit.datasets, name).load_data(path=data_dir)
    return (x_train / 255.0, y_train), (x_test / 255.0, y_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["digits", "mnist", "fashion_mnist"], default="digits")
    parser.add_argument("--data", metavar="DIR", help="directory of the four IDX .gz files (mnist, fashion_mnist)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch (default 64)")
    parser.add_argument("--save", metavar="FILE", help="save the trained model here (rank 0 writes it)")
    args = parser.parse_args()

    nnkit.distribution.set_distribution(nnkit.distribution.DataParallel())
    nnkit.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load(args.dataset, args.data)
    x_train, x_test = x_train[..., None].astype("float32"), x_test[..., None].astype("float32")

    model = nnkit.Sequential([
        nnkit.Input(shape=x_train.shape[1:]),
        Conv2D(32, 3, activation="relu"),
        BatchNormalization(synchronized=True),
        MaxPooling2D(2),
        Flatten(),
        Dropout(0.25),
        Dense(128, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if nnkit.distribution.is_chief():
        processes = nnkit.distribution.distribution().num_processes
        print(f"{processes} process(es): test loss {loss:.6f}, test accuracy {accuracy:.4f}")
    if args.save:
        model.save(args.save)


if __name__ == "__main__":
    main()
