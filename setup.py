"""Packaging lives in pyproject.toml. This shim lets `scrapyd-deploy` build the project's egg
(it runs `python setup.py bdist_egg`, and would otherwise write a setup.py of its own)."""

from setuptools import setup

setup()
