# ruff: noqa: INP001 - loaded by pip from backend-path, not imported as a package
"""setuptools' build backend, plus the exactly pinned mypy a compiled build needs.

``SES_EXPORTER_COMPILE=1`` asks setup.py for the mypyc extensions; the compiler must then be
in the isolated build environment, and at one exact version (as black pins its mypyc):
generated C from another mypy could behave differently.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403 - every hook not overridden below

MYPYC_REQUIREMENT = "mypy==2.4.1"


def _compiler() -> list[str]:
    return [MYPYC_REQUIREMENT] if os.environ.get("SES_EXPORTER_COMPILE", "") == "1" else []


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return [*build_meta.get_requires_for_build_wheel(config_settings), *_compiler()]


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return [*build_meta.get_requires_for_build_editable(config_settings), *_compiler()]
