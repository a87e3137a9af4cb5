"""Builds the C kernels (multi-index hashing, pdq); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("index._mih", ["index/_mih.c"], extra_compile_args=["-O3", "-std=c11"]),
        # No contraction of a*b+c into one rounding: pdq must match the reference bit for bit.
        Extension(
            "matcher._pdq",
            ["matcher/_pdq.c"],
            extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off"],
        ),
    ]
)
