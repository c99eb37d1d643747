"""The bounce classifier's data: its categories and wording rules (its code tables are in
`exporter.checks.bounce_codes`, its texts for people in `exporter.checks.bounce_text`).

The engine (`exporter.checks.bounce`) says in which order these are read; these modules only
hold them, so that a rule change is a data change. Raise ``CLASSIFIER_VERSION`` in the
engine with every change that can move a text to another category.

The specific wording (`STRONG`) is one table in priority order, kept in three parts that
are read one after the other: the sender's (`exporter.checks.bounce_rules_sender`), the
recipient's (`exporter.checks.bounce_rules_recipient`), then broad words on the message and
its traffic (`exporter.checks.bounce_rules_message`, which also holds the generic `WEAK`
table). The engine compiles each table into one pattern, so the split costs nothing.
"""

from __future__ import annotations

from exporter.checks.bounce_rules_categories import BounceCategory, Rule
from exporter.checks.bounce_rules_message import (
    GAVE_UP,
    GREETING_REFUSAL,
    MESSAGE,
    REFUSED_WHAT,
    WEAK,
)
from exporter.checks.bounce_rules_recipient import RECIPIENT
from exporter.checks.bounce_rules_sender import BOTH_FAILED, DKIM_FAILED, SENDER, SPF_FAILED

__all__ = [
    "BOTH_FAILED",
    "DKIM_FAILED",
    "GAVE_UP",
    "GREETING_REFUSAL",
    "REFUSED_WHAT",
    "SPF_FAILED",
    "STRONG",
    "WEAK",
    "BounceCategory",
    "Rule",
]

# Rules in priority order: the first that matches anywhere in the text decides.
STRONG: tuple[Rule, ...] = (*SENDER, *RECIPIENT, *MESSAGE)
