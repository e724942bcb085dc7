"""What the SHA-256 digests cost: saving and loading a 16 MB weights file (4M float32 parameters), against
computing the digests alone (the whole extra work on either side).

    python -m pytest benchmarks/test_files_cpu.py --benchmark-columns=median,min,rounds
"""
import pytest
import safetensors.numpy

import nnkit
from nnkit import layers
from nnkit.models import file_digest, files


@pytest.fixture(scope="module")
def model():
    return nnkit.Sequential([nnkit.Input(shape=(2000,)), layers.Dense(2000)])


def tensors(model):
    return {f"weight_{index}": value for index, value in enumerate(model.get_weights())}


def test_save_weights(benchmark, model, tmp_path):
    path = tmp_path / "w.weights.safetensors"
    benchmark.pedantic(lambda: model.save_weights(path), rounds=10, warmup_rounds=1)


def test_load_weights(benchmark, model, tmp_path):
    path = tmp_path / "w.weights.safetensors"
    model.save_weights(path)
    benchmark.pedantic(lambda: model.load_weights(path), rounds=10, warmup_rounds=1)


def test_digests_alone(benchmark, model):
    arrays = tensors(model)
    record = benchmark.pedantic(lambda: file_digest.record(arrays, {}), rounds=10, warmup_rounds=1)
    assert file_digest.problems(arrays, {file_digest.METADATA_KEY: record}) == []


def test_reading_without_a_digest_to_check(benchmark, model, tmp_path):
    """The same file minus its digest record: what reading costs with the header checks but no hashing."""
    path = tmp_path / "w.safetensors"
    files.atomic_write(path, safetensors.numpy.save(tensors(model), metadata={"format": "other"}))
    benchmark.pedantic(lambda: files.read_safetensors(path), rounds=10, warmup_rounds=1)
