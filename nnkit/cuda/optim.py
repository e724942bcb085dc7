"""Launch wrappers for ``kernels/optim.cu``: the Adam/AdamW and SGD (momentum, Nesterov) steps, in place over
the whole flat parameter buffer in one launch."""
import numpy

from . import BLOCK, check_array, function, grid_for

#: Elements per vector load (float4 / double2): the grid covers n / VEC threads.
VEC = {numpy.dtype(numpy.float32): 4, numpy.dtype(numpy.float64): 2}


def _check_buffers(entry, p, **others):
    check_array(entry, "p", p)
    for name, array in others.items():
        check_array(entry, name, array, p.dtype)
        if array.size != p.size:
            raise ValueError(f"{entry}: '{name}' has {array.size} elements, 'p' has {p.size}; the buffers of "
                             f"one step must have one length.")
    return function("optim", entry, p.dtype), grid_for(-(-p.size // VEC[p.dtype])) if p.size else None


def adam_step(p, g, m, v, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """Adam / AdamW in place on ``p, m, v`` (see nnkit.primitives.optim.adam_step for the formula)."""
    kernel, grid = _check_buffers("adam_step", p, g=g, m=m, v=v)
    if grid is None:
        return
    T = p.dtype.type
    kernel(grid, (BLOCK,), (p, g, m, v, numpy.int64(p.size), T(alpha), T(1 - beta_1), T(1 - beta_2), T(epsilon),
                            T(1 - decay)))


def sgd_step(p, g, velocity, learning_rate, momentum=0.0, nesterov=False):
    """SGD in place on ``p`` (and ``velocity`` with momentum); see nnkit.primitives.optim.sgd_step."""
    T = p.dtype.type
    if not momentum:
        kernel, grid = _check_buffers("sgd_step", p, g=g)
        if grid is not None:
            kernel(grid, (BLOCK,), (p, g, numpy.int64(p.size), T(learning_rate)))
        return
    kernel, grid = _check_buffers("sgd_momentum_step", p, g=g, velocity=velocity)
    if grid is not None:
        kernel(grid, (BLOCK,), (p, g, velocity, numpy.int64(p.size), T(learning_rate), T(momentum),
                                numpy.int32(bool(nesterov))))
