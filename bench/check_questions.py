"""Distinct DNS questions and rounds per domain of the pure checks, without a network.

Runs the checks' round loop over the benchmark's synthetic domains (bench/dns_zonegen.py),
answering from its zone files in memory, and prints the mean and maximum questions per
domain (shared names such as amazonses.com counted for every domain), the `_dmarc`
questions among them, and the rounds. To compare two versions of the checks, put the other
version's `exporter` package first on PYTHONPATH (e.g. from `git archive <commit> exporter`).

    .venv/bin/python bench/check_questions.py 1000
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
from dns_zonegen import REGION, generate, write_zones

from exporter.checks import evaluate_domain
from exporter.model import Answer, AnswerKind, DomainTarget

MAX_ROUNDS = 16  # exporter/jobs/dns.py


def _text(rdtype: str, rdata: object) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode()  # type: ignore[attr-defined]
    if rdtype == "MX":
        exchange = str(rdata.exchange).rstrip(".").lower() or "."  # type: ignore[attr-defined]
        return f"{rdata.preference} {exchange}"  # type: ignore[attr-defined]
    return rdata.to_text().rstrip(".").lower()  # type: ignore[attr-defined]


Zones = dict[dns.name.Name, dns.zone.Zone]


def _answer(zones: Zones, name: str, rdtype: str) -> Answer:
    owner = dns.name.from_text(name)
    for origin, zone in zones.items():
        if owner.is_subdomain(origin):
            node = zone.get_node(owner)
            if node is None:
                return Answer(AnswerKind.NXDOMAIN)
            rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype))
            if rdataset is None:
                return Answer(AnswerKind.NODATA)
            return Answer(AnswerKind.RECORDS, tuple(_text(rdtype, r) for r in rdataset))
    return Answer(AnswerKind.NXDOMAIN)  # what the public DNS says for _dmarc.test etc.


class _View:
    """Answers what was fetched; remembers what was not (the next round's questions)."""

    def __init__(self, fetched: dict[tuple[str, str], Answer]) -> None:
        self.fetched, self.missing = fetched, set[tuple[str, str]]()

    def get(self, name: str, rdtype: str) -> Answer | None:
        if (name, rdtype) not in self.fetched:
            self.missing.add((name, rdtype))
        return self.fetched.get((name, rdtype))


def _run(zones: Zones, target: DomainTarget) -> tuple[dict[tuple[str, str], Answer], int]:
    fetched: dict[tuple[str, str], Answer] = {}
    for round_no in range(1, MAX_ROUNDS + 1):
        view = _View(fetched)
        evaluate_domain(target, view)
        if not view.missing:
            return fetched, round_no
        fetched |= {q: _answer(zones, *q) for q in view.missing}
    return fetched, MAX_ROUNDS


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    domains = generate(count)
    files = write_zones(domains, Path(tempfile.mkdtemp()))
    zones = {
        dns.name.from_text(origin): dns.zone.from_file(str(path), origin=origin, relativize=False)
        for origin, path in files.items()
    }
    questions, dmarc, rounds = [], [], []
    for domain in domains:
        target = DomainTarget(domain.name, domain.mail_from, domain.tokens, REGION)
        fetched, used = _run(zones, target)
        questions.append(len(fetched))
        dmarc.append(sum(name.startswith("_dmarc.") for name, _ in fetched))
        rounds.append(used)
    print(
        f"N={count}: questions/domain mean {statistics.mean(questions):.2f} max {max(questions)}; "
        f"_dmarc questions mean {statistics.mean(dmarc):.2f} max {max(dmarc)}; "
        f"rounds mean {statistics.mean(rounds):.2f} max {max(rounds)}"
    )


if __name__ == "__main__":
    main()
