"""Per-domain exposition bodies kept deflated, and /metrics answered as a stream from them.

At 10^5 domains the per-domain sample lines are 50 MB of text with a series budget and
340 MB without one, but only 3-15 MB deflated. Holding them as text, then joining them with
the other families and gzipping the result, made a scrape need several times the snapshot's
memory. So a body is deflated once per snapshot, a batch of lines at a time. A gzip answer
splices it in as it is (after a full flush of its own compressor, so no back reference
crosses into it) and combines CRC-32s instead of reading the text again, as pigz does; a
plain answer inflates it a chunk at a time.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.samples import Sample

from exporter.metrics import MetricSpec, PrerenderedFamily

__all__ = [
    "DeflateWriter",
    "Deflated",
    "DeflatedFamily",
    "crc32_combine",
    "deflated_family",
    "gzip_stream",
    "text_stream",
]

LEVEL = 1  # level 9 (the client library's) costs ~7x the time for ~10 % fewer bytes
# zlib's hash table at memory level 5 (default 8) stays in the CPU's caches: deflating 286 MB
# of status lines takes 0.32 s instead of 0.40 s, for 1 % more bytes.
MEM_LEVEL = 5
CHUNK = 1 << 16  # the most text a plain answer inflates at once (under the mmap threshold)
_FEED = 1 << 12  # deflated bytes given to zlib at once (see Deflated.chunks)
_WRITE_AT = 1 << 16  # small pieces of an answer are gathered up to this before a write
_RAW = -zlib.MAX_WBITS  # raw deflate: no zlib or gzip framing
_POLY = 0xEDB88320  # CRC-32, reflected
# gzip header: deflate, no flags, no mtime, "fastest" (as gzip.compress writes at level 1),
# OS unknown.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC-32 polynomial (zlib's multmodp); a is never 0."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> tuple[int, ...]:
    powers = [1 << 30]  # x^1; then x^2, x^4, ... x^(2^31)
    for _ in range(31):
        powers.append(_multmodp(powers[-1], powers[-1]))
    return tuple(powers)


_X2N = _powers()


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from A's, B's and B's length (zlib's crc32_combine)."""
    p, k = 1 << 31, 3  # x^0; x^(8 * len2) is the product of x^(2^(k)) over len2's bits
    while len2:
        if len2 & 1:
            p = _multmodp(_X2N[k & 31], p)
        len2 >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2


@dataclass(frozen=True, slots=True)
class Deflated:
    """Text as a raw deflate stream that ends with a sync flush (byte-aligned, not final)."""

    data: bytes
    size: int  # of the text
    crc: int  # CRC-32 of the text

    def chunks(self) -> Iterator[bytes]:
        """The text, at most CHUNK bytes at a time.

        The input goes in _FEED bytes at a time: zlib copies what it has not consumed into
        ``unconsumed_tail`` on every call, so a whole body as input would be copied again
        per CHUNK of output."""
        inflate = zlib.decompressobj(_RAW)
        data = memoryview(self.data)
        for start in range(0, len(data), _FEED):
            tail: bytes | memoryview = data[start : start + _FEED]
            while True:
                out = inflate.decompress(tail, CHUNK)
                if out:
                    yield out
                tail = inflate.unconsumed_tail
                if not tail and len(out) < CHUNK:
                    break
        if rest := inflate.flush():
            yield rest


class DeflateWriter:
    """Deflates text as it is written; ``close`` gives the Deflated body."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, _RAW, MEM_LEVEL)
        self._out: list[bytes] = []
        self._size = 0
        self._crc = 0

    def write(self, text: str) -> None:
        data = text.encode()
        self._size += len(data)
        self._crc = zlib.crc32(data, self._crc)
        if out := self._deflate.compress(data):
            self._out.append(out)

    def close(self) -> Deflated:
        self._out.append(self._deflate.flush(zlib.Z_SYNC_FLUSH))
        return Deflated(b"".join(self._out), self._size, self._crc)


class DeflatedFamily(PrerenderedFamily):
    """A PrerenderedFamily whose sample lines are kept deflated; ``body`` inflates them."""

    def __init__(
        self,
        shell: PrerenderedFamily,
        deflated: Deflated,
        samples: Callable[[], list[Sample]],
    ) -> None:
        super().__init__(shell.name, shell.documentation, shell.type, b"", samples)
        self.deflated = deflated

    @property
    def body(self) -> bytes:
        return b"".join(self.deflated.chunks())

    @body.setter
    def body(self, _value: bytes) -> None:
        """PrerenderedFamily.__init__ assigns it; the lines come from ``deflated``."""


def deflated_family(
    spec: MetricSpec, deflated: Deflated, samples: Callable[[], list[Sample]]
) -> DeflatedFamily:
    """``spec``'s family (named and typed as MetricSpec.prerendered does) over ``deflated``."""
    return DeflatedFamily(spec.prerendered(b"", samples), deflated, samples)


Part = bytes | Deflated


def _gathered(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` with the small ones joined, so the socket sees few writes."""
    small: list[bytes] = []
    held = 0
    for piece in pieces:
        if len(piece) >= _WRITE_AT:
            if small:
                yield b"".join(small)
                small, held = [], 0
            yield piece
        elif piece:
            small.append(piece)
            held += len(piece)
            if held >= _WRITE_AT:
                yield b"".join(small)
                small, held = [], 0
    if small:
        yield b"".join(small)


def text_stream(parts: Iterable[Part]) -> Iterator[bytes]:
    """The text of ``parts``, deflated ones inflated a chunk at a time."""

    def pieces() -> Iterator[bytes]:
        for part in parts:
            if isinstance(part, Deflated):
                yield from part.chunks()
            else:
                yield part

    return _gathered(pieces())


def gzip_stream(parts: Iterable[Part]) -> Iterator[bytes]:
    """One gzip member of the text of ``parts``; deflated parts are spliced in as they are."""

    def pieces() -> Iterator[bytes]:
        deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, _RAW, MEM_LEVEL)
        crc = size = 0
        yield _GZIP_HEADER
        for part in parts:
            if isinstance(part, Deflated):
                yield deflate.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no history kept
                yield part.data
                crc = crc32_combine(crc, part.crc, part.size)
                size += part.size
            else:
                yield deflate.compress(part)
                crc = zlib.crc32(part, crc)
                size += len(part)
        yield deflate.flush(zlib.Z_FINISH)
        yield struct.pack("<II", crc, size & 0xFFFFFFFF)

    return _gathered(pieces())
