"""A Dense network written as Keras-style custom layers (ops in ``call``, gradients from the ops' rules) against
the same network of nnkit's fused Dense layers: one training epoch each, on the CPU (issue 10 asks within 1.5x).

    python -m pytest benchmarks/test_custom_layer_cpu.py --benchmark-columns=median,min,rounds
"""
import numpy
import pytest

import nnkit
from nnkit import layers, ops


class Linear(layers.Layer):
    def __init__(self, units, activation=None):
        super().__init__()
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        y = ops.matmul(inputs, self.w) + self.b
        return ops.relu(y) if self.activation == "relu" else y


def _model(custom):
    dense = (lambda units, activation=None: Linear(units, activation)) if custom else layers.Dense
    return nnkit.Sequential([nnkit.Input((784,)), dense(128, "relu"), dense(128, "relu"), dense(10)])


@pytest.mark.parametrize("custom", [False, True], ids=["nnkit_dense", "custom_call_layers"])
def test_mlp_epoch(benchmark, custom):
    rng = numpy.random.default_rng(0)
    x, y = rng.random((4096, 784), dtype=numpy.float32), rng.integers(0, 10, 4096)
    model = _model(custom)
    model.compile(optimizer="adam", loss=nnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:256], y[:256], batch_size=64, epochs=1, verbose=0)  # warm-up
    benchmark.pedantic(lambda: model.fit(x, y, batch_size=64, epochs=1, verbose=0), rounds=5, iterations=1)
