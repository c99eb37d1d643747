"""The text form of DNS records that the pure checks read (see ``exporter.model.Answer``)."""

from __future__ import annotations

import dns.rdata
import dns.rdatatype

__all__ = ["rdata_text"]


def rdata_text(rdata: dns.rdata.Rdata) -> str:
    """One record as text: TXT strings joined, names lower case without the final dot."""
    rdtype = rdata.rdtype
    if rdtype == dns.rdatatype.TXT:
        joined: bytes = b"".join(rdata.strings)  # type: ignore[attr-defined]
        return joined.decode("utf-8", "replace")
    if rdtype == dns.rdatatype.MX:
        exchange: str = rdata.exchange.to_text(omit_final_dot=True).lower()  # type: ignore[attr-defined]
        return f"{rdata.preference} {exchange}"  # type: ignore[attr-defined]
    if rdtype == dns.rdatatype.CNAME:
        target: str = rdata.target.to_text(omit_final_dot=True).lower()  # type: ignore[attr-defined]
        return target
    return rdata.to_text()
