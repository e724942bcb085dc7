"""The collectives data-parallel training needs, over existing engines: MPI (mpi4py) for processes started by
``mpiexec`` and for host (NumPy) buffers; NCCL (through CuPy) for GPU buffers; the TCP rendezvous store for the
small exchanges of processes started without MPI. nnkit imports mpi4py or CuPy's NCCL only when one is made.

Every collective must be called by every process, in the same order, as MPI requires.
"""
import atexit
import os
import pickle
import sys

import numpy

from .. import backend


class Communicator:
    """``rank`` of ``size`` processes. Arrays are reduced in place: host arrays by ``_host_allreduce``, GPU arrays
    over NCCL when a channel is open (else through the host)."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size
        self._nccl = None

    def allreduce_sum(self, array):
        """Replace ``array`` (NumPy or CuPy, contiguous) by its sum over all processes, in place."""
        if self.size == 1:
            return array
        if isinstance(array, numpy.ndarray):
            self._host_allreduce(array)
        elif self._device_channel() is not None:
            self._nccl.allreduce_sum(array)
        else:
            host = backend.to_host(array)
            self._host_allreduce(host)
            array[...] = backend.to_device(host)
        return array

    def broadcast(self, array, root=0):
        """Replace ``array`` by ``root``'s, in place."""
        if self.size == 1:
            return array
        if isinstance(array, numpy.ndarray):
            self._host_broadcast(array, root)
        elif self._device_channel() is not None:
            self._nccl.broadcast(array, root)
        else:
            host = backend.to_host(array)
            self._host_broadcast(host, root)
            array[...] = backend.to_device(host)
        return array

    def _device_channel(self):
        """The NCCL channel for GPU arrays, opened on first use (the unique id goes through this communicator)."""
        if self._nccl is None and backend.is_gpu():
            from .nccl import NCCLChannel
            unique_id = self.broadcast_object(NCCLChannel.new_id() if self.rank == 0 else None)
            self._nccl = NCCLChannel(unique_id, self.rank, self.size)
        return self._nccl

    def barrier(self):
        """Return when every process has arrived."""
        self.allgather_object(None)

    def broadcast_object(self, value, root=0):
        """``root``'s ``value`` (a picklable object) on every process."""
        return self.allgather_object(value if self.rank == root else None)[root]

    def allgather_object(self, value):
        """``[value of rank 0, value of rank 1, ...]`` on every process."""
        raise NotImplementedError

    def _host_allreduce(self, array):
        raise NotImplementedError

    def _host_broadcast(self, array, root):
        array[...] = self.broadcast_object(array if self.rank == root else None, root)

    def abort(self, message):
        """Stop every process of the job after printing ``message`` (this process's failure)."""
        print(message, file=sys.stderr, flush=True)
        os._exit(1)


class SingleProcess(Communicator):
    """One process: every collective is the identity."""

    def __init__(self):
        super().__init__(0, 1)

    def allgather_object(self, value):
        return [value]

    def abort(self, message):
        raise RuntimeError("a single process has nothing to abort")


class MPICommunicator(Communicator):
    """``MPI.COMM_WORLD`` of the processes ``mpiexec`` started (mpi4py)."""

    def __init__(self):
        from mpi4py import MPI
        self._mpi, self._comm = MPI, MPI.COMM_WORLD
        super().__init__(self._comm.Get_rank(), self._comm.Get_size())

    def allgather_object(self, value):
        return self._comm.allgather(value)

    def broadcast_object(self, value, root=0):
        return self._comm.bcast(value, root=root)

    def barrier(self):
        self._comm.Barrier()

    def _host_allreduce(self, array):
        if not array.flags.c_contiguous:
            raise ValueError("allreduce_sum needs a contiguous array")
        self._comm.Allreduce(self._mpi.IN_PLACE, array, op=self._mpi.SUM)

    def _host_broadcast(self, array, root):
        if not array.flags.c_contiguous:
            raise ValueError("broadcast needs a contiguous array")
        self._comm.Bcast(array, root=root)

    def abort(self, message):
        print(message, file=sys.stderr, flush=True)
        self._comm.Abort(1)  # mpiexec stops every other process of the job


class StoreCommunicator(Communicator):
    """Processes started without MPI (nnkit's launcher, torchrun, Slurm): small exchanges through the TCP
    rendezvous store, GPU arrays over NCCL. Host arrays need MPI."""

    def __init__(self, environment, timeout=300.0):
        from .store import TCPStore
        super().__init__(environment.rank, environment.world_size)
        self._store = TCPStore(environment.master_addr, environment.master_port, environment.rank == 0, timeout)
        self._sequence = 0
        atexit.register(self._leave)

    def _leave(self):
        """At exit: rank 0 keeps serving the rendezvous until every process has left it."""
        try:
            self._store.set(f"left/{self.rank}", b"")
            if self.rank == 0:
                for rank in range(1, self.size):
                    self._store.get(f"left/{rank}")
        except (OSError, TimeoutError):
            pass  # a process that failed never leaves; the launcher stops the job

    def allgather_object(self, value):
        self._sequence += 1
        self._store.set(f"{self._sequence}/{self.rank}", pickle.dumps(value))
        return [pickle.loads(self._store.get(f"{self._sequence}/{rank}")) for rank in range(self.size)]

    def _host_allreduce(self, array):
        raise RuntimeError("nnkit.distribution: training on the CPU across processes runs on MPI, and these "
                           "processes were started without it. Install the extra (pip install "
                           "'nnkit-keras[distributed]': mpi4py and the mpich wheel) and start them with mpiexec -n N, "
                           "or with python -m nnkit.distribution.launch, which uses mpiexec when no GPU is found.")


def for_environment(environment):
    """The communicator of the processes described by ``environment`` (a ``ProcessEnvironment``)."""
    if environment.world_size == 1:
        return SingleProcess()
    if environment.launched_by_mpi:
        try:
            return MPICommunicator()
        except ImportError:
            raise ImportError("nnkit.distribution: this process was started by mpiexec, but mpi4py is not "
                              "installed: pip install 'nnkit-keras[distributed]'.") from None
    return StoreCommunicator(environment)
