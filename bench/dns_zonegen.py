"""Synthetic SES sending domains for the DNS benchmark: zone files and expected verdicts.

Everything is derived from (seed, index), so the first N domains of a 10,000-domain set
are exactly the N-domain set: one named serving the largest set serves every smaller run.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "KINDS",
    "ZONE",
    "SyntheticDomain",
    "expected_report",
    "generate",
    "kind_counts",
    "write_zones",
]

ROOT = Path(__file__).resolve().parent.parent
DEMO_ZONES = ROOT / "exporter" / "demo" / "zones"
ZONE = "bench.test"
REGION = "us-east-1"
MAIL_FROM_LABEL = "mail"
TOKEN_ALPHABET = string.ascii_lowercase + string.digits
TOKEN_LENGTH = 32
TOKENS_PER_DOMAIN = 3
SPF_INCLUDES = 3  # spf_includes domains: _spf1.._spf3, and _spf3 includes _spf3b

# One block of 20 domains, shuffled per block: 70/10/10/5/5 %, exact for multiples of 20.
KINDS = ("healthy", "mail_from_no_a", "dmarc_none_no_dkim", "no_dmarc", "spf_includes")
_BLOCK = (
    ("healthy",) * 14
    + ("mail_from_no_a",) * 2
    + ("dmarc_none_no_dkim",) * 2
    + ("no_dmarc", "spf_includes")
)
# An RSA-1024-sized base64 blob (not a real key): what receivers fetch at <token>.dkim.
_DKIM_KEY = "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ" + "B" * 170 + "IDAQAB"


@dataclass(frozen=True, slots=True)
class SyntheticDomain:
    index: int
    name: str
    kind: str
    tokens: tuple[str, ...]
    strict: bool  # healthy variants: SPF -all and DMARC p=reject, else ~all and p=quarantine

    @property
    def mail_from(self) -> str:
        return f"{MAIL_FROM_LABEL}.{self.name}"

    @property
    def label(self) -> str:
        return self.name.removesuffix(f".{ZONE}")


def generate(count: int, seed: int = 1) -> list[SyntheticDomain]:
    """``count`` domains ``d000000.bench.test`` ..., each a deterministic function of (seed, i)."""
    kinds: list[str] = []
    block_index = 0
    while len(kinds) < count:
        block = list(_BLOCK)
        random.Random(f"{seed}:block:{block_index}").shuffle(block)
        kinds.extend(block)
        block_index += 1
    domains = []
    for index in range(count):
        rng = random.Random(f"{seed}:domain:{index}")
        tokens = tuple(
            "".join(rng.choices(TOKEN_ALPHABET, k=TOKEN_LENGTH)) for _ in range(TOKENS_PER_DOMAIN)
        )
        name = f"d{index:06d}.{ZONE}"
        domains.append(SyntheticDomain(index, name, kinds[index], tokens, rng.random() < 0.5))
    return domains


def kind_counts(domains: list[SyntheticDomain]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for domain in domains:
        counts[domain.kind] += 1
    return counts


def _domain_records(domain: SyntheticDomain) -> list[str]:
    """Zone lines for one domain, owner names relative to $ORIGIN bench.test."""
    d = domain.label
    address = f"192.0.2.{domain.index % 250 + 1}"
    spf_all = "-all" if domain.strict else "~all"
    policy = "reject" if domain.strict else "quarantine"
    rua = f"rua=mailto:dmarc-reports@{domain.name}"
    lines = [f"{d} MX 10 mx.{ZONE}."]
    if domain.kind == "spf_includes":
        includes = " ".join(f"include:_spf{i}.{domain.name}" for i in range(1, SPF_INCLUDES + 1))
        lines.append(f'{d} TXT "v=spf1 mx {includes} include:amazonses.com -all"')
        lines.extend(
            f'_spf{i}.{d} TXT "v=spf1 ip4:198.51.100.{i}/32 -all"' for i in range(1, SPF_INCLUDES)
        )
        lines.append(
            f'_spf{SPF_INCLUDES}.{d} TXT "v=spf1 ip4:198.51.100.{SPF_INCLUDES}/32 '
            f'include:_spf{SPF_INCLUDES}b.{domain.name} -all"'
        )
        lines.append(f'_spf{SPF_INCLUDES}b.{d} TXT "v=spf1 ip6:2001:db8::/32 -all"')
    else:
        lines.append(f'{d} TXT "v=spf1 mx include:amazonses.com {spf_all}"')
    if domain.kind == "dmarc_none_no_dkim":
        lines.append(f'_dmarc.{d} TXT "v=DMARC1; p=none; {rua}"')
    elif domain.kind != "no_dmarc":  # no_dmarc falls back to _dmarc.bench.test: not published
        lines.append(f'_dmarc.{d} TXT "v=DMARC1; p={policy}; {rua}"')
    if domain.kind != "dmarc_none_no_dkim":
        lines.extend(
            f"{token}._domainkey.{d} CNAME {token}.dkim.amazonses.com." for token in domain.tokens
        )
    mail = f"{MAIL_FROM_LABEL}.{d}"
    if domain.kind != "mail_from_no_a":
        lines.append(f"{mail} A {address}")
    lines.append(f"{mail} MX 10 feedback-smtp.{REGION}.amazonses.com.")
    lines.append(f'{mail} TXT "v=spf1 include:amazonses.com {spf_all}"')
    return lines


def write_zones(domains: list[SyntheticDomain], directory: Path) -> dict[str, Path]:
    """Write bench.test and amazonses.com; also serve the demo's healthy.example, which
    tests/conftest.py's ``start_named`` polls to decide that named is ready."""
    bench = directory / f"{ZONE}.zone"
    with bench.open("w", encoding="ascii") as out:
        out.write(
            f"$ORIGIN {ZONE}.\n$TTL 300\n"
            f"@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"
            f"mx A 192.0.2.25\n"
        )
        for domain in domains:
            out.write("\n".join(_domain_records(domain)))
            out.write("\n")
    ses = directory / "amazonses.com.zone"
    with ses.open("w", encoding="ascii") as out:
        # The demo zone: SOA/NS, the amazonses.com SPF, feedback-smtp hosts, demo keys.
        out.write((DEMO_ZONES / "amazonses.com.zone").read_text(encoding="ascii"))
        out.write("\n$ORIGIN amazonses.com.\n")
        for domain in domains:
            out.writelines(f'{token}.dkim TXT "{_DKIM_KEY}"\n' for token in domain.tokens)
    return {
        ZONE: bench,
        "amazonses.com": ses,
        "healthy.example": DEMO_ZONES / "healthy.example.zone",
    }


