"""SES event counts over the last hour and 24 hours, for the landing page.

The pipeline's counters only grow from process start, which says little about what is
happening now. `EventWindows` keeps one sample of the totals a person reads (events by type,
bounced recipients by category) per minute in a ring of a day and a bit, so a window's count
is the current total minus the sample taken when the window began: bounded memory (about
1,450 small samples), no change to the pipeline, and nothing on the scrape path but a clock
comparison (the HTTP layer offers a sample on every request; one per minute is taken).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from exporter.events.pipeline import EventCounts

__all__ = ["DAY", "HOUR", "EventWindows", "Totals", "Window", "totals"]

HOUR = 3600.0
DAY = 86400.0
_STEP = 60.0  # one sample per minute
_SAMPLES = int(DAY / _STEP) + 2  # a day, plus the samples on both edges of it
_CATEGORY = 5  # the position of the bounce category in the bounced counter's labels


@dataclass(frozen=True, slots=True)
class Totals:
    """The cumulative counts the page shows: events by type, bounced recipients by category."""

    events: Mapping[str, int] = field(default_factory=dict)
    bounces: Mapping[str, int] = field(default_factory=dict)

    def minus(self, earlier: Totals) -> Totals:
        """What was counted since ``earlier`` (never negative)."""
        return Totals(_minus(self.events, earlier.events), _minus(self.bounces, earlier.bounces))


@dataclass(frozen=True, slots=True)
class Window:
    """The counts of the last ``seconds``; ``covered`` is the time they really span (shorter
    since a recent start, longer when no request sampled the counters at the window's edge)."""

    seconds: float
    covered: float
    counts: Totals


def totals(counts: EventCounts) -> Totals:
    """Sum a pipeline snapshot down to the page's totals (labels dropped)."""
    events: dict[str, int] = {}
    for (event_type, *_), count in counts.events.items():
        events[event_type] = events.get(event_type, 0) + count
    bounces: dict[str, int] = {}
    for labels, count in counts.bounced.items():
        bounces[labels[_CATEGORY]] = bounces.get(labels[_CATEGORY], 0) + count
    return Totals(events, bounces)


def _minus(now: Mapping[str, int], then: Mapping[str, int]) -> dict[str, int]:
    return {key: max(0, count - then.get(key, 0)) for key, count in now.items()}


class EventWindows:
    """A ring of per-minute samples of the totals; thread-safe."""

    def __init__(
        self, read_events: Callable[[], EventCounts], clock: Callable[[], float] = time.time
    ) -> None:
        """The counters are zero when the process starts, which is about when this is made:
        that first sample lets a young process show exact counts since its start."""
        self._read = read_events
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, Totals]] = deque(maxlen=_SAMPLES)
        self._samples.append((clock(), Totals()))

    def sample(self) -> None:
        """Take a sample if the last one is a minute old: cheap enough for every request."""
        now = self._clock()
        if now - self._samples[-1][0] < _STEP:
            return
        with self._lock:
            if now - self._samples[-1][0] >= _STEP:
                self._samples.append((now, totals(self._read())))

    def windows(self, current: EventCounts, spans: tuple[float, ...] = (HOUR, DAY)) -> list[Window]:
        """The counts over each span ending now: the current totals minus the newest sample
        at least that old (the oldest one when the ring is younger than the span)."""
        now = self._clock()
        latest = totals(current)
        with self._lock:
            samples = list(self._samples)
        result = []
        for span in spans:
            start, base = samples[0]
            for taken, sample in reversed(samples):
                if now - taken >= span:
                    start, base = taken, sample
                    break
            result.append(Window(span, max(0.0, now - start), latest.minus(base)))
        return result
