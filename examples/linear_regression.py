"""Linear regression with nnkit: one Dense unit, mean squared error, plain SGD.

    python examples/linear_regression.py [--epochs 30]

Draws y = 2.0 x0 - 3.5 x1 + 0.5 x2 + 1.25 (plus a little noise), fits it, and prints the recovered weights.
"""
import argparse

import numpy

import nnkit
from nnkit.layers import Dense

TRUE_KERNEL = numpy.array([[2.0], [-3.5], [0.5]])
TRUE_BIAS = 1.25


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    nnkit.utils.set_random_seed(0)
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((1000, 3)).astype("float32")
    y = x @ TRUE_KERNEL + TRUE_BIAS + 0.01 * rng.standard_normal((1000, 1))

    model = nnkit.Sequential([nnkit.Input(shape=(3,)), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=2)

    kernel, bias = model.get_weights()
    learned = ", ".join(f"{w:.3f}" for w in kernel.ravel())
    print(f"Learned kernel: [{learned}] (true {TRUE_KERNEL.ravel().tolist()})")
    print(f"Learned bias: {bias[0]:.3f} (true {TRUE_BIAS})")
    print(f"Max weight error: {numpy.abs(kernel - TRUE_KERNEL).max():.4f}")


if __name__ == "__main__":
    main()
