"""nnkit.GradientTape: training loops written by hand (the Keras guides' patterns), checked against fit() on the
same model and data, and the tape's gradients against hand-derived and central-difference values."""
import numpy
import pytest

import nnkit
from nnkit import backend, layers, ops


def _model(seed=0):
    nnkit.utils.set_random_seed(seed)
    inputs = nnkit.Input(shape=(6,))
    hidden = layers.Dense(5, activation="relu")(inputs)
    return nnkit.Model(inputs, layers.Dense(3)(hidden))


def _data(rng):
    return rng.normal(size=(16, 6)).astype("float32"), rng.integers(0, 3, 16)


def test_the_keras_guide_loop_takes_the_same_steps_as_fit(backend_name, rng):
    x, y = _data(rng)
    by_hand, by_fit = _model(), _model()
    optimizer = nnkit.optimizers.Adam(learning_rate=0.01)
    loss_fn = nnkit.losses.SparseCategoricalCrossentropy(from_logits=True)
    for start in range(0, 16, 4):
        with nnkit.GradientTape() as tape:
            logits = by_hand(x[start:start + 4], training=True)
            loss_value = loss_fn(y[start:start + 4], logits)
        grads = tape.gradient(loss_value, by_hand.trainable_weights)
        optimizer.apply_gradients(zip(grads, by_hand.trainable_weights))
    by_fit.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.01),
                   loss=nnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    by_fit.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(by_hand.get_weights(), by_fit.get_weights()):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_a_loss_written_with_ops_on_the_tape_matches_fit_with_mse(rng):
    x, _ = _data(rng)
    target = rng.normal(size=(16, 3)).astype("float32")
    by_hand, by_fit = _model(), _model()
    optimizer = nnkit.optimizers.SGD(learning_rate=0.1)
    with nnkit.GradientTape() as tape:
        loss = ops.mean(ops.square(by_hand(x, training=True) - target))
    optimizer.apply(tape.gradient(loss, by_hand.trainable_variables), by_hand.trainable_variables)
    by_fit.compile(optimizer=nnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    by_fit.fit(x, target, batch_size=16, epochs=1, verbose=0)
    for got, want in zip(by_hand.get_weights(), by_fit.get_weights()):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_gradients_of_ops_on_watched_arrays_are_the_derivatives(backend_name):
    x = backend.to_device(numpy.array([0.5, -1.0, 2.0]))
    w = backend.to_device(numpy.array([[1.0], [2.0], [3.0]]))
    with nnkit.GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        y = ops.sum(ops.multiply(ops.exp(x), ops.square(x)))  # d/dx = exp(x) (x^2 + 2x)
        z = ops.sum(ops.matmul(ops.reshape(x, (1, 3)), w) * 4.0)  # d/dw = 4 x, d/dx = 4 w
    numpy.testing.assert_allclose(backend.to_host(tape.gradient(y, x)), numpy.exp([0.5, -1, 2]) *
                                  (numpy.array([0.5, -1, 2]) ** 2 + 2 * numpy.array([0.5, -1, 2])), rtol=1e-12)
    dx, dw = tape.gradient(z, [x, w])
    numpy.testing.assert_allclose(backend.to_host(dx), [4, 8, 12])
    numpy.testing.assert_allclose(backend.to_host(dw), [[2], [-4], [8]])
    assert tape.gradient(y, w) is None  # y does not depend on w


def test_operators_on_the_tensor_watch_returns_are_recorded():
    with nnkit.GradientTape() as tape:
        x = tape.watch(numpy.array([1.0, 2.0]))
        y = ops.sum(x ** 3 - 2 * x)  # d/dx = 3 x^2 - 2
    numpy.testing.assert_allclose(backend.to_host(tape.gradient(y, x)), [1.0, 10.0])


def test_the_gradient_with_respect_to_a_models_input(rng):
    backend.set_floatx("float64")
    model = _model()
    x = rng.normal(size=(2, 6))
    with nnkit.GradientTape() as tape:
        tape.watch(x)
        total = ops.sum(model(x, training=True) ** 2)
    grad = backend.to_host(tape.gradient(total, x))
    numeric = numpy.zeros_like(x)
    for index in numpy.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += 1e-6
        up = (model.predict(shifted, verbose=0) ** 2).sum()
        shifted[index] -= 2e-6
        numeric[index] = (up - (model.predict(shifted, verbose=0) ** 2).sum()) / 2e-6
    numpy.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_misuse_is_explained(rng):
    x, y = _data(rng)
    model = _model()
    with nnkit.GradientTape() as tape:
        loss = nnkit.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x, training=True))
    tape.gradient(loss, model.trainable_weights)
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(loss, model.trainable_weights)
    with nnkit.GradientTape() as tape:
        constant = ops.sum(backend.to_device(x))
    with pytest.raises(TypeError, match="must be computed inside the tape from tracked values"):
        tape.gradient(constant, model.trainable_weights)
    with pytest.raises(ValueError, match="must be a weight of a model"):
        nnkit.optimizers.SGD().apply([numpy.ones(3)], [numpy.zeros(3)])


def test_a_model_called_twice_on_one_tape_sums_both_calls_gradients(rng):
    """A GAN's discriminator sees real and generated data in one tape; the generator's gradient goes through it."""
    backend.set_floatx("float64")
    nnkit.utils.set_random_seed(3)
    generator = nnkit.Sequential([nnkit.Input((2,)), layers.Dense(4, activation="tanh")])
    discriminator = nnkit.Sequential([nnkit.Input((4,)), layers.Dense(3, activation="tanh"), layers.Dense(1)])
    real, noise = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))

    def objective():
        fake = generator(noise, training=True)
        return ops.mean(discriminator(real, training=True)) - 2.0 * ops.mean(discriminator(fake, training=True))

    with nnkit.GradientTape() as tape:
        total = objective()
    sources = discriminator.trainable_weights + generator.trainable_weights
    grads = tape.gradient(total, sources)
    for weight, grad in zip(sources, grads):
        numeric = numpy.zeros(weight.shape)
        for index in numpy.ndindex(weight.shape):
            original = float(weight[index])
            weight[index] = original + 1e-6
            up = float(ops.mean(discriminator.predict(real, verbose=0)) - 2.0 * ops.mean(
                discriminator.predict(generator.predict(noise, verbose=0), verbose=0)))
            weight[index] = original - 1e-6
            down = float(ops.mean(discriminator.predict(real, verbose=0)) - 2.0 * ops.mean(
                discriminator.predict(generator.predict(noise, verbose=0), verbose=0)))
            weight[index] = original
            numeric[index] = (up - down) / 2e-6
        numpy.testing.assert_allclose(backend.to_host(grad), numeric, rtol=1e-6, atol=1e-9)
