"""Copies the top-level kernels/*.cu into the wheel as nnkit/kernels/ (pyproject.toml holds the rest)."""
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        target = pathlib.Path(self.build_lib) / "nnkit" / "kernels"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted(pathlib.Path(__file__).parent.joinpath("kernels").glob("*.cu")):
            shutil.copy2(source, target / source.name)


setup(cmdclass={"build_py": BuildPyWithKernels})
