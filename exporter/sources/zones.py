"""Answers from local zone files, for the demo and for checking a change before publishing it.

Names inside a loaded zone are answered from the file, exactly as an authoritative server
would (records, NODATA, NXDOMAIN, or a CNAME to follow); every other name is left to the
resolver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from exporter.model import Answer, AnswerKind
from exporter.sources.records import rdata_text

__all__ = [
    "MAX_GENERATE_PER_DIRECTIVE",
    "MAX_GENERATE_PER_FILE",
    "MAX_ZONE_FILE_BYTES",
    "ZoneFileError",
    "ZoneHop",
    "ZoneOverrides",
]

# Bounds on what one file may make the process hold: a `$GENERATE 1-10000000` line or a
# path to /dev/zero would otherwise take minutes and gigabytes before any answer.
MAX_ZONE_FILE_BYTES = 16 * 1024 * 1024
MAX_GENERATE_PER_DIRECTIVE = 4096
MAX_GENERATE_PER_FILE = 16384

# A $GENERATE directive starts a line; its range is `start-stop[/step]` (dnspython's grammar).
_GENERATE = re.compile(r"^\$GENERATE[ \t]+(\S*)", re.IGNORECASE | re.MULTILINE)
_RANGE = re.compile(r"([0-9]+)-([0-9]+)(?:/([0-9]+))?")


class ZoneFileError(Exception):
    """A zone file that cannot be loaded; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class ZoneHop:
    """A zone's answer to one question: final, or a CNAME target to ask next."""

    answer: Answer | None
    cname_target: str | None = None


class ZoneOverrides:
    """A set of zones loaded from files; the most specific zone wins."""

    def __init__(self, zones: list[dns.zone.Zone]) -> None:
        self._zones = sorted(zones, key=lambda z: -len(z.origin.labels))  # type: ignore[union-attr]
        self._existing: dict[dns.name.Name, set[dns.name.Name]] = {}
        for zone in self._zones:
            names: set[dns.name.Name] = set()
            for node_name in zone.nodes:
                name = node_name
                while name != zone.origin and len(name.labels) > 1:
                    names.add(name)
                    name = name.parent()
            names.add(zone.origin)  # type: ignore[arg-type]
            self._existing[zone.origin] = names  # type: ignore[index]

    @classmethod
    def from_files(cls, paths: list[Path] | tuple[Path, ...]) -> ZoneOverrides:
        """Load zone files; the origin is the file's $ORIGIN, else its name minus ``.zone``."""
        zones = []
        for path in paths:
            origin = None
            text = _read(path)
            _check_generate(path, text)
            if "$ORIGIN" not in text.upper():
                origin = path.name.removesuffix(".zone").removesuffix(".db")
            try:
                zone = dns.zone.from_text(
                    text, origin=origin, relativize=False, check_origin=False, filename=str(path)
                )
            except (dns.exception.DNSException, ValueError) as exc:
                raise ZoneFileError(f"{path}: {exc}") from exc
            zones.append(zone)
        return cls(zones)

    def __bool__(self) -> bool:
        return bool(self._zones)

    def answer(self, name: str, rdtype: str) -> ZoneHop | None:
        """The zone's answer, or None when ``name`` is in none of the zones."""
        qname = dns.name.from_text(name)
        for zone in self._zones:
            if not qname.is_subdomain(zone.origin):  # type: ignore[arg-type]
                continue
            node = zone.get_node(qname)
            if node is None:
                exists = qname in self._existing[zone.origin]  # type: ignore[index]
                return ZoneHop(Answer(AnswerKind.NODATA if exists else AnswerKind.NXDOMAIN))
            qtype = dns.rdatatype.from_text(rdtype)
            rdataset = node.get_rdataset(zone.rdclass, qtype)
            if rdataset is not None:
                # Sorted, as the DNS client sorts an RRset: one order whatever the source.
                return ZoneHop(Answer(AnswerKind.RECORDS, tuple(sorted(map(rdata_text, rdataset)))))
            cname = node.get_rdataset(zone.rdclass, dns.rdatatype.CNAME)
            if cname is not None:
                return ZoneHop(None, cname_target=rdata_text(cname[0]))
            return ZoneHop(Answer(AnswerKind.NODATA))
        return None


def _read(path: Path) -> str:
    """The file as text, read at most to the size limit (a device or a FIFO never ends)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_ZONE_FILE_BYTES + 1)
    except OSError as exc:
        raise ZoneFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > MAX_ZONE_FILE_BYTES:
        raise ZoneFileError(f"{path}: larger than {MAX_ZONE_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ZoneFileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def _check_generate(path: Path, text: str) -> None:
    """Refuse a file whose $GENERATE directives would make more records than the limits."""
    total, line, seen = 0, 1, 0
    for match in _GENERATE.finditer(text):
        line += text.count("\n", seen, match.start())
        seen = match.start()
        bounds = _RANGE.fullmatch(match.group(1))
        if bounds is None or int(bounds.group(3) or 1) == 0:
            raise ZoneFileError(f"{path}:{line}: bad $GENERATE range {match.group(1)[:40]!r}")
        start, stop, step = (int(g or 1) for g in bounds.groups())
        count = (stop - start) // step + 1 if stop >= start else 0
        if count > MAX_GENERATE_PER_DIRECTIVE:
            raise ZoneFileError(
                f"{path}:{line}: $GENERATE makes {count} records, more than the maximum"
                f" of {MAX_GENERATE_PER_DIRECTIVE} per directive"
            )
        total += count
        if total > MAX_GENERATE_PER_FILE:
            raise ZoneFileError(
                f"{path}:{line}: $GENERATE makes more than the maximum of"
                f" {MAX_GENERATE_PER_FILE} records per file"
            )
