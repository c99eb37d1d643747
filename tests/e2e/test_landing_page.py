"""The demo's landing page as a person sees it, rendered by headless Chromium (Debian's), at a
desktop and a phone width: checked by assertions that need no human, and screenshots kept
(in the test's tmp_path, and copied to $TEST_ARTEFACTS when that is set) for one who wants
to look."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from helpers.chromium import FLAGS as CHROMIUM_FLAGS
from helpers.chromium import Browser, chromium_path
from helpers.daemon import start_exporter

pytestmark = pytest.mark.e2e

PHONE, DESKTOP = 390, 1280
FAIL_RED = "rgb(207, 34, 46)"
# What the assertions read from the rendered page, in one round trip.
PAGE_FACTS = """(() => {
  const all = (selector, root = document) => [...root.querySelectorAll(selector)];
  const width = window.innerWidth;
  const outside = all('body *').filter(e => !e.closest('.scroll'))
    .filter(e => e.getBoundingClientRect().right > width + 1);
  return {
    scrollWidth: document.documentElement.scrollWidth,
    viewport: document.querySelector('meta[name=viewport]')?.content ?? null,
    outside: outside.slice(0, 5).map(e => e.tagName + '.' + e.className),
    domains: all('h2.domain').map(h => [h.id, h.className.split(' ')[1]]),
    rows: all('table.checks').map(t => all('tr[class]', t).map(r => r.className)),
    failRows: all('table.checks tr.fail').length,
    failRowsWithoutRunbook: all('table.checks tr.fail')
      .filter(r => !r.querySelector('a.runbook[href*="runbooks.md#"]')).length,
    passRowsWithRunbook: all('table.checks tr.pass a.runbook').length,
    records: all('.record').map(r => [all('code', r).length, r.textContent]),
    remedies: all('td > .remedy').length,
    badges: all('table.checks .badge').map(b => [b.className, b.textContent,
      getComputedStyle(b).backgroundColor]),
    summary: [document.querySelector('#summary').className,
      document.querySelector('#summary').textContent],
    account: all('#accounts tr[class]').map(r => [r.className, r.textContent]),
    freshness: document.querySelector('#freshness')?.textContent ?? '',
    eventHeads: all('#event-types th').map(th => th.textContent),
  };
})()"""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo daemon, ready, for the module's tests; stopped after them."""
    if chromium_path() is None:
        pytest.fail(
            "Debian's chromium is not installed: run the README's test command (it apt-installs it)"
        )
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    port = free_port()
    demo = start_exporter(["demo", "--listen-address", f"127.0.0.1:{port}"], log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/readyz", timeout=2
                ) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the demo did not become ready:\n" + log.read_text()[-2000:])
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=10)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(timeout=10)


def keep(shot: Path) -> None:
    """Copy a screenshot to $TEST_ARTEFACTS (CI uploads that directory), if set."""
    target = os.environ.get("TEST_ARTEFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)


def test_demo_landing_page_in_chromium(demo_url: str, tmp_path: Path) -> None:
    """Failing domains come first with their remedies; SES account state, SMTP and the top
    bounce categories are on the page; the text a person reads is in the rendered DOM."""
    chromium = chromium_path()
    assert chromium is not None
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*common, "--dump-dom", demo_url], capture_output=True, text=True, timeout=60, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert "SES deliverability exporter" in page
    assert "with a failing check" in page
    # Failing domains before the healthy one.
    assert page.index('id="gateway553.example"') < page.index('id="healthy.example"')
    assert "553 5.1.8" in page  # report 1's consequence, in the summary
    assert "publish an A (and AAAA) record for mail.gateway553.example" in page  # its remedy
    assert "PROBATION" in page  # the sample account state
    assert "Top bounce categories" in page
    assert "sender_domain_dns" in page
    assert "ses_feedback_routing" in page  # SES's own verdicts join the domain's checks


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_landing_page_at_desktop_and_phone_widths(
    demo_url: str, tmp_path: Path, width: int
) -> None:
    """What is broken shows at a glance at both widths: nothing wider than a 390 px phone,
    failing domains and rows before passing ones, status in colour and in words, a runbook
    link on every failing check, each remedy record its own element, the account's PROBATION
    highlighted, last-checked times and event windows shown."""
    with Browser(tmp_path / "profile") as browser:
        browser.load(demo_url, width, mobile=width == PHONE)
        facts: dict[str, Any] = browser.evaluate(PAGE_FACTS)
        shot = browser.screenshot(tmp_path / f"landing-{width}px.png")
    keep(shot)
    assert shot.stat().st_size > 10_000

    assert facts["viewport"] == "width=device-width, initial-scale=1"
    assert facts["scrollWidth"] <= width, "the page scrolls sideways"
    assert facts["outside"] == [], "elements reach past the window's right edge"

    rank = {"fail": 0, "unknown": 1, "warn": 2, "pass": 3}
    worst = [status for _, status in facts["domains"]]
    assert worst == sorted(worst, key=rank.__getitem__), "failing domains first"
    assert [name for name, _ in facts["domains"]][-1] == "healthy.example"
    for rows in facts["rows"]:
        assert rows == sorted(rows, key=rank.__getitem__), "failing rows before passing rows"
    assert "pass" in {row for rows in facts["rows"] for row in rows}

    assert facts["failRows"] > 0
    assert facts["failRowsWithoutRunbook"] == 0
    assert facts["passRowsWithRunbook"] == 0
    badges = {cls: (text, colour) for cls, text, colour in facts["badges"]}
    assert badges["badge fail"] == ("FAIL", FAIL_RED)  # colour and the word
    assert badges["badge pass"][0] == "PASS"

    records = facts["records"]
    dkim = [text for codes, text in records if "._domainkey.exchange-junk.example." in text]
    assert len(dkim) == 3  # one element per CNAME, never joined with ";"
    assert all(text.count(" IN CNAME ") == 1 for text in dkim)
    assert all(codes == 1 for codes, _ in records)
    assert facts["remedies"] > 0

    summary_class, summary_text = facts["summary"]
    assert summary_class == "fail"
    assert summary_text.startswith("FAIL")
    assert "PROBATION" in summary_text
    assert [cls for cls, text in facts["account"] if "PROBATION" in text] == ["fail"]
    assert " ago (" in facts["freshness"]
    assert "dns" in facts["freshness"]
    assert facts["eventHeads"][1:] == ["last hour", "last 24 h", "since start"]
