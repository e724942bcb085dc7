"""The two core examples run end to end (few epochs) and print what they promise."""
import os
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent


def _run_example(name, *args):
    # One BLAS thread: on a busy 2-core machine OpenBLAS' two threads spin-wait on each other's tiny GEMMs and
    # the 5-epoch MLP takes 5 s instead of 0.5 s. What is tested here is the output, not the speed.
    env = {**os.environ, "PYTHONPATH": str(REPO), "NNKIT_BACKEND": "cpu", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(REPO / "examples" / name), *args], capture_output=True, text=True,
                            timeout=120, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_linear_regression_example_recovers_weights():
    out = _run_example("linear_regression.py", "--epochs", "5")
    assert "Epoch 5/5" in out
    error = float(re.search(r"Max weight error: ([0-9.]+)", out).group(1))
    assert error < 0.01
    assert re.search(r"Learned bias: 1\.2[45]\d", out)


def test_mlp_example_prints_test_accuracy():
    out = _run_example("mlp.py", "--epochs", "5")
    assert 'Model: "sequential' in out and "Total params: 19,210" in out
    assert re.search(r"^5/5 .*|Epoch 5/5", out, re.MULTILINE)
    accuracy = float(re.search(r"^Test accuracy: ([0-9.]+)$", out, re.MULTILINE).group(1))
    assert 0.8 < accuracy <= 1.0


def test_transformer_example_learns_what_needs_attention():
    out = _run_example("transformer.py", "--epochs", "7")
    majority = float(re.search(r"majority class: ([0-9.]+)", out).group(1))
    accuracy = float(re.search(r"^Test accuracy: ([0-9.]+)$", out, re.MULTILINE).group(1))
    assert majority < 0.52 and accuracy > 0.6  # 0.66 after 7 epochs, 0.85 after the default 12
