"""Where this process stands in a multi-process job: its rank, the number of processes, its rank on this machine
and the rendezvous address, read from the variables launchers set.

torchrun-style variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``, set by
``python -m nnkit.distribution.launch``, torchrun and many cluster scripts) come first; then MPI launchers'
(MPICH/Hydra ``PMI_RANK``/``PMI_SIZE``/``MPI_LOCALRANKID``, Open MPI ``OMPI_COMM_WORLD_*``); then Slurm's
(``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``). A process started alone is rank 0 of 1.
"""
import dataclasses
import os

# (rank, world size, local rank) variable names, in the order they are looked for.
_LAUNCHER_VARIABLES = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
)


@dataclasses.dataclass(frozen=True)
class ProcessEnvironment:
    """This process's place in the job. ``launcher`` names the variables it came from (None: started alone)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    launcher: str = None

    @property
    def launched_by_mpi(self):
        """Whether an MPI launcher (mpiexec) started this process."""
        return self.launcher in ("PMI_RANK", "OMPI_COMM_WORLD_RANK")


def _integer(environ, name, default=None):
    text = environ.get(name)
    if text is None:
        if default is None:
            raise RuntimeError(f"nnkit.distribution: the launcher set some of its variables but not {name}.")
        return default
    try:
        return int(text)
    except ValueError:
        raise RuntimeError(f"nnkit.distribution: expected an integer in the environment variable {name}. "
                           f"Received: {name}={text!r}") from None


def read(environ=None):
    """This process's ``ProcessEnvironment``, from ``environ`` (default ``os.environ``)."""
    environ = os.environ if environ is None else environ
    for rank_name, size_name, local_name in _LAUNCHER_VARIABLES:
        if rank_name in environ and size_name in environ:
            rank, size = _integer(environ, rank_name), _integer(environ, size_name)
            if size < 1 or not 0 <= rank < size:
                raise RuntimeError(f"nnkit.distribution: {rank_name}={rank} and {size_name}={size} do not describe "
                                   f"a process of the job (expected 0 <= {rank_name} < {size_name}).")
            return ProcessEnvironment(rank, size, _integer(environ, local_name, rank),
                                      environ.get("MASTER_ADDR", "127.0.0.1"),
                                      _integer(environ, "MASTER_PORT", 29500), rank_name)
    return ProcessEnvironment()
