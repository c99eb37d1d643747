"""Property: a remedy, applied as printed, fixes its check and makes nothing else worse.

For every warning or failing check of every domain in the test zones (the named-served
zones of the check tests, plus a generated zone of record combinations), the remedy's
records are applied to a copy of the zone they name, the copy is given to the checks as
``--zone-file`` does (answers from the file, everything else from BIND's named), and every
domain is checked again: the remedied check passes, no other check of that domain gets
worse, and no other domain's verdict or ``dmarc_policy_level`` drops (an org-domain record
edited for one subdomain must not weaken the org or its other subdomains).

A warning or failure without records is only allowed where the fix is not a DNS record the
exporter can write (listed in WORDS_ONLY with the reason).
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
from pathlib import Path

import dns.zone
import pytest
from conftest import DEMO_ZONES, TEST_ZONES, NamedServer
from helpers import zone_edit
from test_checks_named import CASES, H1, H2, H3, PARTIAL_CASES

from exporter.jobs.dns import check_domains
from exporter.model import CheckResult, DomainReport, DomainTarget, RecordChange, Status
from exporter.sources.dns import DnsClient
from exporter.sources.zones import ZoneOverrides

pytestmark = pytest.mark.integration

GEN = "gen.test"
REGIONAL_KEY = re.compile(r"no DKIM key at \S+\.dkim\.[a-z]+-[a-z]+-[0-9]\.amazonses\.com")
QUERY_TIMEOUT = 3.0  # named answers at once; a loaded box may still take a second

# (check, words in its summary or remedy) -> why no DNS record can be the remedy
WORDS_ONLY = {
    ("spf", "permerror"): "which terms to cut, merge or fix is the sender's choice",
    ("mail_from_spf", "permerror"): "same as spf",
    ("spf", "redirect= names"): "a redirect= decides the end: the target's record, elsewhere",
    ("spf", "is an alias"): "the domain is a CNAME: its record lives at the target",
    ("mail_from_spf", "is an alias"): "same as spf",
    ("mail_from_spf", "redirect= names"): "same as spf",
    ("mail_from_spf", "DNS lookups: cut others first"): "include:amazonses.com would pass 10",
    ("dmarc", "is an alias"): "the _dmarc name is a CNAME: the record lives at the target",
    ("mx", "does not exist"): "the mail server that takes replies is the sender's choice",
    ("mx", "no MX and no A/AAAA"): "same: a host name, not an address we can stand in for",
    ("mx", "null MX"): "same: removing the null MX alone leaves no mail server",
    ("mail_from_mx", "(your SES region)"): "without a region SES's host cannot be named",
    ("dmarc_reports", "see the dmarc check"): "the dmarc check's remedy creates the record",
    ("dkim", "re-read the tokens"): "a right CNAME to a missing or bad key: SES's side",
}


def _words_only_reason(result: CheckResult) -> str | None:
    for (name, words), reason in WORDS_ONLY.items():
        if name == result.check and (words in result.summary or words in result.remedy):
            return reason
    return None


def _generated_zone() -> tuple[str, list[DomainTarget]]:
    """A zone of sending domains with every combination class of the records the remedies
    edit, drawn with a fixed seed so a failure reproduces."""
    draw = random.Random(20261207)  # noqa: S311 - test data, not secrets
    spf = [
        None,
        "v=spf1 +all",
        "v=spf1 ?all",
        "v=spf1 ip4:192.0.2.0/24",
        "v=spf1 include:amazonses.com -all",
        "v=spf1 mx a ~all",
        "v=spf1 a all",
    ]
    dmarc = [
        None,
        ["v=DMARC1; p=none"],
        ["v=DMARC1; p=none; rua=mailto:r@gen.test; ruf=mailto:f@gen.test; fo=1; adkim=s"],
        ["v=DMARC1; p=reject; pct=10; rua=mailto:r@gen.test"],
        ["v=DMARC1; p=bogus; rua=mailto:r@gen.test"],
        ["v=DMARC1; p=none", "v=DMARC1; p=reject; rua=mailto:r@gen.test"],
        ["v=DMARC1; p=quarantine"],
        ["v=DMARC1; p=reject; sp=everything; aspf=s"],
    ]
    mx = [None, ["10 mx.gen.test."], ["0 ."]]
    mail_from_mx = [
        None,
        ["10 feedback-smtp.us-east-1.amazonses.com."],
        ["5 mx.gen.test.", "10 feedback-smtp.us-east-1.amazonses.com."],
        ["10 mx.gen.test.", "10 feedback-smtp.us-east-1.amazonses.com."],
        ["10 feedback-smtp.eu-west-1.amazonses.com."],
        ["0 ."],
    ]
    mail_from_spf = [
        None,
        "v=spf1 include:amazonses.com ~all",
        "v=spf1 ip4:192.0.2.0/24 -all",
        "v=spf1 include:amazonses.com ?all",
        "v=spf1 +all",
        "v=spf1 ip4:192.0.2.0/24",
    ]
    dkim = [None, "right", "wrong"]
    lines = [
        f"$ORIGIN {GEN}.",
        "$TTL 300",
        "@ SOA ns1 hostmaster 1 3600 600 86400 300",
        "@ NS ns1",
        "ns1 A 192.0.2.53",
        "mx A 192.0.2.25",
        '_dmarc TXT "v=DMARC1; p=reject; sp=none; rua=mailto:r@gen.test"',
    ]
    targets = []
    for i in range(24):
        d = f"d{i}"
        lines.append(f"{d} A 192.0.2.{i + 1}")  # the implicit MX where the MX is dropped
        if (records := draw.choice(mx)) is not None:
            lines += [f"{d} MX {r}" for r in records]
        if (text := draw.choice(spf)) is not None:
            lines.append(f'{d} TXT "{text}"')
        if (texts := draw.choice(dmarc)) is not None:
            lines += [f'_dmarc.{d} TXT "{t}"' for t in texts]
        mail_from = f"mail.{d}"
        if draw.random() < 0.8:
            lines.append(f"{mail_from} A 192.0.2.{100 + i}")
        if (records := draw.choice(mail_from_mx)) is not None:
            lines += [f"{mail_from} MX {r}" for r in records]
        if (text := draw.choice(mail_from_spf)) is not None:
            lines.append(f'{mail_from} TXT "{text}"')
        tokens: tuple[str, ...] = ()
        if (kind := draw.choice(dkim)) is not None:
            tokens = (H1, H2, H3)
            for token in tokens:
                target = f"{token}.dkim.amazonses.com." if kind == "right" else "mx.gen.test."
                lines.append(f"{token}._domainkey.{d} CNAME {target}")
        targets.append(DomainTarget(f"{d}.{GEN}", f"{mail_from}.{GEN}", tokens, "us-east-1"))
    return "\n".join(lines) + "\n", targets


def _zone_targets() -> list[DomainTarget]:
    """The domains of the named-served check cases (each once)."""
    targets = [p.values[0].target for p in CASES] + [p.values[0] for p in PARTIAL_CASES]
    return list(dict.fromkeys(t for t in targets if "broken.test" not in t.name))


def _check_all(
    named: NamedServer, targets: list[DomainTarget], zone_files: list[Path]
) -> dict[DomainTarget, DomainReport]:
    async def cycle() -> list[DomainReport]:
        client = DnsClient(
            nameservers=[(named.host, named.port)],
            timeout=QUERY_TIMEOUT,
            overrides=ZoneOverrides.from_files(zone_files),
        )
        try:
            return (await check_domains(targets, client)).reports
        finally:
            await client.aclose()

    return dict(zip(targets, asyncio.run(cycle()), strict=True))


def _statuses(report: DomainReport) -> dict[str, Status]:
    return {result.check: result.status for result in report.checks}


def _level(report: DomainReport) -> int:
    return -2 if report.dmarc_policy_level is None else report.dmarc_policy_level


def _editable_zones(gen_file: Path) -> list[Path]:
    files = sorted(TEST_ZONES.glob("*.zone")) + sorted(DEMO_ZONES.glob("*.zone")) + [gen_file]
    return [f for f in files if f.name != "broken.test.zone"]  # named refuses it on purpose


def _apply(
    records: tuple[RecordChange, ...], zones: dict[Path, dns.zone.Zone], out: Path
) -> list[Path] | None:
    """Copies of the zones the records name (``zones``: the editable ones, parsed once and
    never changed here), edited; None when one is in no zone here."""
    edited: dict[Path, dns.zone.Zone] = {}
    for change in records:
        try:
            path = zone_edit.zone_for(zones, change.name)
        except zone_edit.NotInAnyZoneError:
            return None
        if path not in edited:
            edited[path] = zone_edit.load(path)  # a fresh copy to edit
        zone_edit.apply(edited[path], change)
    out.mkdir(parents=True, exist_ok=True)
    return [zone_edit.write(edited[p], out / p.name) for p in sorted(edited)]


def _readers(
    targets: list[DomainTarget], edited: set[str], zones: dict[Path, dns.zone.Zone]
) -> list[DomainTarget]:
    """The targets that may read an edited zone: those in it, and those of every zone file
    that names its origin (an include, a CNAME, a report address pointing there)."""
    origins = {str(zones[p].origin).removesuffix(".") for p in zones if p.name in edited}
    near = {p.name for p in zones if p.name in edited or any(o in p.read_text() for o in origins)}
    return [t for t in targets if _zone_name(zones, t.name) in near]


def _zone_name(zones: dict[Path, dns.zone.Zone], name: str) -> str:
    try:
        return zone_edit.zone_for(zones, name).name
    except zone_edit.NotInAnyZoneError:
        return ""


def _unverifiable(result: CheckResult) -> bool:
    """The remedy cannot be seen to work here: another lookup of the check fails on purpose
    in these zones, or the keys it leads to are in an SES regional signing zone the test
    zones do not hold (only dkim.amazonses.com's keys are served)."""
    if result.status is Status.UNKNOWN and "lookup failed" in result.summary:
        return True
    return result.check == "dkim" and bool(REGIONAL_KEY.search(result.summary))


def _compare(
    before: dict[DomainTarget, DomainReport],
    after: dict[DomainTarget, DomainReport],
    subject: DomainTarget,
    check: str,
) -> tuple[list[str], bool]:
    """What got worse after ``subject``'s ``check`` was remedied, and whether the check
    could be verified (False: another of its lookups fails on purpose in this zone)."""
    problems = []
    fixed = {r.check: r for r in after[subject].checks}[check]
    verified = fixed.status is Status.PASS
    if not verified and not _unverifiable(fixed):
        problems.append(f"after the remedy {fixed.status}: {fixed.summary}")
    for other, again in after.items():
        if other.name == subject.name and other != subject:
            continue  # the same domain under another SES configuration: an alternative
        old, new = _statuses(before[other]), _statuses(again)
        worse = [c for c in old if new[c].rank > old[c].rank and (other, c) != (subject, check)]
        if worse:
            problems.append(f"made {other.name} worse on {worse}")
        if _level(again) < _level(before[other]):
            problems.append(f"lowered {other.name}'s dmarc_policy_level")
    return problems, verified


def test_every_remedy_fixes_its_check_and_worsens_nothing(
    named: NamedServer, tmp_path: Path
) -> None:
    text, generated = _generated_zone()
    gen_file = tmp_path / f"{GEN}.zone"
    gen_file.write_text(text)
    targets = _zone_targets() + generated
    # Parsed once: each remedy edits fresh copies of the few zones it names (_apply).
    editable = {path: zone_edit.load(path) for path in _editable_zones(gen_file)}
    before = _check_all(named, targets, [gen_file])
    applied, words_only, foreign, unverifiable = 0, 0, 0, 0
    problems: list[str] = []
    for subject, report in before.items():
        for result in report.checks:
            if result.status not in (Status.WARN, Status.FAIL):
                continue
            where = f"{subject.name} {result.check} ({result.summary})"
            if not result.records:
                if _words_only_reason(result) is None:
                    problems.append(f"{where}: no records and no reason listed")
                words_only += 1
                continue
            edited = _apply(result.records, editable, tmp_path / f"fix{applied + foreign}")
            if edited is None:
                foreign += 1  # e.g. a report receiver's authorization in its own zone
                continue
            applied += 1
            files = edited + ([] if any(p.name == gen_file.name for p in edited) else [gen_file])
            readers = _readers(targets, {p.name for p in edited}, editable)
            after = _check_all(named, readers, files)
            found, verified = _compare(before, after, subject, result.check)
            problems += [f"{where}: {p}" for p in found]
            unverifiable += not verified
    assert not problems, "\n".join(problems[:40])
    print(
        f"remedies applied and re-checked: {applied} (of which unverifiable because another "
        f"lookup fails on purpose: {unverifiable}); words only: {words_only}; "
        f"records in zones not loaded here: {foreign}"
    )
    assert applied >= 60


def test_records_paste_into_check_zone_file(named: NamedServer, tmp_path: Path) -> None:
    """The real command line: a failing domain, its printed remedy applied as a zone file,
    checked again with `check --zone-file`, passes that check."""
    zone = tmp_path / "paste.test.zone"
    zone.write_text(
        "$ORIGIN paste.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
        "@ NS ns1\nns1 A 192.0.2.53\n@ MX 10 mx\nmx A 192.0.2.25\n"
        '_dmarc TXT "v=DMARC1; p=none; rua=mailto:r@paste.test; fo=1"\n'
    )
    command = [
        sys.executable,
        "-m",
        "exporter",
        "check",
        "paste.test",
        "--format",
        "json",
        "--nameserver",
        named.nameserver,
        "--zone-file",
    ]
    first = subprocess.run(
        [*command, str(zone)], capture_output=True, text=True, timeout=120, check=False
    )
    import json  # noqa: PLC0415 - only this test reads JSON

    checks = {c["check"]: c for c in json.loads(first.stdout)["checks"]}
    assert checks["dmarc"]["status"] == "warn"
    lines = list(checks["dmarc"]["records"])
    assert lines == [
        {
            "action": "replace",
            "name": "_dmarc.paste.test",
            "type": "TXT",
            "value": '"v=DMARC1; p=quarantine; rua=mailto:r@paste.test; fo=1"',
        }
    ]
    edited = zone.read_text().replace(
        '"v=DMARC1; p=none; rua=mailto:r@paste.test; fo=1"', lines[0]["value"]
    )
    zone.write_text(edited)
    second = subprocess.run(
        [*command, str(zone)], capture_output=True, text=True, timeout=120, check=False
    )
    again = {c["check"]: c for c in json.loads(second.stdout)["checks"]}
    assert again["dmarc"]["status"] == "pass", again["dmarc"]
