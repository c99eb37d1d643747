"""The recipient-domain limiter keeps the label set bounded whatever the stream holds."""

from __future__ import annotations

from exporter.events.cardinality import OTHER, DomainLimiter


def test_watch_list_always_has_its_own_label() -> None:
    limiter = DomainLimiter(top_k=1, watch=["gmail.com"])
    limiter.label("first.example")
    assert limiter.label("gmail.com") == "gmail.com"
    assert limiter.label("second.example") == OTHER


def test_first_k_domains_are_admitted_then_other() -> None:
    limiter = DomainLimiter(top_k=3)
    assert [limiter.label(d) for d in ("a.x", "b.x", "c.x", "d.x")] == ["a.x", "b.x", "c.x", OTHER]


def test_a_frequent_newcomer_displaces_the_weakest() -> None:
    """A domain that clearly outgrows the least frequent admitted one takes its place."""
    limiter = DomainLimiter(top_k=2)
    limiter.label("rare.x")
    for _ in range(5):
        limiter.label("steady.x")
    labels = [limiter.label("busy.x") for _ in range(10)]
    assert labels[0] == OTHER
    assert labels[-1] == "busy.x"
    assert limiter.evicted == ["rare.x"]
    assert limiter.admitted == {"steady.x", "busy.x"}


def test_a_flood_of_distinct_domains_stays_bounded() -> None:
    """100,000 one-off domains (untrusted input) never produce more than K labels."""
    limiter = DomainLimiter(top_k=50, watch=["gmail.com", "yahoo.com"])
    for _ in range(20):
        limiter.label("gmail.com")
    labels = {limiter.label(f"d{i}.example") for i in range(100_000)}
    assert len(labels - {OTHER}) <= 50
    assert len(limiter.admitted) <= 50
    assert len(limiter._counts) <= 2 * limiter._sketch_size  # noqa: SLF001 - the memory bound
