"""Builds synpt's one C extension, `synpt.synthetic._native` (the synthetic-data kernels); everything else is pyproject.

Why C: generating and formatting synthetic pre-training data must be ~30x faster than the reference's per-example
Python, and the tasks' semantics (run sampling, CPython set order, text tests) are per-example loops that numpy
cannot express without sorting whole blocks. The sources use only the Python C API and the buffer protocol, so the
build needs a C compiler and nothing else (no numpy headers, no Cython).
"""

from pathlib import Path

from setuptools import Extension, setup

NATIVE = Path("synpt/synthetic/native")

setup(
    ext_modules=[
        Extension(
            "synpt.synthetic._native",
            sources=sorted(str(p) for p in NATIVE.glob("*.c")),
            depends=sorted(str(p) for p in NATIVE.glob("*.h")),
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
