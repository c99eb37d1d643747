"""The `spf` check against the RFC 7208 test suite (tests/data/rfc7208, from pyspf).

Each scenario's zone data is served by BIND's named as one root zone; names the suite
marks TIMEOUT are zones that fail to load, which named answers with SERVFAIL at once (a
forward zone to a dead address would need recursion, which the test named does not do).
Every scenario domain (the MAIL FROM domain, else the HELO name) is checked once and its
verdict compared with the results of all the suite's tests for that domain:

- every result permerror -> `fail`;
- every result temperror -> `unknown`;
- every result none -> the check table's "no SPF record" (`warn`);
- every result among pass/fail/softfail/neutral -> no permerror `fail`.

Domains whose tests mix these (the result depends on the sender's address) are not
compared: the check audits the record, not one message. `DIFFERENCES` lists the domains
where the check deliberately differs from a receiver, with the reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import NamedServer, start_named, stop_named

from exporter.jobs.dns import check_domain
from exporter.model import CheckResult, DomainTarget, Status
from exporter.sources.dns import DnsClient

pytestmark = pytest.mark.integration

SUITE = Path(__file__).resolve().parent.parent / "data" / "rfc7208" / "rfc7208-tests.yml"
QUERY_TIMEOUT = 3.0  # named answers at once; a loaded box may still take a second
VERDICTS = frozenset({"pass", "fail", "softfail", "neutral"})
_HOSTNAME = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{1,63}", re.ASCII)
_MAX_LABEL = 63
_MAX_NAME = 253

# (scenario description, domain) -> why the check's verdict differs from the suite's.
DIFFERENCES: dict[tuple[str, str], str] = {
    ("EXISTS mechanism syntax", "e6.example.com"): (
        "exists: targets are not resolved (the name is usually built per message), so the "
        "timeout of exists:err.example.com that makes receivers return temperror is not seen"
    ),
    ("Processing limits", "e8.example.com"): (
        "every DNS-querying term counts, not only those one sender's address reaches: the "
        "suite's sender matches the first a term before the include that passes 10 lookups"
    ),
}


@dataclass
class Scenario:
    """One YAML document: its zone and, per checked domain, the results its tests expect."""

    description: str
    zonedata: dict[str, list[Any]]
    results: dict[str, set[str]] = field(default_factory=dict)


def _scenarios() -> list[Scenario]:
    scenarios = []
    for doc in yaml.safe_load_all(SUITE.read_text(encoding="utf-8")):
        scenario = Scenario(doc["description"], doc["zonedata"])
        for test in doc["tests"].values():
            domain = str(test["mailfrom"]).rpartition("@")[2] or str(test["helo"])
            expected = test["result"]
            results = set(expected) if isinstance(expected, list) else {expected}
            scenario.results.setdefault(domain.lower().removesuffix("."), set()).update(results)
        scenarios.append(scenario)
    return scenarios


SCENARIOS = _scenarios()


def _name(name: str) -> str | None:
    """An owner or target name in zone-file syntax (absolute), None where DNS cannot hold
    it (the suite tests over-long names on purpose)."""
    raw = name.encode("utf-8").removesuffix(b".")
    labels = raw.split(b".")
    if not raw or len(raw) > _MAX_NAME or any(not 0 < len(lab) <= _MAX_LABEL for lab in labels):
        return None
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*"
    text = ".".join(
        "".join(chr(c) if c in safe else f"\\{c:03d}" for c in label) for label in labels
    )
    return text + "."


def _txt(value: str | list[str]) -> str:
    strings = [value] if isinstance(value, str) else value
    out = [] if strings else ['""']
    for string in strings:
        data = string.encode("utf-8")
        out.append(
            '"'
            + "".join(
                chr(c) if 0x20 <= c < 0x7F and c not in (0x22, 0x5C) else f"\\{c:03d}" for c in data
            )
            + '"'
        )
    return " ".join(out)


def _rdata(owner: str, rdtype: str, value: Any) -> str | None:
    """One zone line, None where the value cannot be served (invalid address or name)."""
    if rdtype in ("A", "AAAA"):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return None
        return f"{owner} {rdtype} {value}"
    if rdtype == "MX":
        target = _name(str(value[1])) if value[1] else "."
        return None if target is None else f"{owner} MX {int(value[0])} {target}"
    if rdtype in ("PTR", "CNAME"):
        target = _name(str(value))
        return None if target is None else f"{owner} {rdtype} {target}"
    return None


def _records(name: str, entries: list[Any]) -> tuple[list[str], bool]:
    """The zone lines for one name, and whether the name times out for TXT lookups.

    As the suite's driver does: a TIMEOUT entry answers the types listed before it and
    times out the rest; SPF (type 99) records double as TXT unless the name lists TXT.
    """
    owner = _name(name)
    if owner is None:
        return [], False
    lines: list[str] = []
    spf_texts: list[str] = []
    has_txt = no_txt = False  # a real TXT; any TXT entry, even "TXT: NONE"
    for entry in entries:
        if entry == "TIMEOUT":
            return ([], True) if not has_txt else (lines, False)
        ((rdtype, value),) = entry.items()
        if rdtype == "TXT":
            no_txt = True
            has_txt = has_txt or value != "NONE"
            lines += [f"{owner} TXT {_txt(value)}"] if value != "NONE" else []
        elif rdtype == "SPF":
            spf_texts.append(value)
        elif (line := _rdata(owner, rdtype, value)) is not None:
            lines.append(line)
    if not no_txt:
        lines += [f"{owner} TXT {_txt(text)}" for text in spf_texts]
    return lines, False


@dataclass
class Served:
    server: NamedServer
    scenario: Scenario


def _serve(scenario: Scenario, workdir: Path) -> NamedServer:
    lines = [
        "$TTL 300",
        ". SOA ns1.suite. hostmaster.suite. 1 3600 600 86400 300",
        ". NS ns1.suite.",
        "ns1.suite. A 127.0.0.1",
        "healthy.example. A 192.0.2.1",  # what start_named asks to see the server is up
    ]
    timeouts = []
    for name, entries in scenario.zonedata.items():
        records, times_out = _records(name, entries)
        lines += records
        below = any(other.lower().endswith("." + name.lower()) for other in scenario.zonedata)
        if times_out and not below and (owner := _name(name)):
            timeouts.append(owner.removesuffix("."))  # a zone cut would hide the names below
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "root.zone"
    root.write_text("\n".join(lines) + "\n", encoding="ascii")
    broken = workdir / "broken.zone"
    broken.write_text("; no SOA: named refuses to load it and answers SERVFAIL\nx A 1.2.3.4\n")
    zones = [f'zone "." {{ type primary; file "{root}"; check-names ignore; }};']
    zones += [f'zone "{name}" {{ type primary; file "{broken}"; }};' for name in timeouts]
    return start_named(workdir, {}, extra_conf="\n".join(zones))  # the suite's odd names


def _check(server: NamedServer, domain: str) -> CheckResult:
    async def cycle() -> CheckResult:
        client = DnsClient(nameservers=[(server.host, server.port)], timeout=QUERY_TIMEOUT)
        try:
            report = await check_domain(client, DomainTarget(domain, None, (), None, None))
        finally:
            await client.aclose()
        return next(c for c in report.checks if c.check == "spf")

    return asyncio.run(cycle())


def _expectation(results: set[str]) -> str | None:
    if results == {"permerror"}:
        return "permerror"
    if results == {"temperror"}:
        return "temperror"
    if results == {"none"}:
        return "none"
    if results <= VERDICTS:
        return "verdict"
    return None


def _agrees(expectation: str, result: CheckResult) -> bool:
    if expectation == "permerror":
        return result.status is Status.FAIL
    if expectation == "temperror":
        return result.status is Status.UNKNOWN
    if expectation == "none":
        return result.status is Status.WARN and "no SPF record" in result.summary
    return not (result.status is Status.FAIL and "permerror" in result.summary)


def _cases() -> Iterator[tuple[Scenario, str, str]]:
    for scenario in SCENARIOS:
        for domain, results in scenario.results.items():
            expectation = _expectation(results)
            if expectation and _HOSTNAME.fullmatch(domain) and _name(domain):
                yield scenario, domain, expectation


@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=[s.description.replace(" ", "-") for s in SCENARIOS]
)
def test_rfc7208_suite_scenario(scenario: Scenario, tmp_path: Path) -> None:
    """Every comparable domain of the scenario gets the verdict the suite's results imply."""
    cases = [(d, e) for s, d, e in _cases() if s is scenario]
    if not cases:
        pytest.skip("no domain whose tests all agree on one class of result")
    server = _serve(scenario, tmp_path / "named")
    disagreements = []
    try:
        for domain, expectation in cases:
            result = _check(server, domain)
            listed = (scenario.description, domain) in DIFFERENCES
            if _agrees(expectation, result) == listed:
                disagreements.append(
                    f"{domain}: suite {sorted(scenario.results[domain])} ({expectation}), "
                    f"check {result.status}: {result.summary}"
                    + (" (listed as a difference but agrees)" if listed else "")
                )
    finally:
        stop_named(server)
    assert not disagreements, "\n".join(disagreements)


def test_differences_name_suite_domains() -> None:
    """Every listed difference is a domain the suite really checks."""
    known = {(s.description, d) for s, d, _ in _cases()}
    assert set(DIFFERENCES) <= known, set(DIFFERENCES) - known
