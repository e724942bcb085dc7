"""Pytest support shared by nnkit's test suite and benchmark suite (imported by their conftest.py files)."""
import pytest

from . import backend


def skip_gpu_items_without_gpu(items):
    """Mark every collected item carrying ``@pytest.mark.gpu`` as skipped, saying why, where no GPU is usable."""
    reason = backend.gpu_unavailable_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"no GPU: {reason}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
