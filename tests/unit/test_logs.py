"""Exception logs carry the traceback but never the frames' local variables.

Each case runs in a subprocess: `configure_logging` owns the root logger of the process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SECRET = "s3cr3t-local-value-4711"

# When rich is importable, structlog's console renderer and its dict tracebacks show locals
# by default. pip ships a complete copy of rich: aliasing it as `rich` before structlog is
# imported gives the "rich is installed" case without installing anything.
_RICH_FROM_PIP = """
import importlib, sys
for name in ("", ".console", ".traceback"):
    sys.modules["rich" + name] = importlib.import_module("pip._vendor.rich" + name)
"""

_SCRIPT = """
import logging
import structlog
from exporter.logs import configure_logging

configure_logging("info", {fmt!r})

def handle(body):
    secret = {secret!r}
    raise ValueError("boom")

try:
    handle("body")
except ValueError:
    structlog.get_logger("t").exception("structlog failure")
    logging.getLogger("stdlib").exception("stdlib failure")
"""


def _rich_available() -> bool:
    try:
        import pip._vendor.rich.traceback  # noqa: F401, PLC0415 - only probing
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("rich", [False, True], ids=["plain", "rich"])
def test_exception_logs_carry_no_locals(fmt: str, *, rich: bool) -> None:
    """A secret held in a local variable of the failing frame never reaches the log."""
    if rich and not _rich_available():
        pytest.skip("no copy of rich to import")
    script = (_RICH_FROM_PIP if rich else "") + _SCRIPT.format(fmt=fmt, secret=SECRET)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "structlog failure" in result.stderr
    assert "stdlib failure" in result.stderr
    assert "ValueError" in result.stderr  # the traceback itself is still logged
    assert "handle" in result.stderr  # with its frames
    assert SECRET not in result.stderr
