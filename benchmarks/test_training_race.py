"""The race's four models through each library's ordinary training loop, timed with pytest-benchmark.

The models, data, initial weights and loops are those of ``cpu_training_race.py`` (imported, not copied). Here all
libraries share one process, so each timing starts only once the other threads of the process are idle
(``wait_for_idle_threads``); the figures to quote come from the script, which gives each library a process of
its own. CI runs this file once, untimed (``--benchmark-disable``), on 128 samples, so the script cannot rot;
PyTorch and Keras-on-JAX are skipped where they are not installed.

    python -m pytest benchmarks/test_training_race.py --benchmark-columns=min,median,rounds
"""
import argparse
import os
import subprocess
import sys

import pytest

import cpu_training_race as race
from training_step import wait_for_idle_threads

SAMPLES = 128


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("race")
    race.prepare(directory, argparse.Namespace(samples=SAMPLES, mnist_dir=None))
    return directory


def _trainer(library, model, workdir):
    if library == "torch":
        pytest.importorskip("torch")
    if library == "keras-jax":
        pytest.importorskip("jax")
        keras = pytest.importorskip("keras")
        if keras.backend.backend() != "jax":
            pytest.skip(f"keras runs on {keras.backend.backend()}, not JAX (set KERAS_BACKEND=jax)")
    return race.trainer(library, model, workdir, threads=len(os.sched_getaffinity(0)))


@pytest.mark.parametrize("model", list(race.MODELS))
@pytest.mark.parametrize("library", race.LIBRARIES)
def test_training_epoch(benchmark, workdir, library, model):
    trainer = _trainer(library, model, workdir)
    if not benchmark.disabled:
        trainer.epoch()  # warm-up: JAX compiles, nnkit's buffers are recycled from here on
    assert 0.0 <= trainer.accuracy() <= 1.0
    wait_for_idle_threads()
    benchmark.pedantic(trainer.epoch, rounds=3, iterations=1)


@pytest.mark.parametrize("model", list(race.MODELS))
@pytest.mark.parametrize("library", race.LIBRARIES)
def test_training_step(benchmark, workdir, library, model):
    trainer = _trainer(library, model, workdir)
    for _ in range(3):
        trainer.step()
    wait_for_idle_threads()
    benchmark(trainer.step)


def test_race_script_runs_each_library_in_its_own_process_and_prints_its_table():
    done = subprocess.run([sys.executable, race.__file__, "--models", "mlp", "--libraries", "nnkit", "--rounds", "1",
                           "--epochs", "2", "--samples", "128", "--steps", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "command: " in done.stdout and "| mlp (batch 64) | nnkit (NumPy) |" in done.stdout
