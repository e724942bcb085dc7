"""nnkit: Keras' model API on one engine that runs on CuPy (hand-written CUDA kernels) or NumPy.

    import nnkit
    model = nnkit.Sequential([nnkit.Input(shape=(784,)), nnkit.layers.Dense(10, activation="softmax")])
"""
from . import activations, backend, callbacks, datasets, initializers, layers, losses, metrics, models
from . import optimizers, regularizers, utils
from .layers import Input
from .models import Sequential

__version__ = "0.1.0"
