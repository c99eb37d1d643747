"""Prometheus exporter for the email deliverability of Amazon SES senders."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
