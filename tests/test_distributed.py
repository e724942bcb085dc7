"""Data-parallel training (nnkit.distribution): 2 processes under mpiexec against 1 process, the rendezvous of
nnkit's launcher, failures that stop every process. Jobs run tests/distributed/worker.py as subprocesses."""
import json
import os
import shutil
import subprocess
import sys

import numpy
import pytest

import nnkit
from nnkit.distribution import environment

WORKER = os.path.join(os.path.dirname(__file__), "distributed", "worker.py")
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
MPIEXEC = MPIEXEC if os.path.exists(MPIEXEC) else shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(MPIEXEC is None,
                               reason="mpiexec not found (pip install 'nnkit-keras[distributed]')")
try:
    import mpi4py  # noqa: F401
except ImportError:
    needs_mpi = pytest.mark.skip(reason="mpi4py not installed (pip install 'nnkit-keras[distributed]')")


def run(command, timeout=120):
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "PMI_RANK", "PMI_SIZE")}
    environment["NNKIT_BACKEND"] = "cpu"
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


def job(case, outdir, processes):
    prefix = [MPIEXEC, "-n", str(processes)] if processes > 1 else []
    result = run(prefix + [sys.executable, WORKER, case, str(outdir)])
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(numpy.load(os.path.join(outdir, "result.npz")))


@needs_mpi
@pytest.mark.parametrize("case", ["mlp", "cnn", "lstm"])
def test_two_processes_train_as_one_with_the_global_batch(case, tmp_path):
    # MLP with dropout, CNN with synchronized BatchNormalization, LSTM; global batch 64 over 200 samples (the last
    # batch has 8). The worker itself asserts after every step that both ranks hold bit-identical weights.
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = job(case, tmp_path / "one", 1)
    two = job(case, tmp_path / "two", 2)
    assert sorted(one) == sorted(two)
    for key in one:
        scale = max(float(numpy.abs(one[key]).max()), 1e-3)
        numpy.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-4 * scale, err_msg=key)
    assert one["history_loss"][1] < one["history_loss"][0]  # it did train


@needs_mpi
def test_only_rank_zero_writes_files(tmp_path):
    result = run([MPIEXEC, "-n", "2", sys.executable, WORKER, "files", str(tmp_path)])
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(os.listdir(tmp_path))
    assert written == ["log_rank0.csv", "model_rank0.nnkit", "result.npz", "weights_rank0.weights.safetensors"]


@needs_mpi
def test_a_failure_on_one_rank_stops_every_rank_and_names_it(tmp_path):
    result = run([MPIEXEC, "-n", "2", sys.executable, WORKER, "fail", str(tmp_path)], timeout=60)
    assert result.returncode != 0
    assert "rank 1 of 2 failed in fit(): ValueError: injected failure on rank one" in result.stderr
    assert not os.path.exists(tmp_path / "result.npz")


@needs_mpi
def test_processes_that_disagree_are_stopped_at_the_first_step(tmp_path):
    result = run([MPIEXEC, "-n", "2", sys.executable, WORKER, "mismatch", str(tmp_path)], timeout=60)
    assert result.returncode != 0
    assert "the processes disagree on batch_size (rank 0: 64, rank 1: 32)" in result.stderr


def test_the_launcher_starts_processes_that_meet_at_its_rendezvous(tmp_path):
    result = run([sys.executable, "-m", "nnkit.distribution.launch", "--engine", "spawn", "-n", "2", WORKER,
                  "rendezvous", str(tmp_path)], timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "rendezvous.json").read_text())
    assert report["ranks"] == [0, 1] and report["pids"] == 2 and report["greeting"] == "from rank 0"
    assert "runs on MPI" in report["host_error"] and "nnkit-keras[distributed]" in report["host_error"]


def test_the_launcher_stops_the_job_when_a_process_fails(tmp_path):
    result = run([sys.executable, "-m", "nnkit.distribution.launch", "--engine", "spawn", "-n", "2", WORKER,
                  "exit", str(tmp_path)], timeout=60)
    assert result.returncode == 3
    assert "rank 1 exited with code 3" in result.stderr


@pytest.mark.parametrize("variables, expected", [
    ({}, (0, 1, 0)),
    ({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0", "MASTER_PORT": "1234"}, (2, 4, 0)),
    ({"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALRANKID": "1"}, (1, 2, 1)),
    ({"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_LOCAL_RANK": "1"}, (3, 8, 1)),
    ({"SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "2"}, (5, 6, 2)),
])
def test_the_environment_of_each_launcher_is_read(variables, expected):
    found = environment.read(variables)
    assert (found.rank, found.world_size, found.local_rank) == expected


@pytest.mark.parametrize("variables, message", [
    ({"RANK": "2", "WORLD_SIZE": "2"}, "expected 0 <= RANK < WORLD_SIZE"),
    ({"RANK": "one", "WORLD_SIZE": "2"}, "expected an integer in the environment variable RANK"),
])
def test_a_broken_launcher_environment_is_a_clear_error(variables, message):
    with pytest.raises(RuntimeError, match=message):
        environment.read(variables)


def test_one_process_is_a_distribution_of_one():
    nnkit.distribution.set_distribution(nnkit.distribution.DataParallel())
    try:
        assert nnkit.distribution.distribution().num_processes == 1
        assert nnkit.distribution.data_parallel() is None and nnkit.distribution.is_chief()
    finally:
        nnkit.distribution.set_distribution(None)
    assert nnkit.distribution.list_devices("cpu") == ["cpu:0"]
    with pytest.raises(TypeError, match="set_distribution expects a nnkit.distribution.DataParallel"):
        nnkit.distribution.set_distribution("data_parallel")
    with pytest.raises(ValueError, match="one process per device"):
        nnkit.distribution.DataParallel(devices=["cpu:0", "cpu:1"])


@pytest.mark.gpu
def test_a_one_rank_nccl_channel_reduces_and_broadcasts_gpu_buffers(cupy):
    from nnkit.distribution.nccl import NCCLChannel
    channel = NCCLChannel(NCCLChannel.new_id(), 0, 1)
    values = cupy.arange(1000, dtype=cupy.float32) / 7
    expected = values.get().copy()
    channel.allreduce_sum(values)
    channel.broadcast(values, 0)
    cupy.cuda.get_current_stream().synchronize()
    numpy.testing.assert_array_equal(values.get(), expected)
    with pytest.raises(ValueError, match="NCCL reduces contiguous"):
        channel.allreduce_sum(cupy.zeros((4, 4), dtype=cupy.float32)[:, ::2])
