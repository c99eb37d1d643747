"""The pre-rendered per-domain exposition (exporter/exposition.py): byte for byte what
prometheus_client writes, promtool-clean, cached per config, DNS cycle and SES discovery."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
import weakref
from types import MappingProxyType

import pytest
from helpers.fleet import (
    FLEET,
    PROMETHEUS_ACCEPT,
    SERIES_PER_DOMAIN,
    domains_gauge,
    exposition,
    registry_for,
    snapshot,
    withheld,
)
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter import exposition as exposition_module
from exporter.checks.ses import IdentityState
from exporter.config import Config, MetricsConfig
from exporter.exposition import domain_table
from exporter.jobs.dns import DnsCycleResult
from exporter.jobs.ses import SesRegionResult
from exporter.store import CollectorHealth, Snapshot
from exporter.web import render_metrics

ODD_OWNERS = {
    "a-pass.example": (("team", 'pay"ments\\eu'), ("tier", "1")),
    "c-fail.example": (("team", "line\nbreak"),),
}


@pytest.mark.parametrize("budget", [0, 2 * SERIES_PER_DOMAIN], ids=["off", "budget"])
def test_fast_path_is_byte_identical_to_the_client_library(budget: int) -> None:
    """render_metrics writes exactly what generate_latest (text) and the OpenMetrics encoder
    write from the families' samples, owner label values that need escaping included."""
    registry = registry_for(
        snapshot(FLEET, budget=budget, watch=["a-pass.example"], labels=ODD_OWNERS)
    )
    text, content_type = render_metrics(registry)
    assert text == generate_latest(registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    openmetrics, content_type = render_metrics(registry, PROMETHEUS_ACCEPT)
    assert openmetrics == generate_openmetrics(registry)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    utf8, _ = render_metrics(registry, "text/plain;version=1.0.0;escaping=allow-utf-8")
    assert utf8 == generate_latest(registry, escaping="allow-utf-8")
    dots, _ = render_metrics(registry, "text/plain;version=1.0.0;escaping=dots")
    assert dots == generate_latest(registry, escaping="dots")  # the library's path
    assert b'team="pay\\"ments\\\\eu"' in text
    assert b'team="line\\nbreak"' in text


@pytest.mark.parametrize("budget", [0, 2 * SERIES_PER_DOMAIN], ids=["off", "budget"])
def test_promtool_check_metrics(budget: int) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run the README's test command")
    text = exposition(snapshot(FLEET, budget=budget, labels=ODD_OWNERS))
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_no_domains_yet() -> None:
    """Before the first cycle: empty families, the withheld gauge zero-initialised."""
    snap = Snapshot(config=Config(metrics=MetricsConfig(series_budget=10)))
    text = exposition(snap)
    assert text == generate_latest(registry_for(snap)).decode()
    assert withheld(text) == {"pass": 0, "warn": 0, "fail": 0, "unknown": 0}
    assert domains_gauge(text) == {}


def test_the_old_table_is_freed_before_the_next_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new DNS cycle's table is built after the previous one is let go: the two (15-30 MB
    each at 100,000 domains) are never held together."""
    snap = snapshot(FLEET)
    domain_table(snap).exposition()  # freed by reference counting (builds pause the collector)
    old = weakref.ref(domain_table(snap))
    old_alive_at_build: list[bool] = []
    build = exposition_module.DomainTable

    def recording(new_snap: Snapshot) -> exposition_module.DomainTable:
        old_alive_at_build.append(old() is not None)
        return build(new_snap)

    monkeypatch.setattr(exposition_module, "DomainTable", recording)
    new = domain_table(dataclasses.replace(snap, dns=DnsCycleResult(tuple(FLEET), 0, 1, 1, 1)))
    assert old_alive_at_build == [False]
    assert domain_table(dataclasses.replace(snap, dns=new.snapshot.dns)) is new


def test_the_warmer_gives_memory_back_once_per_new_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """After building a new snapshot's table (the old one and the cycle's temporaries are
    freed by then) the warmer trims the C heap, once per table, not on every poll."""
    trims: list[float] = []
    monkeypatch.setattr(exposition_module, "trim", lambda: trims.append(time.monotonic()))
    first = snapshot(FLEET)
    second = dataclasses.replace(first, dns=DnsCycleResult(tuple(FLEET), 0, 1, 1, 1))
    current = [first]
    warmer = exposition_module.DomainWarmer(lambda: current[0], interval=0.01)
    warmer.start()
    try:
        for published, expected in ((first, 1), (second, 2)):
            current[0] = published
            deadline = time.monotonic() + 30
            while len(trims) < expected:
                assert time.monotonic() < deadline, "the warmer did not trim after a build"
                time.sleep(0.01)
            time.sleep(0.2)  # 20 more polls of the same snapshot
            assert len(trims) == expected
    finally:
        warmer.stop()


def test_per_domain_work_is_cached_per_config_dns_and_ses() -> None:
    """Health and SMTP updates reuse the table; a new DNS cycle, SES result or config does not."""
    snap = snapshot(FLEET)
    table = domain_table(snap)
    health = MappingProxyType({"dns": CollectorHealth(interval_seconds=60.0, up=True)})
    assert domain_table(dataclasses.replace(snap, health=health)) is table
    assert table.exposition() is table.exposition()
    assert (
        domain_table(dataclasses.replace(snap, dns=DnsCycleResult(tuple(FLEET), 0, 1, 1, 1)))
        is not table
    )
    new_config = dataclasses.replace(snap.config)
    assert domain_table(dataclasses.replace(snap, config=new_config)) is not table


def test_ses_polls_between_discoveries_reuse_the_table() -> None:
    """An SES poll publishes a new result but keeps the identities tuple until the next
    discovery: the verdicts are the same, so is the table."""
    identities = (IdentityState(identity="a-pass.example", region="us-east-1"),)
    result = SesRegionResult(
        account_name="prod", account_id="1", region="us-east-1", identities=identities
    )
    snap = snapshot(FLEET, ses={result.key: result})
    table = domain_table(snap)
    polled = dataclasses.replace(result, bounce_ratio=0.01)
    assert (
        domain_table(dataclasses.replace(snap, ses=MappingProxyType({result.key: polled}))) is table
    )
    rediscovered = dataclasses.replace(result, identities=tuple(iter(identities)))
    assert rediscovered.identities is not identities
    assert (
        domain_table(dataclasses.replace(snap, ses=MappingProxyType({result.key: rediscovered})))
        is not table
    )
    other = {
        result.key: result,
        "ses:prod:eu-west-1": dataclasses.replace(result, region="eu-west-1"),
    }
    assert domain_table(dataclasses.replace(snap, ses=MappingProxyType(other))) is not table


def test_a_removed_domain_vanishes_in_both_modes() -> None:
    """A reload that drops a domain drops its series at the next scrape (before the next cycle)."""
    for budget in (0, 1000):
        snap = snapshot(FLEET, budget=budget)
        kept = tuple(d for d in snap.config.domains if d.name != "c-fail.example")
        text = exposition(
            dataclasses.replace(snap, config=dataclasses.replace(snap.config, domains=kept))
        )
        assert "c-fail.example" not in text
        assert domains_gauge(text)[("mail_from_resolvable", "fail")] == 0
