"""The config file's fingerprint, which the daemon polls every few seconds to notice a
Kubernetes ConfigMap swap: the content's SHA-256, read in chunks so that polling a config of
10^5 domains (about 20 MB) does not lift the daemon's memory by the file's size each time."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

from exporter.runtime import fingerprint

MIB = 1 << 20


def test_the_fingerprint_is_the_contents_sha256(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[[domains]]\nname = "example.com"\n')
    assert fingerprint(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_bytes(b'[[domains]]\nname = "example.org"\n')
    assert fingerprint(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unreadable_file_has_no_fingerprint(tmp_path: Path) -> None:
    assert fingerprint(tmp_path / "missing.toml") == ""
    assert fingerprint(tmp_path) == ""  # a directory


def test_a_large_file_is_hashed_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    line = b'[[domains]]\nname = "d%06d.example.com"\nregion = "eu-west-1"\n'
    path.write_bytes(b"".join(line % i for i in range(400_000)))  # ~24 MB
    assert path.stat().st_size > 20 * MIB
    tracemalloc.start()
    try:
        digest = fingerprint(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert peak < 2 * MIB
