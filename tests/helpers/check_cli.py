"""The `check` command as the end-to-end tests run it: a subprocess against the test zones."""

from __future__ import annotations

import subprocess
import sys

# The demo zone's healthy domain: these Easy DKIM tokens have keys in amazonses.com's zone.
HEALTHY_TOKENS = [
    "h1healthyaaaaaaaaaaaaaaaaaaaaaaa",
    "h2healthybbbbbbbbbbbbbbbbbbbbbbb",
    "h3healthyccccccccccccccccccccccc",
]


def run_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def healthy_check_args(nameserver: str) -> list[str]:
    """`check` of healthy.example, every input given, asking ``nameserver``."""
    tokens = [a for t in HEALTHY_TOKENS for a in ("--dkim-token", t)]
    return [
        "healthy.example",
        "--mail-from",
        "mail.healthy.example",
        "--region",
        "us-east-1",
        *tokens,
        "--nameserver",
        nameserver,
    ]
