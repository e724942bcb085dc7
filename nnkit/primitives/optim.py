"""Optimizer steps over the whole flat parameter buffer, in place.

Each takes the parameters ``p``, their gradients ``g`` and the optimizer's slot buffers, all 1-D of one
length, and scalars already folded on the host (the bias correction lives in ``alpha``).
"""
from .. import _cpu as cpu_kernels
from .. import backend
from ..cuda import optim as cuda_optim


def adam_step(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """Adam (Kingma & Ba 2015) as Keras applies it, with AdamW's decoupled weight decay.

        p -= decay * p                      (decay = learning_rate * weight_decay; 0 for Adam)
        m = beta_1 * m + (1 - beta_1) * g     (Keras writes m += (1 - beta_1) * (g - m): the same)
        v = beta_2 * v + (1 - beta_2) * g^2
        p -= alpha * m / (sqrt(v) + epsilon)  (alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t))
    """
    if backend.is_device_array(p):
        twin = adam_step_gpu
    else:
        twin = adam_step_compiled if _compiled_handles(p, g, m, v) else adam_step_reference
    twin(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay)


def _compiled_handles(*buffers):
    return cpu_kernels.handles(*buffers) and all(b is None or b.flags.c_contiguous for b in buffers)


def adam_step_reference(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """The array-module version (the CPU path; on CuPy arrays, the plain composition the kernel replaces)."""
    xp = backend.get_array_module(p)
    if decay:
        p *= 1 - decay
    # As scaled updates the moments read one buffer fewer than the Keras form (measured ~8 % faster).
    scratch = xp.multiply(g, 1 - beta_1)
    m *= beta_1
    m += scratch
    xp.multiply(g, g, out=scratch)
    scratch *= 1 - beta_2
    v *= beta_2
    v += scratch
    xp.sqrt(v, out=scratch)
    scratch += epsilon
    xp.divide(m, scratch, out=scratch)
    scratch *= alpha
    p -= scratch


def adam_step_compiled(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """The compiled CPU twin (float32): one pass reading p, g, m, v once and writing p, m, v once."""
    cpu_kernels.adam_step(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay)


def adam_step_gpu(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """The GPU twin: one launch over the flat buffers, float4 / double2 loads (28 bytes per float32 parameter)."""
    cuda_optim.adam_step(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay)


def sgd_step(p, g, velocity, learning_rate, momentum=0.0, nesterov=False):
    """SGD as Keras applies it.

        no momentum:  p -= lr * g
        momentum:     velocity = momentum * velocity - lr * g
                      p += velocity                             (classic)
                      p += momentum * velocity - lr * g         (Nesterov)
    """
    if backend.is_device_array(p):
        twin = sgd_step_gpu
    else:
        twin = sgd_step_compiled if _compiled_handles(p, g, velocity if momentum else None) else sgd_step_reference
    twin(p, g, velocity, learning_rate, momentum, nesterov)


def sgd_step_reference(p, g, velocity, learning_rate, momentum=0.0, nesterov=False):
    """The array-module version (the CPU path)."""
    if not momentum:
        p -= learning_rate * g
        return
    velocity *= momentum
    velocity -= learning_rate * g
    if nesterov:
        p += momentum * velocity - learning_rate * g
    else:
        p += velocity


def sgd_step_compiled(p, g, velocity, learning_rate, momentum=0.0, nesterov=False):
    """The compiled CPU twin (float32): one pass, in place on ``p`` and ``velocity``."""
    cpu_kernels.sgd_step(p, g, velocity, learning_rate, momentum, nesterov)


def sgd_step_gpu(p, g, velocity, learning_rate, momentum=0.0, nesterov=False):
    """The GPU twin: one launch, in place on ``p`` and ``velocity``."""
    cuda_optim.sgd_step(p, g, velocity, learning_rate, momentum, nesterov)
