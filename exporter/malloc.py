"""Fewer glibc malloc arenas for the daemon, so memory one thread frees is reused by others.

glibc gives a thread that allocates while another holds the main arena an arena of its own,
up to 8 per core, and memory freed in one arena serves only later allocations from that
arena. The daemon builds its large objects in different threads: the DNS cycle's reports
in the scheduler's, the per-domain table and exposition in the warmer's, scrapes in the
HTTP server's. At 100,000 domains each arena kept its own high-water mark: the daemon's
peak RSS over two DNS cycles was 658 MB with glibc's defaults and 429 MB with these
settings, with a series budget (456 MB without; bench/README.md, "/metrics memory").
Python's small objects come from its own allocator and are not affected.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["ARENAS", "limit_malloc_arenas", "trim"]

ARENAS = 2
# glibc's mallopt parameters (malloc.h). A fixed mmap threshold keeps blocks from 128 kB up
# (the exposition's batches, the DNS cycle's buffers) out of the heaps, so freeing one gives
# it back at once; glibc's default raises the threshold after such frees, and the blocks
# then stay in a heap behind smaller ones. Free memory over 256 kB at a heap's top goes back.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_MMAP_THRESHOLD = 128 * 1024
_TRIM_THRESHOLD = 256 * 1024


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas at ``arenas`` and fix its mmap and trim thresholds, before the
    daemon starts its threads; True if set.

    MALLOC_ARENA_MAX (or the threshold's variable) in the environment is the operator's
    choice and is left alone, as is any C library without glibc's mallopt."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    for parameter, value, variable in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
        (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"),
    ):
        if not os.environ.get(variable):
            mallopt(parameter, value)
    return bool(mallopt(_M_ARENA_MAX, arenas))


def trim() -> bool:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``); True if
    it returned any. Loading a large configuration frees far more than it keeps, and glibc
    keeps the freed pages below live ones; any other C library is left alone."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0))
