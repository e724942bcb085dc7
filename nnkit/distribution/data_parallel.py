"""Data parallelism as Keras 3's ``DataParallel``: every process holds the whole model and takes its share of
each global batch; one all-reduce of the flat gradient buffer per step keeps the weights identical everywhere.

How a step of N processes equals one process's step on the global batch (``fit``'s ``batch_size``):
- every epoch's shuffle is rank 0's permutation (all ranks draw it, so their generators stay in step, and rank
  0's is sent to all); a global batch of ``n`` rows is cut into N contiguous shares of ``n // N`` or ``n // N + 1``
  rows, rank order;
- a rank's gradient is that of the mean loss over its share; scaled by ``share / n`` and summed over the ranks
  it is the gradient of the mean over the batch, whatever the shares' sizes. The weight penalties' gradients are
  added after the sum, once;
- Dropout draws its mask for the global batch and keeps its share's rows, so the masks are the single process's;
- ``BatchNormalization(synchronized=True)`` computes its statistics over the global batch.
Logs: the loss and metric totals are summed over the ranks at the end of each epoch and each evaluation, so the
epoch logs, History and callbacks see global values; the running values shown during an epoch are rank 0's.
"""
import contextlib
import dataclasses
import traceback

import numpy

from .. import backend
from ..layers.symbolic import flatten
from . import communicators, environment


@dataclasses.dataclass(frozen=True)
class Share:
    """This process's rows ``[start, start + rows)`` of a global batch of ``total`` rows."""
    start: int
    rows: int
    total: int

    @property
    def fraction(self):
        """The share's part of the global batch."""
        return self.rows / self.total


