"""Archived SES events read from files for `replay`: plain or gzip (Firehose's GZIP output).

Each file is one JSON document, a JSON array of them, or JSON lines. A file is read whole,
up to a bound, so a gzip bomb or a device path cannot take the machine's memory.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exporter.events.pipeline import EventPipeline, Outcome

__all__ = ["MAX_ARCHIVE_BYTES", "ReplaySummary", "replay_files"]

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024  # per file, after decompression
_GZIP_MAGIC = b"\x1f\x8b"
_NOT_JSON = object()


@dataclass
class ReplaySummary:
    """What a replay read: outcomes of every body, and each file that gave no event."""

    files: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)  # "path: reason"

    def line(self) -> str:
        """The one-line summary `replay` prints on stderr."""
        o = self.outcomes
        return (
            f"{sum(o.values())} bodies in {self.files} file(s): {o[Outcome.COUNTED]} with events,"
            f" {o[Outcome.DUPLICATE]} duplicate, {o[Outcome.IGNORED]} ignored,"
            f" {o[Outcome.MALFORMED]} malformed"
        )


def replay_files(paths: Iterable[Path], pipeline: EventPipeline) -> ReplaySummary:
    """Feed every file under ``paths`` through ``pipeline``; directories are walked in order."""
    summary = ReplaySummary()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            summary.files += 1
            try:
                text = _read(file)
            except (OSError, EOFError, zlib.error, ValueError) as exc:
                summary.unreadable.append(f"{file}: {exc}")
                continue
            outcomes = Counter(_feed(text, pipeline))
            summary.outcomes.update(outcomes)
            if outcomes.total() == outcomes[Outcome.MALFORMED]:
                malformed = outcomes[Outcome.MALFORMED]
                summary.unreadable.append(f"{file}: no readable events ({malformed} malformed)")
    return summary


def _read(file: Path) -> str:
    """The file's text, gunzipped when it starts with gzip's magic bytes (whatever its name)."""
    with file.open("rb") as raw:
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as unzipped:
                data = unzipped.read(MAX_ARCHIVE_BYTES + 1)
        else:
            raw.seek(0)
            data = raw.read(MAX_ARCHIVE_BYTES + 1)
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ValueError(f"larger than {MAX_ARCHIVE_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


def _feed(text: str, pipeline: EventPipeline) -> Iterator[Outcome]:
    """One outcome per body: the whole file as one document or an array, else each line."""
    whole = _json(text)
    if whole is _NOT_JSON:
        yield from (pipeline.handle(line) for line in text.splitlines() if line.strip())
    elif isinstance(whole, list):
        # an item may be a document or a queue body kept as a string
        yield from (
            pipeline.handle(item) if isinstance(item, str) else pipeline.handle_document(item)
            for item in whole
        )
    else:
        yield pipeline.handle_document(whole)


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON
