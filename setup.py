"""Builds esnkit's native time loop (src/esnkit/_kernel.c); everything else is in pyproject.toml.

The kernel is plain C (no Python or PyTorch headers) and compiles in about a second. It is tuned
for the building machine (-march=native) unless ESNKIT_NATIVE_ARCH names another target (for
example ``x86-64-v3`` when building a wheel for other machines, or ``none`` for no -march flag).
A failed build never fails the install: esnkit then runs its pure-PyTorch loop and warns once.
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalNativeBuild(build_ext):
    def build_extension(self, ext):
        arch = os.environ.get("ESNKIT_NATIVE_ARCH", "native")
        # -fno-trapping-math: the tanh clamps |v| at 20, and GCC turns that into a branch around the
        # rest (the clamped value folds to 1); with FP traps assumed it may not execute the division
        # on both sides of it, so it gave up vectorising the activation loop (the kernel's largest
        # cost). esnkit never reads FP exception flags.
        flags = ["-O3", "-std=c99", "-ffp-contract=fast", "-fno-trapping-math", "-fopenmp-simd"]
        attempts = [flags + ([f"-march={arch}"] if arch != "none" else []), flags, []]
        if self.compiler.compiler_type == "msvc":
            attempts = [["/O2"]]
        for extra in attempts:
            ext.extra_compile_args = extra
            try:
                return super().build_extension(ext)
            except Exception as exc:  # a compiler that rejects a flag, or no compiler at all
                last = exc
        print(f"esnkit: native kernel not built ({last}); the pure-PyTorch loop will be used")


setup(
    ext_modules=[
        Extension("esnkit._kernel", ["src/esnkit/_kernel.c"], depends=["src/esnkit/_kernel_impl.h"])
    ],
    cmdclass={"build_ext": OptionalNativeBuild},
)
