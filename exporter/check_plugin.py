"""The first line of `check`'s text output, as the monitoring-plugins guidelines want it.

``SES-DELIVERABILITY CRITICAL - mail_from_resolvable fail: ... | spf_dns_lookups=3;;10;0``:
Nagios, Icinga and their kin show the text before ``|`` as the service's status and graph
the performance data after it, so a plugin run needs no wrapper script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from exporter.checks.spf import MAX_DNS_LOOKUPS
from exporter.model import DomainReport, Status

__all__ = ["PLUGIN_NAME", "STATUS_WORDS", "perf_value", "perfdata", "plugin_line"]

PLUGIN_NAME = "SES-DELIVERABILITY"
STATUS_WORDS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}  # by exit code
_SUMMARY_CHARS = 160  # the worst check's summary; a status line is read at a glance
_BAR = "\\x7c"  # `|` escaped like `printable` escapes control characters
_LISTED = 5  # further not-passing checks named after it, then "+N more"


def plugin_line(
    report: DomainReport,
    exit_code: int,
    not_checked: Sequence[str],
    escape: Callable[[str], str],
) -> str:
    """``NAME STATUS - text | perfdata``: the worst checks first (fail, unknown, warn, each
    in report order), the first with its summary; on OK the domain and what passed.

    ``escape`` makes DNS text printable (`cli_check.printable`); ``|`` in the text is
    escaped too, since it would start the performance data.
    """
    bad = sorted(
        (c for c in report.checks if c.status is not Status.PASS),
        key=lambda c: -c.status.rank,
    )
    if bad:
        first = bad[0]
        summary = _clip(escape(first.summary))
        text = f"{first.check} {first.status.value}: {summary}"
        rest = [f"{c.check} {c.status.value}" for c in bad[1 : 1 + _LISTED]]
        if rest:
            more = len(bad) - 1 - len(rest)
            text += "; also " + ", ".join(rest) + (f" (+{more} more)" if more else "")
    else:
        text = f"{escape(report.domain)}: {len(report.checks)} checks pass"
    if not_checked:
        text += "; not checked: " + ", ".join(not_checked)
    word = STATUS_WORDS[exit_code]
    text = text.replace("|", _BAR)
    return f"{PLUGIN_NAME} {word} - {text} | {perfdata(report)}"


def perfdata(report: DomainReport) -> str:
    """The numbers behind the verdicts; a value DNS could not tell is left out."""
    counts = {s: sum(c.status is s for c in report.checks) for s in Status}
    values = [
        perf_value("spf_dns_lookups", report.spf_dns_lookups, crit=str(MAX_DNS_LOOKUPS), low=0),
        # -1 no valid record, 0 none, 1 quarantine, 2 reject
        perf_value("dmarc_policy_level", report.dmarc_policy_level, low=-1, high=2),
        perf_value(
            "mail_from_resolvable",
            None if report.mail_from_resolvable is None else int(report.mail_from_resolvable),
            low=0,
            high=1,
        ),
        perf_value("failing", counts[Status.FAIL], low=0),
        perf_value("warning", counts[Status.WARN], low=0),
        perf_value("unknown", counts[Status.UNKNOWN], low=0),
    ]
    return " ".join(v for v in values if v)


def perf_value(
    label: str,
    value: int | None,
    *,
    warn: str = "",
    crit: str = "",
    low: int | None = None,
    high: int | None = None,
) -> str:
    """``'label'=value;warn;crit;min;max`` with trailing empty fields dropped; "" for None.

    The label is quoted when it holds a space, ``=`` or a quote (a quote doubled).
    """
    if value is None:
        return ""
    if any(c in label for c in " ='"):
        label = "'" + label.replace("'", "''") + "'"
    fields = [str(value), warn, crit, "" if low is None else str(low)]
    fields.append("" if high is None else str(high))
    while fields[-1] == "":
        fields.pop()
    return f"{label}=" + ";".join(fields)


def _clip(text: str) -> str:
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 3] + "..."
