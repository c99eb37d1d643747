"""`build_info{compiled}` tells the mypyc build from the pure-Python one, and the compiled
test run (scripts/test-compiled.sh) really runs the compiled modules."""

from __future__ import annotations

import os
from importlib.machinery import EXTENSION_SUFFIXES

import pytest
from prometheus_client import CollectorRegistry

from exporter.checks import domain
from exporter.collector import ExporterCollector
from exporter.compiled import compiled
from exporter.config import Config
from exporter.sources import dns, dns_wire
from exporter.sources.dns import DnsQueryStats
from exporter.store import Snapshot, Store

EXPECTED = os.environ.get("SES_EXPORTER_EXPECT_COMPILED")  # set by scripts/test-compiled.sh


def is_extension(module: object) -> bool:
    return str(getattr(module, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))


def test_compiled_says_what_the_modules_are() -> None:
    assert compiled() is is_extension(domain)
    # setup.py compiles the hot path all or nothing
    assert {is_extension(m) for m in (domain, dns, dns_wire)} == {compiled()}


@pytest.mark.skipif(EXPECTED is None, reason="only in scripts/test-compiled.sh's run")
def test_the_compiled_run_runs_the_compiled_build() -> None:
    assert compiled() is (EXPECTED == "1")


def test_build_info_has_the_compiled_label() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(Store(Snapshot(config=Config())).read, DnsQueryStats()))
    samples = [
        s.labels
        for metric in registry.collect()
        for s in metric.samples
        if s.name == "deliverability_build_info"
    ]
    assert [labels["compiled"] for labels in samples] == [str(compiled()).lower()]
