# ruff: noqa: INP001 - loaded by pip from backend-path, not imported as a package
"""setuptools' build backend, plus the exactly pinned mypy a compiled build needs.

``SES_EXPORTER_COMPILE=1`` asks setup.py for the mypyc extensions; the compiler must then be
in the isolated build environment, and at one exact version (as black pins its mypyc):
generated C from another mypy could behave differently.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403 - every hook not overridden below

MYPYC_REQUIREMENT = "mypy==2.4.1"


def _compiling() -> bool:
    return os.environ.get("SES_EXPORTER_COMPILE", "") == "1"


def _compile_requirements() -> list[str]:
    """mypyc type-checks what the compiled modules import, third-party packages included:
    the compiler and the project's own dependencies."""
    with Path("pyproject.toml").open("rb") as file:
        dependencies: list[str] = tomllib.load(file)["project"]["dependencies"]
    return [MYPYC_REQUIREMENT, *dependencies]


# setuptools' own hooks run setup.py to find its requirements, which would import mypyc
# before it is installed: a compiled build needs nothing from setup.py at this stage.
def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    if _compiling():
        return _compile_requirements()
    return build_meta.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    if _compiling():
        return _compile_requirements()
    return build_meta.get_requires_for_build_editable(config_settings)
