"""Which build is running: the version and the source revision it was built from.

A revision tells two builds of one version apart (a fix deployed from a branch, an image
rebuilt from another commit). It is written into the package at build time (the image build
passes it as a build argument, since `.git` is not in the build context); a source checkout
asks git; anything else says ``unknown``.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import resources
from pathlib import Path

from exporter import __version__

__all__ = ["REVISION_FILE", "describe", "revision"]

REVISION_FILE = "REVISION"  # inside the package, written by the build (Dockerfile)
_GIT_TIMEOUT_SECONDS = 5


@cache
def revision() -> str:
    """The commit this code was built from (short hash), or ``unknown``."""
    try:
        written = resources.files("exporter").joinpath(REVISION_FILE).read_text().strip()
    except (FileNotFoundError, OSError):
        written = ""
    if written:
        return written
    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / ".git").exists():
        return "unknown"
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no user input
            ["git", "-C", str(checkout), "rev-parse", "--short=12", "HEAD"],  # noqa: S607 - a checkout's git
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def describe() -> str:
    """What ``--version`` prints."""
    return f"ses-deliverability-exporter {__version__} (revision {revision()})"
