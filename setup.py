"""Copies the top-level kernels/*.cu into the wheel as nnkit/kernels/ and builds the optional compiled CPU kernels
(nnkit/_cpu/*.c); pyproject.toml holds the rest.

The C extension is optional: where no compiler is found or the build fails, the install goes on without it and
nnkit runs its NumPy code (``nnkit._cpu.unavailable_reason()`` says why).
"""
import pathlib
import shutil

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        target = pathlib.Path(self.build_lib) / "nnkit" / "kernels"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted(pathlib.Path(__file__).parent.joinpath("kernels").glob("*.cu")):
            shutil.copy2(source, target / source.name)


class BuildExtWithFlags(build_ext):
    """GCC/Clang flags for the CPU kernels: vectorised loops; no errno or FP traps (so sqrtf and the masked
    products vectorise: nnkit never reads either); a * b + c contracted to FMA where the target has it (ISO C mode
    turns contraction off by default)."""
    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            for extension in self.extensions:
                extension.extra_compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast",
                                                "-pthread", "-std=c11"]
                extension.extra_link_args = ["-pthread"]
        super().build_extensions()


cpu_kernels = Extension("nnkit._cpu._kernels",
                        sources=["nnkit/_cpu/kernels.c", "nnkit/_cpu/matmul.c", "nnkit/_cpu/recurrent.c"],
                        depends=["nnkit/_cpu/common.h"], optional=True)

setup(cmdclass={"build_py": BuildPyWithKernels, "build_ext": BuildExtWithFlags}, ext_modules=[cpu_kernels])
