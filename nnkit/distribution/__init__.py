"""Training across processes and GPUs, in Keras 3's names: ``set_distribution(DataParallel())`` near the top of a
training script, then start it with ``mpiexec -n N python train.py`` or ``python -m nnkit.distribution.launch -n N
train.py``. See ``data_parallel`` for what a step does and ``communicators`` for the engines (MPI, NCCL).
"""
import os

from .. import backend
from .data_parallel import DataParallel

_distribution = None


def set_distribution(value):
    """Make ``value`` (a ``DataParallel``, or None for none) the distribution ``fit``, ``evaluate`` and
    ``predict`` use.

    Args:
        value: a ``DataParallel`` or None.
    """
    global _distribution
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution expects a nnkit.distribution.DataParallel or None. Received: {value!r}")
    _distribution = value


def distribution():
    """The distribution set by ``set_distribution`` (None when there is none).

    Returns:
        A ``DataParallel`` or None.
    """
    return _distribution


def data_parallel():
    """The active ``DataParallel`` when it spans more than one process, else None (what the trainer asks)."""
    return _distribution if _distribution is not None and _distribution.num_processes > 1 else None


def random_for_batch(rng, shape, dtype):
    """``rng.random(shape, dtype)`` for a batch of ``shape[0]`` rows, as a single process training on the global
    batch draws it: in a data-parallel step the generator (in step on every process) draws the global batch's
    numbers and this process keeps its share's rows."""
    parallel = data_parallel()
    share = parallel.share if parallel is not None else None
    if share is None or not shape or shape[0] != share.rows:
        return rng.random(shape, dtype=dtype)
    return rng.random((share.total,) + tuple(shape[1:]), dtype=dtype)[share.start:share.start + share.rows]


def is_chief():
    """Whether this process writes files and prints progress: rank 0, or a process training alone."""
    return _distribution is None or _distribution.is_chief


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Join the job's processes (Keras 3's signature). Launchers (mpiexec, nnkit's, torchrun, Slurm) set everything
    already; the arguments override them for a job started by hand.

    Args:
        job_addresses: ``"host:port"`` of the rendezvous (rank 0), or a comma-separated list whose first entry is.
        num_processes: the number of processes of the job.
        process_id: this process's rank.

    Returns:
        The ``DataParallel`` made the distribution (or the one already set).
    """
    if job_addresses is not None:
        host, _, port = job_addresses.split(",")[0].strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"initialize: expected job_addresses as 'host:port'. Received: {job_addresses!r}")
        os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = host, port
    if num_processes is not None:
        os.environ["WORLD_SIZE"] = str(num_processes)
    if process_id is not None:
        os.environ["RANK"] = str(process_id)
    if _distribution is None:
        set_distribution(DataParallel())
    return _distribution


def list_devices(device_type=None):
    """The devices this process can use, as ``"gpu:0"``, ``"gpu:1"``, ... or ``["cpu:0"]``.

    Args:
        device_type: ``"cpu"``, ``"gpu"`` or None (the backend's).

    Returns:
        A list of device names.
    """
    if device_type not in (None, "cpu", "gpu"):
        raise ValueError(f"list_devices: expected device_type 'cpu', 'gpu' or None. Received: {device_type!r}")
    kind = device_type or backend.name()
    if kind == "cpu":
        return ["cpu:0"]
    if backend.cupy is None:
        return []
    return [f"gpu:{index}" for index in range(backend.cupy.cuda.runtime.getDeviceCount())]


__all__ = ["DataParallel", "set_distribution", "distribution", "initialize", "list_devices"]
