"""The ``dnspython`` DNS transport: one message and one socket per question.

The reference the lean wire path is held to: dnspython builds and parses the messages. Its
``asyncquery.udp`` gives up on the first datagram that is not the answer (wrong id or
question), so one spoofed datagram would turn a question into ``unknown``; here the answer
is awaited like on the wire path: anything that is not a response to the query is ignored
until the genuine answer comes or the timeout ends.
"""

from __future__ import annotations

import asyncio
import socket

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype

from exporter.sources.dns_wire import QTYPES, WireResponse
from exporter.sources.records import rdata_text

__all__ = ["EDNS_PAYLOAD", "dnspython_exchange"]

EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: no fragmentation, rarely truncated
_MAX_DATAGRAM = 65535


async def dnspython_exchange(
    name: str, rdtype: str, host: str, port: int, *, seconds: float, recursive: bool, tcp: bool
) -> WireResponse:
    """One question the dnspython way, answered within ``seconds``; over TCP when
    truncated (or asked for)."""
    query = dns.message.make_query(
        dns.name.from_text(name), dns.rdatatype.from_text(rdtype), use_edns=0, payload=EDNS_PAYLOAD
    )
    if not recursive:
        query.flags &= ~dns.flags.RD
    if not tcp:
        try:
            return _from_message(await _udp(query, host, port, seconds))
        except dns.message.Truncated:
            pass
    return _from_message(await dns.asyncquery.tcp(query, host, timeout=seconds, port=port))


async def _udp(
    query: dns.message.Message, host: str, port: int, seconds: float
) -> dns.message.Message:
    """The first datagram that is a response to ``query`` (dnspython's ``is_response``: id,
    opcode and question), parsed in full; other datagrams are ignored. A connected socket:
    the kernel drops datagrams from any other address or port."""
    loop = asyncio.get_running_loop()
    family, _, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
    )[0]
    with socket.socket(family, socket.SOCK_DGRAM, proto) as sock:
        sock.setblocking(False)  # noqa: FBT003 - the socket API
        sock.connect(address)
        await loop.sock_sendall(sock, query.to_wire())
        async with asyncio.timeout(seconds):
            while True:  # ends with the answer or the timeout
                data = await loop.sock_recv(sock, _MAX_DATAGRAM)
                try:
                    head = dns.message.from_wire(data, question_only=True)
                except dns.exception.DNSException:
                    continue  # not even a question section: not an answer to anything
                if query.is_response(head):
                    return dns.message.from_wire(data, raise_on_truncation=True)


def _from_message(message: dns.message.Message) -> WireResponse:
    """dnspython's parse, reduced to what the lean path reports, so both read the same."""
    answers = tuple(
        (
            rrset.name.to_text(omit_final_dot=True).lower(),
            dns.rdatatype.to_text(rrset.rdtype),
            r.target.to_text(omit_final_dot=True).lower()
            if rrset.rdtype == dns.rdatatype.NS
            else rdata_text(r),
        )
        for rrset in message.answer
        if rrset.rdclass == dns.rdataclass.IN and dns.rdatatype.to_text(rrset.rdtype) in QTYPES
        for r in rrset
    )
    flags = message.flags
    return WireResponse(
        int(message.rcode()), bool(flags & dns.flags.TC), answers, bool(flags & dns.flags.AA)
    )
