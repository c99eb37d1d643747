"""Fewer glibc malloc arenas for the daemon, so memory one thread frees is reused by others.

glibc gives a thread that allocates while another holds the main arena an arena of its own,
up to 8 per core, and memory freed in one arena serves only later allocations from that
arena. The daemon builds its large objects in different threads: the DNS cycle's reports
in the scheduler's, the per-domain table and exposition in the warmer's, scrapes in the
HTTP server's. At 100,000 domains each arena kept its own high-water mark: the daemon's
peak RSS over two DNS cycles was 658 MB with per-thread arenas and 472 MB with two, with a
series budget (697 and 510 MB without; bench/README.md, "/metrics memory"). Python's small
objects come from its own allocator and are not affected.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["ARENAS", "limit_malloc_arenas"]

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas at ``arenas`` before the daemon starts its threads; True if set.

    MALLOC_ARENA_MAX in the environment is the operator's choice and is left alone, as is
    any C library without glibc's mallopt (musl's accepts no such parameter)."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
