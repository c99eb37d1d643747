"""`check`: one sending domain diagnosed once, exiting like a monitoring plugin."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import ipaddress
import json
import re
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from exporter.check_from_ses import SesReadError, read_identity, ses_region
from exporter.check_plugin import plugin_line
from exporter.config import normalize_domain, parse_hostport
from exporter.config.fields import known_regions
from exporter.jobs.dns import check_domains
from exporter.model import DomainReport, DomainTarget, Status
from exporter.sources.dns import DnsClient, system_nameservers
from exporter.sources.zones import ZoneFileError, ZoneOverrides

__all__ = [
    "EXIT_CRITICAL",
    "EXIT_OK",
    "EXIT_UNKNOWN",
    "EXIT_WARN",
    "add_check_parser",
    "check",
    "printable",
    "report_json",
    "write_report_text",
]

# monitoring-plugins (Nagios/Icinga) exit codes
EXIT_OK, EXIT_WARN, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3
_EXIT_FOR_STATUS = {
    Status.PASS: EXIT_OK,
    Status.WARN: EXIT_WARN,
    Status.FAIL: EXIT_CRITICAL,
    Status.UNKNOWN: EXIT_UNKNOWN,
}
_ANSI = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.UNKNOWN: "90"}
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}", re.ASCII)
_PROG = "ses-deliverability-exporter check"
_NO_TOKENS = "no tokens; use --from-ses"


def add_check_parser(sub: Any) -> None:
    """The `check` command's arguments (its dispatch is `check`)."""
    check_parser = sub.add_parser(
        "check", help="diagnose one sending domain once (exit 0 pass, 1 warn, 2 fail, 3 unknown)"
    )
    check_parser.add_argument(
        "domain", nargs="?", help="the sending (From) domain (optional with --from-ses)"
    )
    check_parser.add_argument(
        "--from-ses",
        metavar="IDENTITY",
        help="read the DKIM tokens, signing zone and MAIL FROM domain of this SES domain "
        "identity (standard AWS credential chain; --region or the default region)",
    )
    check_parser.add_argument(
        "--mail-from", help="the full custom MAIL FROM domain, e.g. mail.example.com"
    )
    check_parser.add_argument(
        "--dkim-token", action="append", default=[], help="an SES Easy DKIM token (repeat for each)"
    )
    check_parser.add_argument("--region", help="the SES region of the identity, e.g. eu-west-1")
    check_parser.add_argument(
        "--nameserver",
        action="append",
        default=[],
        help="HOST[:PORT] to ask instead of resolv.conf; [::1]:53 for IPv6 (repeatable)",
    )
    check_parser.add_argument(
        "--zone-file",
        action="append",
        default=[],
        type=Path,
        help="answer names inside this zone from the file (check a change before publishing it)",
    )
    check_parser.add_argument(
        "--authoritative",
        action="store_true",
        help="ask the domain's own nameservers, past a resolver's cached NXDOMAIN (after a fix)",
    )
    check_parser.add_argument("--timeout", type=float, default=2.0, help="seconds per DNS query")
    check_parser.add_argument("--format", choices=("text", "json"), default="text")


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\x1b``, ``\\x00``, ``\\u202e``).

    Record values come from DNS: a hostile one must not clear or rewrite the terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def check(args: argparse.Namespace) -> int:
    """Run `check`; any failure to get a report is UNKNOWN (3), as a plugin must say."""
    if args.timeout <= 0:
        return _error("--timeout must be positive")
    try:
        nameservers = []
        for text in args.nameserver:
            host, port = parse_hostport(text, 53)
            nameservers.append((_nameserver_address(host), port))
        overrides = ZoneOverrides.from_files(args.zone_file)
        target, not_checked = _target(args)  # last: every local mistake before an AWS call
    except (ValueError, ZoneFileError, SesReadError) as exc:
        return _error(str(exc))

    async def run() -> DomainReport:
        client = DnsClient(
            nameservers=nameservers or system_nameservers(),
            timeout=args.timeout,
            attempts=2,
            concurrency=16,
            overrides=overrides,
            authoritative=args.authoritative,
        )
        result = await check_domains([target], client)
        return result.reports[0]

    try:
        report = asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - a plugin reports UNKNOWN, never a traceback
        return _error(f"no report: {type(exc).__name__}: {exc}")
    code = _EXIT_FOR_STATUS[report.worst]
    first = plugin_line(report, code, [name for name, _ in not_checked], printable)
    if args.format == "json":
        doc = report_json(report)
        doc["plugin_output"] = first
        doc["not_checked"] = [{"check": name, "reason": why} for name, why in not_checked]
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"{first}\n")
        write_report_text(report, sys.stdout, colour=sys.stdout.isatty(), not_checked=not_checked)
    return code


