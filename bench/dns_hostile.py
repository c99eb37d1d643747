"""What one hostile 64 KB DNS reply costs the lean wire parser (CPU and memory).

A nameserver, or anyone who can answer in its place, controls every byte of a reply. The
parser must reject what breaks RFC 1035 and do bounded work on what does not: this times
`exporter.sources.dns_wire.read_answer` (what the transport runs on a datagram whose query
id matched) on the worst replies we know how to build, each near the 65,535-byte UDP limit.
Each shape is parsed ``--repeat`` times; the figure is the
median CPU time (`time.process_time`) per reply and the tracemalloc peak of one parse.

Usage: .venv/bin/python bench/dns_hostile.py [--repeat 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from exporter.sources.dns_wire import WireError, encode_question, read_answer

LIMIT = 65_500  # the size every shape is filled to
POINTER_REACH = 0x3FFF  # a compression pointer has 14 bits: names it points at sit below
CHAIN = 30  # links per pointer chain (the old parser allowed 32 pointers per name)
QUESTION = b"\x01q\x07example\x00\x00\x10\x00\x01"  # q.example TXT IN, at offset 12
RR = struct.Struct("!HHIH")
TXT, CNAME, A = 16, 5, 1


def _message(records: list[bytes], ancount: int | None = None) -> bytes:
    header = struct.pack("!HHHHHH", 1, 0x8180, 1, ancount or len(records), 0, 0)
    return header + QUESTION + b"".join(records)


def _pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


def _record(owner: bytes, rtype: int, rdata: bytes) -> bytes:
    return owner + RR.pack(rtype, 1, 300, len(rdata)) + rdata


def _blob_record(owner: bytes) -> tuple[bytes, int]:
    """A TXT record whose rdata is also a 255-byte name of 127 one-byte labels (valid as
    both), and the rdata's offset within the record: every even offset in it is a name."""
    blob = b"\x01a" * 127 + b"\x00"
    return _record(owner, TXT, blob), len(owner) + RR.size


def long_names_shared() -> bytes:
    """Legal: thousands of records whose owner and CNAME target point into one 255-byte
    name; a parser that decompresses every name again walks 127 labels per name."""
    first, rdata_at = _blob_record(_pointer(12))
    base = 12 + len(QUESTION) + rdata_at
    records = [first]
    size = 12 + len(QUESTION) + len(first)
    index = 0
    while size + 14 <= LIMIT:
        records.append(_record(_pointer(base + 2 * (index % 8)), CNAME, _pointer(base)))
        size += 14
        index += 1
    return _message(records)


def long_names_distinct() -> bytes:
    """Legal: blobs of 255-byte names all over the message, each record pointing at another
    suffix of one of them, so that no two consecutive names are the same."""
    records: list[bytes] = []
    bases: list[int] = []
    size = 12 + len(QUESTION)
    while size < POINTER_REACH - 300:
        record, rdata_at = _blob_record(_pointer(12))
        bases.append(size + rdata_at)
        records.append(record)
        size += len(record)
    index = 0
    while size + 14 <= LIMIT:
        base = bases[index % len(bases)] + 2 * (index % 127)
        records.append(_record(_pointer(base), CNAME, _pointer(base)))
        size += 14
        index += 1
    return _message(records)


def growing_pointer_chain() -> bytes:
    """Illegal: CNAME targets of a 63-byte label and a pointer to the previous target, 30
    deep, then thousands of records pointing at the deepest: 1,920-byte names that a parser
    without the 255-byte limit decompresses in full, twice per record."""
    records: list[bytes] = []
    size = 12 + len(QUESTION)
    deepest: list[int] = []
    while size + CHAIN * 78 < POINTER_REACH:
        previous = 12
        for _ in range(CHAIN):
            rdata_at = size + 2 + RR.size
            records.append(_record(_pointer(12), CNAME, b"\x3f" + b"a" * 63 + _pointer(previous)))
            previous = rdata_at
            size += 2 + RR.size + 66
        deepest.append(previous)
    index = 0
    while size + 14 <= LIMIT:
        target = _pointer(deepest[index % len(deepest)])
        records.append(_record(target, CNAME, target))
        size += 14
        index += 1
    return _message(records)


def many_small_records() -> bytes:
    """Legal: as many A records as fit, owner pointing at the question (the cheap path)."""
    record = _record(_pointer(12), A, bytes(4))
    return _message([record] * ((LIMIT - 12 - len(QUESTION)) // len(record)))


SHAPES: dict[str, Callable[[], bytes]] = {
    "long_names_shared": long_names_shared,
    "long_names_distinct": long_names_distinct,
    "growing_pointer_chain": growing_pointer_chain,
    "many_small_records": many_small_records,
}


ASKED = encode_question("q.example", TXT)  # the transport's question, as QUESTION says


def _parse(data: bytes) -> str:
    """What the transport does with a datagram whose id matched (`read_answer`)."""
    try:
        response = read_answer(data, ASKED[0].lower(), ASKED[1])
    except WireError as error:
        return f"rejected ({error})"
    if response is None:
        return "ignored (not an answer to the question)"
    return f"{len(response.answers)} answers"


def measure(data: bytes, repeat: int) -> dict[str, object]:
    outcome = _parse(data)
    times = []
    for _ in range(repeat):
        started = time.process_time()
        _parse(data)
        times.append(time.process_time() - started)
    tracemalloc.start()
    _parse(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "bytes": len(data),
        "outcome": outcome,
        "cpu_ms_median": round(statistics.median(times) * 1000, 3),
        "cpu_ms_max": round(max(times) * 1000, 3),
        "peak_kib": round(peak / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {name: measure(build(), args.repeat) for name, build in SHAPES.items()}
    for name, row in results.items():
        print(
            f"{name:24} {row['bytes']:6} B  {row['cpu_ms_median']:9.3f} ms median"
            f"  {row['cpu_ms_max']:9.3f} ms max  {row['peak_kib']:9.1f} KiB  {row['outcome']}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
