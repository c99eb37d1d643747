"""The dedupe window: which event keys were seen recently, in bounded memory.

Keys hold text the sender chooses (an SNS ``MessageId`` of any length), so the window
keeps a fixed-size digest of each key, never the key itself: its memory is bounded by
``capacity`` slots of the same size, whatever the keys' length.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

__all__ = ["DIGEST_BYTES", "DedupeWindow"]

DIGEST_BYTES = 16  # 128 bits: no accidental collision in any window, none to be forged


class DedupeWindow:
    """The ``capacity`` most recently seen keys, least recent evicted first; not
    thread-safe (the pipeline holds its lock)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, key: str) -> bool:
        """True if ``key`` is in the window (it becomes the most recent); else remember it."""
        digest = hashlib.blake2b(
            key.encode("utf-8", "surrogatepass"), digest_size=DIGEST_BYTES
        ).digest()
        if digest in self._seen:
            self._seen.move_to_end(digest)
            return True
        self._seen[digest] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return False
