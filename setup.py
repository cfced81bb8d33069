"""Bundles the top-level migrations/ and web/ into the wheel as srs/_migrations and srs/_web,
so a normal (non-editable) install can migrate and serve the web app. The folders stay where
they are in the checkout; srs.kit.paths finds either copy. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = {"migrations": "_migrations", "web": "_web"}


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders directly
        for source, target in BUNDLED.items():
            destination = Path(self.build_lib) / "srs" / target
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(
                ROOT / source,
                destination,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"),
            )


setup(cmdclass={"build_py": BuildPyWithData})
