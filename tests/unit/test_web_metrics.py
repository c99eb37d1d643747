"""/metrics over WSGI (exporter/web.py): content negotiation and compression like the client
library's app, and the warmer the daemon runs beside the HTTP server."""

from __future__ import annotations

import gzip
import time
import urllib.request

from helpers.fleet import FLEET, PROMETHEUS_ACCEPT, call, registry_for, snapshot
from prometheus_client import generate_latest, make_wsgi_app
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter.exposition import DomainWarmer, domain_table
from exporter.web import HttpServer, make_app


def test_metrics_endpoint_negotiates_like_the_client_library() -> None:
    snap = snapshot(FLEET, budget=1000)
    registry = registry_for(snap)
    app = make_app(registry, lambda: snap)
    status, headers, body = call(
        app, "/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT, HTTP_ACCEPT_ENCODING="gzip"
    )
    assert status == "200 OK"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert gzip.decompress(body) == generate_openmetrics(registry)
    _, headers, body = call(app, "/metrics")
    assert "Content-Encoding" not in headers
    assert body == generate_latest(registry)
    query = "/metrics?name[]=deliverability_dmarc_policy_level"
    assert call(app, query) == call(make_wsgi_app(registry), query)  # name[] filters as before
    assert call(app, "/metrics", "POST")[0].startswith("405")
    assert call(app, "/metrics", "OPTIONS")[0] == "200 OK"


def test_the_warmer_builds_before_the_scrape() -> None:
    """Beside the server (the daemon starts both), the warmer builds a newly published
    snapshot's table and exposition before any scrape asks; stopped, its thread ends."""
    current = [snapshot(FLEET, budget=1000)]
    app = make_app(registry_for(current[0]), lambda: current[0])
    server = HttpServer("127.0.0.1", 0, app)
    warmer = DomainWarmer(lambda: current[0])
    warmer.start()
    server.start()
    try:
        current[0] = snapshot(FLEET[:3], budget=1000)
        deadline = time.monotonic() + 10
        while domain_table(current[0])._exposition is None:  # noqa: SLF001 - what the warmer fills
            assert time.monotonic() < deadline, "the warmer did not build the new snapshot"
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            assert b'domain="c-fail.example"' in r.read()
    finally:
        server.shutdown()
        warmer.stop()
    assert not warmer._thread.is_alive()  # noqa: SLF001 - stopped
