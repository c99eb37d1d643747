"""Whether this process runs the mypyc-compiled build (``SES_EXPORTER_COMPILE=1`` at install).

Both builds give the same verdicts; the compiled one spends less CPU per checked domain.
``deliverability_build_info{compiled}`` tells them apart, e.g. after an image rebuild.
"""

from __future__ import annotations

from functools import cache
from importlib.machinery import EXTENSION_SUFFIXES

__all__ = ["compiled"]


@cache
def compiled() -> bool:
    """True when the checks are C extensions (setup.py compiles them with the rest of the
    hot path, all or nothing)."""
    from exporter.checks import domain  # noqa: PLC0415 - the module whose form is asked

    return (domain.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))
