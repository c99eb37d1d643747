"""exporter/malloc.py: the daemon caps glibc's malloc arenas before its threads start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter import cli
from exporter.malloc import limit_malloc_arenas

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_cap_is_set_unless_the_environment_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas()
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not limit_malloc_arenas()


def test_the_run_command_caps_the_arenas_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` sets the cap before it loads the configuration or starts a thread."""
    calls: list[str] = []
    monkeypatch.setattr(cli, "limit_malloc_arenas", lambda: calls.append("cap") or True)

    def load(*_args: object, **_kwargs: object) -> None:
        calls.append("load")
        raise SystemExit(3)

    monkeypatch.setattr(cli, "_load", load)
    with pytest.raises(SystemExit):
        cli.main(["run", "--config", str(ROOT / "config.example.toml")])
    assert calls[:2] == ["cap", "load"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas")
def test_threads_share_two_arenas() -> None:
    """Eight allocating threads: glibc's own count of arenas (malloc_info) is at most 2."""
    script = """
import sys, threading, ctypes
sys.path.insert(0, sys.argv[1])
from exporter.malloc import limit_malloc_arenas
if sys.argv[2] == "cap":
    assert limit_malloc_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
barrier = threading.Barrier(8)
def work():
    barrier.wait()  # all at once: each finds the other arenas locked
    blocks = [libc.malloc(64 * 1024) for _ in range(32)]
    barrier.wait()
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc.open_memstream.restype = ctypes.c_void_p
buf, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(buf.value.decode().count("<heap nr="))
"""
    counts = {}
    for mode in ("cap", "default"):
        done = subprocess.run(
            [sys.executable, "-c", script, str(ROOT), mode],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        )
        counts[mode] = int(done.stdout.split()[-1])
    assert counts["cap"] <= 2 < counts["default"]
