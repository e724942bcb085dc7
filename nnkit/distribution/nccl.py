"""Reducing GPU buffers across processes with NCCL, through CuPy (``cupy.cuda.nccl``; the NCCL library comes with
CuPy's CUDA wheels or the ``nvidia-nccl-cu12`` / ``nvidia-nccl-cu13`` wheel). Collectives run on the current
stream, so they queue behind the backward pass without a host synchronisation."""
from .. import backend

_NCCL_TYPES = {"float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64", "int32": "NCCL_INT32", "int64": "NCCL_INT64"}


def _nccl():
    try:
        from cupy.cuda import nccl
    except ImportError:
        raise ImportError("nnkit.distribution: GPU training across processes needs NCCL, which CuPy could not load: "
                          "pip install nvidia-nccl-cu12 (or -cu13, matching your CuPy).") from None
    return nccl


class NCCLChannel:
    """One NCCL communicator of ``size`` processes; this process is ``rank`` and uses its current GPU."""

    @staticmethod
    def new_id():
        """A fresh NCCL unique id (made by rank 0, sent to the others)."""
        return _nccl().get_unique_id()

    def __init__(self, unique_id, rank, size):
        self._nccl = _nccl()
        self._comm = self._nccl.NcclCommunicator(size, unique_id, rank)

    def _type(self, array):
        name = str(array.dtype)
        if name not in _NCCL_TYPES or not array.flags.c_contiguous:
            raise ValueError(f"NCCL reduces contiguous {sorted(_NCCL_TYPES)} arrays. Received: a "
                             f"{'' if array.flags.c_contiguous else 'non-contiguous '}{name} array.")
        return getattr(self._nccl, _NCCL_TYPES[name])

    def allreduce_sum(self, array):
        """Replace the GPU ``array`` by its sum over the processes, in place (queued on the current stream)."""
        stream = backend.cupy.cuda.get_current_stream().ptr
        self._comm.allReduce(array.data.ptr, array.data.ptr, array.size, self._type(array), self._nccl.NCCL_SUM,
                             stream)

    def broadcast(self, array, root):
        """Replace the GPU ``array`` by ``root``'s, in place."""
        stream = backend.cupy.cuda.get_current_stream().ptr
        self._comm.broadcast(array.data.ptr, array.data.ptr, array.size, self._type(array), root, stream)
