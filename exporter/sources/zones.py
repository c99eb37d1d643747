"""Answers from local zone files, for the demo and for checking a change before publishing it.

Names inside a loaded zone are answered from the file, exactly as an authoritative server
would (records, NODATA, NXDOMAIN, or a CNAME to follow); every other name is left to the
resolver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from exporter.model import Answer, AnswerKind
from exporter.sources.records import rdata_text

__all__ = ["ZoneFileError", "ZoneHop", "ZoneOverrides"]


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
                return ZoneHop(Answer(AnswerKind.RECORDS, tuple(rdata_text(r) for r in rdataset)))
            cname = node.get_rdataset(zone.rdclass, dns.rdatatype.CNAME)
            if cname is not None:
                return ZoneHop(None, cname_target=rdata_text(cname[0]))
            return ZoneHop(Answer(AnswerKind.NODATA))
        return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZoneFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