class DataParallel:
    """Data-parallel training over the processes of this job (started by ``mpiexec -n N`` or
    ``python -m nnkit.distribution.launch -n N``), one per GPU (chosen by the local rank) or per CPU group.

    Args:
        devices: optional list of device names (``list_devices()``), one per process; only their number is
            checked against the number of processes (nnkit runs one process per device).
        auto_shard_dataset: must be True (Keras' default): every process reads the same data and takes its share
            of each batch.

    Example:
        >>> nnkit.distribution.set_distribution(nnkit.distribution.DataParallel())   # doctest: +SKIP
    """

    def __init__(self, devices=None, auto_shard_dataset=True):
        if auto_shard_dataset is not True:
            raise ValueError("DataParallel(auto_shard_dataset=False) is not supported: every process reads the same "
                             "data and takes its share of each batch.")
        self.environment = environment.read()
        if devices is not None and len(devices) != self.environment.world_size:
            raise ValueError(f"DataParallel: nnkit runs one process per device, so `devices` must list "
                             f"{self.environment.world_size} (the number of processes). Received {len(devices)}: "
                             f"{list(devices)}")
        self.devices = list(devices) if devices is not None else None
        self.auto_shard_dataset = True
        if backend.is_gpu():
            cupy = backend.cupy
            cupy.cuda.Device(self.environment.local_rank % cupy.cuda.runtime.getDeviceCount()).use()
        self.communicator = communicators.for_environment(self.environment)
        self.share = None  # the current batch's Share, while a step runs on it

    @property
    def rank(self):
        """This process's rank (0 .. num_processes - 1)."""
        return self.communicator.rank

    @property
    def num_processes(self):
        """The number of processes of the job."""
        return self.communicator.size

    @property
    def is_chief(self):
        """Whether this process writes files and prints progress (rank 0)."""
        return self.rank == 0

    # ---- batches ---------------------------------------------------------------------------------------------
    def share_of(self, total, what="a batch"):
        """This process's ``Share`` of a global batch of ``total`` rows (and make it the current one)."""
        size = self.num_processes
        if total < size:
            raise ValueError(f"nnkit.distribution: {what} has {total} sample(s) for {size} processes, so some process "
                             f"would get none. Choose batch_size and the number of samples so that every batch "
                             f"(the last one too) has at least {size} samples.")
        start, stop = self.rank * total // size, (self.rank + 1) * total // size
        self.share = Share(start, stop - start, total)
        return self.share

    def local_index(self, index, count):
        """This process's part of the global batch ``index`` (a slice of ``count`` samples, or an index array)."""
        if isinstance(index, slice):
            start, stop, _ = index.indices(count)
            share = self.share_of(stop - start)
            return slice(start + share.start, start + share.start + share.rows)
        share = self.share_of(len(index))
        return index[share.start:share.start + share.rows]

    def local_batch(self, batch):
        """This process's rows of every array of a global batch (a nested tuple / list / dict of arrays)."""
        arrays = [a for a in flatten(batch) if a is not None]
        share = self.share_of(len(arrays[0]))
        return _map(batch, lambda a: a[share.start:share.start + share.rows])

    def agreed_order(self, order):
        """Rank 0's shuffle ``order`` on every process."""
        return self.communicator.broadcast(order)

    # ---- the step ----------------------------------------------------------------------------------------------
    def reduce_gradients(self, grads):
        """Turn this process's flat gradient (of its share's mean loss) into the global batch's, in place: one
        all-reduce. Outside ``fit`` (``train_on_batch``, a custom loop) each process's batch counts equally."""
        fraction = self.share.fraction if self.share is not None else 1 / self.num_processes
        grads *= grads.dtype.type(fraction)
        self.communicator.allreduce_sum(grads)

    def synchronized_sums(self, *sums):
        """Sums over the global batch of per-process ``sums`` (arrays of one shape), for synchronized
        BatchNormalization; one all-reduce."""
        stacked = backend.get_array_module(sums[0]).stack(sums)
        self.communicator.allreduce_sum(stacked)
        return tuple(stacked)

    def reduce_totals(self, totals):
        """Sum the running loss and metric totals (and stateful metrics' variables) over the processes."""
        count = numpy.array([totals.count], dtype=numpy.float64)
        self.communicator.allreduce_sum(count)
        totals.count = int(count[0])
        self.communicator.allreduce_sum(totals.values)
        for metric in totals.stateful.values():
            for variable in getattr(metric, "variables", []):
                self.communicator.allreduce_sum(variable.value if hasattr(variable, "value") else variable)

    def gather_batches(self, batches_per_rank):
        """Every process's list of per-batch host arrays, put back in the global order (batch by batch, rank by
        rank): the outputs of ``predict``."""
        gathered = self.communicator.allgather_object(batches_per_rank)
        return [part for batch in zip(*gathered) for part in batch]

    # ---- the start of fit -----------------------------------------------------------------------------------------
    def start(self, model, signature):
        """At the start of ``fit``: check that every process runs the same model on the same data (``signature``:
        a dict of what must agree), then give every process rank 0's weights, optimizer state and random
        generators."""
        signatures = self.communicator.allgather_object(signature)
        for key, value in signature.items():
            values = [s.get(key) for s in signatures]
            if any(v != values[0] for v in values):
                listing = ", ".join(f"rank {rank}: {v!r}" for rank, v in enumerate(values))
                raise ValueError(f"nnkit.distribution: the processes disagree on {key} ({listing}). Every process must "
                                 f"run the same script on the same data and arguments.")
        weights = [numpy.ascontiguousarray(w) for w in model.get_weights()]
        for array in weights:
            self.communicator.broadcast(array)
        model.set_weights(weights)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and optimizer.slots:
            for name in sorted(optimizer.slots):
                self.communicator.broadcast(optimizer.slots[name])
            optimizer.iterations = self.communicator.broadcast_object(optimizer.iterations)
        self._agree_on_random_state()

    def _agree_on_random_state(self):
        host = backend.host_rng()
        host.bit_generator.state = self.communicator.broadcast_object(host.bit_generator.state)
        device = backend.device_rng()
        if hasattr(device, "bit_generator"):
            device.bit_generator.state = self.communicator.broadcast_object(device.bit_generator.state)
        else:  # CuPy's generator has no state to copy: one new seed, chosen by rank 0, for every process
            seed = self.communicator.broadcast_object(int(numpy.random.SeedSequence().entropy % 2**63))
            backend.reseed_device_rng(seed)

    # ---- failures ----------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def stop_all_on_failure(self, method):
        """Run ``method`` (fit / evaluate / predict); if it raises in this process, stop every process with an
        error naming this rank and the cause instead of leaving the others waiting in a collective."""
        try:
            yield
        except Exception as error:
            details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            self.communicator.abort(f"nnkit.distribution: rank {self.rank} of {self.num_processes} failed in "
                                    f"{method}(): {type(error).__name__}: {error}\n{details}"
                                    f"nnkit.distribution: stopping every process of the job.")
            raise

    def barrier(self):
        """Wait until every process arrives (after rank 0 has written its files)."""
        self.communicator.barrier()


def _map(structure, function):
    """``function`` on every array of a batch, tuples kept as tuples (a step unpacks ``(x, y[, w])``), None kept."""
    if isinstance(structure, dict):
        return {key: _map(value, function) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(value, function) for value in structure)
    return None if structure is None else function(structure)
