"""/metrics streamed from deflated per-domain bodies (exporter/deflate.py): the same text as
the client library writes, in bounded pieces, without holding the whole exposition."""

from __future__ import annotations

import gzip
import http.client
import os
import random
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from helpers.fleet import FLEET, PROMETHEUS_ACCEPT, registry_for, snapshot
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter.deflate import (
    CHUNK,
    Deflated,
    DeflateWriter,
    crc32_combine,
    gzip_stream,
    text_stream,
)
from exporter.exposition import domain_table
from exporter.store import Snapshot
from exporter.web import HttpServer, make_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from metrics_render import synthetic_snapshot

# Without a budget 4,000 domains are 128,000 check series, 13 MB of text; with one, 12,000
# domains make 6 MB (the other per-domain families and the not-passing domains' series).
DOMAINS = {0: 4000, 20_000: 12_000}
MiB = 1 << 20


def deflated(text: bytes) -> Deflated:
    writer = DeflateWriter()
    for start in range(0, len(text), 7777):  # written in pieces, as the exposition is
        writer.write(text[start : start + 7777].decode())
    return writer.close()


def test_crc32_combine_matches_zlib() -> None:
    rng = random.Random(7)  # noqa: S311 - test data
    for size_a, size_b in [(0, 0), (0, 5), (5, 0), (1, 1), (1000, 70000)]:
        a, b = os.urandom(size_a), os.urandom(size_b)
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
    for _ in range(50):
        a, b = os.urandom(rng.randrange(3000)), os.urandom(rng.randrange(3000))
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_gzip_splices_deflated_bodies_and_text_inflates_them_in_chunks() -> None:
    """Deflated bodies go into the gzip answer as they are (no second compression), between
    text compressed on the fly; the plain answer inflates them at most CHUNK at a time."""
    body = b"".join(b'm{domain="d%06d.example"} 1.0\n' % i for i in range(120_000))
    assert len(body) > 2 * CHUNK
    lines = deflated(body)
    empty = DeflateWriter().close()
    parts: list[bytes | Deflated] = [b"# HELP m x\n", lines, b"", empty, b"n 1.0\n", lines]
    expected = b"# HELP m x\n" + body + b"n 1.0\n" + body
    answer = b"".join(gzip_stream(parts))
    assert gzip.decompress(answer) == expected
    assert answer.count(lines.data) == 2  # spliced, not compressed again
    pieces = list(text_stream(parts))
    assert b"".join(pieces) == expected
    assert max(map(len, pieces)) <= 2 * CHUNK  # small pieces are gathered up to 64 kB
    assert list(empty.chunks()) == []


def scaled(budget: int) -> tuple[Snapshot, CollectorRegistry]:
    snap, _ = synthetic_snapshot(DOMAINS[budget], budget=budget, watch=10)
    return snap, registry_for(snap)


def traced_peak(work: Callable[[], Any]) -> tuple[int, int]:
    """Bytes allocated by ``work`` at its peak and still held after it (tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = work()
        held, peak = tracemalloc.get_traced_memory()
        del result
        return peak - before, held - before
    finally:
        tracemalloc.stop()


class Reader:
    """Reads a WSGI body as a server sends it: keeps the compressed pieces (a few % of the
    text) or only a running CRC-32 and length of plain ones; the largest piece."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self.pieces: list[bytes] = []
        self.crc = self.length = self.largest = 0

    def __call__(self, body: Iterable[bytes]) -> None:
        for piece in body:
            self.largest = max(self.largest, len(piece))
            if self.keep:
                self.pieces.append(piece)
            self.crc = zlib.crc32(piece, self.crc)
            self.length += len(piece)


@pytest.mark.parametrize("budget", [0, 20_000], ids=["off", "budget"])
def test_a_scrape_streams_without_holding_the_exposition(budget: int) -> None:
    """Warm scrapes (gzip and plain) allocate a small fraction of the text at their peak, and
    a snapshot's exposition holds its lines deflated: the text is never held whole."""
    snap, registry = scaled(budget)
    text: bytes = generate_latest(registry)
    assert len(text) > 5 * MiB
    _, kept = traced_peak(lambda: domain_table(snap).exposition())
    assert kept < len(text) / 5  # old: the rendered lines themselves, > 90 % of the text
    app = make_app(registry, lambda: snap)
    prometheus = {"HTTP_ACCEPT": PROMETHEUS_ACCEPT, "HTTP_ACCEPT_ENCODING": "gzip"}
    for headers, reader in ((prometheus, Reader(keep=True)), ({}, Reader(keep=False))):
        answer: dict[str, Any] = {}
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", **headers}

        def scrape(
            environ: dict[str, str] = environ,
            answer: dict[str, Any] = answer,
            read: Reader = reader,
        ) -> None:
            read(app(environ, lambda status, h: answer.update(status=status, headers=h)))

        peak, _ = traced_peak(scrape)
        assert answer["status"] == "200 OK"
        # old: the joined text (and its gzip copy) at once, more than the text's size
        assert peak < len(text) / 2
        assert reader.keep or reader.largest <= 2 * CHUNK  # gzip: deflated bodies whole
        if reader.keep:
            assert ("Content-Encoding", "gzip") in answer["headers"]
            assert gzip.decompress(b"".join(reader.pieces)) == generate_openmetrics(registry)
        else:
            assert (reader.length, reader.crc) == (len(text), zlib.crc32(text))


def test_the_http_server_streams_both_encodings() -> None:
    """Over the exporter's HTTP server: a close-delimited body, gzip for Prometheus, the
    client library's exposition byte for byte once decoded; HEAD gives GET's length."""
    snap = snapshot(FLEET, budget=64)
    registry = registry_for(snap)
    app = make_app(registry, lambda: snap)
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    try:
        bodies = {}
        for method, encoding in (("GET", "gzip"), ("GET", "identity"), ("HEAD", "gzip")):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                connection.request(
                    method,
                    "/metrics",
                    headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": encoding},
                )
                response = connection.getresponse()
                bodies[method, encoding] = (response.getheaders(), response.read())
            finally:
                connection.close()
    finally:
        server.shutdown()
    headers, body = bodies["GET", "gzip"]
    assert ("Content-Encoding", "gzip") in headers
    assert gzip.decompress(body) == generate_openmetrics(registry)
    assert bodies["GET", "identity"][1] == generate_openmetrics(registry)
    head_headers, head_body = bodies["HEAD", "gzip"]
    assert head_body == b""
    assert ("Content-Length", str(len(body))) in head_headers
