"""Which recipient domains get a label value of their own: a bounded, recent top-K.

Recipient domains come from untrusted input, so the label set must stay bounded whatever
the stream holds: the configured watch-list, plus at most ``top_k`` of the most frequent
recent domains; every other domain is counted as ``other``. Frequencies decay (they are
halved whenever the sketch is pruned), so "recent" means roughly the last few thousand
events rather than all time.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["OTHER", "DomainLimiter"]

OTHER = "other"


class DomainLimiter:
    """Maps a domain to itself or ``other``; not thread-safe (callers hold their lock)."""

    def __init__(
        self, *, top_k: int, watch: Iterable[str] = (), sketch_size: int | None = None
    ) -> None:
        self._top_k = top_k
        self._watch = frozenset(watch)
        self._sketch_size = sketch_size or max(64, 8 * top_k)
        self._counts: dict[str, float] = {}
        self._admitted: dict[str, None] = {}  # insertion-ordered set
        self._threshold = 0.0  # least count among the admitted, refreshed lazily
        self.evicted: list[str] = []  # domains whose series the caller should drop

    @property
    def admitted(self) -> frozenset[str]:
        return frozenset(self._admitted)

    def label(self, domain: str) -> str:
        """Count one event for ``domain`` and return the label value to use for it."""
        if domain in self._watch:
            return domain
        count = self._counts.get(domain, 0.0) + 1.0
        self._counts[domain] = count
        if len(self._counts) > 2 * self._sketch_size:
            self._prune()
        if domain in self._admitted:
            return domain
        if len(self._admitted) < self._top_k:
            self._admitted[domain] = None
            return domain
        # Hysteresis: a newcomer must clearly beat the weakest, or the label set churns.
        if count > 2.0 * self._threshold + 1.0:
            self._admit_over_weakest(domain)
            return domain
        return OTHER

    def _admit_over_weakest(self, domain: str) -> None:
        weakest = min(self._admitted, key=lambda d: self._counts.get(d, 0.0))
        del self._admitted[weakest]
        self.evicted.append(weakest)
        self._admitted[domain] = None
        self._threshold = min(self._counts.get(d, 0.0) for d in self._admitted)

    def _prune(self) -> None:
        """Keep the heaviest half of the sketch (always the admitted), and decay every count."""
        keep = sorted(self._counts.items(), key=lambda item: item[1], reverse=True)[
            : self._sketch_size
        ]
        kept = dict(keep)
        for domain in self._admitted:
            kept.setdefault(domain, self._counts.get(domain, 0.0))
        self._counts = {d: c / 2.0 for d, c in kept.items()}
        self._threshold = min((self._counts[d] for d in self._admitted), default=0.0)
