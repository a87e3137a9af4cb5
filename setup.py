"""Builds the C kernels of the multi-index hashing backend; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("index._mih", ["index/_mih.c"], extra_compile_args=["-O3", "-std=c11"]),
    ]
)