def _target(args: argparse.Namespace) -> tuple[DomainTarget, list[tuple[str, str]]]:
    """The domain and its inputs, typed or read from SES, and the checks left out (why)."""
    region = _region(args.region) if args.region is not None else None
    if args.from_ses is None:
        if args.domain is None:
            raise ValueError("give the domain to check, or --from-ses IDENTITY")
        target = DomainTarget(
            name=_domain(args.domain),
            mail_from=_domain(args.mail_from) if args.mail_from else None,
            dkim_tokens=tuple(t.strip().lower() for t in args.dkim_token),
            region=region,
        )
        return target, [] if target.dkim_tokens else [("dkim", _NO_TOKENS)]
    identity = _domain(args.from_ses)
    if args.domain is not None and _domain(args.domain) != identity:
        raise ValueError(f"the domain {args.domain!r} is not the --from-ses identity")
    if args.dkim_token or args.mail_from:
        raise ValueError("--from-ses reads the DKIM tokens and MAIL FROM domain from SES")
    found = read_identity(identity, ses_region(region))
    target = DomainTarget(
        name=identity,
        mail_from=found.mail_from,
        dkim_tokens=found.dkim_tokens,
        region=found.region,
        dkim_signing_zone=found.dkim_signing_zone,
    )
    return target, [("dkim", found.dkim_not_checked)] if found.dkim_not_checked else []


def _error(message: str) -> int:
    sys.stderr.write(f"{_PROG}: error: {printable(message)}\n")
    return EXIT_UNKNOWN


def _domain(text: str) -> str:
    """A domain name; an IP literal is refused (it has no MX, SPF or DMARC of its own)."""
    try:
        ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return normalize_domain(text)
    raise ValueError(f"{text!r} is an IP address, not a domain name")


def _region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise ValueError(f"--region {text!r} is not an AWS region name (e.g. eu-west-1)")
    if text not in known_regions("sesv2"):  # else it suggests a feedback host that is not there
        close = difflib.get_close_matches(text, sorted(known_regions("sesv2")), n=3, cutoff=0.8)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"--region {text!r} is not a region where SES exists{hint}")
    return text


def _nameserver_address(host: str) -> str:
    """An IP address as given, or a host name (`localhost`, `ns1.example.net`) resolved once."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, 53, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise ValueError(f"nameserver {host!r} does not resolve: {exc}") from exc
    return str(infos[0][4][0])


def report_json(report: DomainReport) -> dict[str, object]:
    """The pinned JSON shape of `check --format json`."""
    return {
        "domain": report.domain,
        "checks": [
            {
                "check": c.check,
                "status": c.status.value,
                "summary": c.summary,
                "remedy": c.remedy,
                "records": [r.as_json() for r in c.records],
            }
            for c in report.checks
        ],
        "dmarc_policy_level": report.dmarc_policy_level,
        "spf_dns_lookups": report.spf_dns_lookups,
        "mail_from": report.mail_from,
        "mail_from_resolvable": report.mail_from_resolvable,
        "worst_status": report.worst.value,
    }


def write_report_text(
    report: DomainReport,
    out: TextIO,
    *,
    colour: bool,
    not_checked: Sequence[tuple[str, str]] = (),
) -> None:
    """A readable report: one line per check, the remedy under each problem, every value
    from DNS escaped; a check left out says why (a silent gap reads as a pass)."""

    def paint(status: Status, text: str) -> str:
        return f"\033[{_ANSI[status]}m{text}\033[0m" if colour else text

    out.write(f"{printable(report.domain)}\n")
    width = max((len(c.check) for c in report.checks), default=0)
    for c in report.checks:
        status = paint(c.status, f"{c.status.value.upper():7}")
        out.write(f"  {status} {c.check:{width}}  {printable(c.summary)}\n")
        if c.status is not Status.PASS and c.remedy:
            out.write(f"  {'':7} {'':{width}}  remedy: {printable(c.remedy)}\n")
        out.writelines(
            f"  {'':7} {'':{width}}    {r.action:7} {printable(r.zone_line())}\n" for r in c.records
        )
    out.writelines(f"  {name}: not checked, {printable(why)}\n" for name, why in not_checked)
    out.write(f"worst: {paint(report.worst, report.worst.value)}\n")