def expected_report(domain: SyntheticDomain) -> dict[str, object]:
    """The verdicts a correct exporter gives ``domain``: check -> status, plus the gauges."""
    checks = {
        "mx": "pass",
        "spf": "pass",
        "dkim": "pass",
        "dmarc": "pass",
        "dmarc_reports": "pass",
        "mail_from_resolvable": "pass",
        "mail_from_mx": "pass",
        "mail_from_spf": "pass",
    }
    level = 2 if domain.strict else 1
    lookups = 2  # mx + include:amazonses.com (whose record has only ip4 terms)
    if domain.kind == "mail_from_no_a":
        checks["mail_from_resolvable"] = "fail"
    elif domain.kind == "dmarc_none_no_dkim":
        checks["dmarc"] = "warn"
        checks["dkim"] = "fail"
        level = 0
    elif domain.kind == "no_dmarc":
        checks["dmarc"] = "fail"
        checks["dmarc_reports"] = "warn"
        level = -1
    elif domain.kind == "spf_includes":
        lookups = 2 + SPF_INCLUDES + 1  # the three includes and the nested _spf3b
        level = 2 if domain.strict else 1
    return {
        "checks": checks,
        "mail_from_resolvable": domain.kind != "mail_from_no_a",
        "dmarc_policy_level": level,
        "spf_dns_lookups": lookups,
    }
