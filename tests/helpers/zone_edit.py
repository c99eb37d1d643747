"""Apply a remedy's records to zone files, as a user pasting them would.

The semantics are the ones `check` documents for ``records``: ``add`` puts a record next to
those of its name and type; ``replace`` replaces the RRset of that name and type, except for
TXT, where it replaces the one record with the same ``v=`` tag (other TXT records at the
name stay); ``delete`` removes exactly that record.
"""

from __future__ import annotations

from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.zone

from exporter.model import RecordAction, RecordChange


class NotInAnyZoneError(Exception):
    """A record whose name no loaded zone contains (it belongs to someone else's zone)."""


def load(path: Path) -> dns.zone.Zone:
    origin = None if "$ORIGIN" in path.read_text().upper() else path.name.removesuffix(".zone")
    return dns.zone.from_file(str(path), origin=origin, relativize=False, check_origin=False)


def zone_for(zones: dict[Path, dns.zone.Zone], name: str) -> Path:
    """The file of the most specific zone that contains ``name``."""
    qname = dns.name.from_text(name)
    inside = [p for p, z in zones.items() if qname.is_subdomain(z.origin)]  # type: ignore[arg-type]
    if not inside:
        raise NotInAnyZoneError(name)
    return max(inside, key=lambda p: len(zones[p].origin.labels))  # type: ignore[union-attr]


def _v_tag(rdata: dns.rdata.Rdata) -> str:
    text = b"".join(rdata.strings).decode(errors="replace")  # type: ignore[attr-defined]
    return text.split(";", 1)[0].split(" ", 1)[0].replace(" ", "").lower()


def apply(zone: dns.zone.Zone, change: RecordChange) -> None:
    """Apply one record change to ``zone`` in place."""
    name = dns.name.from_text(change.name)
    rdtype = dns.rdatatype.from_text(change.rdtype)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, change.value)
    node = zone.find_node(name, create=True)
    rdataset = node.find_rdataset(dns.rdataclass.IN, rdtype, create=True)
    if change.action is RecordAction.DELETE:
        assert rdata in rdataset, f"{change.zone_line()} is not in the zone"
        rdataset.discard(rdata)
        if not rdataset:
            node.delete_rdataset(dns.rdataclass.IN, rdtype)
        return
    if change.action is RecordAction.REPLACE:
        if rdtype == dns.rdatatype.TXT:
            for old in [r for r in rdataset if _v_tag(r) == _v_tag(rdata)]:
                rdataset.discard(old)
        else:
            rdataset.clear()
        if rdtype == dns.rdatatype.CNAME:  # a CNAME stands alone at its name
            for other in list(node.rdatasets):
                if other.rdtype != rdtype:
                    node.delete_rdataset(other.rdclass, other.rdtype)
    rdataset.add(rdata, change.ttl)


def write(zone: dns.zone.Zone, path: Path) -> Path:
    zone.to_file(str(path), relativize=False)
    return path
