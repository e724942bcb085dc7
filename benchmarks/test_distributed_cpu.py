"""Keeps benchmarks/distributed_scaling.py working (CI runs it once, with tiny sizes): the all-reduce timing
under 2 MPI processes and the throughput run of 1 and 2 processes. The figures come from running the script
itself (see its docstring); RESULTS.md records them."""
import json
import os
import shutil
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_scaling.py")
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
MPIEXEC = MPIEXEC if os.path.exists(MPIEXEC) else shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found (pip install 'nnkit-keras[distributed]')")


def run(processes, *arguments):
    environment = dict(os.environ, NNKIT_BACKEND="cpu", OPENBLAS_NUM_THREADS="1")
    command = ([MPIEXEC, "-n", str(processes)] if processes > 1 else []) + [sys.executable, SCRIPT, *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_allreduce_timing_runs():
    report = run(2, "allreduce", "--sizes", "1000,100000", "--repeats", "3")
    assert report["processes"] == 2 and [row["floats"] for row in report["result"]] == [1000, 100000]


@pytest.mark.parametrize("processes", [1, 2])
def test_throughput_runs(processes):
    report = run(processes, "throughput", "--samples", "512", "--epochs", "1")
    assert report["processes"] == processes and report["result"]["samples_per_s"] > 0
