"""Pure deliverability checks: DNS answers in, verdicts out, no I/O.

The package never imports DNS or AWS libraries (enforced by ``ruff.toml`` here); the
sources fetch what the checks ask for through a `DnsView`.
"""

from __future__ import annotations

from exporter.checks.domain import CHECK_IDS, evaluate_domain

__all__ = ["CHECK_IDS", "evaluate_domain"]
