"""nnkit: Keras' model API on one engine that runs on CuPy (hand-written CUDA kernels) or NumPy.

    import nnkit
    model = nnkit.Sequential([nnkit.Input(shape=(784,)), nnkit.layers.Dense(10, activation="softmax")])
"""
from . import activations, backend, callbacks, datasets, initializers, layers, losses, metrics, models
from . import ops, optimizers, random, regularizers, trainer, utils
from .layers import Input
from .layers.symbolic import KerasTensor
from .models import Model, Sequential
from .ops.tape import GradientTape
from .variables import Variable

__version__ = "0.1.0"
