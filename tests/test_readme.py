"""Every ```python block of README.md runs, and every script in examples/ runs with --epochs 1.

README blocks run one by one, each in a fresh namespace, from an empty temporary folder. Examples run as a
user would run them, in a subprocess on the CPU backend; the ones that plot their history must leave a PNG
in the folder they were run from (when matplotlib is installed).
"""
import contextlib
import importlib.util
import io
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.DOTALL | re.MULTILINE)
EXAMPLES = sorted((REPO / "examples").glob("*.py"))


def test_the_readme_has_python_examples():
    assert len(PYTHON_BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    block = PYTHON_BLOCKS[index]
    if "Conv2D" in block:
        import nnkit
        if not hasattr(nnkit.layers, "Conv2D"):
            pytest.skip("nnkit.layers.Conv2D is not available")
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(block, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs_with_one_epoch(script, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), NNKIT_BACKEND="cpu", MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(script), "--epochs", "1"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    plots = "plot_history" in script.read_text(encoding="utf-8")
    if plots and importlib.util.find_spec("matplotlib") is not None:
        assert list(tmp_path.rglob("*.png")), f"{script.name} calls plot_history but wrote no PNG under {tmp_path}"
