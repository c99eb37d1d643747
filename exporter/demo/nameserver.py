"""The demo's stand-in for the rest of the DNS: a loopback UDP server in-process.

The bundled zone files answer every name of the demo domains; the few questions they do
not cover (the DMARC tree walk up to ``_dmarc.example``) come here, over the resolver's real
transport, so the DNS query panels count real queries. ``example.`` is reserved (RFC 2606)
and not delegated, so NXDOMAIN is the answer the internet would give; any other name is
refused. Nothing leaves the machine.
"""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import structlog

__all__ = ["DemoNameserver"]

log = structlog.get_logger("exporter.demo")

_RESERVED = dns.name.from_text("example.")
_ROOT_SOA = "a.root-servers.net. nstld.verisign-grs.com. 2026010100 1800 900 604800 86400"
_POLL_SECONDS = 0.2  # how soon the thread sees the stop event


class DemoNameserver:
    """Bound on 127.0.0.1 (an ephemeral port) at construction; answers once started."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(_POLL_SECONDS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="demo-dns", daemon=True)

    @property
    def address(self) -> str:
        """HOST:PORT, for resolver.nameservers."""
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    @property
    def flags(self) -> dict[str, dict[str, object]]:
        """The config override that sends the resolver's questions here."""
        return {"resolver": {"nameservers": [self.address]}}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            reply = answer(data)
            if reply is not None:
                try:
                    self._socket.sendto(reply, peer)
                except OSError as exc:
                    log.warning("demo nameserver could not reply", error=str(exc))


def answer(query: bytes) -> bytes | None:
    """The wire reply to ``query``: NXDOMAIN under ``example.``, else REFUSED; None when
    the datagram is not a DNS query at all."""
    try:
        message = dns.message.from_wire(query)
    except dns.exception.DNSException:
        return None
    response = dns.message.make_response(message)
    if len(message.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response.to_wire()
    name = message.question[0].name
    if name.is_subdomain(_RESERVED):
        response.flags |= dns.flags.AA
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(  # as the root servers say it
            dns.rrset.from_text(dns.name.root, 86400, "IN", dns.rdatatype.SOA, _ROOT_SOA)
        )
    else:
        response.set_rcode(dns.rcode.REFUSED)
    return response.to_wire()
