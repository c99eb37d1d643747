"""Zone files: the documented bounds on what one file may make, exactly at the limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.model import AnswerKind
from exporter.sources.zones import (
    MAX_GENERATE_PER_DIRECTIVE,
    MAX_GENERATE_PER_FILE,
    MAX_ZONE_FILE_BYTES,
    ZoneFileError,
    ZoneOverrides,
)

HEAD = "$ORIGIN gen.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"


def load(tmp_path: Path, text: str | bytes) -> ZoneOverrides:
    zone = tmp_path / "gen.test.zone"
    if isinstance(text, str):
        zone.write_text(text)
    else:
        zone.write_bytes(text)
    return ZoneOverrides.from_files([zone])


def test_generate_up_to_the_limits_is_loaded(tmp_path: Path) -> None:
    """Every directive at its maximum, the file at its maximum: every record is answered."""
    directives = MAX_GENERATE_PER_FILE // MAX_GENERATE_PER_DIRECTIVE
    last = MAX_GENERATE_PER_DIRECTIVE - 1
    text = HEAD + "".join(f"$GENERATE 0-{last} h{n}-$ A 192.0.2.1\n" for n in range(directives))
    zones = load(tmp_path, text)
    hop = zones.answer(f"h{directives - 1}-{last}.gen.test.", "A")
    assert hop is not None
    assert hop.answer is not None
    assert hop.answer.kind is AnswerKind.RECORDS


def test_generate_step_counts_records_not_the_span(tmp_path: Path) -> None:
    """1-8191/2 makes 4096 records, the maximum: accepted."""
    last = MAX_GENERATE_PER_DIRECTIVE * 2 - 1
    zones = load(tmp_path, HEAD + f"$GENERATE 1-{last}/2 h$ A 192.0.2.1\n")
    hop = zones.answer(f"h{last}.gen.test.", "A")
    assert hop is not None
    assert hop.answer is not None
    assert hop.answer.kind is AnswerKind.RECORDS


@pytest.mark.parametrize(
    ("directives", "message"),
    [
        (
            f"$GENERATE 0-{MAX_GENERATE_PER_DIRECTIVE} h$ A 192.0.2.1\n",
            rf"zone:4: \$GENERATE makes {MAX_GENERATE_PER_DIRECTIVE + 1} records, .* per directive",
        ),
        (f"$generate 0-{MAX_GENERATE_PER_DIRECTIVE} h$ A 192.0.2.1\n", "per directive"),
        (
            "".join(
                f"$GENERATE 1-{MAX_GENERATE_PER_DIRECTIVE} h{n}-$ A 192.0.2.1\n"
                for n in range(MAX_GENERATE_PER_FILE // MAX_GENERATE_PER_DIRECTIVE)
            )
            + "$GENERATE 7-7 one-more A 192.0.2.1\n",
            "per file",
        ),
    ],
    ids=["directive-plus-one", "lower-case", "file-plus-one"],
)
def test_generate_over_a_limit_is_refused(tmp_path: Path, directives: str, message: str) -> None:
    with pytest.raises(ZoneFileError, match=message):
        load(tmp_path, HEAD + directives)


def test_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match=f"larger than {MAX_ZONE_FILE_BYTES} bytes"):
        load(tmp_path, HEAD + ";" * MAX_ZONE_FILE_BYTES)


def test_device_is_read_only_to_the_limit() -> None:
    """/dev/zero never ends: reading stops at the limit."""
    with pytest.raises(ZoneFileError, match="larger than"):
        ZoneOverrides.from_files([Path("/dev/zero")])
